"""A `Step`: one training step as a no-argument function that returns the loss.

Every contender builds one; `make_step` is the loop body shared by our engine and torch, whose
optimizers and clipping functions have the same names.

    python -c "from benchmarks.step import make_step; help(make_step)"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from benchmarks.workloads import Workload

__all__ = ["Step", "Unavailable", "make_step"]

Step = Callable[[], float]


class Unavailable(Exception):
    """This contender cannot run this workload (torch missing, no hand-derived GRU, ...)."""


def make_step(workload: Workload, forward: Callable[[], Any], parameters: Iterable[Any],
              optim: ModuleType, clip: ModuleType) -> Step:
    """The usual loop body, for our engine and for torch alike: forward and loss, zero_grad,
    backward, then (for a training workload) clip and optimizer step."""
    parameters = list(parameters)
    optimizer_class = optim.Adagrad if workload.optimizer == "adagrad" else optim.Adam
    optimizer = optimizer_class(parameters, lr=workload.lr)
    clip_grad = clip.clip_grad_value_ if workload.clip == "value" else clip.clip_grad_norm_

    def step() -> float:
        loss = forward()
        optimizer.zero_grad()
        loss.backward()
        if workload.train:
            clip_grad(parameters, workload.clip_at)
            optimizer.step()
        return loss.item()

    return step
