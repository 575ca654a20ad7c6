"""Every command line README.md and docs/*.md print runs as written (tests/doc_commands.py says
what counts as a command and the size rules that keep the runs short).

Each document's commands run in order in a fresh copy of the checkout (as a reader who opens that
page in a new clone), and fail on a non-zero exit, a traceback, a file they name that does not
exist afterwards, or a line wider than 80 columns. Across documents no two commands write the same
run directory: a reader who follows two pages in one clone would see the second one refuse.
Every line also parses with the parser that reads it (fast, and the first thing to fail).
"""

from __future__ import annotations

import argparse
import runpy
import shlex
import warnings
from collections import defaultdict
from pathlib import Path

import pytest
from doc_commands import (
    DOCS,
    MAKE_NOT_RUN,
    MAKE_RUNS,
    ROOT,
    Command,
    as_run,
    checkout,
    cli_words,
    commands_in,
    documented_commands,
    is_template,
    make_targets,
    missing_programs,
    named_files,
    out_dirs,
    problems,
    report,
    run,
    runnable_part,
    simple_commands,
)

from tinygrad_rnn import cli

COMMANDS = documented_commands()


class _Parsed(Exception):
    """Raised right after a demo's parser accepted its arguments."""


def parse_demo(words: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Run demos/X.py as __main__ up to its parse_args (SystemExit(2) if the flags are refused)."""
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):  # noqa: ANN001, ANN202
        original(self, args, namespace)
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    cli_parse = cli.Parser.parse_args

    def cli_parse_then_stop(self, args=None, namespace=None):  # noqa: ANN001, ANN202
        cli_parse(self, args, namespace)
        raise _Parsed

    monkeypatch.setattr(cli.Parser, "parse_args", cli_parse_then_stop)
    monkeypatch.setattr("sys.argv", words)
    monkeypatch.syspath_prepend(str(ROOT / "demos"))   # as when run: demos import _gallery
    with pytest.raises(_Parsed):
        runpy.run_path(str(ROOT / words[0]), run_name="__main__")


def check_parses(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse each `tinygrad-rnn` and demo call of a command line with the parser that reads it."""
    for words in simple_commands(line):
        if (found := cli_words(words)) is not None:
            cli.build_parser().parse_args(words[len(found[0]):])
        elif words[0] == "python" and words[1].startswith("demos/"):
            assert (ROOT / words[1]).is_file(), f"{words[1]} does not exist"
            parse_demo(words[1:], monkeypatch)
        elif words[0] == "make":
            for target in make_targets(line):
                assert target in MAKE_RUNS | set(MAKE_NOT_RUN), (
                    f"make {target}: add it to MAKE_RUNS or MAKE_NOT_RUN in tests/doc_commands.py")


# ---- every documented line parses -------------------------------------------------------------
def test_the_docs_show_every_kind_of_command():
    kinds = {simple_commands(c.text)[0][0] for c in COMMANDS}
    assert {"tinygrad-rnn", "python", "make"} <= kinds and len(COMMANDS) >= 40


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_documented_command_parses(command: Command, monkeypatch: pytest.MonkeyPatch) -> None:
    check_parses(command.text, monkeypatch)


# ---- and runs ----------------------------------------------------------------------------------
def test_no_two_documented_commands_write_the_same_run_directory():
    writers = defaultdict(list)
    for command in COMMANDS:
        for directory in out_dirs(command.text):
            writers[directory].append(str(command))
    shared = {d: where for d, where in writers.items() if len(where) > 1}
    assert not shared, "\n".join(f"{d} is written by:\n  " + "\n  ".join(w)
                                 for d, w in shared.items())


def run_document(commands: list[Command], folder: Path) -> tuple[list[str], list[str]]:
    """Run a document's commands in order in a fresh checkout; (failures, lines not run)."""
    cwd = checkout(folder)
    failures, not_run = [], []
    for command in commands:
        if any(t not in MAKE_RUNS for t in make_targets(command.text)):
            unknown = [t for t in make_targets(command.text) if t not in MAKE_NOT_RUN]
            failures += [f"{command}\n  make {t}: add it to MAKE_RUNS or MAKE_NOT_RUN"
                         for t in unknown]
            continue                              # MAKE_NOT_RUN says why each is not run
        if missing := missing_programs(command.text):
            not_run.append(f"{command} (the part from {missing[0]} on: it is not installed)")
            command = Command(command.doc, command.line, runnable_part(command.text))
            if not command.text:
                continue
        result = run(command.text, cwd)
        if found := problems(command, result, cwd):
            failures.append(report(command, result, found))
    return failures, not_run


@pytest.mark.parametrize("doc", [p.name for p in DOCS])
def test_documented_commands_run(doc: str, tmp_path: Path) -> None:
    commands = [c for c in COMMANDS if c.doc == doc]
    if not commands:
        return
    failures, not_run = run_document(commands, tmp_path / "clone")
    for line in not_run:
        warnings.warn(f"not run: {line}", stacklevel=1)
    assert not failures, "\n\n".join(failures)


# ---- the runner itself -------------------------------------------------------------------------
def test_commands_are_found_in_bash_blocks_and_code_spans_but_templates_are_not():
    text = ("Run `tinygrad-rnn graph --cell rnn` or `tinygrad-rnn train --seq-len N`.\n\n"
            "```bash\ntinygrad-rnn gradcheck   # a comment\n\n"
            "tinygrad-rnn sample runs/x && dot -Tsvg a.dot -o a.svg\n```\n"
            "```text\ntinygrad-rnn not a command\n```\nSee `make demo` and `x = 1`.\n")
    assert [(c.line, c.text) for c in commands_in(text, "t.md")] == [
        (1, "tinygrad-rnn graph --cell rnn"), (4, "tinygrad-rnn gradcheck"),
        (6, "tinygrad-rnn sample runs/x && dot -Tsvg a.dot -o a.svg"), (11, "make demo")]
    assert is_template("tinygrad-rnn sample DIR") and is_template("tinygrad-rnn train …")


def test_the_size_rules_shorten_training_and_add_quick():
    assert as_run("tinygrad-rnn train --steps 2000 --out runs/x") == \
        "tinygrad-rnn train --steps 4 --out runs/x --eval-every 4"
    assert as_run("tinygrad-rnn train --resume --out runs/x").endswith("--steps 8 --eval-every 4")
    assert as_run("python demos/many_to_one.py --steps 2") == \
        "python demos/many_to_one.py --steps 2 --quick"
    assert as_run("python demos/gradient_check.py") == "python demos/gradient_check.py --quick"
    assert as_run("tinygrad-rnn vanishing --svg v.svg") == \
        "tinygrad-rnn vanishing --svg v.svg --quick"
    assert as_run("python demos/one_to_one.py | head -2") == \
        "python demos/one_to_one.py --quick --steps 4 | head -2"
    assert runnable_part("tinygrad-rnn graph --dot a.dot && no-such-tool a.dot") == \
        "tinygrad-rnn graph --dot a.dot"
    assert as_run("make demo") == "make -o .venv/.installed demo ARGS=--quick"
    assert as_run('tinygrad-rnn score runs/x "a b"') == "tinygrad-rnn score runs/x 'a b'"


def test_named_files_and_run_directories():
    line = 'tinygrad-rnn eval runs/h --data=held.txt --json && tinygrad-rnn score r "a.b c" 0.5'
    assert named_files(line) == ["runs/h", "held.txt"]
    assert out_dirs("tinygrad-rnn train --lines") == ["runs/lm"]      # the default --out
    assert out_dirs("tinygrad-rnn train --out runs/a --resume") == []


@pytest.mark.parametrize(("line", "problem"), [
    ("python -c 'raise SystemExit(3)'", "exit status 3"),
    ("python -c '1/0'", "a traceback"),
    ("tinygrad-rnn sample no_such_run/", "no_such_run/ does not exist"),
    ("python -c 'print(81 * \"x\")'", "wider than 80 columns"),
    ("tinygrad-rnn train --data missing.txt --out runs/m", "missing.txt does not exist"),
])
def test_the_runner_reports_each_kind_of_failure(line, problem, tmp_path):
    command = Command("t.md", 1, line)
    found = problems(command, run(line, tmp_path), tmp_path)
    assert any(problem in f for f in found), found


def test_a_documented_command_that_fails_fails_its_document(tmp_path):
    commands = [Command("t.md", 1, "tinygrad-rnn graph --cell rnn"),
                Command("t.md", 2, "tinygrad-rnn sample runs/never_trained")]
    failures, _ = run_document(commands, tmp_path / "clone")
    assert len(failures) == 1 and "t.md:2" in failures[0] and "exit status 2" in failures[0]


def test_a_made_up_flag_or_demo_is_reported(monkeypatch, capsys):
    for line in ["tinygrad-rnn gradcheck --brake tanh", "python demos/many_to_one.py --quik"]:
        with pytest.raises(SystemExit) as exit_:
            check_parses(line, monkeypatch)
        assert exit_.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
    with pytest.raises(AssertionError, match="does not exist"):
        check_parses("python demos/no_such_demo.py --quick", monkeypatch)
    with pytest.raises(AssertionError, match="MAKE_RUNS or MAKE_NOT_RUN"):
        check_parses("make dance", monkeypatch)


def test_shell_words_survive_the_rewrite():
    line = 'tinygrad-rnn sample runs/h --prime "The list " --top-p 0.9'
    assert shlex.split(as_run(line))[4] == "The list "


def test_a_comment_may_declare_the_exit_statuses_a_line_ends_with(tmp_path):
    text = "```bash\npython -c 'raise SystemExit(1)'   # exit status 1: it fails on purpose\n```\n"
    (command,) = commands_in(text, "t.md")
    assert command.statuses == {1} and not problems(command, run(command.text, tmp_path),
                                                     tmp_path)
    (zero,) = commands_in(text.replace("   # exit status 1: it fails on purpose", ""), "t.md")
    assert problems(zero, run(zero.text, tmp_path), tmp_path) == ["exit status 1"]
