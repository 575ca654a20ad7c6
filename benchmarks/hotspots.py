"""Where our engine spends a training step: cProfile over a few steps of one workload.

Prints the functions with the most own time (tottime) and the most cumulative time, each as a
share of the profiled total, so the before/after of an engine change can be compared.

    python -m benchmarks.hotspots                               # nn.LSTM on the LSTM workload
    python -m benchmarks.hotspots --workload min-char-rnn --contender ours-cell --steps 50
    python -m benchmarks.hotspots --workload "scaling T=800" --top 25
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys

# Before numpy is imported: one BLAS thread, as in the other benchmarks.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import numpy as np  # noqa: E402  (after the thread settings, on purpose)
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks.contenders import CONTENDERS, by_key  # noqa: E402
from benchmarks.numpy_bptt import init_params  # noqa: E402
from benchmarks.workloads import make_data, suite  # noqa: E402


def profile(workload_name: str, contender: str, steps: int) -> pstats.Stats:
    """cProfile `steps` steps of `contender` on the named workload (after one warm-up step)."""
    workloads = {w.name: w for w in suite(quick=False)}
    if workload_name not in workloads:
        raise SystemExit(f"no workload {workload_name!r}; choose from {list(workloads)}")
    workload = workloads[workload_name]
    params = init_params(workload.cell, workload.vocab, workload.hidden, workload.dtype,
                         np.random.default_rng(0))
    inputs, targets = make_data(workload)
    step = by_key(contender).build(workload, params, inputs, targets)
    step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    return pstats.Stats(profiler)


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name                                       # a builtin, e.g. <built-in method …>
    parts = filename.replace("\\", "/").split("/")
    return f"{'/'.join(parts[-2:])}:{line} {name}"


def table(stats: pstats.Stats, sort: str, top: int) -> Table:
    """The `top` functions by `sort` ("tottime" or "cumtime"), with calls and share of total."""
    entries = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    column = 2 if sort == "tottime" else 3
    rows = sorted(entries.items(), key=lambda item: item[1][column], reverse=True)[:top]
    result = Table(title=f"by {sort} (total {total:.2f} s)")
    for name in ("function", "calls", "own %", "cumulative %"):
        result.add_column(name, justify="left" if name == "function" else "right")
    for key, (_, calls, own, cumulative, _) in rows:
        result.add_row(_where(key), f"{calls:,}", f"{own / total:.1%}",
                       f"{cumulative / total:.1%}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hotspots", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", default="lstm", help="a workload name (default lstm)")
    parser.add_argument("--contender", default="ours-layer",
                        choices=[c.key for c in CONTENDERS])
    parser.add_argument("--steps", type=int, default=10, help="profiled steps (default 10)")
    parser.add_argument("--top", type=int, default=15, help="rows per table (default 15)")
    args = parser.parse_args(argv)
    stats = profile(args.workload, args.contender, args.steps)
    console = Console()
    console.print(table(stats, "tottime", args.top))
    console.print(table(stats, "cumtime", args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
