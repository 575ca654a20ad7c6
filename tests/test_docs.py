"""The docs cannot rot: every ```python block of README.md and docs/*.md runs, in order, in one
namespace per file, from the repository root. Blocks marked ```text or ```bash are not run.

A lesson is true as printed. A python block may be followed by an ```output block: what the
block prints must be exactly that text. In a chapter (docs/*.md but the index) every block that
prints is followed by its output, every chapter prints something, and every decimal number its
prose quotes (0.4621, 1e-5) is in the chapter's code or in an output the test compares, so no
number is left that nothing computes. To write or refresh the output blocks of a page:

    python tests/test_docs.py docs/rnn-forward.md
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKDOWN = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
CHAPTERS = [p for p in MARKDOWN if p.parent.name == "docs" and p.name != "index.md"]
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
NUMBER = re.compile(r"(?<![\w.])(?:\d+\.\d+(?:e[-+−]?\d+)?|\d+e[-+−]?\d+)(?![\w.]*\w)")
WRITE_HINT = "python tests/test_docs.py"


@dataclass(frozen=True)
class Block:
    """One fenced block: where its text starts, its info string, its text, where it ends."""

    start: int          # the line number of its first line of text
    language: str
    text: str
    end: int            # the line number of its closing fence


def blocks(text: str) -> list[Block]:
    """Every fenced block of a markdown text, in order."""
    found: list[Block] = []
    fence, language, start, lines = None, "", 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, language, start, lines = match[1], match[2], number + 1, []
        elif match and match[1].startswith(fence) and not match[2]:
            found.append(Block(start, language, "\n".join(lines) + "\n", number))
            fence = None
        else:
            lines.append(line)
    if fence is not None:
        raise ValueError(f"unclosed {fence} block opened before line {start}")
    return found


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, code) of each fenced block whose info string is `python`."""
    return [(b.start, b.text) for b in blocks(text) if b.language == "python"]


def with_outputs(text: str) -> list[tuple[Block, Block | None]]:
    """Each python block with the ```output block right after it (only blank lines between),
    or None."""
    found, lines = blocks(text), text.splitlines()
    pairs = []
    for k, block in enumerate(found):
        if block.language != "python":
            continue
        after = found[k + 1] if k + 1 < len(found) else None
        between = lines[block.end:after.start - 2] if after is not None else []
        shown = after if after is not None and after.language == "output" and \
            not any(line.strip() for line in between) else None
        pairs.append((block, shown))
    return pairs


def _same(printed: str, shown: str) -> bool:
    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.strip("\n").splitlines()]
    return lines(printed) == lines(shown)


def run_markdown(path: Path) -> list[str]:
    """Run the python blocks of `path` in one fresh module namespace; return what each printed.
    A failing block, or one whose printed text differs from the output block after it, raises
    AssertionError naming the file, the block and its first line."""
    name = "markdown_" + re.sub(r"\W", "_", path.stem)
    module = types.ModuleType(name)   # a real module, so dataclasses and pickling work
    sys.modules[name] = module
    pairs = with_outputs(path.read_text(encoding="utf-8"))
    printed: list[str] = []
    try:
        for k, (block, shown) in enumerate(pairs, start=1):
            where = f"{path.name}: python block {k} of {len(pairs)} (line {block.start})"
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(block.text, f"{path.name}:{block.start}", "exec"),
                         module.__dict__)
            except Exception as error:
                detail = "".join(traceback.format_exception(error)[-3:])
                raise AssertionError(f"{where} failed:\n{detail}") from None
            printed.append(out.getvalue())
            if shown is not None and not _same(out.getvalue(), shown.text):
                raise AssertionError(f"{where} printed:\n{out.getvalue()}\nbut the output block "
                                     f"after it (line {shown.start}) shows:\n{shown.text}\n"
                                     f"(to rewrite it: {WRITE_HINT} {path.name})")
    finally:
        del sys.modules[name]
    return printed


def prose(text: str) -> str:
    """The text outside fenced blocks and inline code."""
    return re.sub(r"`[^`]*`", "", prose_with_code(text))


SOURCE = re.compile(r"`(?:tests/|benchmarks/|make bench|python -m benchmarks)")


def unbacked_numbers(text: str) -> list[str]:
    """The decimal numbers of the prose that are neither in a python block nor in an output
    block (`−` read as `-`). A section (from one heading to the next) that names where its
    figures come from in code quotes (`tests/…`, `benchmarks/…`, `make bench`) is backed by
    that source: a measured speed or a parity tolerance is not recomputed by a chapter."""
    found = blocks(text)
    backed = "\n".join(b.text for b in found if b.language in ("python", "output"))
    numbers = []
    for section in re.split(r"\n(?=#{1,6} )", prose_with_code(text)):
        if not SOURCE.search(section):
            numbers += [n for n in NUMBER.findall(re.sub(r"`[^`]*`", "", section))
                        if n.replace("−", "-") not in backed]
    return numbers


def prose_with_code(text: str) -> str:
    """The text outside fenced blocks, inline code kept."""
    kept, inside = [], None
    for line in text.splitlines():
        match = FENCE.match(line)
        if inside is None and match:
            inside = match[1]
        elif inside is not None and match and match[1].startswith(inside) and not match[2]:
            inside = None
        elif inside is None:
            kept.append(line)
    return "\n".join(kept)


