"""Backpropagation through time as a picture: each cell unrolled into a row of states
h⟨0⟩ → h⟨1⟩ → … → h⟨T⟩ → L, each state coloured (and numbered) by ‖∂L/∂h⟨t⟩‖ on one log scale
shared by every row, so RNN, GRU and LSTM compare at a glance; as SVG, or as rich rows for the
terminal (each colour with its number beside it)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from rich.table import Table
from rich.text import Text

from tinygrad_rnn.viz.charts import log_range
from tinygrad_rnn.viz.svg import document, ink_on, log_colour, number, rect, scale_legend, text

__all__ = ["Row", "chain_svg", "chain_table"]


class Row(NamedTuple):
    """One unrolled cell: its name ("RNN"), the state's symbol ("h") and ‖∂L/∂state⟨t⟩‖."""

    name: str
    symbol: str
    norms: Sequence[float]


BOX, STEP, ROW_H, LEFT = 62.0, 92.0, 96.0, 110.0


def _scale(rows: Sequence[Row]) -> tuple[float, float]:
    low, high = log_range(*[r.norms for r in rows])
    return math.floor(low), max(math.ceil(high), math.floor(low) + 1)


def chain_svg(rows: Sequence[Row], title: str) -> str:
    """Every row as a chain of state boxes joined by arrows (one per step), ending in L."""
    low, high = _scale(rows)
    steps = max(len(r.norms) for r in rows)
    width = LEFT + steps * STEP + 90
    height = 60 + len(rows) * ROW_H + 60
    body = [text(20, 26, title, size=14, weight="bold")]
    for k, row in enumerate(rows):
        y = 54 + k * ROW_H
        body.append(text(20, y + BOX / 2 + 4, row.name, size=13, weight="bold"))
        for t, norm in enumerate(row.norms):
            x = LEFT + t * STEP
            fill = log_colour(norm, low, high)
            body.append(f'<g class="node"><title>{row.symbol}⟨{t}⟩ of {row.name}: '
                        f'‖∂L/∂{row.symbol}⟨{t}⟩‖ = {norm:.3g}</title>'
                        + rect(x, y, BOX, BOX, fill=fill, stroke="#555", radius=8)
                        + text(x + BOX / 2, y + 22, f"{row.symbol}⟨{t}⟩", size=12,
                               anchor="middle", weight="bold", fill=ink_on(fill))
                        + text(x + BOX / 2, y + 42, number(norm), size=11, anchor="middle",
                               fill=ink_on(fill)) + "</g>")
            body.append(_arrow(x + BOX, x + STEP, y + BOX / 2))   # to the next state, or L
        x = LEFT + len(row.norms) * STEP
        body.append('<g class="node loss">' + rect(x, y + 12, 40, BOX - 24, fill="white",
                                                   stroke="#555", radius=20)
                    + text(x + 20, y + BOX / 2 + 4, "L", size=13, anchor="middle",
                           weight="bold") + "</g>")
    legend_y = height - 44
    body += scale_legend(20, legend_y, low, high, "colour and number: ‖∂L/∂state⟨t⟩‖ (log "
                         "scale); arrows: one step of the cell, forward")
    return document(width, height, body, title)


def _arrow(x1: float, x2: float, y: float) -> str:
    return (f'<path class="edge" d="M{x1 + 2:.1f},{y:.1f} L{x2 - 4:.1f},{y:.1f}" stroke="#555" '
            f'stroke-width="1.5" fill="none"/>'
            f'<path d="M{x2 - 10:.1f},{y - 5:.1f} L{x2 - 3:.1f},{y:.1f} L{x2 - 10:.1f},'
            f'{y + 5:.1f}" stroke="#555" stroke-width="1.5" fill="none"/>')


def chain_table(rows: Sequence[Row]) -> Table:
    """The same numbers as a rich table: a row per step, a column per cell, each number
    ‖∂L/∂state⟨t⟩‖ on its colour (the number alone through a pipe), so any number of steps fits
    80 columns."""
    low, high = _scale(rows)
    table = Table()
    table.add_column("t", justify="right")
    for row in rows:
        table.add_column(f"{row.name} {row.symbol}", justify="right")
    for t in range(max(len(r.norms) for r in rows)):
        cells = []
        for row in rows:
            norm = row.norms[t] if t < len(row.norms) else math.nan
            fill = log_colour(norm, low, high)
            cells.append(Text(f"{norm:.2e}", style=f"{ink_on(fill)} on {fill}"))
        table.add_row(str(t), *cells)
    return table
