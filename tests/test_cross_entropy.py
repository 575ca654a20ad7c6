"""The fused cross-entropy at a language model's sizes: PyTorch's layouts, ignore_index, float32,
and one logits-sized buffer from forward to backward (numpy reports its arrays to tracemalloc).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_matmul_rows import peak_bytes

from tinygrad_rnn import Tensor, gradcheck
from tinygrad_rnn.engine.tensor import ShapeError
from tinygrad_rnn.nn import functional as F

LAYOUTS = [(5,), (4, 5), (3, 5, 2), (2, 5, 2, 3)]          # (C,), (N, C), (N, C, d1, …)
REDUCTIONS = ["mean", "sum", "none"]


def case(shape: tuple[int, ...], seed: int = 0,
         ignore_index: int = -100) -> tuple[np.ndarray, np.ndarray]:
    """Logits of `shape` and targets (the class dim 1 removed), a third of them ignored."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(shape) * 3
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = rng.integers(0, shape[1] if len(shape) > 1 else shape[0], target_shape)
    if len(shape) > 1:
        target = np.where(rng.random(target_shape) < 0.33, ignore_index, target)
        target.flat[0] = 1                                    # at least one target counts
    return logits, target


def reference(logits: np.ndarray, target: np.ndarray, reduction: str,
              ignore_index: int) -> np.ndarray:
    """The loss written out position by position (classes along dim 1)."""
    if logits.ndim == 1:
        logits, target = logits[None], target[None]
    classes_last = np.moveaxis(logits, 1, -1)                  # (N, d1, …, C)
    losses = np.zeros(target.shape)
    for where in np.ndindex(*target.shape):
        t = target[where]
        if t != ignore_index:
            z = classes_last[where]
            losses[where] = np.log(np.exp(z - z.max()).sum()) + z.max() - z[t]
    if reduction == "none":
        return losses.reshape(target.shape if logits.ndim > 1 else ())
    kept = (target != ignore_index).sum()
    return losses.sum() if reduction == "sum" else losses.sum() / kept


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", LAYOUTS, ids=str)
@pytest.mark.parametrize("ignore_index", [-100, 0])
def test_values_and_gradients_in_every_layout(shape: tuple[int, ...], reduction: str,
                                              ignore_index: int) -> None:
    logits, target = case(shape, ignore_index=ignore_index)
    if len(shape) == 1:
        target = np.asarray(2)
    out = F.cross_entropy(Tensor(logits), target, reduction, ignore_index)
    expected = reference(logits, target.reshape(target.shape), reduction, ignore_index)
    if len(shape) == 1 and reduction == "none":
        expected = expected.reshape(())
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    x = Tensor(logits, requires_grad=True)
    assert gradcheck(lambda x: F.cross_entropy(x, target, reduction, ignore_index)
                     * Tensor(upstream), [x])


def test_ignored_targets_get_no_gradient_and_do_not_count() -> None:
    logits, target = case((6, 4, 3))
    x = Tensor(logits, requires_grad=True)
    F.cross_entropy(x, target).backward()
    ignored = np.moveaxis(x.grad, 1, -1)[target == -100]       # (ignored, C)
    assert ignored.size and not ignored.any()
    kept = target != -100
    full = F.cross_entropy(Tensor(logits), target, reduction="sum").item()
    assert F.cross_entropy(Tensor(logits), target).item() == pytest.approx(full / kept.sum())


def test_every_target_ignored_gives_nan_and_zero_gradient() -> None:
    """As PyTorch: the mean over no targets is nan; no position gets a gradient."""
    x = Tensor(np.ones((3, 4)), requires_grad=True)
    loss = F.cross_entropy(x, np.full(3, -100))
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad, np.zeros((3, 4)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_stays_float32(reduction: str) -> None:
    logits, target = case((8, 50, 3))
    x32, x64 = Tensor(logits.astype(np.float32), requires_grad=True), Tensor(logits,
                                                                              requires_grad=True)
    out32, out64 = (F.cross_entropy(x, target, reduction) for x in (x32, x64))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.data, out64.data, rtol=1e-5, atol=1e-6)
    upstream = np.random.default_rng(2).standard_normal(out32.shape)
    out32.backward(upstream.astype(np.float32))
    out64.backward(upstream)
    assert x32.grad.dtype == np.float32
    np.testing.assert_allclose(x32.grad, x64.grad, rtol=1e-4, atol=1e-6)


