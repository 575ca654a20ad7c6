"""Module-level tensor functions: factories (`zeros`, `randn`, …) and `cat`, `stack`, `where`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_rnn.engine import functions as F
from tinygrad_rnn.engine.random import generator
from tinygrad_rnn.engine.tensor import ShapeError, Tensor

__all__ = ["tensor", "zeros", "ones", "full", "randn", "rand", "uniform", "arange", "eye",
           "zeros_like", "ones_like", "randn_like", "cat", "stack", "where"]

Shape = Sequence[int]


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if any(int(n) < 0 for n in shape):
        raise ShapeError(f"factory: negative dimension in shape {shape}")
    return tuple(int(n) for n in shape)


def _make(data: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    return Tensor(data.astype(dtype, copy=False), requires_grad=requires_grad)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Same as `Tensor(data, ...)`, for those used to `torch.tensor`."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*shape: int | Shape, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    return _make(np.zeros(_shape(shape)), dtype, requires_grad)


def ones(*shape: int | Shape, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _make(np.ones(_shape(shape)), dtype, requires_grad)


def full(shape: Shape, value: float, dtype: Any = np.float32,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with `value`."""
    return _make(np.full(_shape((shape,)), value), dtype, requires_grad)


def randn(*shape: int | Shape, dtype: Any = np.float32, requires_grad: bool = False,
          rng: np.random.Generator | None = None) -> Tensor:
    """Standard normal samples (from the package generator unless `rng` is given)."""
    return _make(generator(rng).standard_normal(_shape(shape)), dtype, requires_grad)


def rand(*shape: int | Shape, dtype: Any = np.float32, requires_grad: bool = False,
         rng: np.random.Generator | None = None) -> Tensor:
    """Uniform samples in [0, 1)."""
    return _make(generator(rng).random(_shape(shape)), dtype, requires_grad)


def uniform(shape: Shape, low: float, high: float, dtype: Any = np.float32,
            requires_grad: bool = False, rng: np.random.Generator | None = None) -> Tensor:
    """Uniform samples in [low, high)."""
    return _make(generator(rng).uniform(low, high, _shape((shape,))), dtype, requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values, as torch.arange: int64 from integer arguments, else float32."""
    data = np.arange(start, stop, step) if stop is not None else np.arange(start, step=step)
    if dtype is None:
        dtype = np.int64 if data.dtype.kind in "iu" else np.float32
    return Tensor(data.astype(dtype))


def eye(n: int, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """The n×n identity."""
    return _make(np.eye(n), dtype, requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return zeros(t.shape, dtype=t.dtype, requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return ones(t.shape, dtype=t.dtype, requires_grad=requires_grad)


def randn_like(t: Tensor, requires_grad: bool = False,
               rng: np.random.Generator | None = None) -> Tensor:
    return randn(t.shape, dtype=t.dtype, requires_grad=requires_grad, rng=rng)


def _tensors(ts: Sequence[Any], op: str) -> list[Tensor]:
    if isinstance(ts, Tensor) or not isinstance(ts, (list, tuple)):
        raise TypeError(f"{op}: expects a list or tuple of tensors")
    return [t if isinstance(t, Tensor) else Tensor(t) for t in ts]


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim."""
    ts = _tensors(tensors, "cat")
    if ts and not -ts[0].ndim <= dim < max(ts[0].ndim, 1):
        raise ShapeError(f"cat: dim {dim} is out of range for tensors with {ts[0].ndim} dims")
    return F.Cat.apply(*ts, dim=dim)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along a new dim."""
    ts = _tensors(tensors, "stack")
    if ts and not -ts[0].ndim - 1 <= dim <= ts[0].ndim:
        raise ShapeError(f"stack: dim {dim} is out of range for tensors with {ts[0].ndim} dims")
    return F.Stack.apply(*ts, dim=dim)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise `a if cond else b`; `cond` (a boolean Tensor or array) is not differentiated."""
    cond = np.asarray(cond.data if isinstance(cond, Tensor) else cond, dtype=bool)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else Tensor(a)
    return F.Where.apply(like._lift(a), like._lift(b), cond=cond)
