"""The benchmark baseline is correct, and the benchmark runs.

- benchmarks/numpy_bptt.py's hand-derived gradients match central differences (float64, tiny
  sizes) and our autograd through nn.RNN/nn.LSTM plus a Linear head, element for element.
- the comparison catches a perturbed gradient (the negative test).
- our contenders and the numpy one compute the same losses over three training steps (so the
  same clipping and optimizer updates too).
- an optimizer step and a clip alone (the updates rows) do the same work as the numpy ones.
- `python -m benchmarks --quick --json` prints every row and every goal (a smoke test; timings
  are not checked), and the printed report speaks to users (no internal issue numbers).
torch is never imported here.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from benchmarks import names, numpy_bptt, report, updates, versions, word_lm
from benchmarks.contenders import CONTENDERS, by_key
from benchmarks.sections import SECTIONS
from benchmarks.workloads import Workload, make_data, memory_workload, suite
from tinygrad_rnn import Tensor, nn, numerical_grad
from tinygrad_rnn.nn import functional as F

REPO = Path(__file__).resolve().parent.parent
VOCAB, HIDDEN, STEPS = 5, 4, 4
RECURRENT_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _problem(cell: str, batch: int, seed: int = 0):
    """Tiny float64 parameters, one-hot inputs (T, B, V), targets (T, B) and a non-zero state."""
    rng = np.random.default_rng(seed)
    params = numpy_bptt.init_params(cell, VOCAB, HIDDEN, np.float64, rng)
    symbols = rng.integers(0, VOCAB, (STEPS + 1, batch))
    inputs = np.eye(VOCAB)[symbols[:-1]]
    h0 = rng.uniform(-0.5, 0.5, (batch, HIDDEN))
    c0 = rng.uniform(-0.5, 0.5, (batch, HIDDEN))
    return params, inputs, symbols[1:], h0, c0


def _rnn(cell: str, batch: int) -> tuple[numpy_bptt.Params, Callable, numpy_bptt.Params]:
    """Parameters, their loss function and the hand-derived gradients, for the RNN or LSTM."""
    params, inputs, targets, h0, c0 = _problem(cell, batch)
    if cell == "rnn":
        def run(p: numpy_bptt.Params) -> tuple[float, numpy_bptt.Params]:
            loss, grads, _ = numpy_bptt.rnn_loss_and_grads(p, inputs, targets, h0)
            return loss, grads
    else:
        def run(p: numpy_bptt.Params) -> tuple[float, numpy_bptt.Params]:
            loss, grads, _ = numpy_bptt.lstm_loss_and_grads(p, inputs, targets, (h0, c0))
            return loss, grads
    return params, run, run(params)[1]


def _central_differences(params: numpy_bptt.Params, loss_of: Callable) -> numpy_bptt.Params:
    """d loss / d every parameter element, by tinygrad_rnn's central differences."""
    names = list(params)
    tensors = [Tensor(params[name].copy(), requires_grad=True) for name in names]

    def loss(*ts: Tensor) -> Tensor:
        return Tensor(np.asarray(loss_of({n: t.data for n, t in zip(names, ts, strict=True)})))

    grads = numerical_grad(loss, tensors, np.ones(()), eps=1e-6)
    return dict(zip(names, grads, strict=True))


def assert_grads_close(analytic: numpy_bptt.Params, expected: numpy_bptt.Params,
                       rtol: float = 1e-5, atol: float = 1e-8) -> None:
    """Every parameter's gradient matches; the message names the parameter and element."""
    assert analytic.keys() == expected.keys()
    for name in expected:
        np.testing.assert_allclose(analytic[name], expected[name], rtol=rtol, atol=atol,
                                   err_msg=f"gradient of {name}")


# ---- the hand-derived gradients -----------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("batch", [1, 3])
def test_bptt_matches_central_differences(cell: str, batch: int) -> None:
    params, run, grads = _rnn(cell, batch)
    assert_grads_close(grads, _central_differences(params, lambda p: run(p)[0]))


def test_a_perturbed_gradient_is_detected() -> None:
    params, run, grads = _rnn("lstm", 2)
    numerical = _central_differences(params, lambda p: run(p)[0])
    assert_grads_close(grads, numerical)
    for name in ("weight_hh", "bias_ih", "head_weight"):
        wrong = {k: g.copy() for k, g in grads.items()}
        wrong[name].flat[1] += 1e-4
        with pytest.raises(AssertionError, match=f"gradient of {name}"):
            assert_grads_close(wrong, numerical)


def _autograd(cell: str, params: numpy_bptt.Params, inputs: np.ndarray, targets: np.ndarray,
              h0: np.ndarray, c0: np.ndarray) -> tuple[float, numpy_bptt.Params]:
    """The same loss and gradients through nn.RNN/nn.LSTM, a Linear head and cross_entropy."""
    layer = (nn.RNN if cell == "rnn" else nn.LSTM)(VOCAB, HIDDEN).double()
    head = nn.Linear(HIDDEN, VOCAB).double()
    layer.load_state_dict({f"{k}_l0": params[k] for k in RECURRENT_KEYS})
    head.load_state_dict({"weight": params["head_weight"], "bias": params["head_bias"]})
    state = Tensor(h0[None]) if cell == "rnn" else (Tensor(h0[None]), Tensor(c0[None]))
    out, _ = layer(Tensor(inputs), state)                                        # (T, B, H)
    loss = F.cross_entropy(head(out.reshape(-1, HIDDEN)), targets.reshape(-1))
    loss.backward()
    grads = {k: getattr(layer, f"{k}_l0").grad for k in RECURRENT_KEYS}
    return loss.item(), {**grads, "head_weight": head.weight.grad, "head_bias": head.bias.grad}


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_bptt_matches_our_autograd(cell: str) -> None:
    params, inputs, targets, h0, c0 = _problem(cell, batch=3, seed=1)
    loss, grads = _autograd(cell, params, inputs, targets, h0, c0)
    run = numpy_bptt.rnn_loss_and_grads if cell == "rnn" else numpy_bptt.lstm_loss_and_grads
    state = h0 if cell == "rnn" else (h0, c0)
    hand_loss, hand, _ = run(params, inputs, targets, state)
    assert hand_loss == pytest.approx(loss, rel=1e-12)
    assert_grads_close(hand, grads, rtol=1e-9, atol=1e-12)


