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


def _time_workload(workload: Workload, blocks: int, block_seconds: float,
                   budget_seconds: float) -> list[Result]:
    """Build every contender on the same weights and data, then time them interleaved."""
    params = init_params(workload.cell, workload.vocab, workload.hidden, workload.dtype,
                         np.random.default_rng(0))
    inputs, targets = make_data(workload)
    steps: dict[str, Step] = {}
    results: dict[str, Result] = {}
    per_time_step = workload.name.startswith("scaling")
    unit = "s/time step" if per_time_step else "s/step"
    for contender in CONTENDERS:
        result = Result(workload.name, contender.key, contender.label(workload.cell), "ok", unit)
        try:
            steps[contender.key] = contender.build(workload, params, inputs, targets)
        except Unavailable as reason:
            result.status = f"skipped: {reason}"
        results[contender.key] = result
    scale = 1.0 / workload.steps if per_time_step else 1.0
    for key, timing in interleaved(steps, blocks, block_seconds, budget_seconds).items():
        result = results[key]
        result.blocks = [seconds * scale for seconds in timing.blocks]
        result.value, result.loss = timing.median * scale, timing.first_loss
    return list(results.values())


def run(quick: bool, blocks: int, only: list[str] | None, console: Console) -> dict[str, Any]:
    """Measure everything selected; return the report as plain data (what --json prints)."""
    started = time.perf_counter()
    block_seconds, budget_seconds = (0.05, 2.0) if quick else (0.3, 40.0)
    results: list[Result] = []
    for workload in suite(quick):
        if only and not any(workload.name.startswith(name) for name in only):
            continue
        console.print(f"[dim]timing {workload.name} …[/dim]")
        results += _time_workload(workload, blocks, block_seconds, budget_seconds)
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
