"""Finding and running the command lines that README.md and docs/*.md print (a helper for
tests/test_doc_commands.py and tests/test_views.py, not a test module itself).

What counts as a command:
- every line of a ```bash block (without its `# comment`; a comment that says "exit status"
  lists the statuses the line may end with, e.g. `# exit status 0 when it passes, 1 when not`);
- every inline `code span` outside the blocks that starts with `tinygrad-rnn`, `python demos/`,
  `python -m tinygrad_rnn` or `make `, unless it holds a placeholder (an all-caps word such as
  N, DIR or FILE, or `…`): that is a template for the reader, not a command.

How one runs (`run`): through bash, in the current directory, with this interpreter's
environment first on PATH (as after `source .venv/bin/activate`, which the README asks for),
COLUMNS=80 and stdout a pipe. Sizes are made tiny by these rules and no others:
- a `tinygrad-rnn` subcommand that takes `--quick` gets it, and so does every demo;
- a subcommand or demo that takes `--steps` runs at most STEPS of them (2 × STEPS with
  `--resume`), and one that takes `--eval-every` evaluates every EVAL_EVERY steps (so once);
  the lessons' numbers are tested elsewhere (tests/test_gallery.py, test_vanishing.py, ...);
- `make T` runs as `make -o .venv/.installed T ARGS=--quick` (never reinstalling), and only for
  the targets in MAKE_RUNS; the others are in MAKE_NOT_RUN with the reason.
Another program (`dot`, `head`) runs as written when it is installed; when it is not, the line
runs up to it (`runnable_part`) and the test says what was left out.

A command that names no file (`names_files`) gives the same output wherever it runs: identical
ones run once per test session (`run` keeps their results).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
STEPS = 4
EVAL_EVERY = 4
MAKE_RUNS = {"demo"}
MAKE_NOT_RUN = {
    "test": "it runs this test suite (and so this test) again",
    "bench": "it takes minutes; benchmarks/ has its own tests (tests/test_benchmarks.py)",
    "lint": "it checks the developer's checkout, not what a reader runs",
    "venv": "it installs packages; the test runs in the environment it made",
    "clean": "it deletes the developer's environment",
    "pictures": "it rewrites the docs' pictures and notebook; tests/test_pictures.py checks them",
}
STARTS = ("tinygrad-rnn ", "python demos/", "python -m tinygrad_rnn", "make ")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*$")
OPERATORS = {"&&", "||", "|", ";"}
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_CACHE: dict[str, Result] = {}


@dataclass(frozen=True)
class Command:
    """One command line as a document prints it."""

    doc: str        # the file, e.g. "README.md"
    line: int       # its line number there
    text: str       # the command line as printed
    statuses: frozenset[int] = frozenset({0})   # what it may exit with

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


@dataclass(frozen=True)
class Result:
    """What running one command line gave."""

    command: str    # as run, after the size rules
    status: int
    stdout: str
    stderr: str


# ---- finding ----------------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    """The shell words and operators of a command line (`&&`, `|` ... as their own words)."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def simple_commands(text: str) -> list[list[str]]:
    """The words of each simple command of a line (`a && b | c` → [[a], [b], [c]])."""
    commands: list[list[str]] = [[]]
    for word in _words(text):
        if word in OPERATORS:
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def is_template(text: str) -> bool:
    """True for a line holding a placeholder (N, DIR, FILE, …) rather than a value."""
    return "…" in text or "..." in text or any(
        PLACEHOLDER.match(w) for c in simple_commands(text) for w in c)


def commands_in(text: str, doc: str) -> list[Command]:
    """The commands of one markdown text, in the order they appear."""
    found: list[Command] = []
    fence, language = None, ""
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line)
        if fence is None and match:
            fence, language = match[1], match[2]
        elif fence is not None and match and match[1].startswith(fence) and not match[2]:
            fence = None
        elif fence is not None:
            if language in ("bash", "sh", "console"):
                mark = re.search(r"(?:^|\s)#", line)
                command, comment = (line[:mark.start()], line[mark.end():]) if mark else (line, "")
                command = command.strip()
                statuses = frozenset({0})
                if "exit status" in comment:
                    after = comment.split("exit status", 1)[1]
                    statuses = frozenset(int(n) for n in re.findall(r"\b\d+\b", after))
                if command and not is_template(command):
                    found.append(Command(doc, number, command, statuses))
        else:
            for span in _SPAN.findall(line):
                span = span.strip()
                if span.startswith(STARTS) and not is_template(span):
                    found.append(Command(doc, number, span))
    return found


def documented_commands() -> list[Command]:
    """Every command of README.md and docs/*.md."""
    return [c for path in DOCS for c in commands_in(path.read_text(encoding="utf-8"), path.name)]


# ---- the size rules -------------------------------------------------------------------------
def _subparsers() -> dict:
    """Each `tinygrad-rnn` subcommand's parser, from the real `build_parser()`."""
    from tinygrad_rnn import cli

    parser = cli.build_parser()
    return next(a.choices for a in parser._actions if isinstance(a.choices, dict))


