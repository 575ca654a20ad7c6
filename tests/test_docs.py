"""The docs cannot rot: every ```python block of README.md and docs/*.md runs, in order, in one
namespace per file, from the repository root. Blocks marked ```text or ```bash are not run."""

from __future__ import annotations

import re
import sys
import traceback
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKDOWN = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, code) of each fenced block whose info string is `python`."""
    blocks: list[tuple[int, str]] = []
    fence, language, start, lines = None, "", 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, language, start, lines = match[1], match[2], number + 1, []
        elif match and match[1].startswith(fence) and not match[2]:
            if language == "python":
                blocks.append((start, "\n".join(lines) + "\n"))
            fence = None
        else:
            lines.append(line)
    if fence is not None:
        raise ValueError(f"unclosed {fence} block opened before line {start}")
    return blocks


def run_markdown(path: Path) -> int:
    """Run the python blocks of `path` in one fresh module namespace; return how many ran.
    A failing block raises AssertionError naming the file, the block and its first line."""
    name = "markdown_" + re.sub(r"\W", "_", path.stem)
    module = types.ModuleType(name)   # a real module, so dataclasses and pickling work
    sys.modules[name] = module
    blocks = python_blocks(path.read_text(encoding="utf-8"))
    try:
        for k, (line, code) in enumerate(blocks, start=1):
            try:
                exec(compile(code, f"{path.name}:{line}", "exec"), module.__dict__)
            except Exception as error:
                detail = "".join(traceback.format_exception(error)[-3:])
                raise AssertionError(f"{path.name}: python block {k} of {len(blocks)} "
                                     f"(line {line}) failed:\n{detail}") from None
    finally:
        del sys.modules[name]
    return len(blocks)


@pytest.mark.parametrize("path", [p for p in MARKDOWN if p.exists()],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    run_markdown(path)


# ---- the runner itself ----------------------------------------------------------------------
def test_blocks_share_one_namespace_and_skip_other_languages(tmp_path: Path) -> None:
    doc = tmp_path / "ok.md"
    doc.write_text("# Title\n\n```python\nx = 2\n```\n\n```text\nraise SystemExit\n```\n\n"
                   "```bash\nexit 1\n```\n\n```python\nassert x == 2\nresult = x * 21\n```\n")
    assert run_markdown(doc) == 2


def test_a_file_without_python_blocks_passes(tmp_path: Path) -> None:
    doc = tmp_path / "prose.md"
    doc.write_text("Just prose.\n\n```text\nnot python\n```\n")
    assert run_markdown(doc) == 0


def test_a_failing_block_is_reported_with_file_and_block(tmp_path: Path) -> None:
    doc = tmp_path / "broken.md"
    doc.write_text("```python\nx = 1\n```\n\nText.\n\n"
                   "```python\nassert x == 2, 'x is not 2'\n```\n")
    with pytest.raises(AssertionError, match=r"broken.md: python block 2 of 2 \(line 8\) failed"
                                             r"(.|\n)*x is not 2"):
        run_markdown(doc)


def test_python_blocks_keep_their_indentation_and_ignore_tildes_inside() -> None:
    text = "````python\nif True:\n    y = '```'\n````\n~~~\nnot python\n~~~\n"
    assert python_blocks(text) == [(2, "if True:\n    y = '```'\n")]
