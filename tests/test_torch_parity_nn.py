"""PyTorch parity in float64 to 1e-9: cells, layers, losses, torch twins (skipped without torch)."""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from tinygrad_rnn import Tensor, manual_seed, nn  # noqa: E402
from tinygrad_rnn.lm.checkpoint import from_torch, to_torch  # noqa: E402
from tinygrad_rnn.nn import functional as F  # noqa: E402

I, H, T, B = 3, 4, 5, 2
TOL = dict(rtol=1e-9, atol=1e-9)


def rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def pair(array):
    """The same float64 data as our leaf and as a torch leaf, both requiring grad."""
    return Tensor(array.copy(), requires_grad=True), torch.tensor(array, requires_grad=True)


def torch_twin(ours, torch_cls, *args, **kwargs):
    """A torch module built by hand, with our state dict loaded by the documented one-liner."""
    twin = torch_cls(*args, **kwargs).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return twin


def flat(outputs):
    """(output, h) or (output, (h, c)) or h or (h, c) → a list of tensors."""
    if isinstance(outputs, (tuple, list)):
        return [t for o in outputs for t in flat(o)]
    return [outputs]


def backward_both(ours_out, torch_out, seed):
    """Backpropagate the same random weighting of every output through both graphs."""
    ours_loss, torch_loss = 0, 0
    for k, (a, b) in enumerate(zip(flat(ours_out), flat(torch_out), strict=True)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), **TOL)
        weight = rand(seed + k, *a.shape)
        ours_loss = ours_loss + (a * weight).sum()
        torch_loss = torch_loss + (b * torch.from_numpy(weight)).sum()
    ours_loss.backward()
    torch_loss.backward()


def assert_grads_match(ours_module, torch_module, leaves):
    torch_params = dict(torch_module.named_parameters())
    ours_params = dict(ours_module.named_parameters())
    assert list(ours_params) == list(torch_params)
    for name, p in ours_params.items():
        np.testing.assert_allclose(p.grad, torch_params[name].grad.numpy(), **TOL, err_msg=name)
    for ours_leaf, torch_leaf in leaves:
        np.testing.assert_allclose(ours_leaf.grad, torch_leaf.grad.numpy(), **TOL)


CELLS = {"rnn_tanh": (nn.RNNCell, torch.nn.RNNCell, {}),
         "rnn_relu": (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
         "gru": (nn.GRUCell, torch.nn.GRUCell, {}),
         "lstm": (nn.LSTMCell, torch.nn.LSTMCell, {})}


@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_parity(kind, bias, with_state, unbatched):
    ours_cls, torch_cls, options = CELLS[kind]
    manual_seed(1)
    ours = ours_cls(I, H, bias=bias, **options).double()
    twin = torch_twin(ours, torch_cls, I, H, bias=bias, **options)
    batch = () if unbatched else (B,)
    (x, tx), (h, th), (c, tc) = pair(rand(1, *batch, I)), pair(rand(2, *batch, H)), \
        pair(rand(3, *batch, H))
    if kind == "lstm":
        state, tstate = ((h, c), (th, tc)) if with_state else (None, None)
    else:
        state, tstate = (h, th) if with_state else (None, None)
    backward_both(ours(x, state), twin(tx, tstate), seed=10)
    leaves = [(x, tx)] + ([(h, th)] + ([(c, tc)] if kind == "lstm" else []) if with_state else [])
    assert_grads_match(ours, twin, leaves)


LAYERS = {"rnn_tanh": (nn.RNN, torch.nn.RNN, {}),
          "rnn_relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
          "gru": (nn.GRU, torch.nn.GRU, {}),
          "lstm": (nn.LSTM, torch.nn.LSTM, {})}
FLAGS = list(itertools.product([1, 2], [False, True], [False, True], [True, False],
                               [False, True]))


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,bias,with_state", FLAGS)
@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_parity(kind, num_layers, bidirectional, batch_first, bias, with_state):
    ours_cls, torch_cls, options = LAYERS[kind]
    options = dict(options, num_layers=num_layers, bidirectional=bidirectional,
                   batch_first=batch_first, bias=bias)
    manual_seed(2)
    ours = ours_cls(I, H, **options).double()
    twin = torch_twin(ours, torch_cls, I, H, **options)
    x, tx = pair(rand(4, B, T, I) if batch_first else rand(4, T, B, I))
    shape = (num_layers * (2 if bidirectional else 1), B, H)
    (h, th), (c, tc) = pair(rand(5, *shape)), pair(rand(6, *shape))
    if not with_state:
        state, tstate, leaves = None, None, []
    elif kind == "lstm":
        state, tstate, leaves = (h, c), (th, tc), [(h, th), (c, tc)]
    else:
        state, tstate, leaves = h, th, [(h, th)]
    backward_both(ours(x, state), twin(tx, tstate), seed=20)
    assert_grads_match(ours, twin, [(x, tx)] + leaves)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_deep_layer_with_zero_dropout_and_unbatched_input(kind):
    ours_cls, torch_cls, options = LAYERS[kind]
    options = dict(options, num_layers=3, dropout=0.0, bidirectional=True)
    manual_seed(3)
    ours = ours_cls(I, H, **options).double()
    twin = torch_twin(ours, torch_cls, I, H, **options)
    x, tx = pair(rand(7, T, I))                                   # unbatched (T, I)
    backward_both(ours(x), twin(tx), seed=30)
    assert_grads_match(ours, twin, [(x, tx)])


def test_parity_check_catches_a_gru_with_b_hn_outside_the_reset_gate():
    class ResetBeforeBias(nn.GRUCell):
        def step(self, x_proj, h):
            x_r, x_z, x_n = x_proj.chunk(3, dim=1)
            h_r, h_z, h_n = self._project_hidden(h).chunk(3, dim=1)
            r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
            b_hn = self.bias_hh[2 * H:]
            n = (x_n + r * (h_n - b_hn) + b_hn).tanh()          # b_hn outside r ⊙ (…)
            return (1.0 - z) * n + z * h

    manual_seed(4)
    ours = ResetBeforeBias(I, H).double()
    twin = torch_twin(ours, torch.nn.GRUCell, I, H)
    (x, tx), (h, th) = pair(rand(8, B, I)), pair(rand(9, B, H))
    with pytest.raises(AssertionError):
        backward_both(ours(x, h), twin(tx, th), seed=40)


@pytest.mark.parametrize("make", [lambda: nn.LSTM(I, H, 2, bidirectional=True),
                                  lambda: nn.RNN(I, H, nonlinearity="relu", bias=False),
                                  lambda: nn.GRUCell(I, H), lambda: nn.Linear(I, H),
                                  lambda: nn.Embedding(7, H, padding_idx=0)])
def test_to_torch_and_back(make):
    manual_seed(5)
    ours = make().double().eval()
    twin = to_torch(ours)
    assert type(twin).__name__ == type(ours).__name__ and not twin.training
    assert next(twin.parameters()).dtype == torch.float64
    for name, value in twin.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), ours.state_dict()[name])
    back = from_torch(twin)
    assert type(back) is type(ours) and repr(back) == repr(ours)
    for name, value in back.state_dict().items():
        np.testing.assert_array_equal(value, ours.state_dict()[name])
    if isinstance(ours, nn.Embedding):
        idx = np.array([[0, 3], [6, 3]])
        np.testing.assert_allclose(ours(idx).data, twin(torch.from_numpy(idx)).detach().numpy())
    elif isinstance(ours, nn.Linear):
        x = rand(6, B, I)
        np.testing.assert_allclose(ours(Tensor(x)).data, twin(torch.from_numpy(x)).detach(),
                                   **TOL)


