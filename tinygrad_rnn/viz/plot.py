"""Line charts of training curves: as SVG (for files, reports and notebooks) and as text for the
terminal (drawn with rich, one glyph per series so the chart reads through a pipe too).

    train = Series("train", steps, train_losses)
    val = Series("val", steps, val_losses, marker=True)
    open("loss.svg", "w").write(chart_svg([train, val], "loss", "step", "loss (nats/char)"))
    Console().print(chart_text([train, val], "loss", "step", "loss (nats/char)", width=80))

Both have a title, axes with ticks and labels, and a legend. Many points (a per-step curve of a
long run) are averaged down to what the chart can show: one value per column of the terminal,
one per pixel column of the SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from rich.text import Text

from tinygrad_rnn.viz.svg import document, line, rect, text

__all__ = ["Series", "nice_ticks", "downsample", "chart_svg", "chart_text", "COLOURS", "GLYPHS"]

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
GLYPHS = ("•", "o", "+", "x", "*", "#", "%", "@")


class Series(NamedTuple):
    """One curve: a label for the legend, x and y values; marker: points, not a line; colour:
    its own (else the next of COLOURS)."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    marker: bool = False
    colour: str = ""


def _finite(series: Series) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in zip(series.xs, series.ys, strict=True)
            if y is not None and math.isfinite(x) and math.isfinite(y)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round numbers (1, 2 or 5 times a power of ten apart) covering [low, high]."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks, k = [], 0
    while first + k * step <= high + step * 1e-9:
        ticks.append(round(first + k * step, 12))
        k += 1
    if ticks[0] < low - step * 1e-9:
        ticks = ticks[1:] if len(ticks) > 2 else ticks
    return ticks


def downsample(points: list[tuple[float, float]], bins: int) -> list[tuple[float, float]]:
    """At most `bins` points: the mean x and y of each run of consecutive points."""
    if len(points) <= bins:
        return points
    out = []
    for b in range(bins):
        part = points[b * len(points) // bins:(b + 1) * len(points) // bins]
        if part:
            out.append((sum(p[0] for p in part) / len(part), sum(p[1] for p in part) / len(part)))
    return out


def _bounds(series: Sequence[Series]) -> tuple[float, float, float, float]:
    points = [p for s in series for p in _finite(s)]
    if not points:
        return 0.0, 1.0, 0.0, 1.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = (y1 - y0) * 0.05 or abs(y0) * 0.05 or 1.0
    return x0, (x1 if x1 > x0 else x0 + 1), y0 - pad, y1 + pad


def _label(value: float, step: float) -> str:
    if abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3):
        return f"{value:.0e}"
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{decimals}f}"


def chart_svg(series: Sequence[Series], title: str, xlabel: str, ylabel: str,
              width: float = 640, height: float = 360, log_y: bool = False) -> str:
    """The chart as a standalone SVG document (log_y: a log10 y axis)."""
    if log_y:
        series = [s._replace(ys=[math.log10(y) if y and y > 0 else float("nan") for y in s.ys])
                  for s in series]
    left, right, top, bottom = 64.0, 16.0, 36.0, 50.0 + 18 * math.ceil(len(series) / 3)
    plot_w, plot_h = width - left - right, height - top - bottom
    x0, x1, y0, y1 = _bounds(series)
    xticks, yticks = nice_ticks(x0, x1), nice_ticks(y0, y1)
    y0, y1 = min(y0, yticks[0]), max(y1, yticks[-1])

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * plot_h

    body = [text(left, 22, title, size=14, weight="bold"),
            rect(left, top, plot_w, plot_h, stroke="#bbb", cls="plot-area")]
    ystep = yticks[1] - yticks[0] if len(yticks) > 1 else 1.0
    xstep = xticks[1] - xticks[0] if len(xticks) > 1 else 1.0
    for y in yticks:
        if y0 <= y <= y1:
            body.append(line(left, py(y), left + plot_w, py(y), stroke="#eee"))
            shown = f"{10 ** y:.2g}" if log_y else _label(y, ystep)
            body.append(text(left - 6, py(y) + 4, shown, size=10, anchor="end", cls="ytick"))
    for x in xticks:
        if x0 <= x <= x1:
            body.append(line(px(x), top + plot_h, px(x), top + plot_h + 4, stroke="#888"))
            body.append(text(px(x), top + plot_h + 16, _label(x, xstep), size=10,
                             anchor="middle", cls="xtick"))
    body.append(text(left + plot_w / 2, top + plot_h + 32, xlabel, size=11, anchor="middle",
                     cls="xlabel"))
    body.append(f'<text class="ylabel" x="14" y="{top + plot_h / 2:.1f}" font-size="11" '
                f'text-anchor="middle" transform="rotate(-90 14 {top + plot_h / 2:.1f})">'
                f'{_xml(ylabel + (" (log scale)" if log_y else ""))}</text>')
    for k, s in _lines_first(series):
        colour = s.colour or COLOURS[k % len(COLOURS)]
        points = downsample(_finite(s), int(plot_w))
        if not points:
            continue
        if s.marker:
            body.append(f'<g class="series" data-label="{_xml(s.label)}">' + "".join(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="white" '
                f'stroke="{colour}" stroke-width="1.8"/>' for x, y in points) + "</g>")
        else:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
            body.append(f'<polyline class="series" data-label="{_xml(s.label)}" points="{path}" '
                        f'fill="none" stroke="{colour}" stroke-width="1.6"/>')
        lx = left + (k % 3) * (plot_w / 3)
        ly = top + plot_h + 48 + 18 * (k // 3)
        if s.marker:
            body.append(f'<circle cx="{lx + 9:.1f}" cy="{ly - 4:.1f}" r="3.5" fill="white" '
                        f'stroke="{colour}" stroke-width="1.8"/>')
        else:
            body.append(line(lx, ly - 4, lx + 18, ly - 4, stroke=colour, width=2))
        body.append(text(lx + 24, ly, s.label, size=11, cls="legend"))
    return document(width, height, body, title)


def _lines_first(series: Sequence[Series]) -> list[tuple[int, Series]]:
    """(index, series) with the lines before the markers, so no line hides a point."""
    return sorted(enumerate(series), key=lambda pair: pair[1].marker)


def _xml(content: str) -> str:
    return content.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        '"', "&quot;")


