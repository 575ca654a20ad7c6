"""RNNCell, GRUCell, LSTMCell: equations vs a numpy transcription, gradients vs gradcheck."""

import numpy as np
import pytest

from tinygrad_rnn import GradcheckError, ShapeError, Tensor, cat, gradcheck, manual_seed, nn

I, H, B = 3, 2, 2


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def split(w, n):
    return np.split(w, n, axis=0)


# numpy transcriptions of PyTorch's documented equations (independent of the cells' code)
def numpy_rnn(x, h, wi, wh, bi, bh, act):
    return act(x @ wi.T + bi + h @ wh.T + bh)


def numpy_gru(x, h, wi, wh, bi, bh):
    (wir, wiz, win), (whr, whz, whn) = split(wi, 3), split(wh, 3)
    (bir, biz, bin_), (bhr, bhz, bhn) = split(bi, 3), split(bh, 3)
    r = sigmoid(x @ wir.T + bir + h @ whr.T + bhr)
    z = sigmoid(x @ wiz.T + biz + h @ whz.T + bhz)
    n = np.tanh(x @ win.T + bin_ + r * (h @ whn.T + bhn))
    return (1 - z) * n + z * h


def numpy_lstm(x, h, c, wi, wh, bi, bh):
    pre = [x @ a.T + b + h @ u.T + d
           for a, u, b, d in zip(split(wi, 4), split(wh, 4), split(bi, 4), split(bh, 4),
                                 strict=True)]
    i, f, g, o = sigmoid(pre[0]), sigmoid(pre[1]), np.tanh(pre[2]), sigmoid(pre[3])
    c = f * c + i * g
    return o * np.tanh(c), c


def make(kind, bias=True, seed=0):
    manual_seed(seed)
    if kind == "rnn_tanh":
        return nn.RNNCell(I, H, bias=bias).double()
    if kind == "rnn_relu":
        return nn.RNNCell(I, H, bias=bias, nonlinearity="relu").double()
    return {"gru": nn.GRUCell, "lstm": nn.LSTMCell}[kind](I, H, bias=bias).double()


def arrays(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def params(cell):
    return [p.data for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]


KINDS = ["rnn_tanh", "rnn_relu", "gru", "lstm"]


@pytest.mark.parametrize("kind", KINDS)
def test_forward_matches_numpy_equations(kind):
    cell = make(kind)
    x, h, c = arrays(1, (B, I), (B, H), (B, H))
    if kind == "lstm":
        got_h, got_c = cell(Tensor(x), (Tensor(h), Tensor(c)))
        want_h, want_c = numpy_lstm(x, h, c, *params(cell))
        np.testing.assert_allclose(got_c.data, want_c, rtol=1e-12, atol=1e-12)
    else:
        got_h = cell(Tensor(x), Tensor(h))
        if kind == "gru":
            want_h = numpy_gru(x, h, *params(cell))
        else:
            act = np.tanh if kind == "rnn_tanh" else (lambda a: np.maximum(a, 0))
            want_h = numpy_rnn(x, h, *params(cell), act)
    np.testing.assert_allclose(got_h.data, want_h, rtol=1e-12, atol=1e-12)


def test_numpy_reference_detects_a_wrong_gate_order():
    cell = make("lstm")
    x, h, c = arrays(2, (B, I), (B, H), (B, H))
    wi, wh, bi, bh = params(cell)
    swapped = [np.concatenate(split(w, 4)[::-1]) for w in (wi, wh, bi, bh)]  # o, g, f, i
    got_h, _ = cell(Tensor(x), (Tensor(h), Tensor(c)))
    assert not np.allclose(got_h.data, numpy_lstm(x, h, c, *swapped)[0])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_cell_gradients(kind, with_state, bias):
    cell = make(kind, bias)
    x, h, c = (Tensor(a, requires_grad=True) for a in arrays(3, (B, I), (B, H), (B, H)))
    inputs = [x, h, c] if with_state else [x]

    def fn(*_):
        if kind == "lstm":
            return cat(list(cell(x, (h, c) if with_state else None)), dim=1)
        return cell(x, h if with_state else None)

    assert gradcheck(fn, inputs + list(cell.parameters()))


def test_gradcheck_catches_a_cell_that_cuts_the_recurrence():
    class Leaky(nn.RNNCell):
        def step(self, x_proj, h):
            return super().step(x_proj, h.detach())   # forgets that h' depends on h

    manual_seed(0)
    cell = Leaky(I, H).double()
    x, h = (Tensor(a, requires_grad=True) for a in arrays(4, (B, I), (B, H)))
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda *_: cell(x, h), [x, h])


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_is_a_batch_of_one(kind):
    cell = make(kind)
    x, h, c = arrays(5, (I,), (H,), (H,))
    if kind == "lstm":
        single = cell(Tensor(x), (Tensor(h), Tensor(c)))
        batch = cell(Tensor(x[None]), (Tensor(h[None]), Tensor(c[None])))
        assert single[0].shape == single[1].shape == (H,)
        np.testing.assert_array_equal(single[1].data, batch[1].data[0])
        single, batch = single[0], batch[0]
    else:
        single, batch = cell(Tensor(x), Tensor(h)), cell(Tensor(x[None]), Tensor(h[None]))
    assert single.shape == (H,)
    np.testing.assert_array_equal(single.data, batch.data[0])


