"""Every op of the table in test_ops.py against PyTorch: values and gradients, float64, 1e-10."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from hypothesis import assume, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_ops import OPS, Op  # noqa: E402

from tinygrad_rnn import Tensor  # noqa: E402

TF = torch.nn.functional


def every_dim(x: Any, dim: Any) -> Any:
    """torch spells "all dims" as a tuple of them (numpy and tinygrad_rnn as None)."""
    return tuple(range(x.ndim)) if dim is None else dim


def torch_index(index: Any) -> Any:
    parts = index if isinstance(index, tuple) else (index,)
    assume(not any(isinstance(p, slice) and (p.step or 1) < 0 for p in parts))  # torch: no
    parts = tuple(torch.from_numpy(p) if isinstance(p, np.ndarray) else p for p in parts)
    return parts if isinstance(index, tuple) else parts[0]


def weighted_cat(parts: Any, dim: int) -> Any:
    return torch.cat([p * (k + 1.0) for k, p in enumerate(parts)], dim)


# the same ops, name for name, written with torch
TORCH: dict[str, Callable[..., Any]] = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "neg": torch.neg,
    "pow": torch.pow,
    "pow_scalar": lambda x, exponent: torch.pow(x, exponent),
    "rpow": lambda x, base: torch.pow(base, x),
    "matmul": torch.matmul,
    "matmul_matrix": lambda a, w, transposed: torch.matmul(a, w.T if transposed else w),
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "clip": lambda x, low, high: torch.clamp(x, min=low, max=high),
    "sum": lambda x, dim, keepdim: torch.sum(x, every_dim(x, dim), keepdim=keepdim),
    "mean": lambda x, dim, keepdim: torch.mean(x, every_dim(x, dim), keepdim=keepdim),
    "amax": lambda x, dim, keepdim: torch.amax(x, every_dim(x, dim), keepdim=keepdim),
    "amin": lambda x, dim, keepdim: torch.amin(x, every_dim(x, dim), keepdim=keepdim),
    "max_dim": lambda x, dim, keepdim: torch.max(x, dim, keepdim).values,
    "min_dim": lambda x, dim, keepdim: torch.min(x, dim, keepdim).values,
    "var": lambda x, dim, keepdim, unbiased: torch.var(x, dim, correction=int(unbiased),
                                                       keepdim=keepdim),
    "reshape": lambda x, shape: x.reshape(shape),
    "transpose": lambda x, dim0, dim1: x.transpose(dim0, dim1),
    "permute": lambda x, dims: x.permute(dims),
    "T": lambda x: x.permute(tuple(reversed(range(x.ndim)))),
    "getitem": lambda x, index: x[torch_index(index)],
    "cat": lambda *xs, dim: torch.cat(xs, dim),
    "stack": lambda *xs, dim: torch.stack(xs, dim),
    "split": lambda x, dim, size: weighted_cat(torch.split(x, size, dim), dim),
    "split_sizes": lambda x, dim, size: weighted_cat(torch.split(x, size, dim), dim),
    "chunk": lambda x, dim, chunks: weighted_cat(torch.chunk(x, chunks, dim), dim),
    "where": lambda a, b, cond: torch.where(torch.from_numpy(cond), a, b),
    "softmax": lambda x, dim: torch.softmax(x, dim),
    "log_softmax": lambda x, dim: torch.log_softmax(x, dim),
    "logsumexp": lambda x, dim, keepdim: torch.logsumexp(x, dim, keepdim),
    "embedding": lambda w, indices: TF.embedding(torch.from_numpy(indices), w),
    "cross_entropy": lambda z, target, **kw: TF.cross_entropy(z, torch.from_numpy(target), **kw),
    "cast": lambda x: x.to(torch.float32),
    "lt": torch.lt,
    "le": torch.le,
    "gt": torch.gt,
    "ge": torch.ge,
    "eq": torch.eq,
    "ne": torch.ne,
}


def test_every_op_of_the_table_has_a_torch_twin() -> None:
    assert set(TORCH) == {op.name for op in OPS}


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_values_and_gradients_match_torch(op: Op, data: st.DataObject) -> None:
    inputs, kw = data.draw(op.inputs)
    ours = [Tensor(a.copy(), requires_grad=op.grad) for a in inputs]
    theirs = [torch.tensor(a, requires_grad=op.grad) for a in inputs]
    expected = TORCH[op.name](*theirs, **kw)
    out = op.fn(*ours, **kw)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    if not op.grad:
        return
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    (out * Tensor(upstream)).sum().backward()
    (expected * torch.from_numpy(upstream)).sum().backward()
    for k, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(mine.grad, reference.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"{op.name}: gradient of input {k}")


@pytest.mark.parametrize("name", ["sigmoid", "log_softmax", "softmax", "logsumexp"])
def test_extremes_match_torch(name: str) -> None:
    a = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    x, t = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out, expected = getattr(x, name)(), getattr(t, name)(-1) if name != "sigmoid" else t.sigmoid()
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=0)
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    (out * Tensor(upstream)).sum().backward()
    (expected * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12, atol=1e-300)
