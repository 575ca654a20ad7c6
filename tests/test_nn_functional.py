"""nn.functional: losses vs numpy written from their definitions, gradients vs gradcheck."""

import numpy as np
import pytest

from tinygrad_rnn import ShapeError, Tensor, gradcheck
from tinygrad_rnn.nn import functional as F


def randn(seed, *shape, grad=True):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=grad)


def numpy_log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


TARGET = np.array([2, 0, -100, 3])


@pytest.mark.parametrize("loss", [F.cross_entropy,
                                  lambda x, t, **k: F.nll_loss(x.log_softmax(1), t, **k)])
def test_cross_entropy_and_nll_values(loss):
    x = randn(0, 4, 5)
    per_row = -numpy_log_softmax(x.data)[np.arange(4), np.where(TARGET < 0, 0, TARGET)]
    per_row[2] = 0.0                                                  # ignored target
    np.testing.assert_allclose(loss(x, TARGET, reduction="none").data, per_row, rtol=1e-12)
    np.testing.assert_allclose(loss(x, TARGET, reduction="sum").item(), per_row.sum())
    np.testing.assert_allclose(loss(x, TARGET).item(), per_row.sum() / 3)   # mean over kept
    np.testing.assert_allclose(loss(x, Tensor(TARGET)).item(), per_row.sum() / 3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_gradients(reduction):
    x = randn(1, 4, 5)
    assert gradcheck(lambda x: F.cross_entropy(x, TARGET, reduction=reduction), [x])
    assert gradcheck(lambda x: F.nll_loss(x, TARGET, reduction=reduction), [x])
    target = np.random.default_rng(2).random((4, 5))
    assert gradcheck(lambda x: F.mse_loss(x, target, reduction=reduction), [x])
    assert gradcheck(lambda x: F.binary_cross_entropy_with_logits(
        x, target, reduction=reduction, pos_weight=np.full(5, 2.0)), [x])


def test_cross_entropy_over_extra_dims_equals_rows():
    x = randn(3, 2, 4, 3)                                            # (N, C, d)
    target = np.array([[0, 3, 1], [2, 2, -100]])
    rows = Tensor(x.data.transpose(0, 2, 1).reshape(6, 4))
    np.testing.assert_allclose(F.cross_entropy(x, target, reduction="none").data,
                               F.cross_entropy(rows, target.ravel(), reduction="none").data
                               .reshape(2, 3))
    assert gradcheck(lambda x: F.cross_entropy(x, target), [x])


def test_mse_value():
    x, target = randn(4, 3, 2), np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(F.mse_loss(x, target).item(), ((x.data - target) ** 2).mean())
    np.testing.assert_allclose(F.mse_loss(x, Tensor(target), reduction="sum").item(),
                               ((x.data - target) ** 2).sum())


def test_bce_with_logits_value_and_stability():
    x = randn(5, 6)
    y = np.array([0.0, 1.0, 0.3, 1.0, 0.0, 0.7])
    p = 1.0 / (1.0 + np.exp(-x.data))
    naive = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, y, reduction="none").data,
                               naive, rtol=1e-12)
    big = Tensor(np.array([1e4, -1e4, 1e4, -1e4]), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(big, np.array([1.0, 0.0, 0.0, 1.0]),
                                              reduction="none")
    np.testing.assert_array_equal(loss.data, [0.0, 0.0, 1e4, 1e4])    # right: 0, wrong: |x|
    loss.sum().backward()
    np.testing.assert_array_equal(big.grad, [0.0, 0.0, 1.0, -1.0])     # σ(x) - y


def test_bce_gradient_at_zero_is_half_minus_target():
    x = Tensor(np.zeros(3), requires_grad=True)
    F.binary_cross_entropy_with_logits(x, np.array([0.0, 1.0, 0.25]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad, [0.5, -0.5, 0.25])


def test_softmaxes_and_one_hot():
    x = randn(6, 3, 4)
    np.testing.assert_allclose(F.log_softmax(x, dim=0).data, numpy_log_softmax(x.data, 0))
    np.testing.assert_allclose(F.softmax(x).data.sum(axis=-1), np.ones(3))
    got = F.one_hot(np.array([[1, 0], [3, 1]]))
    assert got.dtype == np.int64 and got.shape == (2, 2, 4)
    np.testing.assert_array_equal(got.data.argmax(-1), [[1, 0], [3, 1]])
    assert got.data.sum() == 4
    with pytest.raises(ValueError, match="index 3 is out of range for num_classes=3"):
        F.one_hot(np.array([3]), 3)


def test_functional_dropout_uses_the_given_generator():
    x = Tensor(np.ones((4, 50)))
    a = F.dropout(x, 0.5, rng=np.random.default_rng(0)).data
    b = F.dropout(x, 0.5, rng=np.random.default_rng(0)).data
    np.testing.assert_array_equal(a, b)
    assert F.dropout(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\], got -0.1"):
        F.dropout(x, -0.1)


def test_loss_errors_are_clear():
    x = randn(7, 4, 5)
    with pytest.raises(ValueError, match="reduction must be one of .*got 'avg'"):
        F.cross_entropy(x, TARGET, reduction="avg")
    with pytest.raises(TypeError, match="target must hold integer class indices, got dtype "
                                        "float64"):
        F.cross_entropy(x, TARGET.astype(float))
    with pytest.raises(ShapeError, match=r"input \(4, 5\) is \(N, C\) = \(4, 5\), so the "
                                         r"target must hold .* shape \(4,\), got \(3,\)"):
        F.cross_entropy(x, TARGET[:3])
    with pytest.raises(ShapeError, match=r"targets must lie in \[0, 5\)"):
        F.cross_entropy(x, np.array([0, 1, 2, 5]))
    with pytest.raises(ShapeError, match=r"targets must lie in \[0, 5\)"):
        F.nll_loss(x, np.array([0, 1, -2, 3]))
    with pytest.raises(ShapeError, match=r"mse_loss: input \(4, 5\) and target \(5,\)"):
        F.mse_loss(x, np.zeros(5))
    with pytest.raises(ShapeError, match=r"must be \(C,\), \(N, C\) or .*got a scalar"):
        F.cross_entropy(Tensor(np.float64(1.0)), np.array(1))
