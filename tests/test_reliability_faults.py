"""Faults in real processes: SIGKILL in the middle of saving never leaves an unloadable
checkpoint; SIGKILL or Ctrl-C during training, then --resume, gives the uninterrupted curve."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinygrad_rnn.lm.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_rnn.lm.train import BEST, LAST, METRICS, load_model

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

# Saves 16 MiB checkpoints to one path forever; each holds arrays filled with its number i and
# meta {"i": i}; "saving i" is printed before save_checkpoint(i), "saved i" once it returned.
SAVER = """
import sys
import numpy as np
from tinygrad_rnn.lm.checkpoint import save_checkpoint
path = sys.argv[1]
for i in range(10**6):
    arrays = {"a": np.full(1_000_000, i, np.float64), "b": np.full((500, 2000), -i, np.int64)}
    print("saving", i, flush=True)
    save_checkpoint(path, arrays, {"i": i})
    print("saved", i, flush=True)
"""


def wait_for_line(process, prefix, timeout=60.0):
    """The first line of the child's stdout that starts with prefix."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(prefix):
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"the child never printed {prefix!r}")


def test_sigkill_while_saving_always_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    rng = random.Random(8)
    mid_save = attempts = 0
    while attempts < 8 or (mid_save < 2 and attempts < 24):  # until kills land mid-write
        attempts += 1
        child = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], env=ENV,
                                 stdout=subprocess.PIPE, text=True)
        last = int(wait_for_line(child, "saved").split()[1])     # at least one complete save
        wait_for_line(child, "saving")
        time.sleep(rng.uniform(0.0, 0.2))                         # a random moment in a save
        child.kill()
        rest, _ = child.communicate(timeout=30)
        saved = [int(m[1]) for m in map(re.compile(r"saved (\d+)$").match, rest.splitlines())
                 if m]                                            # (a kill can cut a line short)
        last = max([last, *saved])
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        mid_save += bool(temps)                                   # killed inside a write
        for temp in temps:
            temp.unlink()
        arrays, meta = load_checkpoint(path)                      # never corrupt or partial
        i = meta["i"]
        assert i >= last, (i, last)                               # a returned save is durable
        assert i <= last + 1                                      # at most the one in flight
        np.testing.assert_array_equal(arrays["a"], np.full(1_000_000, i, np.float64))
        np.testing.assert_array_equal(arrays["b"], np.full((500, 2000), -i, np.int64))
    assert mid_save >= 2, "too few kills landed inside a write to test anything"


# Saves once, then is killed (SIGKILL, by itself) inside the next save, just before its fsync.
KILLED_MID_SAVE = """
import os, signal, sys
import numpy as np
from tinygrad_rnn.lm.checkpoint import save_checkpoint
save_checkpoint(sys.argv[1], {"a": np.zeros(3)}, {"i": 0})
os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
save_checkpoint(sys.argv[1], {"a": np.ones(3)}, {"i": 1})
"""


def test_the_next_save_removes_the_temp_file_a_killed_save_left_and_nothing_else(tmp_path):
    path = tmp_path / "last.ckpt"
    child = subprocess.run([sys.executable, "-c", KILLED_MID_SAVE, str(path)], env=ENV)
    assert child.returncode == -signal.SIGKILL
    (stray,) = [p.name for p in tmp_path.iterdir() if p.name != "last.ckpt"]
    assert stray.startswith(".last.ckpt.") and stray.endswith(".tmp"), stray
    assert load_checkpoint(path)[1] == {"i": 0}                 # the kill lost nothing
    keep = [".best.ckpt.abcd1234.tmp", "last.ckpt.abcd1234.tmp", ".last.ckpt.abc.tmp",
            ".last.ckpt.abcd1234.tmp.bak", ".last.ckpt.abcd1234.txt", "notes.tmp",
            ".xlast.ckpt.abcd1234.tmp"]
    for name in keep:
        (tmp_path / name).write_text("not a leftover of last.ckpt")
    (tmp_path / ".last.ckpt.dir12345.tmp").mkdir()              # the pattern, but a directory
    (tmp_path / ".last.ckpt.link1234.tmp").symlink_to(tmp_path / "notes.tmp")
    save_checkpoint(path, {"a": np.full(3, 2.0)}, {"i": 2})
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([*keep, ".last.ckpt.dir12345.tmp", ".last.ckpt.link1234.tmp",
                           "last.ckpt"]), left
    assert (tmp_path / "notes.tmp").read_text() == "not a leftover of last.ckpt"
    assert load_checkpoint(path)[1] == {"i": 2}


# ---- training processes ---------------------------------------------------------------------
TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog. " * 20
TRAIN = ["--seq-len", "8", "--hidden", "24", "--embed", "8", "--batch-size", "4",
         "--steps", "80", "--eval-every", "4", "--cell", "lstm", "--dropout", "0.1",
         "--optim", "adamw", "--plain"]


def command(*argv):
    return [sys.executable, "-m", "tinygrad_rnn", *map(str, argv)]


def curve(run):
    with open(run / METRICS, encoding="utf-8") as f:
        return [(r["step"], r["train_loss"], r["val_loss"]) for r in map(json.loads, f)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run, in a subprocess like the interrupted ones."""
    root = tmp_path_factory.mktemp("faults")
    (root / "data.txt").write_text(TEXT, encoding="utf-8")
    done = subprocess.run(command("train", "--data", root / "data.txt", "--out", root / "whole",
                                  *TRAIN), env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return root


def interrupt_at_random(root, out, sig, seed):
    """Start training into `out` and send `sig` at a random moment after a checkpoint exists."""
    child = subprocess.Popen(command("train", "--data", root / "data.txt", "--out", out,
                                     *TRAIN), env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    wait_for_line(child, "step")                                 # the first evaluation
    time.sleep(random.Random(seed).uniform(0.0, 0.3))
    child.send_signal(sig)
    stdout, stderr = child.communicate(timeout=60)
    return child.returncode, stdout, stderr


@pytest.mark.parametrize("sig, seed", [(signal.SIGINT, 1), (signal.SIGKILL, 2)])
def test_resume_after_an_interruption_gives_the_uninterrupted_curve(reference, tmp_path, sig,
                                                                    seed):
    out = tmp_path / "run"
    code, stdout, stderr = interrupt_at_random(reference, out, sig, seed)
    if sig == signal.SIGINT:
        assert code == 130 and "Traceback" not in stderr
        assert "interrupted at step" in stdout.splitlines()[-1]
    else:
        assert code == -signal.SIGKILL
        with open(out / METRICS, "a", encoding="utf-8") as f:   # as a kill or a full disk may
            f.write('{"step": 9999, "train_lo')                 # leave: half a line at the end
    for name in (LAST, BEST):                                    # both load, whatever the moment
        model, _, _, meta = load_model(str(out / name))
        assert 4 <= meta["step"] < 80
    done = subprocess.run(command("train", "--out", out, "--resume", "--plain"), env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert curve(out) == curve(reference / "whole")
    whole, _ = load_checkpoint(reference / "whole" / LAST)
    parts, _ = load_checkpoint(out / LAST)
    for name in whole:
        np.testing.assert_array_equal(whole[name], parts[name], err_msg=name)