def _cli_options() -> dict[str, set[str]]:
    """Each `tinygrad-rnn` subcommand's option strings."""
    return {name: set(sub._option_string_actions) for name, sub in _subparsers().items()}


def _cli_defaults() -> dict[str, dict[str, object]]:
    """Each subcommand's options with a default value (e.g. train's `--out`: runs/lm)."""
    return {name: {o: a.default for o, a in sub._option_string_actions.items()
                   if a.default not in (None, False, [])}
            for name, sub in _subparsers().items()}


_DEMO_OPTIONS: dict[str, set[str]] = {}


class _Parsed(Exception):
    """Raised right after a demo built its parser and read its arguments."""


def demo_options(script: str) -> set[str]:
    """The option strings a demo's parser takes (its top-level code runs up to parse_args)."""
    if script not in _DEMO_OPTIONS:
        import argparse
        import runpy

        from tinygrad_rnn import cli

        seen: list[argparse.ArgumentParser] = []
        originals = [(c, c.parse_args) for c in (argparse.ArgumentParser, cli.Parser)]

        def record(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
            seen.append(self)
            raise _Parsed

        for c, _ in originals:
            c.parse_args = record                              # type: ignore[method-assign]
        sys.path.insert(0, str(ROOT / "demos"))
        saved_argv = sys.argv
        sys.argv = [script]
        try:
            runpy.run_path(str(ROOT / script), run_name="__main__")
        except _Parsed:
            pass
        finally:
            for c, method in originals:
                c.parse_args = method                          # type: ignore[method-assign]
            sys.path.remove(str(ROOT / "demos"))
            sys.argv = saved_argv
        _DEMO_OPTIONS[script] = set(seen[0]._option_string_actions) if seen else set()
    return _DEMO_OPTIONS[script]


def _capped(words: list[str], flag: str, cap: int) -> list[str]:
    """words with `flag N` lowered to at most `cap` (added when absent)."""
    for i, word in enumerate(words):
        if word == flag and i + 1 < len(words):
            value = int(words[i + 1]) if words[i + 1].isdigit() else cap
            return [*words[:i + 1], str(min(value, cap)), *words[i + 2:]]
        if word.startswith(flag + "="):
            value = int(word.split("=", 1)[1])
            return [*words[:i], f"{flag}={min(value, cap)}", *words[i + 1:]]
    return [*words, flag, str(cap)]


def cli_words(words: list[str]) -> tuple[list[str], str | None] | None:
    """(the words before the subcommand, the subcommand) of a tinygrad-rnn call, else None."""
    if words[:1] == ["tinygrad-rnn"]:
        return words[:1], (words[1] if len(words) > 1 else None)
    if words[:3] == ["python", "-m", "tinygrad_rnn"]:
        return words[:3], (words[3] if len(words) > 3 else None)
    return None


def resized(words: list[str]) -> list[str]:
    """One simple command with the size rules applied (see the module docstring)."""
    options: set[str] | None = None
    if (cli := cli_words(words)) is not None:
        options = _cli_options().get(cli[1] or "", set())
    elif len(words) >= 2 and words[0] == "python" and words[1].startswith("demos/"):
        options = demo_options(words[1]) | {"--quick"}         # every demo takes --quick
    if options is not None:
        has = set(words)
        if "--help" in has or "-h" in has:
            return words
        if "--quick" in options and "--quick" not in has:
            words = [*words, "--quick"]
        if "--steps" in options:
            words = _capped(words, "--steps", STEPS * (2 if "--resume" in has else 1))
        if "--eval-every" in options:
            words = _capped(words, "--eval-every", EVAL_EVERY)
        return words
    if words[0] == "make":
        return ["make", "-o", ".venv/.installed", *words[1:], "ARGS=--quick"]
    return words


def as_run(text: str) -> str:
    """The command line with every simple command resized, back as shell text."""
    out = []
    words = _words(text)
    start = 0
    for end in [*[i for i, w in enumerate(words) if w in OPERATORS], len(words)]:
        if words[start:end]:
            out += [shlex.quote(w) for w in resized(words[start:end])]
        if end < len(words):
            out.append(words[end])
        start = end + 1
    return " ".join(out)


def make_targets(text: str) -> list[str]:
    """The targets of the `make` calls in a command line."""
    return [w for c in simple_commands(text) if c[0] == "make" for w in c[1:]
            if not w.startswith("-") and "=" not in w]


def _missing(program: str) -> bool:
    builtin = {"source", ".", "cd", "export", "echo"}
    return program not in builtin and "/" not in program and \
        shutil.which(program, path=_path()) is None


def missing_programs(text: str) -> list[str]:
    """The programs a command line calls that are not installed here."""
    return [c[0] for c in simple_commands(text) if _missing(c[0])]


def runnable_part(text: str) -> str:
    """The line up to (not including) the first call of a program that is not installed."""
    words, kept, start = _words(text), [], 0
    for end in [*[i for i, w in enumerate(words) if w in OPERATORS], len(words)]:
        if words[start:end] and _missing(words[start]):
            break
        kept.append(shlex.join(words[start:end]))
        if end < len(words):
            kept.append(words[end])
        start = end + 1
    return " ".join(kept[:-1] if kept and kept[-1] in OPERATORS else kept)


_FILE = re.compile(r"^[\w.~/-]+$")


def named_files(text: str) -> list[str]:
    """The words of a command line that name a file or directory: a word with a `/` or a file
    extension (`runs/names`, `gru.dot`), flags' `=` values included; not flags, not numbers."""
    names = []
    for command in simple_commands(text):
        for word in command[1:]:
            word = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
            if word.startswith("-") or not _FILE.match(word) or word.startswith(("http", "~")):
                continue
            if "/" in word or re.search(r"\.[A-Za-z]\w{0,4}$", word):
                names.append(word)
    return names


def out_dirs(text: str) -> list[str]:
    """The run directories a line's `tinygrad-rnn` commands write (their `--out`, or its
    default when the subcommand has one)."""
    dirs = []
    for words in simple_commands(text):
        if (cli := cli_words(words)) is None or "--resume" in words:
            continue
        default = _cli_defaults().get(cli[1] or "", {}).get("--out")
        for i, word in enumerate(words):
            if word == "--out" and i + 1 < len(words):
                default = words[i + 1]
            elif word.startswith("--out="):
                default = word.split("=", 1)[1]
        if default is not None:
            dirs.append(default)
    return dirs


def names_files(text: str) -> bool:
    """True when a line names (or writes) a file beyond the demo script it runs: then it is never
    cached."""
    scripts = {c[1] for c in simple_commands(text) if c[0] == "python" and len(c) > 1}
    return bool(out_dirs(text)) or any(name not in scripts for name in named_files(text))


# ---- running ----------------------------------------------------------------------------------
def _path() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def environment(columns: int = 80) -> dict[str, str]:
    """A reader's shell: this environment's programs first on PATH, `columns` wide, no forced
    colours, one BLAS thread."""
    env = {k: v for k, v in os.environ.items()   # a fresh shell: not inside `make test`
           if k not in ("FORCE_COLOR", "NO_COLOR", "PYTHONPATH", "LINES", "MAKEFLAGS", "MFLAGS",
                        "MAKELEVEL", "MAKEOVERRIDES")}
    env.update(PATH=_path(), COLUMNS=str(columns), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONIOENCODING="utf-8")
    return env


def checkout(into: Path) -> Path:
    """A fresh copy of the checkout's files in `into` (no runs, caches or .git), with .venv
    linked to the environment the tests run in, so `make` and `.venv/bin/…` find it."""
    ignore = shutil.ignore_patterns(".git", ".venv", "runs", "__pycache__", ".pytest_cache",
                                    ".hypothesis", ".ruff_cache", "*.egg-info", "build")
    shutil.copytree(ROOT, into, ignore=ignore, dirs_exist_ok=True)
    (into / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    return into


def run(text: str, cwd: Path, timeout: float = 300) -> Result:
    """Run one command line (resized) with bash in `cwd`; identical lines that name no file run
    once per session."""
    command = as_run(text)
    if not names_files(text) and command in _CACHE:
        return _CACHE[command]
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=environment(), timeout=timeout,
                          capture_output=True, text=True, encoding="utf-8", errors="replace")
    result = Result(command, done.returncode, done.stdout, done.stderr)
    if not names_files(text):
        _CACHE[command] = result
    return result


def wide_lines(text: str, width: int = 80) -> list[str]:
    """The lines of `text` wider than `width` characters."""
    return [line for line in text.splitlines() if len(line.rstrip()) > width]


def problems(command: Command, result: Result, cwd: Path) -> list[str]:
    """What is wrong with a command's run: its status, a traceback, a file it names that is not
    there, a line of its output wider than 80 columns."""
    found = []
    if result.status not in command.statuses:
        found.append(f"exit status {result.status}")
    if "Traceback (most recent call last)" in result.stdout + result.stderr:
        found.append("a traceback")
    for name in named_files(command.text):
        if not (cwd / name).exists():
            found.append(f"{name} does not exist")
    generated = any(c[1:2] == ["sample"] or "--json" in c for c in simple_commands(command.text))
    if not generated and (wide := wide_lines(result.stdout)):
        found.append(f"{len(wide)} line(s) wider than 80 columns, e.g. {wide[0]!r}")
    return found


def report(command: Command, result: Result, found: list[str]) -> str:
    """A failure message: where the command is printed, how it ran, what went wrong, its output."""
    tail = "\n".join((result.stdout + "\n" + result.stderr).strip().splitlines()[-12:])
    return (f"{command}\n  ran as: {result.command}\n  problems: {'; '.join(found)}\n"
            f"  output (last lines):\n{tail}")
