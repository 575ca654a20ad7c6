"""The training workloads (min-char-rnn, LSTM, GRU scaling): every contender on the same weights
and data, timed interleaved; each workload is one section of the report.

    python -m benchmarks --only min-char-rnn --only lstm
"""

from __future__ import annotations

import numpy as np
from rich.console import Console

from benchmarks.contenders import CONTENDERS
from benchmarks.numpy_bptt import init_params
from benchmarks.report import Goal, Result, Section
from benchmarks.step import Step, Unavailable
from benchmarks.timing import interleaved
from benchmarks.workloads import Workload, make_data, suite

__all__ = ["SECTIONS", "describe", "time_group", "block_budget"]


def block_budget(quick: bool) -> tuple[float, float]:
    """(seconds per block, seconds for all blocks of one workload)."""
    return (0.05, 2.0) if quick else (0.3, 40.0)


def describe(workload: Workload) -> str:
    """The workload's sizes, dtype, optimizer and clipping, in a user's words."""
    clip = "" if not workload.train else (f", {workload.optimizer.capitalize()}, clip "
                                          f"{workload.clip} {workload.clip_at:g}")
    return (f"hidden {workload.hidden}, T {workload.steps}, batch {workload.batch}, "
            f"{workload.dtype}{clip}, a training step")


def _per_time_step(workload: Workload) -> bool:
    return workload.name.startswith("scaling")


def time_group(group: list[Workload], blocks: int, quick: bool) -> list[Result]:
    """Build every contender of every workload in the group on the same weights and data, then
    time them all interleaved: one workload's contenders, or the scaling rows together (so
    the per-step cost at T = 3200 and at T = 50 is measured under the same machine load)."""
    block_seconds, budget_seconds = block_budget(quick)
    steps: dict[tuple[str, str], Step] = {}
    results: dict[tuple[str, str], Result] = {}
    for workload in group:
        params = init_params(workload.cell, workload.vocab, workload.hidden, workload.dtype,
                             np.random.default_rng(0))
        inputs, targets = make_data(workload)
        unit = "s/time step" if _per_time_step(workload) else "s/step"
        for contender in CONTENDERS:
            key = (workload.name, contender.key)
            results[key] = Result(workload.name, contender.key, contender.label(workload.cell),
                                  "ok", unit)
            try:
                steps[key] = contender.build(workload, params, inputs, targets)
            except Unavailable as reason:
                results[key].status = f"skipped: {reason}"
    scale = {w.name: 1.0 / w.steps if _per_time_step(w) else 1.0 for w in group}
    timed = interleaved(steps, blocks, block_seconds, budget_seconds * len(group))
    for key, timing in timed.items():
        result, factor = results[key], scale[key[0]]
        result.blocks = [seconds * factor for seconds in timing.blocks]
        result.value, result.loss = timing.median * factor, timing.first_loss
    return list(results.values())


def _workloads(quick: bool, prefix: str) -> list[Workload]:
    return [w for w in suite(quick) if w.name.startswith(prefix)]


def _measure(prefix: str):
    def measure(quick: bool, blocks: int, console: Console) -> list[Result]:
        return time_group(_workloads(quick, prefix), blocks, quick)
    return measure


def _min_char_rnn_goals(quick: bool) -> list[Goal]:
    (w,) = _workloads(quick, "min-char-rnn")
    return [Goal("min-char-rnn", describe(w), (w.name, "ours-layer"), (w.name, "numpy"), 1.0),
            Goal("min-char-rnn", describe(w), (w.name, "ours-layer"), (w.name, "torch-fused"),
                 1.0)]


def _lstm_goals(quick: bool) -> list[Goal]:
    (w,) = _workloads(quick, "lstm")
    return [Goal("LSTM", describe(w), (w.name, "ours-layer"), (w.name, "numpy"), 0.85),
            Goal("LSTM", describe(w), (w.name, "ours-layer"), (w.name, "torch-fused"), 1.0),
            Goal("LSTM", describe(w), (w.name, "ours-cell"), (w.name, "torch-prims"), 1.0)]


def _scaling_goals(quick: bool) -> list[Goal]:
    first, *_, last = _workloads(quick, "scaling")
    detail = (f"cost per time step at T {last.steps} over T {first.steps} (hidden "
              f"{first.hidden}, batch {first.batch}, forward and backward)")
    return [Goal("GRU scaling", detail, (last.name, "ours-layer"), (first.name, "ours-layer"),
                 1.2)]


SECTIONS = (
    Section("min-char-rnn", _measure("min-char-rnn"), _min_char_rnn_goals),
    Section("lstm", _measure("lstm"), _lstm_goals),
    Section("scaling", _measure("scaling"), _scaling_goals),
)
