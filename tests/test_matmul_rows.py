"""MatMul against a matrix (every Linear on a sequence): one 2-D product of the rows, each way.

The op table (test_ops.py, `matmul_matrix`) draws random shapes; here every shape family is named
once (a vector, a matrix, 3-D and 4-D inputs, one row; W and the transposed view W.T), and the two
things a table cannot see are held: W's gradient keeps W's layout, and the backward pass makes no
temporary the size of batch × K × N (numpy reports its arrays to tracemalloc).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

from tinygrad_rnn import Tensor, gradcheck

FAMILIES = [(4,), (1, 4), (3, 4), (2, 3, 4), (2, 1, 3, 4), (0, 4)]
LAYOUTS = ["W", "W.T"]


def product(a: Tensor, w: Tensor, layout: str) -> Tensor:
    return a @ (w.T if layout == "W.T" else w)


def weight(layout: str, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((n, k) if layout == "W.T" else (k, n))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("a_shape", FAMILIES, ids=str)
def test_gradients_of_every_shape_family(a_shape: tuple[int, ...], layout: str) -> None:
    rng = np.random.default_rng(len(a_shape))
    a = Tensor(rng.standard_normal(a_shape), requires_grad=True)
    w = Tensor(weight(layout, 4, 5, rng), requires_grad=True)
    upstream = rng.standard_normal(a_shape[:-1] + (5,))          # a random weighting of z
    assert gradcheck(lambda a, w: product(a, w, layout) * Tensor(upstream), [a, w])
    out = product(a, w, layout)
    np.testing.assert_allclose(out.data, np.matmul(a.data, w.data.T if layout == "W.T"
                                                   else w.data), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_only_the_input_or_only_the_matrix(layout: str) -> None:
    """needs_input_grad is honoured: a frozen weight gets nothing, a frozen input neither."""
    rng = np.random.default_rng(0)
    for a_grad, w_grad in ((True, False), (False, True)):
        a = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=a_grad)
        w = Tensor(weight(layout, 4, 5, rng), requires_grad=w_grad)
        product(a, w, layout).sum().backward()
        assert (a.grad is not None, w.grad is not None) == (a_grad, w_grad)


@pytest.mark.parametrize("a_shape", [(3, 4), (2, 3, 4), (2, 2, 3, 4)], ids=str)
def test_the_weight_gradient_is_laid_out_like_the_weight(a_shape: tuple[int, ...]) -> None:
    """x @ W.T: W's gradient comes back C-ordered like W (added into W.grad row by row)."""
    rng = np.random.default_rng(1)
    w = Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    (Tensor(rng.standard_normal(a_shape)) @ w.T).sum().backward()
    assert w.grad.flags.c_contiguous


def peak_bytes(run: Callable[[], object]) -> int:
    """The most memory numpy held at once while `run` ran, above what it held before."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_backward_makes_no_batch_sized_temporary() -> None:
    """(B, T, K) @ W.T with B = 64: a per-batch aᵀ g would hold B·K·N floats at once."""
    rng = np.random.default_rng(2)
    b, t, k, n = 64, 4, 8, 256
    x = Tensor(rng.standard_normal((b, t, k)), requires_grad=True)
    w = Tensor(rng.standard_normal((n, k)), requires_grad=True)
    z = x @ w.T                                                    # (B, T, N)
    grad = rng.standard_normal(z.shape)
    batch_sized = b * k * n * 8                                    # bytes of (B, K, N) float64
    used = peak_bytes(lambda: z.backward(grad))
    assert used < batch_sized / 4, f"backward held {used:,} bytes at its peak"


def test_the_memory_probe_sees_a_batch_sized_temporary() -> None:
    """The probe above can fail: the per-batch product it guards against does show."""
    rng = np.random.default_rng(3)
    a, g = rng.standard_normal((64, 4, 8)), rng.standard_normal((64, 4, 256))
    used = peak_bytes(lambda: (np.swapaxes(a, -1, -2) @ g).sum(axis=0))
    assert used >= 64 * 8 * 256 * 8


@pytest.mark.torch
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("a_shape", FAMILIES, ids=str)
def test_every_shape_family_matches_torch(a_shape: tuple[int, ...], layout: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    a_data, w_data = rng.standard_normal(a_shape), weight(layout, 4, 5, rng)
    a, w = Tensor(a_data, requires_grad=True), Tensor(w_data, requires_grad=True)
    ta = torch.tensor(a_data, requires_grad=True)
    tw = torch.tensor(w_data, requires_grad=True)
    upstream = rng.standard_normal(a_shape[:-1] + (5,))
    out = product(a, w, layout)
    expected = torch.matmul(ta, tw.T if layout == "W.T" else tw)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    (out * Tensor(upstream)).sum().backward()
    (expected * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-10, atol=1e-12)
