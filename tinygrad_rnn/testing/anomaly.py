"""detect_anomaly(): stop at the first op whose output or gradient is NaN or ±Inf, and say where.

    with detect_anomaly():
        loss = model.loss(*model(x), y)          # raises AnomalyError at the first non-finite op
        loss.backward()                          # ... or at the first non-finite gradient

While the context is active every op checks its forward output, every backward checks the
gradients it returns, and each op remembers its creation site (the first stack frame outside the
engine; inside tinygrad_rnn also the user's line that led there). That costs a stack walk and an
`isfinite` per op, so it is for debugging. When off, the engine pays one `is not None` per op.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Function, SliceGrad, _Anomaly

__all__ = ["AnomalyError", "detect_anomaly", "is_anomaly_enabled"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ENGINE = {os.path.join(_PACKAGE, *name) for name in (("engine", "tensor.py"),
                                                     ("engine", "functions.py"),
                                                     ("testing", "anomaly.py"))}


class AnomalyError(FloatingPointError):
    """An op produced NaN or Inf; the message names the op, the pass and its creation site."""


def _shown(path: str) -> str:
    """A path relative to the working directory when it lies below it, else as it is."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _where(frame: FrameType) -> str:
    return f"{_shown(frame.f_code.co_filename)}:{frame.f_lineno} in {frame.f_code.co_name}"


def _creation_site(frame: FrameType | None) -> str:
    """The first frame outside the engine, and, if that is inside the package, the first one
    outside it too (the line of the user's code that led there)."""
    while frame is not None and os.path.abspath(frame.f_code.co_filename) in _ENGINE:
        frame = frame.f_back
    if frame is None:
        return "an unknown place"
    site = _where(frame)
    if not os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep):
        return site
    user = frame.f_back
    while user is not None and os.path.abspath(user.f_code.co_filename).startswith(
            _PACKAGE + os.sep):
        user = user.f_back
    return site if user is None else f"{site}, called from {_where(user)}"


def _bad(array: Any) -> str | None:
    """'nan', 'inf' or 'nan and inf' if the array holds such values, else None."""
    array = np.asarray(array)
    if array.dtype.kind not in "fc" or np.isfinite(array).all():
        return None
    kinds = [name for name, test in (("nan", np.isnan), ("inf", np.isinf)) if test(array).any()]
    return " and ".join(kinds)


class _Checker:
    """What the engine calls while detect_anomaly() is active (see tensor._Anomaly)."""

    def forward(self, cls: type[Function], ctx: Function, inputs: Sequence[Any],
                data: np.ndarray) -> None:
        site = _creation_site(sys._getframe(1))
        with contextlib.suppress(AttributeError):      # a user's Function may declare __slots__
            ctx.anomaly_site = site
        found = _bad(data)
        if found is None:
            return
        already = [i for i, t in enumerate(inputs) if _bad(t.data) is not None]
        leaf = already and inputs[already[0]].is_leaf
        cause = ("its inputs were finite" if not already else
                 f"input {already[0]}{' (a leaf: data or a parameter)' if leaf else ''} "
                 f"already held {_bad(inputs[already[0]].data)}")
        shapes = ", ".join(str(t.shape) for t in inputs)
        raise AnomalyError(f"detect_anomaly: {cls.op_name()} produced {found} in its forward "
                           f"output (inputs {shapes}; {cause}); created at {site}")

    def backward(self, ctx: Function, grads: Any) -> None:
        if not isinstance(grads, (tuple, list)):
            return                                 # the engine reports a malformed backward
        for i, grad in enumerate(grads):
            values = grad.values if isinstance(grad, SliceGrad) else grad
            found = None if values is None else _bad(values)
            if found is not None:
                site = getattr(ctx, "anomaly_site", "outside detect_anomaly(): site unknown")
                shape = ctx.parents[i].shape if i < len(ctx.parents) else "?"
                raise AnomalyError(f"detect_anomaly: {type(ctx).op_name()} backward returned "
                                   f"{found} in the gradient of input {i} (shape {shape}); "
                                   f"created at {site}")


def is_anomaly_enabled() -> bool:
    """True inside `detect_anomaly()`."""
    return _Anomaly.checker is not None


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise AnomalyError at the first op whose forward output or backward gradient is not
    finite, naming the op and where it was created (nests; restores the previous mode)."""
    previous, _Anomaly.checker = _Anomaly.checker, _Checker()
    try:
        yield
    finally:
        _Anomaly.checker = previous
