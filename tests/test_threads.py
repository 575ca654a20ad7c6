"""Threads: the CLI trains on one BLAS thread by default and on N with --threads N (read through
threadpoolctl inside the training subprocess, not by timing); every subcommand and gallery demo
takes --threads; set_num_threads checks its argument."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import threadpoolctl

import tinygrad_rnn as tg
from tinygrad_rnn.cli import build_parser
from tinygrad_rnn.engine.threads import DEFAULT_THREADS

REPO = Path(__file__).resolve().parent.parent
DEMOS = REPO / "demos"

# Runs the CLI with Optimizer.step wrapped so that every step records the BLAS pools' thread
# counts as threadpoolctl sees them at that moment, then prints the counts seen as JSON.
SPY = """
import json, sys
import threadpoolctl
from tinygrad_rnn import cli, optim
seen = set()
real_step = optim.Optimizer.step
def step(self):
    pools = threadpoolctl.threadpool_info()
    seen.update(p["num_threads"] for p in pools if p["user_api"] == "blas")
    return real_step(self)
optim.Optimizer.step = step
status = cli.main(sys.argv[1:])
print(json.dumps({"status": status, "threads": sorted(seen)}))
"""


def _blas_loaded() -> bool:
    return any(p["user_api"] == "blas" for p in threadpoolctl.threadpool_info())


def _threads_seen_in_training(tmp_path: Path, *flags: str) -> list[int]:
    """The BLAS thread counts seen at every optimizer step of a short `train` in a fresh process
    whose environment asks OpenBLAS/OpenMP for 2 threads (so the CLI must set them itself)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env.update(OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    out = tmp_path / "_".join(["run", *flags])
    command = [sys.executable, "-c", SPY, "train", "--steps", "3", "--eval-every", "3",
               "--hidden", "16", "--seq-len", "16", "--out", str(out), "--plain", *flags]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 0, done.stderr
    return result["threads"]


@pytest.mark.skipif(not _blas_loaded(), reason="numpy has no BLAS that threadpoolctl can see")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="2 threads need 2 CPUs")
def test_train_runs_on_one_thread_by_default_and_on_n_with_threads(tmp_path: Path) -> None:
    assert DEFAULT_THREADS == 1
    assert _threads_seen_in_training(tmp_path) == [1]
    assert _threads_seen_in_training(tmp_path, "--threads", "2") == [2]


def test_every_subcommand_takes_threads() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert {"train", "sample", "score", "eval", "gradcheck", "vanishing", "graph"} <= set(commands)
    for name, command in commands.items():
        flags = {s for action in command._actions for s in action.option_strings}
        assert "--threads" in flags, name


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_thread_count_is_one_line_and_status_2(value: str) -> None:
    done = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "gradcheck", "--threads", value],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "--threads" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("n", [0, -2, 1.5, True, "1"])
def test_set_num_threads_refuses_what_is_not_a_count(n: object) -> None:
    with pytest.raises(ValueError, match="set_num_threads"):
        tg.set_num_threads(n)  # type: ignore[arg-type]


@pytest.mark.skipif(not _blas_loaded(), reason="numpy has no BLAS that threadpoolctl can see")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="2 threads need 2 CPUs")
def test_gallery_demos_set_the_threads_they_are_given() -> None:
    sys.path.insert(0, str(DEMOS))
    try:
        from _gallery import gallery_parser, run_length
    finally:
        sys.path.remove(str(DEMOS))
    before = tg.get_num_threads()
    try:
        for flags, expected in (([], 1), (["--threads", "2"], 2)):
            args = gallery_parser("a demo", seed=0).parse_args(flags)
            tg.set_num_threads(3 - expected)                    # the other count, first
            run_length(_Settings(), args)
            assert tg.get_num_threads() == expected, flags
    finally:
        tg.set_num_threads(before)


@dataclass
class _Settings:
    steps: int = 1


def test_demos_with_a_parser_take_threads() -> None:
    for path in sorted(DEMOS.glob("*.py")):
        text = path.read_text()
        if "parse_args(" in text and "gallery_parser" not in text:
            assert "add_threads_flag(parser)" in text and "use_threads(" in text, path.name
