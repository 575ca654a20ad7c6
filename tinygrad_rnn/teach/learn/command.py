"""The `learn` subcommand: list, start, check and hint, printed as plain text that fits 80
columns and reads the same through a pipe (a glyph and a word for every status, no colour).

A check runs in a child process (child.py) with a time limit: a learner's infinite loop, crash
or sys.exit() becomes one line here, and the grader's own traceback is never shown.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinygrad_rnn.teach.learn import EXERCISES
from tinygrad_rnn.teach.learn.exercise import Exercise
from tinygrad_rnn.teach.learn.workspace import LearnError, Workspace

__all__ = ["add_parser", "LearnError", "run_check"]

GLYPHS = {"passed": "✓", "wrong": "✗", "error": "✗", "not started": " ", "started": "·"}
TIMEOUT = 8.0     # CPU seconds a check may take (the python start and imports take about one)


def _width() -> int:
    return max(40, min(shutil.get_terminal_size((80, 24)).columns, 80))


def _say(text: str) -> None:
    """Print a paragraph wrapped to the terminal (at most 80 columns); later lines indented."""
    print(textwrap.fill(text, _width(), subsequent_indent="  ", break_on_hyphens=False))


def _command(workspace: Workspace, words: str) -> str:
    """The command line to run next, with --dir when the work folder is not the default."""
    default = workspace.root == Path("learn")
    return f"tinygrad-rnn learn {words}" + ("" if default else
                                            f" --dir {shlex.quote(str(workspace.root))}")


def _exercise(text: str) -> tuple[int, Exercise]:
    """The exercise named by a number (1-12) or its short name (unbroadcast)."""
    slugs = [e.slug for e in EXERCISES]
    if text.isdigit() and 1 <= int(text) <= len(EXERCISES):
        return int(text), EXERCISES[int(text) - 1]
    if text in slugs:
        return slugs.index(text) + 1, EXERCISES[slugs.index(text)]
    raise LearnError(f"no exercise {text!r}: give a number from 1 to {len(EXERCISES)} or a "
                     f"name (see: tinygrad-rnn learn list)")


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register `learn` and its four actions on the CLI's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", default="learn", metavar="DIR",
                        help="the work folder for your files and progress (learn)")
    learn = commands.add_parser("learn", help="exercises in course order, graded by property "
                                "tests that name the bug")
    actions = learn.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="the exercises and your progress")
    for name, text in (("start", "write the exercise's stub file (never over yours)"),
                       ("check", "grade your file"), ("hint", "show one more hint")):
        action = actions.add_parser(name, parents=[common], help=text)
        action.add_argument("exercise", help="its number (1-12) or name")
        if name == "check":
            action.add_argument("--timeout", type=float, default=TIMEOUT, metavar="S",
                                help=f"CPU seconds the check may take ({TIMEOUT:g})")
    learn.set_defaults(handler=cmd_learn)


def cmd_learn(args: argparse.Namespace) -> int:
    """Dispatch to the action; 1 when a check does not pass."""
    workspace = Workspace(args.dir)
    if args.action == "list":
        return show_list(workspace)
    number, exercise = _exercise(args.exercise)
    if args.action == "start":
        return start(workspace, number, exercise)
    if args.action == "hint":
        return hint(workspace, number, exercise)
    return check(workspace, number, exercise, args.timeout)


def _next(workspace: Workspace) -> int | None:
    for number in range(1, len(EXERCISES) + 1):
        if workspace.record(number)["status"] != "passed":
            return number
    return None


def show_list(workspace: Workspace) -> int:
    """The path as a table: number, status (glyph and word), what the exercise is."""
    records = [workspace.record(n) for n in range(1, len(EXERCISES) + 1)]
    passed = sum(r["status"] == "passed" for r in records)
    _say(f"the exercise path, in course order: {passed} of {len(EXERCISES)} passed "
         f"(work folder {workspace.root}/)")
    print(f"{'#':>3}  {'status':<13} {'checks':>6}  exercise")
    for number, (exercise, record) in enumerate(zip(EXERCISES, records, strict=True), start=1):
        status = f"{GLYPHS.get(record['status'], '?')} {record['status']}"
        print(f"{number:>3}  {status:<13} {record['checks']:>6}  {exercise.title}")
    following = _next(workspace)
    if following is None:
        print("all passed: the whole path is done")
    else:
        verb = "check" if workspace.path(following, EXERCISES[following - 1]).exists() \
            else "start"
        _say(f"next: {_command(workspace, f'{verb} {following}')}")
    return 0


def start(workspace: Workspace, number: int, exercise: Exercise) -> int:
    """Write the stub (or keep the learner's file) and say what to do next."""
    path = workspace.path(number, exercise)
    if workspace.start(number, exercise):
        _say(f"wrote {path}: write {', '.join(f + '()' for f in exercise.functions)} in it")
    else:
        _say(f"kept {path}: it exists, and your file is never overwritten (to start over, "
             f"delete it first)")
    _say(f"then: {_command(workspace, f'check {number}')}")
    return 0


def hint(workspace: Workspace, number: int, exercise: Exercise) -> int:
    """One more hint each time; once all are shown, all of them again."""
    shown = min(workspace.record(number)["hints"] + 1, len(exercise.hints))
    workspace.update(number, hints=shown)
    total = len(exercise.hints)
    for k in range(1 if shown == total else shown, shown + 1):
        _say(f"hint {k} of {total}: {exercise.hints[k - 1]}")
    if shown < total:
        _say(f"another: {_command(workspace, f'hint {number}')}")
    return 0


def _cpu_limit(seconds: int) -> Callable[[], None] | None:
    """A function that limits the child's CPU time (run in the child before it starts), or None
    where the platform has no such limit (then only the wall clock applies)."""
    try:
        import resource
    except ImportError:
        return None

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    return limit


def run_check(number: int, path: Path, timeout: float) -> dict[str, Any]:
    """Grade `path` as exercise `number` in a child process; the outcome dict of child.py,
    or one saying the child ran out of time or died.

    The limit is on CPU time, so a busy machine does not stop a correct answer; a child that
    waits without computing (a sleep, input()) is stopped by the wall clock, 4 × timeout + 10 s."""
    seconds = math.ceil(timeout)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    package_root = str(Path(__file__).resolve().parents[3])     # the folder holding tinygrad_rnn/
    env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
    still_running = (f"stopped after {seconds} s of CPU time: your code was still running (an "
                     f"infinite loop?); if it is only slow, give it longer with --timeout")
    with tempfile.TemporaryDirectory(prefix="tinygrad-rnn-learn-") as tmp:
        result = Path(tmp) / "result.json"
        child = subprocess.Popen(
            [sys.executable, "-m", "tinygrad_rnn.teach.learn.child", str(number),
             str(path.resolve()), str(result)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp,
            start_new_session=True, preexec_fn=_cpu_limit(seconds))
        wall = 4 * seconds + 10
        try:
            code = child.wait(timeout=wall)
        except subprocess.TimeoutExpired:
            _kill(child)
            return {"status": "error", "message": f"stopped after {wall} s: your code was "
                    f"waiting without finishing (a sleep, or input()?)"}
        if not result.exists():
            if code in (-getattr(signal, "SIGXCPU", 0), -signal.SIGKILL):
                return {"status": "error", "message": still_running}
            return {"status": "error", "message": f"the check's process ended (exit status "
                    f"{code}) before it could report: does your code call os._exit() or "
                    f"kill its process?"}
        return json.loads(result.read_text(encoding="utf-8"))


def _kill(child: subprocess.Popen) -> None:
    """End the child and anything it started (its own process group)."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        child.kill()
    child.wait()


def check(workspace: Workspace, number: int, exercise: Exercise, timeout: float) -> int:
    """Grade the learner's file, record the outcome, print it; 0 only when it passed."""
    if not (math.isfinite(timeout) and timeout > 0):
        raise LearnError(f"--timeout must be a finite number of seconds > 0, got {timeout:g}")
    path = workspace.path(number, exercise)
    if not path.is_file():
        raise LearnError(f"{path} does not exist: start exercise {number} with: tinygrad-rnn "
                         f"learn start {number}")
    if importlib.util.find_spec("hypothesis") is None:
        raise LearnError("learn check draws its cases with hypothesis: pip install hypothesis")
    outcome = run_check(number, path, timeout)
    record = workspace.record(number)
    workspace.update(number, status=outcome["status"], checks=record["checks"] + 1)
    _say(f"exercise {number}: {exercise.title} ({path})")
    _say(f"{GLYPHS.get(outcome['status'], '?')} {outcome['message']}")
    if outcome["status"] == "passed":
        following = _next(workspace)
        done = sum(workspace.record(n)["status"] == "passed"
                   for n in range(1, len(EXERCISES) + 1))
        _say(f"{done} of {len(EXERCISES)} passed" + (
            f"; next: {_command(workspace, f'start {following}')}" if following else
            ": all done"))
        return 0
    if outcome["status"] != "not started":
        _say(f"stuck? {_command(workspace, f'hint {number}')}")
    return 1
