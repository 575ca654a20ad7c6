"""Every `tinygrad-rnn …` and `python demos/X.py …` line in README.md and docs/*.md (```bash blocks)
parses with the real parser: the CLI's `build_parser()`, or the demo's own argparse, stopped right
after parsing (nothing is trained)."""

from __future__ import annotations

import argparse
import re
import runpy
import shlex
from pathlib import Path

import pytest

from tinygrad_rnn import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def bash_commands(text: str) -> list[str]:
    """The `tinygrad-rnn` and `python demos/` command lines of the ```bash blocks in `text`."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            for command in re.split(r"\s#", line)[0].split("&&"):   # no comment; one command
                words = shlex.split(command)
                if words[:1] == ["tinygrad-rnn"] or words[:2] and words[1].startswith("demos/"):
                    lines.append(command.strip())
    return lines


COMMANDS = [(path.name, line) for path in DOCS for line in bash_commands(path.read_text())]


class _Parsed(Exception):
    """Raised right after a demo's parser accepted its arguments."""


def parse_demo(words: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Run demos/X.py as __main__ up to its parse_args (SystemExit(2) if the flags are refused)."""
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):  # noqa: ANN001, ANN202
        original(self, args, namespace)
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr("sys.argv", words)
    monkeypatch.syspath_prepend(str(ROOT / "demos"))   # as when run: demos import _gallery
    with pytest.raises(_Parsed):
        runpy.run_path(str(ROOT / words[0]), run_name="__main__")


def check(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse one documented command line with the parser that would read it."""
    words = shlex.split(line)
    if words[0] == "tinygrad-rnn":
        cli.build_parser().parse_args(words[1:])
    else:
        assert (ROOT / words[1]).is_file(), f"{words[1]} does not exist"
        parse_demo(words[1:], monkeypatch)


def test_the_docs_show_both_kinds_of_command():
    kinds = {shlex.split(line)[0] for _, line in COMMANDS}
    assert kinds == {"tinygrad-rnn", "python"} and len(COMMANDS) >= 10


@pytest.mark.parametrize(("doc", "line"), COMMANDS, ids=[f"{d}: {c}" for d, c in COMMANDS])
def test_documented_command_parses(doc, line, monkeypatch):
    check(line, monkeypatch)


@pytest.mark.parametrize("line", ["tinygrad-rnn gradcheck --brake tanh",
                                  "tinygrad-rnn vanishing --steps 3",
                                  "python demos/many_to_one.py --quik",
                                  "python demos/vanishing_gradients.py --svgg x.svg"])
def test_a_made_up_flag_is_reported(line, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        check(line, monkeypatch)
    assert exit_.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_a_missing_demo_is_reported(monkeypatch):
    with pytest.raises(AssertionError, match="does not exist"):
        check("python demos/no_such_demo.py --quick", monkeypatch)
