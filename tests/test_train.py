"""The training loop: learning, truncated BPTT, checkpoints, exact resume, stops, refusals."""

import json
import signal

import numpy as np
import pytest
from train_settings import tiny_run

from tinygrad_rnn import lm
from tinygrad_rnn.lm import train as train_module
from tinygrad_rnn.lm.checkpoint import load_checkpoint
from tinygrad_rnn.lm.run_dir import LOCK
from tinygrad_rnn.lm.train import BEST, LAST, METRICS, TrainConfig, TrainError, load_model, train

NAMES = "\n".join(["anna", "bob", "carla", "dave", "emma", "fred", "gina", "hank", "ivy",
                   "jack", "kim", "liam", "mona", "nick", "olga", "pete"] * 3) + "\n"


def small(tmp_path, text=NAMES, **settings):
    return tiny_run(tmp_path, text, **settings)


def metrics(out):
    with open(out / METRICS, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def curve(records):
    return [(r["step"], r["train_loss"], r["val_loss"]) for r in records]


def test_a_small_model_learns_a_repeating_text(tmp_path):
    config = small(tmp_path, text="abcd" * 300, steps=120, eval_every=40, lr=0.02)
    summary = train(config, str(tmp_path / "run"))
    assert summary.stopped == "steps" and summary.step == 120
    assert metrics(tmp_path / "run")[-1]["val_loss"] < 0.2          # ln 5 = 1.6 at the start
    loaded = load_model(str(tmp_path / "run" / BEST))               # a named tuple
    assert loaded._fields == ("model", "vocab", "config", "meta")
    assert loaded.config == config and loaded.meta["step"] in (40, 80, 120)
    assert not loaded.model.training and loaded.model is loaded[0]
    text = lm.sample_text(loaded.model, loaded.vocab, np.random.default_rng(0), prime="ab",
                          max_len=10, greedy=True)
    assert text == "ab" + "cdabcdabcd"


def test_metrics_log_every_evaluation(tmp_path):
    train(small(tmp_path, steps=12), str(tmp_path / "run"))
    records = metrics(tmp_path / "run")
    assert [r["step"] for r in records] == [5, 10, 12]
    for r in records:
        assert {"step", "train_loss", "val_loss", "seconds", "lr", "grad_norm"} <= set(r)
        assert r["val_bpc"] == pytest.approx(r["val_loss"] / np.log(2))
    assert {p.name for p in (tmp_path / "run").iterdir()} == {
        "config.json", "vocab.json", METRICS, LAST, BEST, LOCK}


def test_best_checkpoint_holds_the_lowest_validation_loss(tmp_path):
    train(small(tmp_path, steps=30, lr=0.05), str(tmp_path / "run"))
    records = metrics(tmp_path / "run")
    best = min(records, key=lambda r: r["val_loss"])
    _, meta = load_checkpoint(tmp_path / "run" / BEST)
    assert meta["step"] == best["step"]


@pytest.mark.parametrize("lines", [False, True])
def test_resume_continues_exactly(tmp_path, lines):
    settings = dict(lines=lines, cell="lstm", layers=2, dropout=0.2)
    train(small(tmp_path, steps=20, **settings), str(tmp_path / "whole"))
    train(small(tmp_path, steps=12, **settings), str(tmp_path / "parts"))
    train(small(tmp_path, steps=20, **settings), str(tmp_path / "parts"), resume=True)
    assert curve(metrics(tmp_path / "parts")) == curve(metrics(tmp_path / "whole"))
    whole, _ = load_checkpoint(tmp_path / "whole" / LAST)
    parts, _ = load_checkpoint(tmp_path / "parts" / LAST)
    for name in whole:
        np.testing.assert_array_equal(whole[name], parts[name])


class CtrlCAt:
    """A reporter that presses Ctrl-C (a real SIGINT) after a given step."""

    def __init__(self, step):
        self.at = step

    def start(self, config, start_step, about): ...
    def evaluated(self, record, sample): ...
    def finish(self, summary): ...

    def step(self, step, loss, grad_norm, lr, tokens, seconds):
        if step == self.at:
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_saves_last_and_resumes_exactly(tmp_path):
    config = small(tmp_path, schedule="cosine", optim="rmsprop", dropout=0.1)
    train(config, str(tmp_path / "whole"))
    summary = train(config, str(tmp_path / "parts"), reporter=CtrlCAt(7))
    assert summary.stopped == "interrupt" and summary.step == 7
    assert load_checkpoint(tmp_path / "parts" / LAST)[1]["step"] == 7
    with pytest.raises(TrainError, match="--steps 30 differs"):   # a cosine schedule's end
        train(small(tmp_path, schedule="cosine", optim="rmsprop", dropout=0.1, steps=30),
              str(tmp_path / "parts"), resume=True)
    train(config, str(tmp_path / "parts"), resume=True)
    assert curve(metrics(tmp_path / "parts")) == curve(metrics(tmp_path / "whole"))


def test_hidden_state_is_carried_and_reset_at_each_pass(tmp_path, monkeypatch):
    fresh = []
    forward = lm.LanguageModel.forward

    def spy(self, ids, state=None):
        if self.training:
            fresh.append(state is None)
        return forward(self, ids, state)

    monkeypatch.setattr(lm.LanguageModel, "forward", spy)
    # 400 chars, 20% held out: 320 train tokens in 4 streams of 80 → (80 - 1) // 8 = 9 windows
    train(small(tmp_path, text="abcdefghij" * 40, steps=20, eval_every=20),
          str(tmp_path / "run"))
    assert [i for i, f in enumerate(fresh) if f] == [0, 9, 18]
    _, meta = load_checkpoint(tmp_path / "run" / LAST)
    assert meta["run"]["state"] == {"array": "run/state"}


def test_line_mode_starts_every_batch_fresh(tmp_path, monkeypatch):
    fresh = []
    forward = lm.LanguageModel.forward

    def spy(self, ids, state=None):
        if self.training:                                  # not validation or sampling
            fresh.append(state is None)
        return forward(self, ids, state)

    monkeypatch.setattr(lm.LanguageModel, "forward", spy)
    train(small(tmp_path, lines=True, steps=6, eval_every=6), str(tmp_path / "run"))
    assert fresh == [True] * 6


def test_minutes_budget_stops_and_saves(tmp_path):
    summary = train(small(tmp_path, steps=1000, minutes=1e-6), str(tmp_path / "run"))
    assert summary.stopped == "minutes" and summary.step == 1
    assert load_checkpoint(tmp_path / "run" / LAST)[1]["step"] == 1


def test_refusals_leave_an_existing_run_untouched(tmp_path):
    out = tmp_path / "run"
    train(small(tmp_path, steps=5), str(out))
    before = (out / LAST).read_bytes()
    with pytest.raises(TrainError, match="already holds a run"):
        train(small(tmp_path, steps=5), str(out))
    with pytest.raises(TrainError, match="--hidden 13 differs"):
        train(small(tmp_path, steps=10, hidden=13), str(out), resume=True)
    longer = small(tmp_path, steps=10)
    (tmp_path / "data.txt").write_text(NAMES + "zed\n", encoding="utf-8")
    with pytest.raises(TrainError, match="data differs"):
        train(longer, str(out), resume=True)
    assert (out / LAST).read_bytes() == before
    with pytest.raises(TrainError, match="nothing to resume"):
        train(small(tmp_path), str(tmp_path / "empty"), resume=True)


def test_an_unwritable_directory_is_refused_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TrainError, match="cannot write"):
        train(small(tmp_path), str(blocker / "run"))


@pytest.mark.parametrize("bad", [dict(hidden=0), dict(steps=-1), dict(cell="cnn"),
                                 dict(optim="lion"), dict(lr=0.0), dict(dropout=1.0),
                                 dict(val_frac=-0.1), dict(clip=float("nan")),
                                 dict(level="byte"), dict(embed=-2), dict(minutes=-1)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(TrainError):
        TrainConfig(**bad)


def test_default_learning_rate_follows_the_optimizer():
    assert TrainConfig(optim="adam").lr == 3e-3
    assert TrainConfig(optim="sgd").lr == train_module.DEFAULT_LR["sgd"]
    assert TrainConfig(optim="sgd", lr=0.1).lr == 0.1
