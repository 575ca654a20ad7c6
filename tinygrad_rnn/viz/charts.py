"""Terminal charts for quantities that span orders of magnitude: heat strips and log sparklines.

Every chart reads without colour too (through a pipe, or for a reader who cannot tell the
colours apart): a heat strip's level is its glyph's height, and its colour only repeats it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text

__all__ = ["log_range", "heat_strip", "log_sparkline", "legend"]

BLOCKS = "▁▂▃▄▅▆▇█"
HEAT = ["#312a6b", "#4b2991", "#872ca2", "#c0369d", "#ea4f88", "#fa7876", "#f6a97a",
        "#edd9a3"]  # dark (tiny) to light (large): one colour per height of BLOCKS


def log_range(*series: Sequence[float]) -> tuple[float, float]:
    """log10 of the smallest and largest finite positive value over all series."""
    logs = [math.log10(v) for s in series for v in s if v > 0 and math.isfinite(v)]
    return (min(logs), max(logs)) if logs else (0.0, 1.0)


def _level(value: float, low: float, high: float, levels: int) -> int:
    if not (value > 0 and math.isfinite(value)):
        return 0 if value == 0 else levels - 1
    share = (math.log10(value) - low) / ((high - low) or 1.0)
    return min(max(round(share * (levels - 1)), 0), levels - 1)


def heat_strip(values: Sequence[float], low: float, high: float) -> Text:
    """One block per value, on a log scale from 10^low (▁, dark) to 10^high (█, light): the
    height carries the level, the colour repeats it."""
    text = Text()
    for v in values:
        level = _level(v, low, high, len(BLOCKS))
        text.append(BLOCKS[level], style=HEAT[level])
    return text


def log_sparkline(values: Sequence[float], low: float, high: float, style: str = "") -> Text:
    """One block per value, its height on a log scale from 10^low to 10^high; non-finite: ✗."""
    text = Text(style=style)
    for v in values:
        text.append("✗" if not math.isfinite(v) else BLOCKS[_level(v, low, high, len(BLOCKS))])
    return text


def legend(low: float, high: float) -> Text:
    """The heat scale: 1e<low> ▁▂▃▄▅▆▇█ 1e<high>, each level in its colour."""
    text = Text(f"1e{low:.0f} ", style="dim")
    for block, colour in zip(BLOCKS, HEAT, strict=True):
        text.append(block, style=colour)
    return text.append(f" 1e{high:.0f}", style="dim")
