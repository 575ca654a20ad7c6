"""Training never loses the last good checkpoint: divergence (NaN/Inf), a full disk, a read-only
directory, a save that fails mid-run; each is one clear line from the CLI (status 2)."""

import errno
import os
import re
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest
from train_settings import tiny_run

from tinygrad_rnn import Function, cli, lm
from tinygrad_rnn.engine import scan
from tinygrad_rnn.lm import checkpoint as checkpoint_module
from tinygrad_rnn.lm import train as train_module
from tinygrad_rnn.lm.checkpoint import load_checkpoint
from tinygrad_rnn.lm.run_dir import LOCK
from tinygrad_rnn.lm.train import BEST, LAST, METRICS, TrainError, load_model, train
from tinygrad_rnn.testing.anomaly import AnomalyError, detect_anomaly

TEXT = "the cat sat on the mat. the dog sat on the log. " * 12


def small(tmp_path, **settings):
    return tiny_run(tmp_path, TEXT, **settings)


def snapshot(run):
    """The bytes of every file of a run directory."""
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


def poison_at(monkeypatch, call, poison):
    """Make the model's `call`-th training forward run after `poison(model)`."""
    forward, calls = lm.LanguageModel.forward, [0]

    def spy(self, ids, state=None):
        if self.training:
            calls[0] += 1
            if calls[0] == call:
                poison(self)
        return forward(self, ids, state)

    monkeypatch.setattr(lm.LanguageModel, "forward", spy)


def nan_weight(model):
    model.head.bias.data[0] = np.nan


# ---- divergence -----------------------------------------------------------------------------
def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    poison_at(monkeypatch, 8, nan_weight)
    with pytest.raises(TrainError) as info:
        train(small(tmp_path), str(run))
    assert str(info.value) == (f"step 8: the training loss is nan: training diverged and stopped "
                               f"({run / LAST} still holds step 5); train again with a lower --lr")
    model, _, _, meta = load_model(str(run / LAST))
    assert meta["step"] == 5
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    assert [line.count('"step": 5') for line in (run / METRICS).read_text().splitlines()] == [1]


def test_divergence_before_any_checkpoint_says_none_was_saved(tmp_path, monkeypatch):
    poison_at(monkeypatch, 2, nan_weight)
    with pytest.raises(TrainError, match=r"^step 2: the training loss is nan: .*\(no checkpoint "
                                         r"was saved\)"):
        train(small(tmp_path), str(tmp_path / "run"))
    assert not (tmp_path / "run" / LAST).exists()


