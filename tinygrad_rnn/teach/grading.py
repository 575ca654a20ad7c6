"""Grading a learner's answer: one comparison that either passes or says, in one line, what kind
of wrong the answer is (the diagnosis of testing/diagnose.py, or an exercise's own named mistake).
Shared by the exercises (`tinygrad-rnn learn`) and the course bridge's check_backward."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_rnn.testing.diagnose import Diagnosis, diagnose

__all__ = ["Wrong", "ATOL", "RTOL", "compare", "as_array", "copied"]

ATOL, RTOL = 1e-6, 1e-4   # both sides are float64 and exact formulas: only rounding differs


class Wrong(Exception):
    """The answer is wrong; str() is one line saying how, `diagnosis.kind` what kind."""

    def __init__(self, message: str, diagnosis: Diagnosis | None = None) -> None:
        super().__init__(message)
        self.diagnosis = diagnosis

    @property
    def kind(self) -> str | None:
        return self.diagnosis.kind if self.diagnosis is not None else None


def as_array(name: str, value: Any) -> np.ndarray:
    """The learner's value as a float64 array, or Wrong saying what it is instead."""
    if value is None:
        raise Wrong(f"{name} is None: return an array (did a function end without `return`?)")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(f"{name} is a {type(value).__name__}, not an array of numbers") from None
    return array


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    return got.shape == want.shape and bool(np.all(np.abs(got - want) <= ATOL + RTOL *
                                                   np.abs(want)))


def _worst(got: np.ndarray, want: np.ndarray) -> str:
    error = np.abs(got - want)
    error = np.where(np.isnan(error), np.inf, error)
    index = np.unravel_index(int(np.argmax(error)), want.shape)
    wrong = int(np.sum(error > ATOL + RTOL * np.abs(want)))
    return (f"{wrong} of {want.size} elements wrong; the worst at {tuple(map(int, index))}: "
            f"yours {got[index]:.6g}, the true value {want[index]:.6g}")


def compare(name: str, got: Any, expected: np.ndarray, *,
            others: Mapping[str, np.ndarray] | None = None, parts: np.ndarray | None = None,
            steps: np.ndarray | None = None, time_axes: Sequence[int] = (),
            mistakes: Mapping[str, tuple[np.ndarray, str]] | None = None,
            what: str = "gradient") -> None:
    """Pass if `got` equals `expected` (float64 rounding aside); else raise Wrong naming the kind:
    an exercise's known `mistakes` first (kind → (what that mistake computes, text)), as they
    are the most precise, then the diagnosis of testing/diagnose.py. `what` names the arrays
    in its text: "gradient", or "value" for a forward's output."""
    got = as_array(name, got)
    want = np.asarray(expected, dtype=np.float64)
    if _close(got, want):
        return
    found = next((Diagnosis(kind, text) for kind, (result, text) in (mistakes or {}).items()
                  if _close(got, np.asarray(result, dtype=np.float64))), None)
    if found is None:
        found = diagnose(got, want, others=others, parts=parts, steps=steps,
                         time_axes=time_axes, atol=ATOL, rtol=RTOL, what=what)
    if found is None:
        raise Wrong(f"{name} is wrong: {_worst(got, want)}")
    raise Wrong(f"{name}: {found.text}", found)


def copied(value: Any) -> Any:
    """A deep copy of the arrays in a value, so a learner cannot change the grader's truth."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: copied(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(copied(v) for v in value)
    return value
