"""detect_anomaly(): the first non-finite op, forward or backward, with its creation site; and
the stable ops (sigmoid, log_softmax, cross_entropy, BCE with logits) at ±1e4 trip nothing."""

import contextlib
import re

import numpy as np
import pytest

from tinygrad_rnn import Function, Tensor, manual_seed, nn
from tinygrad_rnn.engine import scan
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.testing.anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled

HERE = "tests/test_anomaly.py"


def line_of(marker: str) -> int:
    """The line number of the (single) line of this file that holds `marker`."""
    with open(__file__, encoding="utf-8") as f:
        (number,) = [i for i, text in enumerate(f, 1) if marker in text and "line_of" not in text]
    return number


def test_forward_names_the_first_non_finite_op_and_the_line_that_made_it():
    x = Tensor(np.array([1.0, 2.0, -3.0]), requires_grad=True)
    with detect_anomaly(), np.errstate(invalid="ignore"):
        y = x * 2.0                                            # finite: no complaint
        with pytest.raises(AnomalyError) as info:
            y.log().sum()                                      # MARK-log
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("detect_anomaly: log produced nan in its forward output")
    assert "its inputs were finite" in message
    assert f"{HERE}:{line_of('MARK-log')} in " in message


def test_a_non_finite_leaf_is_blamed_on_the_leaf_not_on_the_op():
    w = Tensor(np.array([[1.0, np.inf]]), requires_grad=True)
    with detect_anomaly(), pytest.raises(AnomalyError,
                                         match=r"^detect_anomaly: mul produced inf .*input 0 "
                                               r"\(a leaf: data or a parameter\) already held inf"):
        w * 3.0


def test_backward_names_the_op_whose_gradient_is_not_finite():
    x = Tensor(np.array([4.0, 0.0, 1.0]), requires_grad=True)
    with detect_anomaly(), np.errstate(divide="ignore"):
        y = x.sqrt()                                           # MARK-sqrt: finite forward, 1/0 back
        loss = (y * Tensor(np.array([0.5, 1.0, 2.0]))).sum()
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    message = str(info.value)
    assert re.match(r"^detect_anomaly: sqrt backward returned inf in the gradient of input 0 "
                    r"\(shape \(3,\)\); created at ", message), message
    assert f"{HERE}:{line_of('MARK-sqrt')} in " in message


class BadBackward(Function):
    """y = x, with a backward that (wrongly) returns NaN: a user's own op gone wrong."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return (grad * np.nan,)


def test_a_users_own_op_inside_a_model_is_named_with_the_package_and_the_user_line():
    lstm = nn.LSTM(3, 4).double()                                # x below is float64
    x = Tensor(np.random.default_rng(0).normal(size=(5, 2, 3)))
    with detect_anomaly():
        out, _ = lstm(x)                                       # MARK-lstm
        with pytest.raises(AnomalyError) as info:
            BadBackward.apply(out).sum().backward()            # MARK-bad
    message = str(info.value)
    assert message.startswith("detect_anomaly: badbackward backward returned nan in the "
                              "gradient of input 0 (shape (5, 2, 4))")
    assert f"{HERE}:{line_of('MARK-bad')} in " in message
    lstm.weight_hh_l0.data[0, 0] = np.nan                      # now a forward inside the package
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        lstm(x)                                                # MARK-call
    message = str(info.value)
    assert re.search(r"created at tinygrad_rnn/nn/\w+\.py:\d+ in \w+, called from "
                     + re.escape(f"{HERE}:{line_of('MARK-call')} in "), message), message


def test_ops_created_outside_the_context_are_checked_but_have_no_site():
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    y = x.sqrt()
    with detect_anomaly(), np.errstate(divide="ignore"), \
            pytest.raises(AnomalyError, match="sqrt backward .* created at outside "
                                              "detect_anomaly\\(\\): site unknown"):
        y.sum().backward()


def test_off_by_default_restored_after_errors_and_nesting():
    assert not is_anomaly_enabled()
    with np.errstate(divide="ignore"):
        y = Tensor(np.array([0.0]), requires_grad=True).log()       # -inf, silently, as numpy
    assert np.isneginf(y.data[0])
    with pytest.raises(AnomalyError), detect_anomaly():
        with detect_anomaly():
            assert is_anomaly_enabled()
        assert is_anomaly_enabled()                                   # the outer one still on
        with np.errstate(divide="ignore"):
            Tensor(np.array([0.0])).log()
    assert not is_anomaly_enabled()


def test_a_finite_training_step_passes_untouched_and_matches_the_unchecked_one(monkeypatch):
    """The checker must not change results: same loss and gradients with and without it. Under
    detect_anomaly() the layers run their eager loop (every op checked), so the unchecked run
    does too: a replayed scan sums W_hh's gradient in another order (tests/test_scan.py)."""
    monkeypatch.setattr(scan, "MODE", "eager")
    rng = np.random.default_rng(1)
    ids, targets = rng.integers(0, 7, size=(6, 3)), rng.integers(0, 7, size=18)
    results = []
    for checked in (False, True):
        manual_seed(0)
        emb, gru, head = nn.Embedding(7, 5), nn.GRU(5, 8, num_layers=2), nn.Linear(8, 7)
        with detect_anomaly() if checked else contextlib.nullcontext():
            out, _ = gru(emb(ids))
            loss = F.cross_entropy(head(out).reshape(-1, 7), targets)
            loss.backward()
        results.append((loss.item(), [p.grad.copy() for p in gru.parameters()]))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