def test_linear_and_embedding_gradients_match():
    manual_seed(6)
    linear, embed = nn.Linear(I, H).double(), nn.Embedding(6, I, padding_idx=2).double()
    tlinear = torch_twin(linear, torch.nn.Linear, I, H)
    tembed = torch_twin(embed, torch.nn.Embedding, 6, I, padding_idx=2)
    idx = np.array([[1, 2, 1], [5, 0, 1]])
    backward_both(linear(embed(idx)), tlinear(tembed(torch.from_numpy(idx))), seed=50)
    assert_grads_match(linear, tlinear, [])
    assert_grads_match(embed, tembed, [])


# ---- losses -------------------------------------------------------------------------------
def loss_pair(fn_ours, fn_torch, logits, *args, **kwargs):
    x, tx = pair(logits)
    backward_both(fn_ours(x, *args, **kwargs), fn_torch(tx, *args, **kwargs), seed=60)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), **TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_and_nll_match(reduction):
    target = np.array([0, 3, -100, 2, 3])
    torch_target = torch.from_numpy(target)
    loss_pair(lambda x, **k: F.cross_entropy(x, target, **k),
              lambda x, **k: torch.nn.functional.cross_entropy(x, torch_target, **k),
              rand(10, 5, 4) * 3, reduction=reduction)
    loss_pair(lambda x, **k: F.nll_loss(x.log_softmax(1), target, **k),
              lambda x, **k: torch.nn.functional.nll_loss(x.log_softmax(1), torch_target, **k),
              rand(11, 5, 4), reduction=reduction)


def test_cross_entropy_with_extra_dims_matches():
    target = np.random.default_rng(12).integers(0, 4, size=(2, 3, 5))
    loss_pair(lambda x: F.cross_entropy(x, target, reduction="none"),
              lambda x: torch.nn.functional.cross_entropy(x, torch.from_numpy(target),
                                                          reduction="none"),
              rand(13, 2, 4, 3, 5))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_and_bce_with_logits_match(reduction):
    target = np.random.default_rng(14).random((3, 4))
    loss_pair(lambda x, **k: F.mse_loss(x, target, **k),
              lambda x, **k: torch.nn.functional.mse_loss(x, torch.from_numpy(target), **k),
              rand(15, 3, 4), reduction=reduction)
    logits = rand(16, 3, 4) * np.array([1.0, 30.0, 1e4, 0.0])
    loss_pair(lambda x, **k: F.binary_cross_entropy_with_logits(x, target, **k),
              lambda x, **k: torch.nn.functional.binary_cross_entropy_with_logits(
                  x, torch.from_numpy(target), **k),
              logits, reduction=reduction)
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    loss_pair(lambda x: F.binary_cross_entropy_with_logits(x, target, pos_weight=weight),
              lambda x: torch.nn.functional.binary_cross_entropy_with_logits(
                  x, torch.from_numpy(target), pos_weight=torch.from_numpy(weight)),
              logits)


def test_softmaxes_and_one_hot_match():
    loss_pair(lambda x: F.log_softmax(x, dim=0), lambda x: torch.log_softmax(x, dim=0),
              rand(17, 3, 4))
    loss_pair(lambda x: F.softmax(x, dim=1), lambda x: torch.softmax(x, dim=1), rand(18, 3, 4))
    idx = np.array([[2, 0], [1, 4]])
    want = torch.nn.functional.one_hot(torch.from_numpy(idx), 6).numpy()
    got = F.one_hot(idx, 6).data
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
