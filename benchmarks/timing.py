"""Interleaved timing: contenders take turns in round-robin blocks inside one process.

Machine noise (other processes, frequency scaling, a warm or cold cache) then hits every
contender alike instead of whichever happened to run during it; the median over the blocks
ignores the odd slow block.

    python -c "from benchmarks.timing import interleaved; help(interleaved)"
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from benchmarks.step import Step

__all__ = ["Timing", "interleaved"]


@dataclass
class Timing:
    """Seconds per step in each block, and the loss the first (warm-up) step returned."""

    blocks: list[float]
    first_loss: float
    repeats: int

    @property
    def median(self) -> float:
        return statistics.median(self.blocks)


def interleaved(steps: Mapping[Hashable, Step], blocks: int, block_seconds: float,
                budget_seconds: float) -> dict[Hashable, Timing]:
    """Time every step function in `blocks` rounds (fewer, but at least 3, when a
    round would take longer than budget_seconds / blocks); in each round every contender runs back
    to back for about `block_seconds` (at least one step), starting with a different contender."""
    timings: dict[Hashable, Timing] = {}
    round_seconds = 0.0
    for key, step in steps.items():                     # warm up, and size the blocks
        start = time.perf_counter()
        first_loss = step()
        once = time.perf_counter() - start
        if once < block_seconds:                        # the first call may be the slow one
            start = time.perf_counter()
            step()
            once = time.perf_counter() - start
        repeats = max(1, round(block_seconds / max(once, 1e-9)))
        timings[key] = Timing([], first_loss, repeats)
        round_seconds += repeats * once
    blocks = min(blocks, max(3, int(budget_seconds / max(round_seconds, 1e-9))))
    order = list(steps)
    for block in range(blocks):
        shift = block % len(order)
        for key in order[shift:] + order[:shift]:
            gc.collect()
            step, repeats = steps[key], timings[key].repeats
            start = time.perf_counter()
            for _ in range(repeats):
                step()
            timings[key].blocks.append((time.perf_counter() - start) / repeats)
    return timings
