"""The names a PyTorch user reaches for (issue 18): size()/dim()/numel(), tensor dtypes,
max/min with a dim, Sequential and the activation and loss modules, the recurrent layers' dtype
check, word decoding. Parity with torch itself is in test_torch_parity_api.py."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import ShapeError, Tensor, gradcheck, nn
from tinygrad_rnn.data import WordVocab, tokenize
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.teach.expression import ExpressionError, evaluate


def rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- size(), dim(), numel() -------------------------------------------------------------------
def test_size_dim_and_numel_are_methods():
    x = tg.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(0) == 2 and x.size(-1) == 4
    assert x.dim() == 3 and x.numel() == 24 and x.shape == (2, 3, 4) and x.ndim == 3
    assert tg.tensor(5.0).size() == () and tg.tensor(5.0).numel() == 1
    with pytest.raises(ShapeError, match="size: dim 3 is out of range for a tensor with 3 dims"):
        x.size(3)


# ---- tg.tensor's dtype ------------------------------------------------------------------------
@pytest.mark.parametrize("data, dtype", [
    ([1, 2], np.int64), (3, np.int64), ([1.0, 2], np.float32), (2.5, np.float32),
    ([True, False], np.bool_), ([[1, 2], [3, 4]], np.int64), (np.arange(3, dtype=np.int32),
                                                             np.int32),
    (np.ones(2), np.float64), (np.float64(1.0), np.float64)])
def test_tensor_dtype_follows_torch_tensor(data, dtype):
    assert tg.tensor(data).dtype == dtype and Tensor(data).dtype == dtype


def test_arange_gives_int64_from_ints_and_float32_otherwise():
    assert tg.arange(3).dtype == np.int64 and tg.arange(3).tolist() == [0, 1, 2]
    assert tg.arange(0, 1, 0.25).dtype == np.float32 and tg.arange(4, step=2).tolist() == [0, 2]
    assert tg.arange(3, dtype=np.float64).dtype == np.float64


def test_an_integer_tensor_cannot_require_grad_but_a_float_list_can():
    with pytest.raises(TypeError, match="only floating-point tensors can require grad"):
        tg.tensor([1, 2], requires_grad=True)
    assert tg.tensor([1.0, 2.0], requires_grad=True).requires_grad


# ---- max / min with a dim ---------------------------------------------------------------------
def test_max_with_a_dim_is_values_and_indices():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [5.0, 0.0, 5.0]]), requires_grad=True)
    result = x.max(1)
    values, indices = result                                      # unpacks as a pair
    assert result._fields == ("values", "indices") and result.values is values
    np.testing.assert_array_equal(values.data, [3.0, 5.0])
    np.testing.assert_array_equal(indices.data, [1, 0])           # the first of tied maxima
    assert indices.dtype == np.int64 and not indices.requires_grad
    (values * Tensor(np.array([2.0, 3.0]))).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 2, 0], [3, 0, 0]])  # only the picked element
    low = x.min(0, keepdim=True)
    assert low.values.shape == (1, 3) and low.indices.data.tolist() == [[0, 1, 0]]


def test_max_without_a_dim_is_one_scalar_and_ties_share_its_gradient():
    x = Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    top = x.max()
    assert isinstance(top, Tensor) and top.shape == () and top.item() == 3.0
    top.backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5])
    assert x.min().item() == 1.0


def test_max_values_pass_gradcheck_on_every_element():
    x = Tensor(rand(0, 3, 4, 2), requires_grad=True)
    for dim in (0, 1, -1):
        for keepdim in (False, True):
            assert gradcheck(lambda t, d=dim, k=keepdim: t.max(d, k).values, [x])
            assert gradcheck(lambda t, d=dim, k=keepdim: t.min(d, k).values, [x])


def test_max_over_several_dims_points_to_amax():
    x = tg.randn(2, 3)
    with pytest.raises(TypeError, match=r"max: dim must be one int, got \(0, 1\); .*amax"):
        x.max((0, 1))
    np.testing.assert_array_equal(x.amax((0, 1)).data, x.data.max())
    with pytest.raises(ShapeError, match="max: dim 1 of shape .* is empty"):
        tg.zeros(2, 0).max(1)


def test_the_graph_commands_expressions_send_max_with_a_dim_to_amax():
    x = Tensor(rand(2, 2, 3), requires_grad=True)
    np.testing.assert_array_equal(evaluate("amax(x, 1)", {"x": x}).data, x.data.max(1))
    with pytest.raises(ExpressionError, match=r"max\(t, dim\) gives \(values, indices\) .*amax"):
        evaluate("max(x, 1).sum()", {"x": x})


# ---- Sequential, activations, losses ----------------------------------------------------------
def test_sequential_applies_its_modules_in_order_and_names_them_by_position():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 3), nn.ReLU(), nn.Sigmoid())
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(model) == 5 and isinstance(model[1], nn.Tanh)
    x = tg.randn(4, 2)
    manual = model[2](model[0](x).tanh()).relu().sigmoid()
    np.testing.assert_array_equal(model(x).data, manual.data)
    assert repr(model).splitlines()[:3] == [
        "Sequential(", "  (0): Linear(in_features=2, out_features=5, bias=True)", "  (1): Tanh()"]


def test_functional_activations_are_the_tensor_methods():
    x = Tensor(rand(1, 3, 4))
    for function, method in ((F.relu, Tensor.relu), (F.tanh, Tensor.tanh),
                             (F.sigmoid, Tensor.sigmoid)):
        np.testing.assert_array_equal(function(x).data, method(x).data)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_are_their_functions(reduction):
    logits, target = Tensor(rand(2, 5, 4)), np.array([0, 3, -100, 1, 2])
    probs, soft = Tensor(rand(3, 5, 4)), np.random.default_rng(4).random((5, 4))
    pairs = [
        (nn.CrossEntropyLoss(reduction=reduction, ignore_index=-100)(logits, target),
         F.cross_entropy(logits, target, reduction, -100)),
        (nn.NLLLoss(reduction=reduction, ignore_index=3)(logits.log_softmax(1), target % 4),
         F.nll_loss(logits.log_softmax(1), target % 4, reduction, 3)),
        (nn.MSELoss(reduction=reduction)(probs, soft), F.mse_loss(probs, soft, reduction)),
        (nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=2.0)(probs, soft),
         F.binary_cross_entropy_with_logits(probs, soft, reduction, 2.0)),
    ]
    for module_loss, function_loss in pairs:
        np.testing.assert_array_equal(module_loss.data, function_loss.data)


def test_loss_options_are_keyword_only_and_checked_when_built():
    with pytest.raises(TypeError):
        nn.CrossEntropyLoss(None)              # torch's positional `weight`: refused, not misread
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of"):
        nn.MSELoss(reduction="avg")


def test_clipping_lives_in_nn_utils_and_keeps_its_old_name():
    assert tg.nn.utils.clip_grad_norm_ is tg.clip.clip_grad_norm_
    p = Tensor(np.zeros(2), requires_grad=True)
    p.grad = np.array([3.0, 4.0])
    assert nn.utils.clip_grad_norm_([p], max_norm=1.0) == 5.0
    np.testing.assert_allclose(p.grad, [0.6, 0.8], rtol=1e-5)
    nn.utils.clip_grad_value_([p], 0.7)
    np.testing.assert_allclose(p.grad, [0.6, 0.7], rtol=1e-5)


# ---- dtypes of the recurrent layers -----------------------------------------------------------
@pytest.mark.parametrize("make, x_shape, error", [
    (lambda: nn.GRU(3, 4), (5, 2, 3), ValueError),            # a layer: ValueError, as torch
    (lambda: nn.LSTM(3, 4, 2), (5, 2, 3), ValueError),
    (lambda: nn.RNN(3, 4, bidirectional=True), (5, 3), ValueError),
    (lambda: nn.GRUCell(3, 4), (2, 3), RuntimeError),          # a cell: RuntimeError, as torch
    (lambda: nn.LSTMCell(3, 4), (3,), RuntimeError),
    (lambda: nn.RNNCell(3, 4), (2, 3), RuntimeError)])
def test_a_float32_layer_refuses_float64_input(make, x_shape, error):
    layer = make()
    with pytest.raises(error) as caught:
        layer(Tensor(np.zeros(x_shape)))
    name = type(layer).__name__
    assert str(caught.value) == (f"{name}: input dtype float64 does not match the weights' dtype "
                                 f"float32: convert the input (input.float()) or the model "
                                 f"(model.double())")
    layer.double()(Tensor(np.zeros(x_shape)))                     # converted, it runs


def test_a_state_of_another_dtype_is_refused_too():
    with pytest.raises(RuntimeError, match="GRU: h0 dtype float64 does not match .* float32"):
        nn.GRU(3, 4)(tg.zeros(5, 2, 3), Tensor(np.zeros((1, 2, 4))))
    with pytest.raises(RuntimeError, match="LSTMCell: c dtype float32 does not match .* float64"):
        nn.LSTMCell(3, 4).double()(Tensor(np.zeros((2, 3))),
                                   (Tensor(np.zeros((2, 4))), tg.zeros(2, 4)))


def test_load_state_dict_casts_to_the_modules_dtype():
    layer = nn.GRU(3, 4)
    state = {k: rand(7, *v.shape) for k, v in layer.state_dict().items()}    # float64 arrays
    layer.load_state_dict(state)
    for name, p in layer.named_parameters():
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p.data, state[name].astype(np.float32))


# ---- word decoding ----------------------------------------------------------------------------
def test_word_decoding_spaces_like_written_text():
    text = "Hello, world (again)! I don't know; it's 50% [sure].\nThe dogs' bones?"
    vocab = WordVocab.from_text(text)
    decoded = vocab.decode(vocab.encode(text))
    assert decoded == "Hello, world (again)! I don't know; it's 50% [sure].\nThe dogs ' bones?"
    assert tokenize(decoded) == tokenize(text)
