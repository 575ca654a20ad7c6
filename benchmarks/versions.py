"""What version counters cost: our training step with them, and with the engine's version work
taken out, timed interleaved in one process (a ratio, so machine load cancels).

"Without" runs `Function.apply` and the backward walk rebuilt from their own source minus the
version lines (the stamp on each node, the link of a view made without a graph, the check in
backward) and an optimizer step that stamps nothing; if those lines are not found, the row says
so instead of timing. What stays in both: the `.data` property (a slot before) and the wider
Tensor slots. Two rows: the cell loop (eager: one node per op, the most version work per
second) and the layer (scan: one node per sequence).

    python -m benchmarks --only versions
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from rich.console import Console

from benchmarks import ours
from benchmarks.numpy_bptt import init_params
from benchmarks.report import Goal, Result, Section
from benchmarks.step import Step
from benchmarks.timing import interleaved
from benchmarks.training import block_budget
from benchmarks.workloads import Workload, make_data
from tinygrad_rnn.engine import scan as scan_module
from tinygrad_rnn.engine import tensor as tensor_module
from tinygrad_rnn.optim import optimizer as optimizer_module

__all__ = ["WORKLOAD", "SECTION"]

# min-char-rnn's sizes: tiny ops, so the per-node bookkeeping is the largest share of the time
WORKLOAD = Workload("versions", "rnn", hidden=100, steps=25, batch=1, dtype="float64",
                    optimizer="adagrad", clip="value")

# the version lines of apply and _walk, each replaced by what it was before version counters
_APPLY_EDITS = {
    "ctx.needs_input_grad, ctx.shape, ctx.version = needs, data.shape, _Versions.now":
        "ctx.needs_input_grad, ctx.shape = needs, data.shape",
    "if cls.view and inputs[0]._ctx is None:": "if False:",
}
_WALK_EDITS = {"if ctx.version != now:": "if False:"}


def _rebuilt(function: Callable, edits: dict[str, str]) -> Callable:
    """`function` compiled again from its source with `edits`; KeyError if one is not found."""
    source = textwrap.dedent(inspect.getsource(function))
    for old, new in edits.items():
        if old not in source:
            raise KeyError(old)
        source = source.replace(old, new)
    namespace: dict[str, Any] = {}
    exec(compile(source, inspect.getsourcefile(function) or "?", "exec"),  # noqa: S102
         vars(tensor_module), namespace)
    return namespace[function.__name__]


@contextmanager
def _without_versions(apply: Any, walk: Callable) -> Iterator[None]:
    """The engine with its version work taken out, while inside."""
    function = tensor_module.Function
    saved = (function.__dict__["apply"], scan_module._APPLY, tensor_module._walk,
             optimizer_module.increment_version)
    function.apply, scan_module._APPLY, tensor_module._walk = apply, apply, walk
    optimizer_module.increment_version = lambda tensor, by: None
    try:
        yield
    finally:
        (function.apply, scan_module._APPLY, tensor_module._walk,
         optimizer_module.increment_version) = saved


def _off(step: Step, apply: Any, walk: Callable) -> Step:
    def timed() -> float:
        with _without_versions(apply, walk):
            return step()
    return timed


def _measure(quick: bool, blocks: int, console: Console) -> list[Result]:
    """Seconds per step with and without the version work, for the cell loop and the layer."""
    names = [name for name, _ in BUILDS]
    try:
        apply = _rebuilt(tensor_module.Function.apply.__func__, _APPLY_EDITS)
        walk = _rebuilt(tensor_module._walk, _WALK_EDITS)
    except KeyError as missing:
        status = f"skipped: the engine no longer has {missing}"
        return [Result(name, key, f"ours {key} version counters", status)
                for name in names for key in ("with", "without")]
    params = init_params(WORKLOAD.cell, WORKLOAD.vocab, WORKLOAD.hidden, WORKLOAD.dtype,
                         np.random.default_rng(0))
    inputs, targets = make_data(WORKLOAD)
    steps: dict[tuple[str, str], Step] = {}
    for name, build in BUILDS:
        steps[(name, "with")] = build(WORKLOAD, params, inputs, targets)
        steps[(name, "without")] = _off(build(WORKLOAD, params, inputs, targets), apply, walk)
    block_seconds, budget_seconds = block_budget(quick)
    timed = interleaved(steps, blocks, block_seconds, budget_seconds)
    return [Result(name, key, f"ours {key} version counters", "ok", "s/step", timing.median,
                   timing.blocks, timing.first_loss) for (name, key), timing in timed.items()]


def _goals(quick: bool) -> list[Goal]:
    detail = ("what version counters cost: a min-char-rnn training step (the cell loop, eager, "
              "and the layer, scan) with them / without them (apply and backward rebuilt "
              "without the version lines)")
    return [Goal("versions", detail, (name, "with"), (name, "without"), 1.02)
            for name, _ in BUILDS]


BUILDS = (("versions: cell loop", ours.cell_step), ("versions: layer", ours.layer_step))
SECTION = Section("versions", _measure, _goals)