def test_a_kept_graph_gives_the_same_gradient_twice() -> None:
    """With retain_graph the softmax is copied, not turned into the gradient in place."""
    logits, target = case((5, 7))
    x = Tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, target)
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-12)


def test_one_logits_sized_buffer_from_forward_to_backward() -> None:
    """Forward holds the softmax (one logits-sized buffer) and small per-row arrays; backward
    turns that buffer into the gradient, so it allocates nothing logits-sized (x.grad exists
    already, as after the first step: the gradient is added into it)."""
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((512, 2000)).astype(np.float32), requires_grad=True)
    target = np.where(rng.random(512) < 0.2, -100, rng.integers(0, 2000, 512))
    size, x.grad = x.data.nbytes, np.zeros_like(x.data)
    holder: list[Tensor] = []
    forward = peak_bytes(lambda: holder.append(F.cross_entropy(x, target)))
    assert forward < 1.2 * size, f"forward held {forward / size:.2f} logits-sized buffers"
    backward = peak_bytes(lambda: holder[0].backward())
    assert backward < 0.2 * size, f"backward held {backward / size:.2f} logits-sized buffers"


def test_the_buffer_probe_sees_an_unfused_loss() -> None:
    """The probe above can fail: log_softmax then nll_loss makes buffers of its own."""
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((512, 2000)).astype(np.float32), requires_grad=True)
    target = rng.integers(0, 2000, 512)
    x.grad = np.zeros_like(x.data)
    holder: list[Tensor] = []
    forward = peak_bytes(lambda: holder.append(F.nll_loss(x.log_softmax(1), target)))
    backward = peak_bytes(lambda: holder[0].backward())
    assert forward >= 1.2 * x.data.nbytes or backward >= 0.2 * x.data.nbytes


def test_classes_last_logits_get_a_message_that_says_how_to_fix_the_call() -> None:
    """(B, T, V) logits with (B, T) targets: PyTorch reads dim 1 as the classes; the message
    says so and gives both fixes, and each fix runs."""
    logits, target = np.zeros((16, 4, 12)), np.zeros((16, 4), dtype=np.int64)
    with pytest.raises(ShapeError) as error:
        F.cross_entropy(Tensor(logits), target)
    message = str(error.value)
    assert "(N, C, d1, ...)" in message and "target must have shape (16, 12)" in message
    assert "input.reshape(-1, 12), target.reshape(-1)" in message
    permutation = re.search(r"input\.permute(\(.*?\))", message).group(1)
    flat = F.cross_entropy(Tensor(logits).reshape(-1, 12), target.reshape(-1))
    moved = F.cross_entropy(Tensor(logits).permute(eval(permutation)), target)
    assert flat.item() == pytest.approx(np.log(12)) == moved.item()


@pytest.mark.parametrize(("shape", "target_shape", "says"), [
    ((4, 5), (3,), r"\(N, C\) = \(4, 5\), so the target must hold one class index per row, "
                   r"shape \(4,\), got \(3,\)"),
    ((5,), (1,), r"one row of C = 5 classes, so the target must be one class index of shape "
                 r"\(\), got \(1,\)"),
    ((2, 5, 3), (2, 4), r"the C = 5 classes in dim 1, so the target must have shape \(2, 3\), "
                        r"got \(2, 4\)$"),
])
def test_other_target_shapes_are_named(shape: tuple[int, ...], target_shape: tuple[int, ...],
                                       says: str) -> None:
    with pytest.raises(ShapeError, match=says):
        F.cross_entropy(Tensor(np.zeros(shape)), np.zeros(target_shape, dtype=np.int64))


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", LAYOUTS, ids=str)
def test_matches_torch(shape: tuple[int, ...], reduction: str, dtype: str) -> None:
    torch = pytest.importorskip("torch")
    logits, target = case(shape, seed=5)
    logits = logits.astype(dtype)
    if len(shape) == 1:
        target = np.asarray(3)
    x, t = Tensor(logits.copy(), requires_grad=True), torch.tensor(logits, requires_grad=True)
    out = F.cross_entropy(x, target, reduction)
    expected = torch.nn.functional.cross_entropy(t, torch.from_numpy(target),
                                                 reduction=reduction)
    tolerance = {"rtol": 1e-10, "atol": 1e-12} if dtype == "float64" else {"rtol": 1e-5,
                                                                           "atol": 1e-6}
    assert out.shape == tuple(expected.shape) and out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **tolerance)
    upstream = np.random.default_rng(6).standard_normal(out.shape).astype(dtype)
    (out * Tensor(upstream)).sum().backward()
    (expected * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), **tolerance)