def chart_text(series: Sequence[Series], title: str, xlabel: str, ylabel: str,
               width: int = 80, height: int = 14) -> Text:
    """The chart as rich Text `width` columns wide: a y axis with ticks, one glyph (and colour)
    per series, an x axis with ticks, the axis labels and a legend."""
    x0, x1, y0, y1 = _bounds(series)
    yticks = [y for y in nice_ticks(y0, y1, max(height // 2, 4)) if y0 <= y <= y1]
    ystep = yticks[1] - yticks[0] if len(yticks) > 1 else 1.0
    labels = [_label(y, ystep) for y in yticks]
    margin = max(len(label) for label in labels) + 2 if labels else 4
    cols = max(width - margin - 1, 10)
    grid: list[list[tuple[str, str]]] = [[(" ", "")] * cols for _ in range(height)]

    def col(x: float) -> int:
        return min(int((x - x0) / (x1 - x0) * (cols - 1) + 0.5), cols - 1)

    def row(y: float) -> int:
        return min(max(int((1 - (y - y0) / (y1 - y0)) * (height - 1) + 0.5), 0), height - 1)

    for k, s in _lines_first(series):
        mark = (GLYPHS[k % len(GLYPHS)], s.colour or COLOURS[k % len(COLOURS)])
        points = downsample(_finite(s), cols)
        cells = {col(x): y for x, y in points}
        if not s.marker and len(points) > 1:          # a line: every column between points
            for (xa, ya), (xb, yb) in zip(points, points[1:], strict=False):
                for c in range(col(xa), col(xb) + 1):
                    share = (c - col(xa)) / ((col(xb) - col(xa)) or 1)
                    cells.setdefault(c, ya + share * (yb - ya))
        for c, y in cells.items():
            grid[row(y)][c] = mark
    tick_rows = {row(y): label for y, label in zip(yticks, labels, strict=True)}
    out = Text(title + "\n", style="bold")
    out.append(f"{ylabel}\n", style="dim")
    for r in range(height):
        out.append(f"{tick_rows.get(r, ''):>{margin - 2}} " + ("┤" if r in tick_rows else "│"))
        for glyph, colour in grid[r]:
            out.append(glyph, style=colour)
        out.append("\n")
    out.append(" " * (margin - 1) + "└" + "─" * cols + "\n")
    xticks = [x for x in nice_ticks(x0, x1, max(cols // 14, 2)) if x0 <= x <= x1]
    xstep = xticks[1] - xticks[0] if len(xticks) > 1 else 1.0
    axis = [" "] * (cols + margin + 8)
    for x in xticks:
        label = _label(x, xstep)
        start = margin + col(x) - len(label) // 2
        if all(ch == " " for ch in axis[max(start - 1, 0):start + len(label) + 1]):
            axis[start:start + len(label)] = label
    out.append("".join(axis).rstrip()[:width] + "\n")
    out.append(f"{xlabel:^{width}}".rstrip() + "\n", style="dim")
    legend = Text()
    for k, s in enumerate(series):
        entry = f"{GLYPHS[k % len(GLYPHS)]} {s.label}"
        if legend.cell_len and legend.cell_len + len(entry) + 3 > width:
            out.append_text(legend)
            out.append("\n")
            legend = Text()
        legend.append("   " if legend.cell_len else "")
        legend.append(entry, style=s.colour or COLOURS[k % len(COLOURS)])
    out.append_text(legend)
    return out
