"""Numerical gradient checking: compare backward() with central differences on every element.

The check differentiates L = Σ fn(inputs) ⊙ R for a fixed random R: a random upstream weighting
catches transposed or misplaced gradients that a plain `.sum()` (R = 1 everywhere) would hide.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor, no_grad
from tinygrad_rnn.testing.diagnose import Diagnosis, broadcast_parts, diagnose

__all__ = ["GradcheckError", "numerical_grad", "analytic_grad", "gradcheck"]

Fn = Callable[..., Tensor]


class GradcheckError(AssertionError):
    """backward() disagrees with central differences; the message names input, index and values."""


def _check_inputs(inputs: Sequence[Tensor]) -> None:
    if not any(isinstance(t, Tensor) and t.requires_grad for t in inputs):
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for k, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradcheck: input {k} is a {type(t).__name__}, not a Tensor")
        if t.requires_grad and t.dtype != np.float64:
            raise TypeError(f"gradcheck: input {k} is {t.dtype}; central differences need "
                            f"float64 (use .double())")
        if t.requires_grad and not t.is_leaf:
            raise TypeError(f"gradcheck: input {k} is not a leaf; pass tensors created with "
                            f"requires_grad=True (or .detach().requires_grad_())")


def _weighted_loss(fn: Fn, inputs: Sequence[Tensor], upstream: np.ndarray) -> Tensor:
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if out.shape != upstream.shape:
        raise ValueError(f"gradcheck: fn returned shape {out.shape}, expected {upstream.shape}")
    return (out * upstream).sum()


def numerical_grad(fn: Fn, inputs: Sequence[Tensor], upstream: np.ndarray,
                   eps: float = 1e-6) -> list[np.ndarray | None]:
    """d(Σ fn(inputs) ⊙ upstream)/d input by central differences, for each input that requires
    grad (None for the others). Each element is nudged in place and restored."""
    grads: list[np.ndarray | None] = []
    with no_grad():
        for t in inputs:
            if not t.requires_grad:
                grads.append(None)
                continue
            g = np.zeros_like(t.data)
            for index in np.ndindex(t.shape):
                original = t.data[index]
                t.data[index] = original + eps
                plus = _weighted_loss(fn, inputs, upstream).item()
                t.data[index] = original - eps
                minus = _weighted_loss(fn, inputs, upstream).item()
                t.data[index] = original
                g[index] = (plus - minus) / (2 * eps)
            grads.append(g)
    return grads


def analytic_grad(fn: Fn, inputs: Sequence[Tensor], upstream: np.ndarray
                  ) -> list[np.ndarray | None]:
    """The same derivative by backward(); the inputs' own .grad is left as it was."""
    saved = [t.grad for t in inputs]
    for t in inputs:
        t.grad = None
    try:
        loss = _weighted_loss(fn, inputs, upstream)
        if loss.requires_grad:
            loss.backward()
        return [None if not t.requires_grad else
                (t.grad if t.grad is not None else np.zeros_like(t.data)) for t in inputs]
    finally:
        for t, g in zip(inputs, saved, strict=True):
            t.grad = g


def _unreduced_parts(fn: Fn, inputs: Sequence[Tensor], k: int, upstream: np.ndarray,
                     eps: float) -> np.ndarray | None:
    """When input k is broadcast up to the output's shape: the true gradient's slices, found by
    feeding fn the input already expanded to that shape (None when fn does not allow that)."""
    t = inputs[k]
    try:
        if np.broadcast_shapes(t.shape, upstream.shape) != upstream.shape or \
                t.shape == upstream.shape:
            return None
        expanded = Tensor(np.broadcast_to(t.data, upstream.shape).copy(), requires_grad=True)

        def with_expanded(e: Tensor) -> Tensor:
            return fn(*inputs[:k], e, *inputs[k + 1:])

        with no_grad():
            same = np.allclose(with_expanded(expanded).data, fn(*inputs).data)
        if not same:
            return None
        [unreduced] = numerical_grad(with_expanded, [expanded], upstream, eps)
    except Exception:  # noqa: BLE001 - fn may refuse a bigger input; then there is no hint
        return None
    return broadcast_parts(unreduced, t.shape)


def _diagnosis(fn: Fn, inputs: Sequence[Tensor], k: int, analytic: np.ndarray,
               numerical: Sequence[np.ndarray | None], upstream: np.ndarray, eps: float,
               atol: float, rtol: float) -> Diagnosis | None:
    """What kind of wrong input k's gradient is (see testing/diagnose.py)."""
    others = {f"input {j}": n for j, n in enumerate(numerical) if j != k and n is not None}
    return diagnose(analytic, numerical[k], others=others,
                    parts=_unreduced_parts(fn, inputs, k, upstream, eps),
                    time_axes=[axis for axis, n in enumerate(analytic.shape) if n >= 3],
                    atol=atol, rtol=rtol)


def gradcheck(fn: Fn, inputs: Sequence[Tensor], *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, seed: int = 0) -> bool:
    """Check backward() of `fn` against central differences on every element of every input
    that requires grad (float64). Passes when |analytic - numerical| ≤ atol + rtol·|numerical|
    everywhere. On failure raise GradcheckError naming the worst element (or return False)."""
    inputs = list(inputs)
    _check_inputs(inputs)
    with no_grad():
        out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    out_shape = out.shape
    upstream = np.random.default_rng(seed).standard_normal(out_shape)
    analytic = analytic_grad(fn, inputs, upstream)
    numerical = numerical_grad(fn, inputs, upstream, eps)
    for k, (a, n) in enumerate(zip(analytic, numerical, strict=True)):
        if a is None or n is None or a.size == 0:
            continue
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        excess = np.where(np.isnan(excess), np.inf, excess)
        if np.all(excess <= 0):
            continue
        index = np.unravel_index(int(np.argmax(excess)), a.shape)
        message = (f"gradcheck: input {k} (shape {a.shape}) at index {tuple(map(int, index))}: "
                   f"analytic {a[index]:.8g} vs numerical {n[index]:.8g} "
                   f"(|diff| {abs(a[index] - n[index]):.3g} > atol {atol:g} + rtol {rtol:g}"
                   f"·|numerical|); {int(np.sum(excess > 0))} of {a.size} elements fail")
        found = _diagnosis(fn, inputs, k, a, numerical, upstream, eps, atol, rtol)
        if found is not None:
            message += f"; diagnosis: {found.text}"
        if raise_exception:
            raise GradcheckError(message)
        return False
    return True
