"""One writer per run directory (a lock, taken over from a killed holder; readers never wait),
run ids (a checkpoint from another run is not resumed), and --minutes on resume (issue 17)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from train_settings import tiny_run

from tinygrad_rnn import cli
from tinygrad_rnn.lm.checkpoint import load_checkpoint
from tinygrad_rnn.lm.run_dir import LOCK, run_lock
from tinygrad_rnn.lm.train import BEST, LAST, METRICS, train

NAMES = "\n".join(["anna", "bob", "carla", "dave", "emma", "fred", "gina", "hank"] * 4) + "\n"


def small(tmp_path, **settings):
    return tiny_run(tmp_path, NAMES, **settings)


def train_argv(tmp_path, out, *flags):
    return ["train", "--data", small(tmp_path).data, "--hidden", "12", "--embed", "6",
            "--seq-len", "8", "--batch-size", "4", "--eval-every", "5", "--plain",
            "--out", str(out), *flags]


def one_line_error(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ---- the lock -------------------------------------------------------------------------------
def test_a_second_writer_is_refused_naming_the_holders_pid(tmp_path, capsys):
    out = tmp_path / "run"
    train(small(tmp_path, steps=5), str(out))
    with run_lock(str(out)), run_lock(str(tmp_path / "new")):  # as a training process would
        for argv in (train_argv(tmp_path, out, "--resume", "--steps", "10"),
                     train_argv(tmp_path, tmp_path / "new")):
            assert cli.main(argv) == 2
            err = one_line_error(capsys)
            assert f"is in use by another training process (pid {os.getpid()})" in err
        assert cli.main(train_argv(tmp_path, tmp_path / "fresh", "--steps", "2")) == 0  # fine
        capsys.readouterr()
        # readers never wait for the lock
        assert cli.main(["sample", str(out), "--max-len", "5"]) == 0
        assert cli.main(["score", str(out), "anna", "--json"]) == 0
        assert cli.main(["eval", str(out), "--data", small(tmp_path).data]) == 0
    assert cli.main(train_argv(tmp_path, out, "--resume", "--steps", "10")) == 0


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from tinygrad_rnn.lm.run_dir import run_lock\n"
         f"with run_lock({str(out)!r}):\n    print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        assert (out / LOCK).read_text().strip() == str(holder.pid)
        with_holder = subprocess.run([sys.executable, "-m", "tinygrad_rnn",
                                      *train_argv(tmp_path, out, "--steps", "2")],
                                     capture_output=True, text=True, timeout=120)
        assert with_holder.returncode == 2 and f"(pid {holder.pid})" in with_holder.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (out / LOCK).read_text().strip() == str(holder.pid)   # left behind by the kill
    assert train(small(tmp_path, steps=2), str(out)).step == 2    # and taken over
    assert (out / LOCK).read_text().strip() == str(os.getpid())


# ---- run ids --------------------------------------------------------------------------------
def test_a_checkpoint_from_another_run_is_refused_on_resume(tmp_path, capsys):
    train(small(tmp_path, steps=5), str(tmp_path / "a"))
    train(small(tmp_path, steps=5, seed=1), str(tmp_path / "b"))
    ids = [json.loads((tmp_path / r / "config.json").read_text())["run_id"] for r in "ab"]
    assert ids[0] != ids[1]
    assert load_checkpoint(tmp_path / "a" / LAST)[1]["run_id"] == ids[0]
    assert load_checkpoint(tmp_path / "a" / BEST)[1]["run_id"] == ids[0]
    shutil.copy(tmp_path / "b" / LAST, tmp_path / "a" / LAST)
    assert cli.main(train_argv(tmp_path, tmp_path / "a", "--resume", "--steps", "10")) == 2
    err = one_line_error(capsys)
    assert f"belongs to another run (run id '{ids[1]}'" in err and ids[0] in err


# ---- --minutes on resume --------------------------------------------------------------------
def records(out):
    lines = (out / METRICS).read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


def test_minutes_can_be_changed_or_removed_on_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(train_argv(tmp_path, out, "--steps", "50", "--minutes", "1e-7")) == 0
    assert load_checkpoint(out / LAST)[1]["step"] == 1           # stopped by the budget
    assert cli.main(train_argv(tmp_path, out, "--resume", "--minutes", "0")) == 0
    assert load_checkpoint(out / LAST)[1]["step"] == 50          # no limit: trained to the end
    config = load_checkpoint(out / LAST)[1]["train"]
    assert config["minutes"] is None


def test_time_budget_stops_and_resumes_leave_the_uninterrupted_runs_checkpoints(tmp_path):
    train(small(tmp_path, steps=12), str(tmp_path / "whole"))
    parts = tmp_path / "parts"
    train(small(tmp_path, steps=12, minutes=1e-7), str(parts))   # one step per session
    sessions = 1
    while load_checkpoint(parts / LAST)[1]["step"] < 12:
        train(small(tmp_path, steps=12, minutes=1e-7), str(parts), resume=True)
        sessions += 1
        assert sessions <= 12
    assert sessions == 12
    assert records(parts) == records(tmp_path / "whole")
    for name in (BEST, LAST):
        whole, whole_meta = load_checkpoint(tmp_path / "whole" / name)
        part, part_meta = load_checkpoint(parts / name)
        assert whole_meta["step"] == part_meta["step"]
        for key in whole:
            np.testing.assert_array_equal(whole[key], part[key])


def test_a_stop_between_evaluations_does_not_evaluate(tmp_path):
    out = tmp_path / "run"
    started = time.monotonic()
    summary = train(small(tmp_path, steps=12, minutes=1e-7), str(out))
    assert summary.stopped == "minutes" and summary.step == 1 and summary.records == []
    assert not (out / BEST).exists() and time.monotonic() - started < 60
