"""Peak memory of one forward+backward, each contender measured in a fresh process.

The probe builds the contender (weights, data, imports: the baseline), resets the kernel's
high-water mark (writing 5 to /proc/self/clear_refs; where that is not allowed, the mark so far is
the baseline), runs one step and reports VmHWM − baseline: the extra resident memory the step
needed at its peak (the graph, the saved activations and the gradients).

    python -m benchmarks --probe-memory numpy --quick       # one probe, as JSON (what run uses)
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from rich.console import Console

from benchmarks.contenders import CONTENDERS, by_key
from benchmarks.numpy_bptt import init_params
from benchmarks.report import Goal, Result, Section
from benchmarks.step import Unavailable
from benchmarks.workloads import make_data, memory_workload

__all__ = ["status_kib", "probe", "measure", "SECTION"]

STATUS = Path("/proc/self/status")
REPO = Path(__file__).resolve().parent.parent


def status_kib(field: str) -> int:
    """A `Vm…` line of /proc/self/status, in KiB."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> int:
    """Reset the high-water mark to the current RSS if the kernel lets us; return the baseline."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return status_kib("VmRSS")
    except OSError:
        return status_kib("VmHWM")


def probe(key: str, quick: bool) -> dict[str, object]:
    """Run one forward+backward of the memory workload with contender `key`, in this process."""
    workload = memory_workload(quick)
    params = init_params(workload.cell, workload.vocab, workload.hidden, workload.dtype,
                         np.random.default_rng(0))
    inputs, targets = make_data(workload)
    try:
        step = by_key(key).build(workload, params, inputs, targets)
    except Unavailable as reason:
        return {"status": f"skipped: {reason}"}
    gc.collect()
    baseline = _reset_peak()
    loss = step()
    peak = status_kib("VmHWM")
    return {"status": "ok", "peak_mib": (peak - baseline) / 1024, "loss": loss}


def measure(keys: list[str], quick: bool) -> dict[str, dict[str, object]]:
    """`probe` each contender in a fresh interpreter (the same one running this)."""
    if not STATUS.exists():
        return {key: {"status": "skipped: no /proc/self/status"} for key in keys}
    results = {}
    for key in keys:
        command = [sys.executable, "-m", "benchmarks", "--probe-memory", key]
        done = subprocess.run(command + (["--quick"] if quick else []), cwd=REPO,
                              capture_output=True, text=True, env=os.environ.copy())
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            results[key] = {"status": f"failed: {last}"}
        else:
            results[key] = json.loads(done.stdout)
    return results


def _measure(quick: bool, blocks: int, console: Console) -> list[Result]:
    """Every contender's peak, each in its own process (blocks do not apply)."""
    workload = memory_workload(quick)
    keys = [c.key for c in CONTENDERS]
    probed = measure(keys, quick)
    return [Result("memory", c.key, c.label(workload.cell), str(probed[c.key]["status"]), "MiB",
                   probed[c.key].get("peak_mib"), loss=probed[c.key].get("loss"))
            for c in CONTENDERS]


def _goals(quick: bool) -> list[Goal]:
    w = memory_workload(quick)
    detail = (f"peak memory of one forward and backward, LSTM, hidden {w.hidden}, T {w.steps}, "
              f"batch {w.batch}, {w.dtype}")
    return [Goal("memory", detail, ("memory", "ours-layer"), ("memory", "numpy"), 1.3)]


SECTION = Section("memory", _measure, _goals)
