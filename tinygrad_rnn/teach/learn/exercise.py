"""What an exercise is, and how one is graded: fixed cases first, then hypothesis-drawn ones.

An exercise names the functions the learner writes, the stub they start from, its hints, and
three things for the grader: `fixed()` (hand-picked cases: square shapes, so a swap or a
transpose shows as one; large values, so an overflow shows), `cases()` (a hypothesis strategy of
cases) and `check(module, case)`, which raises Wrong (grading.py) with the diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from tinygrad_rnn.teach.grading import Wrong

__all__ = ["Exercise", "Graded", "function", "describe", "grade", "EXAMPLES"]

EXAMPLES = 12   # hypothesis-drawn cases per check, after the fixed ones: a check takes a second

Case = dict[str, Any]


@dataclass(frozen=True)
class Exercise:
    """One step of the path: the learner writes `functions` in a file started from `stub`."""

    slug: str                                  # the file's name: NN_slug.py
    title: str                                 # a short line for `learn list`
    functions: tuple[str, ...]                 # what the learner defines
    stub: str                                  # the file `learn start` writes
    hints: tuple[str, ...]                     # `learn hint` shows one more each time
    fixed: Callable[[], list[Case]]
    cases: Callable[[], Any]                   # () -> a hypothesis strategy of cases
    check: Callable[[ModuleType, Case], None]  # raises Wrong


@dataclass(frozen=True)
class Graded:
    """How many fixed and hypothesis-drawn cases a passing answer got right."""

    fixed: int
    generated: int


def function(module: ModuleType, name: str) -> Callable[..., Any]:
    """The learner's function `name`, or Wrong saying it is missing."""
    fn = getattr(module, name, None)
    if not callable(fn):
        raise Wrong(f"your file has no function {name}(): keep the names from the stub")
    return fn



def describe(case: Case) -> str:
    """The case in a few words: arrays by shape, numbers by value."""
    words = []
    for name, value in case.items():
        if name.startswith("_"):
            continue
        if isinstance(value, np.ndarray):
            words.append(f"{name} {value.shape}")
        elif isinstance(value, (int, float, np.integer, np.floating)):
            words.append(f"{name}={value:g}")
        elif hasattr(value, "n_x"):      # course.Sizes
            words.append(str(value))
    return ", ".join(words)


def grade(exercise: Exercise, module: ModuleType, examples: int = EXAMPLES) -> Graded:
    """Run the fixed cases, then `examples` hypothesis-drawn ones (derandomized: every check of
    the same file sees the same cases); the first wrong case raises Wrong naming it. numpy's
    overflow warnings are silenced: a NaN they lead to is named by the diagnosis instead."""
    with np.errstate(all="ignore"):
        return _grade(exercise, module, examples)


def _grade(exercise: Exercise, module: ModuleType, examples: int) -> Graded:
    from hypothesis import HealthCheck, Phase, given, settings

    fixed = exercise.fixed()
    for k, case in enumerate(fixed, start=1):
        try:
            exercise.check(module, case)
        except Wrong as wrong:
            raise Wrong(f"fixed case {k} of {len(fixed)} ({describe(case)}): {wrong}",
                        wrong.diagnosis) from None
    ran = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(exercise.cases())
    def generated(case: Case) -> None:
        ran.append(1)
        try:
            exercise.check(module, case)
        except Wrong as wrong:
            raise Wrong(f"a generated case ({describe(case)}): {wrong}", wrong.diagnosis) from None

    generated()
    return Graded(len(fixed), len(ran))
