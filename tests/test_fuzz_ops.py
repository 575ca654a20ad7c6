"""Fuzzing Tensor ops with random, often incompatible shapes, with numpy as the oracle: where
numpy gives a result ours gives the same one (and a gradient of the input's shape); where numpy
refuses, ours raises the project's ShapeError naming the op, in one line, never a bare error."""

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import ShapeError, Tensor

SHAPES = st.lists(st.integers(0, 4), max_size=4).map(tuple)
DIM = st.integers(-5, 4)


def agree(op: str, ours: Callable[[], Tensor], theirs: Callable[[], np.ndarray],
          inputs: list[Tensor]) -> None:
    """Ours and numpy's agree: equal values, or numpy refuses and ours is a named ShapeError."""
    try:
        expected = theirs()
    except (ValueError, IndexError, TypeError, np.exceptions.AxisError):
        with pytest.raises(ShapeError) as info:
            ours()
        message = str(info.value)
        assert message.startswith(f"{op}:") and "\n" not in message, message
        return
    result = ours()
    np.testing.assert_array_equal(result.data, expected)
    if result.requires_grad:
        result.backward(np.ones(result.shape))
        for t in inputs:
            assert t.grad is None or t.grad.shape == t.shape


def tensor(shape: tuple[int, ...]) -> Tensor:
    return Tensor(np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) + 1.0,
                  requires_grad=True)


@given(a=SHAPES, b=SHAPES, op=st.sampled_from(["add", "sub", "mul", "div", "matmul"]))
def test_binary_ops_and_matmul(a, b, op):
    x, y = tensor(a), tensor(b)
    ours = {"add": lambda: x + y, "sub": lambda: x - y, "mul": lambda: x * y,
            "div": lambda: x / y, "matmul": lambda: x @ y}[op]
    theirs = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
              "matmul": np.matmul}[op]
    agree(op, ours, lambda: theirs(x.data, y.data), [x, y])


@given(shape=SHAPES, target=st.lists(st.integers(-2, 6), max_size=4).map(tuple))
def test_reshape(shape, target):
    x = tensor(shape)
    agree("reshape", lambda: x.reshape(target), lambda: x.data.reshape(target), [x])


INDEX = st.one_of(st.integers(-5, 5), st.slices(5),
                  st.lists(st.integers(-5, 5), min_size=1, max_size=3).map(np.array))


@given(shape=SHAPES, index=st.lists(INDEX, max_size=3).map(tuple))
def test_getitem(shape, index):
    x = tensor(shape)
    agree("getitem", lambda: x[index], lambda: x.data[index], [x])


@given(shapes=st.lists(SHAPES, min_size=1, max_size=3), dim=DIM)
def test_cat(shapes, dim):
    ts = [tensor(s) for s in shapes]
    agree("cat", lambda: tg.cat(ts, dim), lambda: np.concatenate([t.data for t in ts], dim), ts)


@given(shape=SHAPES, dims=st.none() | DIM | st.lists(DIM, max_size=3).map(tuple),
       keepdim=st.booleans())
def test_sum(shape, dims, keepdim):
    x = tensor(shape)
    agree("sum", lambda: x.sum(dims, keepdim=keepdim),
          lambda: x.data.sum(axis=numpy_axis(shape, dims), keepdims=keepdim), [x])


def numpy_axis(shape, dims):
    """numpy's axis for our dims: on a 0-d tensor, dims 0 and -1 (torch's rule) reduce nothing."""
    listed = dims if isinstance(dims, tuple) else (dims,)
    if shape == () and dims is not None and all(d in (0, -1) for d in listed):
        return None
    return dims


def test_sum_over_dim_0_of_a_scalar_tensor():
    x = Tensor(np.array(2.5), requires_grad=True)
    y = x.sum(0)
    assert y.shape == () and y.item() == 2.5
    y.backward()
    assert x.grad.shape == () and x.grad == 1.0


def test_the_oracle_checker_catches_a_bare_numpy_error():
    """Negative control: an op that lets numpy's own error through fails `agree`."""
    x = tensor((2, 3))
    with pytest.raises(ValueError, match="cannot reshape"):
        agree("reshape", lambda: Tensor(x.data.reshape(5)), lambda: x.data.reshape(5), [x])
    with pytest.raises(AssertionError):
        agree("add", lambda: x + 1.0, lambda: x.data + 2.0, [x])
