"""gradcheck passes on correct backward passes and fails, with a useful message, on wrong ones."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinygrad_rnn import Function, GradcheckError, Tensor, gradcheck, numerical_grad


def leaf(shape: tuple[int, ...], seed: int = 0) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


class ScaleForgetsFactor(Function):
    """y = 3x, but backward forgets the 3."""

    @staticmethod
    def forward(ctx, x):
        return 3.0 * x

    @staticmethod
    def backward(ctx, grad):
        return (grad,)


class MatMulForgetsTranspose(Function):
    """z = a @ b, but backward uses b where bᵀ belongs (shapes still fit for square b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return grad @ b, a.T @ grad


class TransposeForgetsToTransposeBack(Function):
    """y = xᵀ (square x), but backward passes the gradient through untransposed."""

    @staticmethod
    def forward(ctx, x):
        return x.T.copy()

    @staticmethod
    def backward(ctx, grad):
        return (grad,)


def test_passes_on_correct_ops() -> None:
    x, w, b = leaf((4, 3)), leaf((3, 2), 1), leaf((2,), 2)
    assert gradcheck(lambda x, w, b: (x @ w + b).tanh(), [x, w, b])
    assert gradcheck(lambda x: x.softmax(0) * x.sigmoid(), [x])


def test_fails_on_a_forgotten_factor() -> None:
    with pytest.raises(GradcheckError):
        gradcheck(ScaleForgetsFactor.apply, [leaf((2, 3))])


def test_fails_on_a_forgotten_transpose() -> None:
    a, b = leaf((2, 3)), leaf((3, 3), 1)
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(MatMulForgetsTranspose.apply, [a, b])


def test_returns_false_instead_of_raising_when_asked() -> None:
    assert gradcheck(ScaleForgetsFactor.apply, [leaf((2,))], raise_exception=False) is False
    assert gradcheck(lambda x: 3.0 * x, [leaf((2,))], raise_exception=False) is True


def test_message_names_input_index_and_both_values() -> None:
    # y = 3x with the 3 forgotten: analytic = R, numerical = 3R, where R is the upstream weight
    x = leaf((2, 3))
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda c, x: ScaleForgetsFactor.apply(x) + c, [Tensor(np.zeros(3)), x])
    message = str(info.value)
    found = re.search(r"input 1 \(shape \(2, 3\)\) at index \((\d), (\d)\): "
                      r"analytic (\S+) vs numerical (\S+)", message)
    assert found, message
    analytic, numerical = float(found[3]), float(found[4])
    assert numerical == pytest.approx(3.0 * analytic, rel=1e-6)
    assert re.search(r"\d+ of 6 elements fail", message)


def test_random_upstream_catches_what_a_plain_sum_hides() -> None:
    # with upstream all ones, the wrong (untransposed) gradient of a transpose is the right one
    x = leaf((3, 3))
    upstream = np.ones((3, 3))
    (TransposeForgetsToTransposeBack.apply(x) * Tensor(upstream)).sum().backward()
    [numerical] = numerical_grad(TransposeForgetsToTransposeBack.apply, [x], upstream)
    np.testing.assert_allclose(x.grad, numerical, atol=1e-8)       # the plain sum is fooled
    assert not gradcheck(TransposeForgetsToTransposeBack.apply, [x], raise_exception=False)


def test_numerical_grad_matches_the_closed_form() -> None:
    # d/dx Σ x² ⊙ R = 2x ⊙ R
    x = leaf((2, 3))
    upstream = np.random.default_rng(5).standard_normal((2, 3))
    [g] = numerical_grad(lambda x: x * x, [x], upstream)
    np.testing.assert_allclose(g, 2.0 * x.data * upstream, atol=1e-8)


def test_refuses_float32_inputs() -> None:
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="input 0 is float32.*float64"):
        gradcheck(lambda x: x * 2.0, [x])


def test_refuses_non_leaf_inputs() -> None:
    x = leaf((3,)) * 2.0
    with pytest.raises(TypeError, match="input 0 is not a leaf"):
        gradcheck(lambda x: x * 2.0, [x])


def test_refuses_when_nothing_requires_grad() -> None:
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda x: x * 2.0, [Tensor(np.ones(3))])


def test_refuses_a_function_that_returns_no_tensor() -> None:
    with pytest.raises(TypeError, match="fn must return a Tensor"):
        gradcheck(lambda x: x.data, [leaf((2,))])


def test_leaves_inputs_as_they_were() -> None:
    x = leaf((2, 2))
    before = x.data.copy()
    x.grad = np.full((2, 2), 7.0)
    gradcheck(lambda x: x.exp(), [x])
    np.testing.assert_array_equal(x.data, before)
    np.testing.assert_array_equal(x.grad, np.full((2, 2), 7.0))


def test_inputs_without_grad_are_left_out() -> None:
    # only w is checked; the constant input c may even have a wrong gradient path
    c, w = Tensor(np.ones((2, 2))), leaf((2, 2))
    assert gradcheck(lambda c, w: ScaleForgetsFactor.apply(c) * w, [c, w])