# ---- the contenders do the same work ------------------------------------------------------------
OURS_AND_NUMPY = ["ours-layer", "ours-cell", "numpy"]


@pytest.mark.parametrize("workload", [
    Workload("rnn", "rnn", hidden=6, steps=5, batch=1, dtype="float64", optimizer="adagrad",
             clip="value", clip_at=0.01),
    Workload("lstm", "lstm", hidden=6, steps=5, batch=3, dtype="float64", clip_at=0.1),
    Workload("gru", "gru", hidden=6, steps=5, batch=2, dtype="float64", train=False),
], ids=lambda w: w.name)
def test_contenders_agree_over_three_training_steps(workload: Workload) -> None:
    params = numpy_bptt.init_params(workload.cell, workload.vocab, workload.hidden,
                                    workload.dtype, np.random.default_rng(3))
    inputs, targets = make_data(workload, seed=3)
    losses = {}
    for key in OURS_AND_NUMPY:
        if key == "numpy" and workload.cell == "gru":
            continue
        step = by_key(key).build(workload, params, inputs, targets)
        losses[key] = [step(), step(), step()]
    reference = losses["ours-layer"]
    assert reference[1] != reference[0] or not workload.train     # the update did something
    for key, pair in losses.items():
        assert pair == pytest.approx(reference, rel=1e-10), key


def test_clipping_is_active_in_the_agreement_test() -> None:
    """Clipping must change the run, or the agreement test proves less. (Adagrad's and Adam's
    first updates are the same for any rescaled gradient, so it shows from the third loss.)"""
    base = Workload("rnn", "rnn", hidden=6, steps=5, batch=1, dtype="float64",
                    optimizer="adagrad", clip="value", clip_at=0.01)
    params = numpy_bptt.init_params("rnn", base.vocab, 6, np.float64, np.random.default_rng(3))
    inputs, targets = make_data(base, seed=3)
    third = []
    for workload in (base, dataclasses.replace(base, clip_at=1e3)):
        step = by_key("numpy").build(workload, params, inputs, targets)
        third.append([step(), step(), step()][2])
    assert third[0] != pytest.approx(third[1], rel=1e-6)


# ---- an update alone: ours and numpy's do the same work ----------------------------------------
@pytest.mark.parametrize("kind, on", [("adam", "lstm"), ("adagrad", "min-char-rnn"),
                                      ("clip", "lstm")])
def test_update_rows_compute_what_numpy_computes(kind: str, on: str) -> None:
    workload = next(w for w in suite(quick=True) if w.name == on)
    params, grads = updates.problem(workload)
    step, ours = updates.ours(kind, params, grads, workload.lr)
    hand, theirs = updates.by_hand(kind, params, grads, workload.lr)
    for _ in range(3):
        assert step() == pytest.approx(hand(), rel=1e-5)        # clip: the norms before
    start = list(grads.values()) if kind == "clip" else list(params.values())
    for name, got, want, before in zip(params, ours, theirs, start, strict=True):
        assert not np.allclose(got, before, rtol=1e-6, atol=0), name     # the update did work
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=name)


# ---- the command runs and reports every row -----------------------------------------------------
def test_quick_json_report_has_every_row() -> None:
    command = [sys.executable, "-m", "benchmarks", "--quick", "--json", "--blocks", "1"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    training = [w.name for w in suite(quick=True)] + [memory_workload(quick=True).name]
    expected = {(w, c.key) for w in training for c in CONTENDERS}
    expected |= {(f"names {cell.upper()}", key) for cell in names.CELLS
                 for key in ("ours", "torch")}
    expected |= {(u.name, key) for u in updates.UPDATES for key in ("ours", "numpy")}
    expected |= {(w, key) for w in ("word-lm", "word-lm memory") for key in word_lm.CONTENDERS}
    expected |= {(name, key) for name, _ in versions.BUILDS for key in ("with", "without")}
    rows = {(r["workload"], r["contender"]): r for r in data["results"]}
    assert set(rows) == expected
    for (workload, key), row in rows.items():
        if "torch" in key or (key == "numpy" and workload.startswith("scaling")):
            assert row["status"].startswith("skipped") or row["status"] == "ok"
        else:
            assert row["status"] == "ok" and row["value"] > 0, (workload, key, row["status"])
    goals = [goal for section in SECTIONS for goal in section.goals(True)]
    assert [row["what"] for row in data["goals"]] == [goal.what for goal in goals]
    for row in data["goals"]:
        if "torch" not in row["vs"][1]:
            assert row["ratio"] > 0 and isinstance(row["met"], bool), row
    console = Console(record=True, width=80, file=open("/dev/null", "w"))  # noqa: SIM115
    report.render(data, console)
    printed = console.export_text()
    assert "Where we stand" in printed and "min-char-rnn" in printed and "names" in printed
    assert not re.search(r"\bissue\s*\d", printed, flags=re.IGNORECASE)
