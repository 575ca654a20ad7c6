"""An optimizer step and a gradient clip on their own: ours against the numpy update written by
hand (benchmarks/numpy_bptt.py), on the parameters of the min-char-rnn and LSTM workloads.

The gradients are fixed random arrays (the step does not depend on where they came from). The
clip rows lower max_norm by 0.01 % each call, so every call rescales (a clip that only measures
would be cheaper and not what clipping costs).

    python -m benchmarks --only updates
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rich.console import Console

from benchmarks import numpy_bptt
from benchmarks.report import Goal, Result, Section
from benchmarks.step import Step
from benchmarks.timing import interleaved
from benchmarks.training import block_budget
from benchmarks.workloads import Workload, suite
from tinygrad_rnn import Tensor, optim
from tinygrad_rnn.nn.utils import clip_grad_norm_

__all__ = ["UPDATES", "SECTION", "problem", "ours", "by_hand"]


@dataclass(frozen=True)
class Update:
    """One row: `kind` (adam, adagrad or clip) on the parameters of the workload `on`."""

    name: str
    kind: str
    on: str
    ours_label: str


UPDATES = (
    Update("Adam step", "adam", "lstm", "ours Adam"),
    Update("Adagrad step", "adagrad", "min-char-rnn", "ours Adagrad"),
    Update("clip by norm", "clip", "lstm", "ours clip by norm"),
)


def problem(workload: Workload, seed: int = 0) -> tuple[numpy_bptt.Params, numpy_bptt.Params]:
    """The workload's parameters and fixed random gradients of the same shapes and dtype."""
    params = numpy_bptt.init_params(workload.cell, workload.vocab, workload.hidden,
                                    workload.dtype, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    grads = {k: (1e-2 * rng.standard_normal(p.shape)).astype(p.dtype) for k, p in params.items()}
    return params, grads


def ours(kind: str, params: numpy_bptt.Params, grads: numpy_bptt.Params,
         lr: float) -> tuple[Step, list[np.ndarray]]:
    """Our optimizer's step (or clip_grad_norm_) on copies of the arrays; also the arrays it
    changes (the parameters, or for clip the gradients)."""
    tensors = [Tensor(p.copy(), requires_grad=True) for p in params.values()]
    for tensor, grad in zip(tensors, grads.values(), strict=True):
        tensor.grad = grad.copy()
    if kind == "clip":
        return _shrinking_clip(lambda max_norm: clip_grad_norm_(tensors, max_norm),
                               [t.grad for t in tensors]), [t.grad for t in tensors]
    optimizer = optim.Adam(tensors, lr=lr) if kind == "adam" else optim.Adagrad(tensors, lr=lr)

    def step() -> float:
        optimizer.step()
        return 0.0

    return step, [t.data for t in tensors]


def by_hand(kind: str, params: numpy_bptt.Params, grads: numpy_bptt.Params,
            lr: float) -> tuple[Step, list[np.ndarray]]:
    """The hand-written numpy update (or clip) on copies of the arrays; also the arrays it
    changes."""
    params = {k: p.copy() for k, p in params.items()}
    grads = {k: g.copy() for k, g in grads.items()}
    if kind == "clip":
        return _shrinking_clip(lambda max_norm: numpy_bptt.clip_by_norm_(grads, max_norm),
                               list(grads.values())), list(grads.values())
    optimizer = numpy_bptt.Adam(lr=lr) if kind == "adam" else numpy_bptt.Adagrad(lr=lr)

    def step() -> float:
        optimizer.step(params, grads)
        return 0.0

    return step, list(params.values())


def _shrinking_clip(clip: Callable[[float], float], grads: list[np.ndarray]) -> Step:
    """A step that clips to 99.99 % of the last norm, so every call measures and rescales."""
    max_norm = [float(np.sqrt(sum(np.vdot(g, g) for g in grads)))]

    def step() -> float:
        max_norm[0] *= 0.9999
        return clip(max_norm[0])

    return step


def _measure(quick: bool, blocks: int, console: Console) -> list[Result]:
    block_seconds, budget_seconds = block_budget(quick)
    workloads = {w.name: w for w in suite(quick)}
    steps: dict[tuple[str, str], Step] = {}
    results = []
    for update in UPDATES:
        workload = workloads[update.on]
        params, grads = problem(workload)
        steps[(update.name, "ours")] = ours(update.kind, params, grads, workload.lr)[0]
        steps[(update.name, "numpy")] = by_hand(update.kind, params, grads, workload.lr)[0]
    timed = interleaved(steps, blocks, block_seconds / 3, budget_seconds / 2)
    labels = {u.name: u.ours_label for u in UPDATES}
    for (name, contender), timing in timed.items():
        label = labels[name] if contender == "ours" else "numpy by hand"
        results.append(Result(name, contender, label, "ok", "s/step", timing.median,
                              timing.blocks))
    return results


def _goals(quick: bool) -> list[Goal]:
    detail = ("an optimizer step or a clip alone, on the parameters of the rows above: Adam "
              "and clip on the LSTM's (float32), Adagrad on min-char-rnn's (float64)")
    return [Goal("one update", detail, (u.name, "ours"), (u.name, "numpy"), 1.5)
            for u in UPDATES]


SECTION = Section("updates", _measure, _goals)