@pytest.mark.parametrize("kind", KINDS)
def test_missing_state_means_zeros(kind):
    cell = make(kind)
    (x,) = arrays(6, (B, I))
    zeros = Tensor(np.zeros((B, H)))
    if kind == "lstm":
        got, want = cell(Tensor(x))[0], cell(Tensor(x), (zeros, zeros))[0]
    else:
        got, want = cell(Tensor(x)), cell(Tensor(x), zeros)
    np.testing.assert_array_equal(got.data, want.data)


@pytest.mark.parametrize("cls,gates", [(nn.RNNCell, 1), (nn.GRUCell, 3), (nn.LSTMCell, 4)])
def test_parameter_names_shapes_and_init(cls, gates):
    cell = cls(5, 16)
    shapes = {k: v.shape for k, v in cell.state_dict().items()}
    assert shapes == {"weight_ih": (gates * 16, 5), "weight_hh": (gates * 16, 16),
                      "bias_ih": (gates * 16,), "bias_hh": (gates * 16,)}
    values = np.concatenate([p.data.ravel() for p in cell.parameters()])
    assert values.dtype == np.float32
    assert np.abs(values).max() <= 0.25 and np.abs(values).max() > 0.2   # U(-1/√16, 1/√16)
    assert list(cls(5, 16, bias=False).state_dict()) == ["weight_ih", "weight_hh"]


def test_forward_is_step_of_projected_input():
    cell = make("gru")
    x, h = (Tensor(a) for a in arrays(7, (B, I), (B, H)))
    np.testing.assert_array_equal(cell(x, h).data, cell.step(cell.project_input(x), h).data)


def test_cell_errors_are_clear():
    cell = nn.LSTMCell(I, H).double()                      # the float64 inputs below
    with pytest.raises(ShapeError, match=r"LSTMCell: input must be \(B, 3\) or \(3,\), "
                                         r"got \(2, 4\)"):
        cell(Tensor(np.zeros((2, 4))))
    with pytest.raises(ShapeError, match=r"h must have shape \(2, 2\).*got \(3, 2\)"):
        cell(Tensor(np.zeros((2, I))), (Tensor(np.zeros((3, H))), Tensor(np.zeros((2, H)))))
    with pytest.raises(TypeError, match="state must be a \\(h, c\\) pair"):
        cell(Tensor(np.zeros((2, I))), Tensor(np.zeros((2, H))))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'gelu'"):
        nn.RNNCell(I, H, nonlinearity="gelu")
    with pytest.raises(ValueError, match="hidden_size must be >= 1"):
        nn.GRUCell(I, 0)
