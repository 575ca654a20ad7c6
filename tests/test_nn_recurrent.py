"""RNN, GRU, LSTM layers: stacking, directions, layouts and state vs the cells run by hand;
gradients of every parameter, input and initial state vs gradcheck."""

import numpy as np
import pytest

from tinygrad_rnn import GradcheckError, ShapeError, Tensor, cat, gradcheck, manual_seed, nn

I, H, T, B = 3, 2, 3, 2
LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def make(kind, seed=0, **options):
    manual_seed(seed)
    if kind == "rnn_relu":
        return nn.RNN(I, H, nonlinearity="relu", **options).double()
    return LAYERS[kind](I, H, **options).double()


def randn(seed, *shape, grad=False):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=grad)


def initial_state(kind, layer, batch, grad=False):
    shape = (layer.num_layers * layer.num_directions, batch, H)
    if kind == "lstm":
        return randn(11, *shape, grad=grad), randn(12, *shape, grad=grad)
    return randn(11, *shape, grad=grad)


def by_hand(kind, layer, x, state):
    """The layer's result from its cells' public forward, one step at a time (time-major x)."""
    lstm = kind == "lstm"
    seq, finals = x.data, []
    for l_index in range(layer.num_layers):
        outputs = []
        for d in range(layer.num_directions):
            k = l_index * layer.num_directions + d
            cell = layer.cells[k]
            s = (Tensor(state[0].data[k]), Tensor(state[1].data[k])) if lstm else \
                Tensor(state.data[k])
            steps = range(seq.shape[0] - 1, -1, -1) if d == 1 else range(seq.shape[0])
            out = [None] * seq.shape[0]
            for t in steps:
                s = cell(Tensor(seq[t]), s)
                out[t] = (s[0] if lstm else s).data
            outputs.append(np.stack(out))
            finals.append(s)
        seq = np.concatenate(outputs, axis=2)
    if lstm:
        return seq, (np.stack([f[0].data for f in finals]), np.stack([f[1].data for f in finals]))
    return seq, np.stack([f.data for f in finals])


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True), (3, False)])
def test_layer_equals_its_cells_run_by_hand(kind, num_layers, bidirectional):
    layer = make(kind, num_layers=num_layers, bidirectional=bidirectional)
    x, state = randn(1, T, B, I), initial_state(kind, layer, B)
    out, final = layer(x, state)
    want_out, want_final = by_hand(kind, layer, x, state)
    assert out.shape == (T, B, H * layer.num_directions)
    np.testing.assert_allclose(out.data, want_out, rtol=1e-12, atol=1e-12)
    for got, want in zip(final if kind == "lstm" else (final,),
                         want_final if kind == "lstm" else (want_final,), strict=True):
        assert got.shape == (num_layers * layer.num_directions, B, H)
        np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)


def test_by_hand_reference_detects_a_reverse_direction_run_forward():
    class ForwardOnly(nn.GRU):
        def _run(self, cell, seq, state, reverse):
            return super()._run(cell, seq, state, reverse=False)

    manual_seed(0)
    layer = ForwardOnly(I, H, bidirectional=True).double()
    x, state = randn(1, T, B, I), initial_state("gru", layer, B)
    out, _ = layer(x, state)
    want, _ = by_hand("gru", layer, x, state)
    np.testing.assert_allclose(out.data[..., :H], want[..., :H], rtol=1e-12)
    assert not np.allclose(out.data[..., H:], want[..., H:])