def problems_of_chapter(path: Path, printed: list[str]) -> list[str]:
    """What keeps a chapter from being true as printed (its blocks have already run)."""
    text = path.read_text(encoding="utf-8")
    pairs = with_outputs(text)
    found = [f"{path.name}: the python block at line {block.start} prints but no ```output "
             f"block after it shows what ({WRITE_HINT} {path.name} adds it)"
             for (block, shown), out in zip(pairs, printed, strict=True)
             if out.strip() and shown is None]
    found += [f"{path.name}: the output block at line {block.start} follows no python block"
              for block in blocks(text) if block.language == "output"
              and block not in {shown for _, shown in pairs}]
    if not any(shown is not None for _, shown in pairs):
        found.append(f"{path.name}: prints nothing: print the numbers it is about, with an "
                     f"```output block after each block that prints")
    found += [f"{path.name}: the prose quotes {n}, which no code or printed output holds"
              for n in unbacked_numbers(text)]
    return found


def write_outputs(path: Path) -> int:
    """Run `path`'s python blocks and write (or rewrite) the output block after each block that
    prints; return how many output blocks the file has."""
    import os

    text = path.read_text(encoding="utf-8")
    os.chdir(ROOT)
    name = "markdown_" + re.sub(r"\W", "_", path.stem)
    module = types.ModuleType(name)
    sys.modules[name] = module
    lines = text.splitlines()
    edits = []                                  # (from line, to line, new lines), 0-based
    for block, shown in with_outputs(text):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block.text, f"{path.name}:{block.start}", "exec"), module.__dict__)
        body = [line.rstrip() for line in out.getvalue().strip("\n").splitlines()]
        new = ["", "```output", *body, "```"] if body else []
        if shown is not None:
            edits.append((block.end, shown.end, new))
        elif body:
            edits.append((block.end, block.end, new))
    for start, stop, new in reversed(edits):
        lines[start:stop] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sum(1 for _, shown in with_outputs(path.read_text(encoding="utf-8")) if shown)


@pytest.mark.parametrize("path", [p for p in MARKDOWN if p.exists()],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    printed = run_markdown(path)
    if path in CHAPTERS:
        problems = problems_of_chapter(path, printed)
        assert not problems, "\n".join(problems)


# ---- the runner itself ----------------------------------------------------------------------
def test_blocks_share_one_namespace_and_skip_other_languages(tmp_path: Path) -> None:
    doc = tmp_path / "ok.md"
    doc.write_text("# Title\n\n```python\nx = 2\n```\n\n```text\nraise SystemExit\n```\n\n"
                   "```bash\nexit 1\n```\n\n```python\nassert x == 2\nresult = x * 21\n```\n")
    assert run_markdown(doc) == ["", ""]


def test_a_file_without_python_blocks_passes(tmp_path: Path) -> None:
    doc = tmp_path / "prose.md"
    doc.write_text("Just prose.\n\n```text\nnot python\n```\n")
    assert run_markdown(doc) == []


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


def test_an_output_block_must_show_what_the_block_prints(tmp_path: Path) -> None:
    doc = tmp_path / "out.md"
    doc.write_text("```python\nprint(round(2 / 3, 4))\n```\n\n```output\n0.6667\n```\n")
    assert run_markdown(doc) == ["0.6667\n"]
    doc.write_text("```python\nprint(round(2 / 3, 4))\n```\n\n```output\n0.6666\n```\n")
    with pytest.raises(AssertionError, match=r"printed:\n0.6667\n\nbut the output block after"):
        run_markdown(doc)


def test_a_chapter_must_show_its_prints_and_back_its_numbers(tmp_path: Path) -> None:
    doc = tmp_path / "chapter.md"
    doc.write_text("The ratio is 0.6667 and 1e-5 is the tolerance.\n\n"
                   "```python\ntolerance = 1e-5\nprint(round(2 / 3, 4))\n```\n")
    problems = problems_of_chapter(doc, run_markdown(doc))
    assert any("prints but no ```output block" in p for p in problems)
    assert any("quotes 0.6667, which no code" in p for p in problems)
    assert not any("quotes 1e-5" in p for p in problems)              # it is in the code
    assert write_outputs(doc) == 1
    assert problems_of_chapter(doc, run_markdown(doc)) == []
    assert "```output\n0.6667\n```" in doc.read_text()


def test_a_chapter_that_prints_nothing_is_reported(tmp_path: Path) -> None:
    doc = tmp_path / "quiet.md"
    doc.write_text("```python\nx = 1\n```\n")
    assert any("prints nothing" in p for p in problems_of_chapter(doc, run_markdown(doc)))


def test_a_section_that_names_its_source_may_quote_its_figures() -> None:
    text = "## Speed\n\nMeasured by `make bench`: 2.49.\n\n## Other\n\nIt is 0.5.\n"
    assert unbacked_numbers(text) == ["0.5"]


def test_prose_numbers_are_found_outside_code_only() -> None:
    text = "a⟨1⟩ = 0.4621, `lr 0.5` and step 3; −0.25 or 3.2e-07.\n```python\nx = 0.9\n```\n"
    assert NUMBER.findall(prose(text)) == ["0.4621", "0.25", "3.2e-07"]


def test_architectures_says_which_demo_uses_attention() -> None:
    """It used to call attention "beyond this library" while date_translation.py used it."""
    text = (ROOT / "docs" / "architectures.md").read_text(encoding="utf-8")
    demo = (ROOT / "demos" / "date_translation.py").read_text(encoding="utf-8")
    assert "beyond this library" not in text and "--no-attention" in text
    assert "scores.softmax(dim=0)" in demo and "--no-attention" in demo


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(f"{argument}: {write_outputs(Path(argument).resolve())} output blocks")
