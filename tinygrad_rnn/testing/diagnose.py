"""Name the bug: what kind of wrong a gradient is, found by comparing it with the true one.

    diagnose(got, expected)              transposed, ×2, ×½, sign, wrong shape, NaN/Inf, zeros
    diagnose(got, expected, others={"b": true_grad_b})           ... or the gradient of b
    diagnose(got, expected, parts=broadcast_parts(g, shape))     ... or one slice, not the sum
    diagnose(got, expected, steps=per_step, time_axis=2)         ... or one time step only,
                                                                     or off by one step
Each test asks whether `got` *is* a known transformation of the truth (on every element, within
gradcheck's tolerances), never whether it merely resembles one: a bug of one kind is not named as
another. `None` means no known pattern fits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import product

import numpy as np

__all__ = ["Diagnosis", "KINDS", "diagnose", "broadcast_parts"]

KINDS = {
    "nonfinite": "NaN or Inf",
    "zero": "no gradient at all",
    "shape": "wrong shape",
    "transposed": "transposed",
    "swapped": "the gradient of another input",
    "sign": "the wrong sign",
    "scaled": "off by a constant factor",
    "broadcast": "missing the sum over broadcast dimensions",
    "accumulation": "only one time step's contribution",
    "time_shift": "off by one time step",
}


@dataclass(frozen=True)
class Diagnosis:
    """What kind of wrong (one of KINDS, or an exercise's own name) and one sentence on it."""

    kind: str
    text: str

    def __str__(self) -> str:
        return self.text


def _close(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> bool:
    if got.shape != want.shape:
        return False
    return bool(np.all(np.abs(got - want) <= atol + rtol * np.abs(want)))


def _factor(c: float) -> str:
    """×2, ×1/2, ×-3, ×0.37: a nearby simple fraction when there is one."""
    simple = Fraction(c).limit_denominator(8)
    if abs(float(simple) - c) <= 1e-3 * abs(c) and abs(simple.numerator) <= 16:
        return f"×{simple}"
    return f"×{c:.3g}"


def broadcast_parts(unreduced: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The slices whose sum is the gradient of an input of `shape` that was broadcast to
    `unreduced.shape`: an array (K, *shape) with Σ_k parts[k] = unbroadcast(unreduced, shape)."""
    lead = unreduced.ndim - len(shape)
    axes = [*range(lead), *(lead + i for i, n in enumerate(shape)
                            if n == 1 and unreduced.shape[lead + i] != 1)]
    ranges = [range(unreduced.shape[a]) for a in axes]
    parts = []
    for position in product(*ranges):
        index = [slice(None)] * unreduced.ndim
        for a, p in zip(axes, position, strict=True):
            index[a] = slice(p, p + 1)
        parts.append(unreduced[tuple(index)].reshape(shape))     # the stretched axes are 1 here
    return np.stack(parts)


def _reducible(got: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether an input of `shape` broadcasts to got.shape (and got is larger)."""
    try:
        return got.shape != shape and np.broadcast_shapes(got.shape, shape) == got.shape
    except ValueError:
        return False


def _sum_to(got: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lead = got.ndim - len(shape)
    axes = (*range(lead), *(lead + i for i, n in enumerate(shape) if n == 1))
    return got.sum(axis=axes, keepdims=True).reshape(shape)


def _shape_mismatch(got: np.ndarray, want: np.ndarray, others: Mapping[str, np.ndarray],
                    atol: float, rtol: float, what: str) -> Diagnosis:
    for name, other in others.items():
        if _close(got, other, atol, rtol):
            return Diagnosis("swapped", f"it is the true {what} of {name} (shape {got.shape}), "
                                        f"not of this one (shape {want.shape})")
    if want.ndim >= 2 and _close(got, np.swapaxes(want, -1, -2), atol, rtol):
        return Diagnosis("transposed", f"it is transposed: shape {got.shape} holds the right "
                                       f"values for shape {want.shape} with the last two axes "
                                       f"swapped")
    if _reducible(got, want.shape) and _close(_sum_to(got, want.shape), want, atol, rtol):
        return Diagnosis("broadcast", f"shape {got.shape}, expected {want.shape}: it is the "
                                      f"{what} before the sum over the broadcast dimensions "
                                      f"(sum it down to {want.shape})")
    if got.size == want.size and _close(got.reshape(want.shape), want, atol, rtol):
        return Diagnosis("shape", f"the right values in the wrong shape: {got.shape}, expected "
                                  f"{want.shape} (reshape, or keepdims=True)")
    return Diagnosis("shape", f"shape {got.shape}, expected {want.shape}")


def _shifted(got: np.ndarray, want: np.ndarray, axis: int, atol: float, rtol: float) -> str | None:
    """'early' if got[t] = want[t + 1] along axis (all but the last t), 'late' if got[t] =
    want[t - 1]; only when want itself does not repeat along the axis."""
    size = want.shape[axis]
    if size < 2:
        return None
    head = [slice(None)] * want.ndim
    tail = [slice(None)] * want.ndim
    head[axis], tail[axis] = slice(0, size - 1), slice(1, size)
    head, tail = tuple(head), tuple(tail)
    if _close(want[head], want[tail], atol, rtol):       # constant along the axis: no evidence
        return None
    if _close(got[head], want[tail], atol, rtol):
        return "early"
    if _close(got[tail], want[head], atol, rtol):
        return "late"
    return None


def _nonfinite(got: np.ndarray, want: np.ndarray, what: str) -> Diagnosis | None:
    bad = ~np.isfinite(got)
    if not bad.any():
        return None
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    what = "NaN" if np.isnan(got[index]) else "Inf"
    also = "" if np.all(np.isfinite(want)) else f" (the true {what} is not finite either)"
    return Diagnosis("nonfinite", f"{int(bad.sum())} of {got.size} elements are NaN or Inf "
                                  f"(the first, {what}, at {index}){also}: an overflow or a "
                                  f"division by zero?")


def diagnose(got: np.ndarray, expected: np.ndarray, *,
             others: Mapping[str, np.ndarray] | None = None, parts: np.ndarray | None = None,
             steps: np.ndarray | None = None, time_axes: Sequence[int] = (),
             atol: float = 1e-5, rtol: float = 1e-3, what: str = "gradient"
             ) -> Diagnosis | None:
    """What kind of wrong `got` is, given the true gradient `expected`; None if no pattern fits.

    others     the true gradients of the other inputs, by name (to recognise a swap)
    parts      (K, *expected.shape): the slices the truth sums over broadcast dimensions
    steps      (T, *expected.shape): each time step's contribution to the truth (their sum)
    time_axes  axes of `expected` that run over time (checked for a shift by one step)
    what       what the arrays are, for the text ("gradient"; "value" for a forward's output)
    """
    got, want = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    others = {name: np.asarray(o, dtype=np.float64) for name, o in (others or {}).items()
              if not _close(np.asarray(o, dtype=np.float64), want, atol, rtol)}
    found = _nonfinite(got, want, what)
    if found is not None:
        return found
    if got.shape != want.shape:
        return _shape_mismatch(got, want, others, atol, rtol, what)
    tiny = atol + rtol * float(np.abs(want).max(initial=0.0))
    if _close(got, want, atol, rtol):
        return None
    if np.all(np.abs(got) <= 1e-12) and not np.all(np.abs(want) <= tiny):
        reason = ": no gradient reached this input" if what == "gradient" else ""
        return Diagnosis("zero", f"it is all zeros{reason}")
    if want.ndim >= 2 and want.shape[-1] == want.shape[-2]:
        flipped = np.swapaxes(want, -1, -2)
        if not _close(flipped, want, atol, rtol) and _close(got, flipped, atol, rtol):
            return Diagnosis("transposed", f"it is transposed: yours is the true {what}'s .T")
    for name, other in others.items():
        if _close(got, other, atol, rtol):
            return Diagnosis("swapped", f"it is the true {what} of {name}, not of this one")
    norm = float(np.sum(want * want))
    if norm > 0:
        c = float(np.sum(got * want)) / norm
        if abs(c - 1.0) > 1e-3 and abs(c) > 1e-6 and _close(got, c * want, atol, rtol):
            if abs(c + 1.0) <= 1e-3:
                return Diagnosis("sign", f"it has the wrong sign: it is exactly minus the true "
                                         f"{what}")
            return Diagnosis("scaled", f"it is right up to a constant factor: {_factor(c)} the "
                                       f"true {what}")
    if parts is not None and len(parts) > 1:
        for k, part in enumerate(parts):
            if _close(got, part, atol, rtol):
                return Diagnosis("broadcast", f"it is one slice (number {k + 1} of {len(parts)})"
                                              f" of the broadcast {what}, not their sum: sum "
                                              f"over the broadcast dimensions")
    if steps is not None and len(steps) > 1:
        total, count = steps.sum(axis=0), len(steps)
        for k, label in ((count - 1, "last"), (0, "first")):
            if _close(got, steps[k], atol, rtol):
                return Diagnosis("accumulation", f"it is only the {label} time step's "
                                                 f"contribution: accumulate (+=) over all "
                                                 f"{count} steps")
        for k, label in ((0, "first"), (count - 1, "last")):
            if _close(got, total - steps[k], atol, rtol):
                return Diagnosis("time_shift", f"it misses the {label} time step's "
                                               f"contribution: a loop bound off by one")
    for axis in time_axes:
        way = _shifted(got, want, axis, atol, rtol)
        if way is not None:
            moved = "one step early (t holds t + 1)" if way == "early" else \
                "one step late (t holds t − 1)"
            return Diagnosis("time_shift", f"it is off by one time step along axis {axis}: "
                                           f"each step's {what} sits {moved}")
    return None