# ---- stable ops at ±1e4: no intermediate op overflows, in float32 and float64 ---------------
EXTREME = [1e4, -1e4, 0.0, 1e4]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_ops_at_extremes_trip_no_anomaly(dtype):
    """Stronger than a finite result: every forward and backward of every op involved stays
    finite (a naive log(sigmoid) or exp-then-normalise would overflow inside)."""
    x = np.array(EXTREME, dtype=dtype)
    with detect_anomaly():
        for make in (lambda t: t.sigmoid(), lambda t: t.log_softmax(), lambda t: t.softmax(),
                     lambda t: F.binary_cross_entropy_with_logits(
                         t, np.array([1.0, 0.0, 1.0, 0.0], dtype=dtype), reduction="none"),
                     lambda t: F.cross_entropy(t.reshape(2, 2), np.array([1, 0]),
                                               reduction="none")):
            t = Tensor(x, requires_grad=True)
            out = make(t)
            (out * Tensor(np.linspace(0.5, 1.5, out.numel()).reshape(out.shape).astype(dtype))
             ).sum().backward()
            assert out.dtype == dtype and np.isfinite(t.grad).all()


def test_float32_extremes_give_the_closed_forms():
    """Values checked against formulas worked out by hand for ±1e4 (float32, as the LM uses)."""
    t = Tensor(np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=np.float32), requires_grad=True)
    np.testing.assert_array_equal(t.sigmoid().data, [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(t.log_softmax(1).data, [[0.0, -2e4], [-2e4, 0.0]])
    loss = F.cross_entropy(t, np.array([1, 1]))            # (2e4 + 0) / 2
    assert loss.item() == 1e4
    loss.backward()
    np.testing.assert_array_equal(t.grad, [[0.5, -0.5], [0.0, 0.0]])


def test_a_naive_formula_is_caught_where_the_stable_one_is_not():
    """Negative control: log(σ(x)) built from exp and log overflows at -1e4 and is named."""
    x = Tensor(np.array([-1e4]), requires_grad=True)
    with detect_anomaly(), np.errstate(over="ignore"), \
            pytest.raises(AnomalyError, match="^detect_anomaly: exp produced inf"):
        (1.0 / (1.0 + (-x).exp())).log()


def test_detect_anomaly_is_exported_at_the_top_level():
    import tinygrad_rnn as tg

    assert {"detect_anomaly", "AnomalyError"} <= set(tg.__all__)
    with tg.detect_anomaly(), np.errstate(divide="ignore"), \
            pytest.raises(tg.AnomalyError, match="^detect_anomaly: log produced inf"):
        tg.tensor([0.0, 1.0]).log()