class InfGradient(Function):
    """y = x with a backward that overflows: a finite loss whose gradient is not."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return (grad * np.float32(np.inf),)


def inf_gradient_head(monkeypatch):
    head = lm.LanguageModel.forward

    def forward(self, ids, state=None):
        logits, state = head(self, ids, state)
        return InfGradient.apply(logits), state

    monkeypatch.setattr(lm.LanguageModel, "forward", forward)


def test_a_non_finite_gradient_stops_before_the_weights_are_spoiled(tmp_path, monkeypatch):
    config = small(tmp_path, steps=10)
    train(config, str(tmp_path / "run"))
    before = snapshot(tmp_path / "run")
    inf_gradient_head(monkeypatch)
    expected = r"^step 11: the gradient norm is (inf|nan): .* still holds step 10\)"
    with np.errstate(invalid="ignore"), pytest.raises(TrainError, match=expected):
        train(small(tmp_path, steps=20), str(tmp_path / "run"), resume=True)
    assert snapshot(tmp_path / "run") == before


def test_detect_anomaly_names_the_op_behind_a_diverging_run(tmp_path, monkeypatch):
    inf_gradient_head(monkeypatch)
    with detect_anomaly(), pytest.raises(AnomalyError, match=r"^detect_anomaly: infgradient "
                                                             r"backward returned inf"):
        train(small(tmp_path), str(tmp_path / "run"))


def huge_lr_argv(tmp_path):
    """`tinygrad-rnn train` of the small run with plain SGD at lr 1e30: it diverges at once."""
    return ["train", "--data", small(tmp_path).data, "--hidden", "12", "--embed", "6",
            "--seq-len", "8", "--batch-size", "4", "--steps", "40", "--eval-every", "5",
            "--optim", "sgd", "--lr", "1e30", "--clip", "0", "--plain"]


def test_a_huge_learning_rate_is_one_line_from_the_cli_and_saves_no_bad_model(tmp_path, capsys):
    assert cli.main([*huge_lr_argv(tmp_path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training diverged and stopped" in err, err
    assert "(no checkpoint was saved)" in err                # weights of 1e29 overflow at once
    assert not (tmp_path / "run" / LAST).exists() and not (tmp_path / "run" / BEST).exists()


def test_train_detect_anomaly_names_the_first_op_of_a_diverging_run(tmp_path, capsys):
    argv = huge_lr_argv(tmp_path)
    assert cli.main([*argv, "--out", str(tmp_path / "plain")]) == 2
    assert "detect_anomaly" not in capsys.readouterr().err      # off unless asked for
    assert cli.main([*argv, "--detect-anomaly", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert re.match(r"^tinygrad-rnn train: error: step \d+: detect_anomaly: \w+ (produced|"
                    r"backward returned) (nan|inf|nan and inf) .*created at .*training diverged "
                    r"and stopped \(no checkpoint was saved\)", err), err
    assert not (tmp_path / "run" / LAST).exists()


def test_a_finite_run_under_detect_anomaly_trains_as_without_it(tmp_path, monkeypatch):
    monkeypatch.setattr(scan, "MODE", "eager")  # as under detect_anomaly(): the eager loop
    train(small(tmp_path, steps=10), str(tmp_path / "plain"))
    train(small(tmp_path, steps=10), str(tmp_path / "checked"), check_anomalies=True)
    assert ((tmp_path / "checked" / METRICS).read_text().count("train_loss") ==
            (tmp_path / "plain" / METRICS).read_text().count("train_loss") == 2)
    plain, checked = load_model(str(tmp_path / "plain" / LAST)), load_model(
        str(tmp_path / "checked" / LAST))
    for (name, a), (_, b) in zip(plain[0].named_parameters(), checked[0].named_parameters(),
                                 strict=True):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


# ---- full disk, read-only directory, failing saves ------------------------------------------
def test_a_full_disk_is_refused_before_training(tmp_path, monkeypatch):
    class Usage:
        free = 100_000                                         # bytes: less than 8 model sizes

    monkeypatch.setattr(train_module.shutil, "disk_usage", lambda path: Usage)
    with pytest.raises(TrainError, match=r"has 0\.1 MiB free, but the checkpoints need about "
                                         r"\d+\.\d MiB: free some space"):
        train(small(tmp_path), str(tmp_path / "run"))
    assert not any(p.name in (LAST, METRICS) for p in (tmp_path / "run").iterdir())
    Usage.free = 10 * 2**20                                    # the same run with room: trains
    assert train(small(tmp_path, steps=5), str(tmp_path / "run")).step == 5


def test_a_read_only_directory_is_refused_before_training(tmp_path, monkeypatch, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    real_open = open

    def read_only_open(file, mode="r", *args, **kwargs):
        if str(file).startswith(str(out)) and any(c in mode for c in "wax+"):
            raise OSError(errno.EROFS, "Read-only file system", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(train_module, "open", read_only_open, raising=False)
    code = cli.main(["train", "--data", small(tmp_path).data, "--out", str(out), "--plain"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"tinygrad-rnn train: error: cannot write to {out}: Read-only file system\n"
    assert list(out.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_read_only_directory_by_permissions(tmp_path):
    out = tmp_path / "ro"
    out.mkdir(mode=0o555)
    with pytest.raises(TrainError, match="cannot write to .*: Permission denied"):
        train(small(tmp_path), str(out))


def fail_on_save(monkeypatch, nth, error):
    """Make the `nth` call of the checkpoint writer write a little, then raise `error`."""
    write, calls = checkpoint_module._write_npz, [0]

    def flaky(file, arrays):
        calls[0] += 1
        if calls[0] == nth:
            file.write(b"PK\x03\x04 partial")
            raise error
        write(file, arrays)

    monkeypatch.setattr(checkpoint_module, "_write_npz", flaky)


def test_a_save_failing_mid_training_keeps_the_old_checkpoint(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    args = ["train", "--data", small(tmp_path).data, "--hidden", "12", "--embed", "6",
            "--seq-len", "8", "--batch-size", "4", "--eval-every", "5", "--plain", "--out",
            str(run)]
    assert cli.main([*args, "--steps", "10"]) == 0
    before = snapshot(run)
    fail_on_save(monkeypatch, 2, OSError(errno.ENOSPC, "No space left on device"))
    code = cli.main(["train", "--out", str(run), "--resume", "--steps", "20", "--plain"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert f"cannot save {run / LAST} at step 15: No space left on device; the previous " \
           f"{LAST}, if any, is untouched" in err
    assert (run / LAST).read_bytes() == before[LAST]
    assert load_checkpoint(run / LAST)[1]["step"] == 10
    assert load_checkpoint(run / BEST)[1]["step"] in (10, 15)    # the first save, of best, ran
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()                                          # the disk has room again
    assert cli.main(["train", "--out", str(run), "--resume", "--steps", "20", "--plain"]) == 0
    assert load_checkpoint(run / LAST)[1]["step"] == 20


def limited_file_size():
    """In the child: files may not grow past 20 kB, and the kernel says so with EFBIG."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_a_real_write_limit_in_a_subprocess_is_one_line_and_loses_nothing(tmp_path):
    """A kernel-enforced file-size limit (RLIMIT_FSIZE, no root needed) stands in for a disk
    that fills up: the first checkpoint of a 60 kB model cannot be written."""
    run = tmp_path / "run"
    argv = ["train", "--data", small(tmp_path).data, "--hidden", "48", "--embed", "8",
            "--seq-len", "8", "--batch-size", "4", "--steps", "10", "--eval-every", "5",
            "--plain", "--out", str(run)]
    done = subprocess.run([sys.executable, "-m", "tinygrad_rnn", *argv], capture_output=True,
                          text=True, timeout=120, preexec_fn=limited_file_size)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"cannot save {run / BEST} at step 5: File too large" in done.stderr
    assert sorted(p.name for p in run.iterdir()) == ["config.json", METRICS, LOCK, "vocab.json"]


# ---- sizes too big to allocate, arguments with line breaks ----------------------------------
@pytest.mark.parametrize("flags", [["--hidden", "9" * 25], ["--embed", "99999999999"]])
def test_a_model_too_big_to_allocate_is_one_line(tmp_path, capsys, flags):
    argv = ["train", "--data", small(tmp_path).data, "--batch-size", "2", "--seq-len", "4",
            "--steps", "1", "--plain", "--out", str(tmp_path / "run"), *flags]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("tinygrad-rnn train: error: cannot build a model with --hidden ")
    assert f"{flags[0]} {flags[1]} " in err and err.endswith(": choose smaller sizes\n")
    assert not (tmp_path / "run" / LAST).exists()


def test_an_argparse_error_quoting_a_line_break_stays_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["sample", "somewhere", "--top-k", "1\n2"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--top-k" in err
