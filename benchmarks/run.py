"""Run every workload with every contender and print the report (what `make bench` does).

    python -m benchmarks                   # full run: rich tables (a few minutes)
    python -m benchmarks --quick           # shorter sequences and blocks (seconds)
    python -m benchmarks --quick --json    # the same report as JSON on stdout
    python -m benchmarks --only lstm --only memory --blocks 9
    /tmp/tv_bench/bin/python -m benchmarks # from a venv with torch: adds the torch contenders
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

import numpy as np
from rich.console import Console

from benchmarks import memory, pytorch, report
from benchmarks.contenders import CONTENDERS
from benchmarks.numpy_bptt import init_params
from benchmarks.report import Result
from benchmarks.step import Step, Unavailable
from benchmarks.timing import interleaved
from benchmarks.workloads import Workload, make_data, memory_workload, suite

__all__ = ["main", "run"]


def _time_group(group: list[Workload], blocks: int, block_seconds: float,
                budget_seconds: float) -> list[Result]:
    """Build every contender of every workload in the group on the same weights and data, then
    time them all interleaved: one workload's contenders, or the scaling rows together (so
    the per-step cost at T = 3200 and at T = 50 is measured under the same machine load)."""
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


def _per_time_step(workload: Workload) -> bool:
    return workload.name.startswith("scaling")


def run(quick: bool, blocks: int, only: list[str] | None, console: Console) -> dict[str, Any]:
    """Measure everything selected; return the report as plain data (what --json prints)."""
    started = time.perf_counter()
    block_seconds, budget_seconds = (0.05, 2.0) if quick else (0.3, 40.0)
    results: list[Result] = []
    selected = [w for w in suite(quick)
                if not only or any(w.name.startswith(name) for name in only)]
    groups = [[w] for w in selected if not _per_time_step(w)]
    groups += [[w for w in selected if _per_time_step(w)]]
    for group in filter(None, groups):
        console.print(f"[dim]timing {', '.join(w.name for w in group)} …[/dim]")
        results += _time_group(group, blocks, block_seconds, budget_seconds)
    if not only or "memory" in only:
        console.print("[dim]measuring memory (a fresh process per contender) …[/dim]")
        workload = memory_workload(quick)
        keys = [c.key for c in CONTENDERS]
        for contender, (key, probed) in zip(CONTENDERS, memory.measure(keys, quick).items(),
                                            strict=True):
            results.append(Result("memory", key, contender.label(workload.cell),
                                  str(probed["status"]), "MiB", probed.get("peak_mib"),
                                  loss=probed.get("loss")))
    return {
        "config": {"quick": quick, "blocks": blocks, "python": platform.python_version(),
                   "numpy": np.__version__, "torch": pytorch.version(), "cpus": os.cpu_count(),
                   "threads": os.environ.get("OPENBLAS_NUM_THREADS"),
                   "seconds": time.perf_counter() - started},
        "results": report.as_dicts(results),
        "targets": report.target_rows(results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short sequences, short blocks")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--blocks", type=int, help="interleaved rounds (default 7, quick 3)")
    parser.add_argument("--only", action="append", metavar="WORKLOAD",
                        help="min-char-rnn, lstm, scaling or memory (repeatable)")
    parser.add_argument("--probe-memory", metavar="CONTENDER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe_memory:
        print(json.dumps(memory.probe(args.probe_memory, args.quick)))
        return 0
    blocks = args.blocks if args.blocks is not None else (3 if args.quick else 7)
    if blocks < 1:
        parser.error("--blocks must be at least 1")
    stream = sys.stderr if args.json else sys.stdout
    console = Console(stderr=args.json, width=None if stream.isatty() else 100)
    data = run(args.quick, blocks, args.only, console)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        report.render(data, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
