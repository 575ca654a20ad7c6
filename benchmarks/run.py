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
from benchmarks.report import Result
from benchmarks.sections import SECTIONS
from tinygrad_rnn import get_num_threads

__all__ = ["main", "run"]


def run(quick: bool, blocks: int, only: list[str] | None, console: Console) -> dict[str, Any]:
    """Measure every section selected; return the report as plain data (what --json prints)."""
    started = time.perf_counter()
    results: list[Result] = []
    goals = []
    for section in SECTIONS:
        if only and section.name not in only:
            continue
        console.print(f"[dim]measuring {section.name} …[/dim]")
        begun = time.perf_counter()
        results += section.measure(quick, blocks, console)
        goals += section.goals(quick)
        console.print(f"[dim]  {section.name}: {time.perf_counter() - begun:.0f} s[/dim]")
    return {
        "config": {"quick": quick, "blocks": blocks, "python": platform.python_version(),
                   "numpy": np.__version__, "torch": pytorch.version(), "cpus": os.cpu_count(),
                   "threads": get_num_threads(), "seconds": time.perf_counter() - started},
        "results": report.as_dicts(results),
        "goals": report.goal_rows(goals, results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short sequences, short blocks")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--blocks", type=int, help="interleaved rounds (default 7, quick 3)")
    parser.add_argument("--only", action="append", metavar="SECTION",
                        choices=[section.name for section in SECTIONS],
                        help=f"one of {', '.join(s.name for s in SECTIONS)} (repeatable)")
    parser.add_argument("--probe-memory", metavar="CONTENDER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe_memory:
        print(json.dumps(memory.probe(args.probe_memory, args.quick)))
        return 0
    blocks = args.blocks if args.blocks is not None else (3 if args.quick else 7)
    if blocks < 1:
        parser.error("--blocks must be at least 1")
    stream = sys.stderr if args.json else sys.stdout
    console = Console(stderr=args.json, width=None if stream.isatty() else 80)
    data = run(args.quick, blocks, args.only, console)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        report.render(data, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
