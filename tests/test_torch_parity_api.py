"""The PyTorch names of issue 18 against torch itself (float64, 1e-10); skipped without torch:
size/dim/numel, tensor dtypes, max/min with a dim, Sequential, activations and loss modules,
clipping through nn.utils, the recurrent layers' dtype errors, load_state_dict's cast."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import tinygrad_rnn as tg  # noqa: E402
from tinygrad_rnn import Tensor, nn  # noqa: E402
from tinygrad_rnn.nn import functional as F  # noqa: E402

TOL = dict(rtol=1e-10, atol=1e-10)


def rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def pair(array):
    return Tensor(array.copy(), requires_grad=True), torch.tensor(array, requires_grad=True)


def twin(ours, theirs):
    """Give the torch module our float64 weights."""
    theirs.double().load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return theirs


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 1, 4)])
def test_size_dim_numel_match_torch(shape):
    ours, theirs = tg.zeros(shape), torch.zeros(shape)
    assert ours.size() == tuple(theirs.size()) and ours.dim() == theirs.dim()
    assert ours.numel() == theirs.numel()
    for d in range(-len(shape), len(shape)):
        assert ours.size(d) == theirs.size(d)


@pytest.mark.parametrize("data", [[1, 2], 3, [1.0, 2], 2.5, [True, False], [[1, 2], [3, 4]],
                                  [1, 2.5], [[0.5], [1]]])
def test_tensor_dtype_matches_torch(data):
    assert str(tg.tensor(data).dtype) == str(torch.tensor(data).dtype).removeprefix("torch.")
    np.testing.assert_array_equal(tg.tensor(data).data, torch.tensor(data).numpy())


@pytest.mark.parametrize("args", [(3,), (3.0,), (1, 4, 0.5), (0, 10, 3), (-2.5, 1)])
def test_arange_matches_torch(args):
    ours, theirs = tg.arange(*args), torch.arange(*args)
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.data, theirs.numpy())


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, True), (-1, False), (2, True)])
def test_max_min_with_a_dim_match_torch_with_ties(op, dim, keepdim):
    data = np.random.default_rng(3).integers(0, 3, (4, 5, 3)).astype(np.float64)  # many ties
    ours, theirs = pair(data)
    mine, want = getattr(ours, op)(dim, keepdim), getattr(theirs, op)(dim, keepdim)
    assert type(want).__name__ == op and mine._fields == ("values", "indices")  # return_types
    np.testing.assert_array_equal(mine.values.data, want.values.detach().numpy())
    np.testing.assert_array_equal(mine.indices.data, want.indices.numpy())
    assert str(mine.indices.dtype) == str(want.indices.dtype).removeprefix("torch.")
    upstream = rand(4, *want.values.shape)
    (mine.values * Tensor(upstream)).sum().backward()
    (want.values * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), **TOL)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_of_everything_match_torch_with_ties(op):
    ours, theirs = pair(np.array([[1.0, 3.0, 3.0], [0.0, 3.0, 0.0]]))
    mine, want = getattr(ours, op)(), getattr(theirs, op)()
    assert mine.shape == tuple(want.shape) == ()
    mine.backward()
    want.backward()
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), **TOL)


def test_sequential_matches_torch():
    tg.manual_seed(0)
    ours = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 4), nn.ReLU(),
                         nn.Linear(4, 2), nn.Sigmoid()).double()
    theirs = twin(ours, torch.nn.Sequential(
        torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 4), torch.nn.ReLU(),
        torch.nn.Linear(4, 2), torch.nn.Sigmoid()))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    x, x_t = pair(rand(1, 5, 3))
    y, y_t = ours(x), theirs(x_t)
    np.testing.assert_allclose(y.data, y_t.detach().numpy(), **TOL)
    upstream = rand(2, 5, 2)
    (y * Tensor(upstream)).sum().backward()
    (y_t * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), **TOL)
    for (name, p), p_t in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, p_t.grad.numpy(), **TOL, err_msg=name)


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
def test_functional_activations_match_torch(name):
    data = rand(5, 3, 4)
    data[np.abs(data) < 0.05] = 0.5                                  # away from relu's kink
    (x, x_t), upstream = pair(data), rand(6, 3, 4)
    (getattr(F, name)(x) * Tensor(upstream)).sum().backward()
    (getattr(torch.nn.functional, name)(x_t) * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), **TOL)


def loss_cases():
    target = np.array([0, 3, 1, 1, 2])
    per_position = target[:, None] % np.arange(1, 4)                  # (N, d1) for (N, C, d1)
    soft = np.random.default_rng(8).random((5, 4))
    return [
        ("CrossEntropyLoss", dict(ignore_index=1), rand(7, 5, 4), target),
        ("CrossEntropyLoss", {}, rand(7, 5, 4), target),
        ("CrossEntropyLoss", dict(ignore_index=2), rand(7, 5, 4, 3), per_position),
        ("NLLLoss", {}, -np.abs(rand(9, 5, 4, 3)), per_position),
        ("NLLLoss", dict(ignore_index=3), -np.abs(rand(9, 5, 4)), target),
        ("MSELoss", {}, rand(10, 5, 4), soft),
        ("BCEWithLogitsLoss", {}, rand(11, 5, 4), soft),
        ("BCEWithLogitsLoss", dict(pos_weight=2.5), rand(11, 5, 4), soft),
    ]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", loss_cases(), ids=lambda c: c[0] + str(sorted(c[1])))
def test_loss_modules_match_torch(case, reduction):
    name, options, data, target = case
    theirs_options = {k: torch.tensor(v, dtype=torch.float64) if k == "pos_weight" else v
                      for k, v in options.items()}
    ours_loss = getattr(nn, name)(reduction=reduction, **options)
    theirs_loss = getattr(torch.nn, name)(reduction=reduction, **theirs_options)
    x, x_t = pair(data)
    loss, want = ours_loss(x, target), theirs_loss(x_t, torch.from_numpy(target))
    upstream = rand(12, *want.shape)
    np.testing.assert_allclose(loss.data, want.detach().numpy(), **TOL)
    (loss * Tensor(upstream)).sum().backward()
    (want * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), **TOL)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, float("inf")])
def test_nn_utils_clipping_matches_torch(norm_type):
    grads = [rand(13, 3, 4) * 5, rand(14, 4) * 5]
    ours = [Tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, p_t, g in zip(ours, theirs, grads, strict=True):
        p.grad, p_t.grad = g.copy(), torch.from_numpy(g.copy())
    total = nn.utils.clip_grad_norm_(ours, max_norm=1.5, norm_type=norm_type)
    want = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5, norm_type=norm_type)
    assert total == pytest.approx(want.item(), rel=1e-12)
    nn.utils.clip_grad_value_(ours, 0.2)
    torch.nn.utils.clip_grad_value_(theirs, 0.2)
    for p, p_t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad, p_t.grad.numpy(), **TOL)


@pytest.mark.parametrize("name, x_shape", [("GRU", (5, 2, 3)), ("LSTM", (5, 2, 3)),
                                           ("RNN", (5, 3)), ("GRUCell", (2, 3)),
                                           ("LSTMCell", (2, 3)), ("RNNCell", (2, 3))])
def test_a_float64_input_to_a_float32_layer_raises_what_torch_raises(name, x_shape):
    with pytest.raises(Exception) as want:
        getattr(torch.nn, name)(3, 4)(torch.zeros(x_shape, dtype=torch.float64))
    with pytest.raises(want.type, match=f"^{name}: input dtype float64 .* float32"):
        getattr(nn, name)(3, 4)(Tensor(np.zeros(x_shape)))


def test_a_float64_state_to_a_float32_layer_raises_what_torch_raises():
    with pytest.raises(Exception) as want:
        torch.nn.GRU(3, 4)(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4, dtype=torch.float64))
    with pytest.raises(want.type, match="^GRU: h0 dtype float64"):
        nn.GRU(3, 4)(tg.zeros(5, 2, 3), Tensor(np.zeros((1, 2, 4))))


def test_load_state_dict_casts_float64_as_torch_does():
    ours, theirs = nn.GRU(3, 4, 2), torch.nn.GRU(3, 4, 2)
    state = {k: rand(15, *v.shape) for k, v in ours.state_dict().items()}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    for (name, p), (name_t, p_t) in zip(ours.named_parameters(), theirs.named_parameters(),
                                        strict=True):
        assert name == name_t and str(p.dtype) == "float32" and p_t.dtype == torch.float32
        np.testing.assert_array_equal(p.data, p_t.detach().numpy())
