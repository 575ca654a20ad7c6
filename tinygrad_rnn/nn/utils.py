"""Gradient clipping (in place, as torch.nn.utils) and per-parameter gradient norms.

Norm clipping rescales all gradients together so their total norm is at most `max_norm`: the
update keeps its direction and only gets shorter. Value clipping clamps each element to
[-clip_value, clip_value] on its own, which can turn the update (min-char-rnn clips at 5).
Parameters whose `.grad` is None are skipped by all three functions.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "grad_norms"]

Params = Tensor | Iterable[Tensor] | Iterable[tuple[str, Tensor]] | Mapping[str, Tensor]


def _named(owner: str, params: Params) -> list[tuple[str, Tensor]]:
    """(name, tensor) pairs; unnamed tensors are called 'parameter k' after their position."""
    if isinstance(params, Tensor):
        params = [params]
    elif isinstance(params, Mapping):
        params = list(params.items())
    named = []
    for k, item in enumerate(params):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Tensor):
            named.append((str(item[0]), item[1]))
        elif isinstance(item, Tensor):
            named.append((f"parameter {k}", item))
        else:
            raise TypeError(f"{owner}: expected Tensors or (name, Tensor) pairs, got "
                            f"{type(item).__name__} at position {k}")
    return named


def _real(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    return float(value)


def _norm(grad: np.ndarray, norm_type: float) -> float:
    """The p-norm of all elements of `grad`, without copying it (see `_sum_of_squares`)."""
    if norm_type == 2.0:
        return math.sqrt(_sum_of_squares(grad))
    flat = grad.reshape(-1)                                # a view of a contiguous gradient
    if flat.size == 0:
        return 0.0
    if math.isinf(norm_type):
        return float(max(flat.max(), -flat.min()))
    return float(np.linalg.norm(flat.astype(np.float64, copy=False), ord=norm_type))


def _sum_of_squares(grad: np.ndarray) -> float:
    """Σ g², one BLAS dot product in the gradient's dtype: float64 gradients sum in float64,
    float32 ones in float32 (relative error about 1e-7, as torch's float32 norms), no copy."""
    flat = grad.reshape(-1)
    return float(np.dot(flat, flat))


def clip_grad_norm_(params: Params, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients by min(1, max_norm / (total + 1e-6)); return the total norm before."""
    max_norm = _real("clip_grad_norm_", "max_norm", max_norm)
    norm_type = _real("clip_grad_norm_", "norm_type", norm_type)
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative, got {max_norm}")
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or inf, got {norm_type}")
    named = [(name, p) for name, p in _named("clip_grad_norm_", params) if p.grad is not None]
    if not named:
        return 0.0
    if norm_type == 2.0:                                   # the usual case: one dot per grad
        total = math.sqrt(sum(_sum_of_squares(p.grad) for _, p in named))   # inf on overflow
    else:
        norms = np.array([_norm(p.grad, norm_type) for _, p in named])
        total = float(norms.max() if math.isinf(norm_type)
                      else np.linalg.norm(norms, ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        bad = [name for name, p in named if not np.all(np.isfinite(p.grad))]
        where = f"non-finite gradients in: {', '.join(bad)}" if bad else "the norm overflowed"
        raise RuntimeError(f"clip_grad_norm_: the total {norm_type}-norm of the gradients is "
                           f"{total}; {where}")
    scale = min(max_norm / (total + 1e-6), 1.0)  # a non-finite total makes the grads nan, as torch
    if scale != 1.0:
        with np.errstate(invalid="ignore"):  # inf · 0 = nan is the intended result there
            for _, p in named:
                p.grad *= scale                            # in place: no copy of any gradient
    return total


def clip_grad_value_(params: Params, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = _real("clip_grad_value_", "clip_value", clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for _, p in _named("clip_grad_value_", params):
        if p.grad is not None:
            np.clip(p.grad, -clip_value, clip_value, out=p.grad)


def grad_norms(named_params: Iterable[tuple[str, Tensor]] | Mapping[str, Tensor]
               ) -> dict[str, float]:
    """The L2 norm of each parameter's gradient, by name (for dashboards); no grad, no entry."""
    return {name: _norm(p.grad, 2.0) for name, p in _named("grad_norms", named_params)
            if p.grad is not None}
