"""API misuse (issue 17, item 8): each case is a clear error naming the op or the argument."""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, gradcheck, nn, optim


def param(*shape):
    return Tensor(np.ones(shape), requires_grad=True)


@pytest.mark.parametrize("optimizer", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop,
                                       optim.Adagrad])
def test_an_infinite_learning_rate_is_refused(optimizer):
    with pytest.raises(ValueError, match=f"{optimizer.__name__}: lr must be finite, got inf"):
        optimizer([param(2)], lr=float("inf"))


def test_a_non_leaf_parameter_is_refused_as_in_torch():
    p = param(2)
    with pytest.raises(ValueError, match=r"Adam: parameter 0 \(shape \(2,\)\) is not a leaf"):
        optim.Adam([p * 2])


def test_an_integer_parameter_is_refused_naming_its_dtype():
    with pytest.raises(TypeError, match="SGD: parameter 1 .* has dtype int64; only floating"):
        optim.SGD([param(2), Tensor(np.arange(3))], lr=0.1)


@pytest.mark.parametrize("layer", [nn.RNN, nn.GRU])
def test_an_lstm_state_pair_given_to_rnn_or_gru_names_the_state(layer):
    model = layer(3, 4)
    h = Tensor(np.zeros((1, 2, 4), np.float32))
    with pytest.raises(TypeError, match=f"{layer.__name__}: the initial state is one tensor h0"):
        model(Tensor(np.zeros((5, 2, 3), np.float32)), (h, h))


def test_a_state_that_is_not_a_tensor_names_h0():
    with pytest.raises(TypeError, match="GRU: h0 must be a Tensor or None, got ndarray"):
        nn.GRU(3, 4)(Tensor(np.zeros((5, 2, 3), np.float32)), np.zeros((1, 2, 4)))


@pytest.mark.parametrize("make", [lambda: nn.GRU(3, 5.5), lambda: nn.LSTMCell(3, 5.5),
                                  lambda: nn.RNN(3.0, 4), lambda: nn.LSTM(3, 4, num_layers=1.5)])
def test_a_fractional_size_is_a_type_error_naming_the_argument(make):
    with pytest.raises(TypeError, match=r"(hidden|input)_size|num_layers"):
        make()


def test_batch_size_zero_names_the_batch_not_reshape():
    with pytest.raises(ValueError, match=r"GRU: input \(5, 0, 3\) has batch size 0"):
        nn.GRU(3, 4)(Tensor(np.zeros((5, 0, 3), np.float32)))


def test_gradcheck_on_a_function_returning_a_float_names_the_type():
    with pytest.raises(TypeError, match="gradcheck: fn must return a Tensor, got float"):
        gradcheck(lambda x: float(x.sum().item()), [Tensor(np.ones(2), requires_grad=True)])
