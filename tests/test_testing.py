"""tinygrad_rnn.testing: the strategies generate what they claim; the assertion can fail."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st

from tinygrad_rnn import Function, Tensor
from tinygrad_rnn.testing import (
    DOMAINS,
    arrays,
    assert_gradients_match,
    broadcastable_shapes,
    shapes,
    tensors,
)


@given(shapes(min_dims=1, max_dims=2, min_side=2, max_side=3))
def test_shapes_respect_their_bounds(shape: tuple[int, ...]) -> None:
    assert 1 <= len(shape) <= 2 and all(2 <= side <= 3 for side in shape)


@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), broadcastable_shapes(n))))
def test_broadcastable_shapes_broadcast_together(n_and_shapes: tuple) -> None:
    n, shapes_ = n_and_shapes
    assert len(shapes_) == n
    np.broadcast_shapes(*shapes_)                 # raises ValueError if they do not
    assert all(len(s) <= 3 and all(1 <= side <= 4 for side in s) for s in shapes_)


def test_broadcastable_shapes_leave_out_leading_dims() -> None:
    a, b = find(broadcastable_shapes(), lambda s: len(s[0]) != len(s[1]))  # NoSuchExample if none
    assert len(a) != len(b) and np.broadcast_shapes(a, b) == (a if len(a) > len(b) else b)


def test_broadcastable_shapes_stretch_size_one_dims() -> None:
    def stretches(pair: tuple[tuple[int, ...], ...]) -> bool:
        a, b = pair
        return len(a) == len(b) and any(x == 1 and y > 1 for x, y in zip(a, b, strict=True))
    found = find(broadcastable_shapes(), stretches)        # raises NoSuchExample if none
    assert stretches(found) and len(np.broadcast_shapes(*found)) == len(found[0])


@given(st.sampled_from(sorted(DOMAINS)).flatmap(
    lambda d: st.tuples(st.just(d), arrays(shapes(), domain=d))))
def test_arrays_stay_in_their_domain(domain_and_array: tuple[str, np.ndarray]) -> None:
    domain, a = domain_and_array
    assert a.dtype == np.float64 and np.all(np.isfinite(a))
    if domain == "real":
        assert np.all((-3.0 <= a) & (a <= 3.0))
    elif domain == "positive":
        assert np.all((0.1 <= a) & (a <= 3.0))
    elif domain == "away_from_zero":
        assert np.all((0.1 <= np.abs(a)) & (np.abs(a) <= 3.0))
    else:
        assert np.all((0.05 <= a) & (a <= 0.95))


def test_away_from_zero_takes_both_signs() -> None:
    a = find(arrays((3,), domain="away_from_zero"), lambda a: a.min() < 0 < a.max())
    assert a.min() <= -0.1 and a.max() >= 0.1                # both signs, and away from zero


@given(arrays(shapes(min_dims=1), domain="real", unique=True))
def test_unique_arrays_are_spread_apart(a: np.ndarray) -> None:
    gaps = np.diff(np.sort(a.ravel()))
    assert np.all(gaps >= 6.0 / (2 * a.size) - 1e-12)  # width of [-3, 3] / (2 · size)
    assert np.all((-3.0 <= a) & (a <= 3.0))


@given(arrays((2, 3), dtype=np.float32, domain="positive"))
def test_arrays_take_a_dtype(a: np.ndarray) -> None:
    assert a.dtype == np.float32 and a.shape == (2, 3) and np.all(a >= np.float32(0.1))


def test_unknown_domain_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown domain 'negative'"):
        find(arrays((2,), domain="negative"), lambda a: True)


@given(tensors())
def test_tensors_default_to_float64_leaves_that_require_grad(t: Tensor) -> None:
    assert t.dtype == np.float64 and t.requires_grad and t.is_leaf and t.ndim <= 3


@given(tensors(shape=(2, 1), requires_grad=False), tensors(shape=shapes(min_dims=2)))
def test_tensors_take_a_shape_or_a_strategy(fixed: Tensor, drawn: Tensor) -> None:
    assert fixed.shape == (2, 1) and not fixed.requires_grad
    assert drawn.ndim >= 2


# ---- assert_gradients_match: the five-line user test, and its failure ------------------------
def softplus(x: Tensor) -> Tensor:
    return (x.exp() + 1.0).log()


@given(tensors(domain="real"))
def test_softplus_gradients(x: Tensor) -> None:
    assert_gradients_match(softplus, x)


class SoftplusWithWrongBackward(Function):
    """y = log(1 + eˣ); the true derivative is sigmoid(x), here replaced by eˣ."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(np.exp(x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return (grad * np.exp(x),)


def test_assert_gradients_match_fails_on_a_wrong_backward() -> None:
    x = Tensor(np.array([[0.5, -1.0], [2.0, 0.1]]), requires_grad=True)
    with pytest.raises(AssertionError, match=r"input 0 \(shape \(2, 2\)\) at index .*analytic"):
        assert_gradients_match(SoftplusWithWrongBackward.apply, x)


def test_assert_gradients_match_honours_tolerances() -> None:
    # an error of 5e-5 in the gradient fails the default atol, passes a looser one
    class Nudged(Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, grad):
            return (grad * (1.0 + 5e-5),)

    x = Tensor(np.array([1.0]), requires_grad=True)
    with pytest.raises(AssertionError):
        assert_gradients_match(Nudged.apply, x, atol=1e-7, rtol=1e-7)
    assert_gradients_match(Nudged.apply, x, atol=1e-3, rtol=1e-3)