# Each flag appears both ways, with one and two layers; total time stays a few seconds.
CONFIGS = [
    dict(num_layers=1, bidirectional=False, batch_first=False, bias=True, state=False),
    dict(num_layers=1, bidirectional=True, batch_first=True, bias=True, state=True),
    dict(num_layers=1, bidirectional=False, batch_first=False, bias=False, state=True),
    dict(num_layers=2, bidirectional=False, batch_first=True, bias=False, state=True),
    dict(num_layers=2, bidirectional=True, batch_first=False, bias=True, state=True),
    dict(num_layers=2, bidirectional=True, batch_first=True, bias=False, state=False),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{v}" for v in c.values()))
@pytest.mark.parametrize("kind", ["rnn", "rnn_relu", "gru", "lstm"])
def test_layer_gradients(kind, config):
    config = dict(config)
    with_state = config.pop("state")
    layer = make(kind, **config)
    x = randn(2, B, T, I, grad=True) if config["batch_first"] else randn(2, T, B, I, grad=True)
    state = initial_state(kind, layer, B, grad=True) if with_state else None
    states = [] if state is None else list(state) if kind == "lstm" else [state]

    def fn(*_):
        out, final = layer(x, state)
        finals = list(final) if kind == "lstm" else [final]
        return cat([out.reshape(-1)] + [f.reshape(-1) for f in finals])

    assert gradcheck(fn, [x] + states + list(layer.parameters()))


def test_gradcheck_catches_a_layer_that_drops_the_initial_state_gradient():
    layer = make("lstm")
    x = randn(2, T, B, I, grad=True)
    h0, c0 = initial_state("lstm", layer, B, grad=True)
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda *_: layer(x, (Tensor(h0.data), c0))[0], [x, h0, c0])


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_batch_first_is_a_transpose(kind):
    x = randn(3, B, T, I)
    first, first_state = make(kind, batch_first=True, num_layers=2)(x)
    time, time_state = make(kind, num_layers=2)(Tensor(x.data.transpose(1, 0, 2)))
    np.testing.assert_allclose(first.data, time.data.transpose(1, 0, 2), rtol=1e-12)
    h_first = first_state[0] if kind == "lstm" else first_state
    h_time = time_state[0] if kind == "lstm" else time_state
    np.testing.assert_allclose(h_first.data, h_time.data, rtol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_unbatched_input_is_a_batch_of_one(kind):
    layer = make(kind, num_layers=2, bidirectional=True, batch_first=True)
    x = randn(4, T, I)
    state = initial_state(kind, layer, 1)
    if kind == "lstm":
        single, (h, c) = layer(x, (state[0].squeeze(1), state[1].squeeze(1)))
        batch, (hb, _) = layer(Tensor(x.data[None]), state)  # batch_first: (1, T, I)
    else:
        single, h = layer(x, state.squeeze(1))
        batch, hb = layer(Tensor(x.data[None]), state)
    assert single.shape == (T, 2 * H) and h.shape == (4, H)
    np.testing.assert_allclose(single.data, batch.data[0], rtol=1e-12)
    np.testing.assert_allclose(h.data, hb.data[:, 0], rtol=1e-12)


def test_state_dict_keys_are_pytorchs():
    keys = list(nn.LSTM(I, H, num_layers=2, bidirectional=True).state_dict())
    assert keys == [f"{w}_l{layer}{suffix}" for layer in (0, 1) for suffix in ("", "_reverse")
                    for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    shapes = {k: v.shape for k, v in nn.GRU(I, H, num_layers=2, bias=False).state_dict().items()}
    assert shapes == {"weight_ih_l0": (6, 3), "weight_hh_l0": (6, 2),
                      "weight_ih_l1": (6, 2), "weight_hh_l1": (6, 2)}


def test_cells_share_the_layers_parameters():
    layer = nn.RNN(I, H, num_layers=2).double()
    layer.load_state_dict({k: np.full(v.shape, 0.5) for k, v in layer.state_dict().items()})
    assert layer.cells[1].weight_hh is layer.weight_hh_l1
    np.testing.assert_array_equal(layer.cells[1].weight_hh.data, np.full((H, H), 0.5))
    assert layer.cells[1].weight_hh.dtype == np.float64


def test_dropout_acts_between_layers_only_in_training():
    layer = make("gru", num_layers=2, dropout=1.0)
    x1, x2 = randn(5, T, B, I), randn(6, T, B, I)
    # dropout=1 zeroes layer 1's input, so in training the output cannot depend on x
    np.testing.assert_array_equal(layer(x1)[0].data, layer(x2)[0].data)
    layer.eval()
    assert not np.allclose(layer(x1)[0].data, layer(x2)[0].data)


def test_dropout_between_layers_is_random_in_training_and_off_in_eval():
    layer = make("lstm", num_layers=2, dropout=0.5)
    x = randn(5, T, B, I)
    assert not np.allclose(layer(x)[0].data, layer(x)[0].data)
    layer.eval()
    np.testing.assert_array_equal(layer(x)[0].data, layer(x)[0].data)


def test_long_sequence_backward_does_not_recurse():
    layer = make("lstm")
    x = randn(7, 400, 1, I, grad=True)
    out, _ = layer(x)
    out.sum().backward()
    assert np.isfinite(x.grad).all() and np.abs(x.grad[0]).sum() > 0


def test_layer_errors_are_clear():
    layer = nn.LSTM(I, H, num_layers=2).double()          # the float64 inputs below
    with pytest.raises(ShapeError, match=r"input must be \(T, B, I\) or \(T, I\) with I = 3, "
                                         r"got \(2, 2, 5\)"):
        layer(Tensor(np.zeros((2, 2, 5))))
    with pytest.raises(ShapeError, match=r"h0 must have shape \(2, 4, 2\)"):
        layer(Tensor(np.zeros((T, 4, I))), (Tensor(np.zeros((1, 4, H))), None))
    with pytest.raises(TypeError, match="LSTM: state must be a \\(h, c\\) pair"):
        layer(Tensor(np.zeros((T, 4, I))), Tensor(np.zeros((2, 4, H))))
    with pytest.raises(ShapeError, match="has no time steps"):
        layer(Tensor(np.zeros((0, 4, I))))
    with pytest.raises(ValueError, match="num_layers must be >= 1, got 0"):
        nn.GRU(I, H, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\], got 1.5"):
        nn.RNN(I, H, dropout=1.5)


def test_repr_names_the_options():
    assert repr(nn.RNN(3, 4, 2, "relu", batch_first=True)) == \
        "RNN(3, 4, num_layers=2, batch_first=True, nonlinearity='relu')"
