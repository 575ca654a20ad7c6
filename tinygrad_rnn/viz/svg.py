"""The few SVG pieces every picture here is made of, and the colour scale they share.

A picture is a list of strings (elements) joined into one <svg> document; text is escaped here,
so a node or run name can hold any character. The colour scale is logarithmic: gradient norms span
orders of magnitude, so each colour step is a power of ten's share of the range, and every
picture that colours by it also draws `scale_legend` (colours with their numbers beside them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

__all__ = ["FONT", "SCALE", "document", "text", "rect", "line", "log_colour", "ink_on",
           "scale_legend", "number"]

FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
# light (small) to dark (large): yellow, orange, red (ColorBrewer YlOrRd, 8 classes)
SCALE = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026")


def document(width: float, height: float, body: Sequence[str], title: str = "") -> str:
    """A standalone SVG document (white background) holding the elements of `body`."""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}" font-size="12">')
    titled = [f"<title>{escape(title)}</title>"] if title else []
    background = rect(0, 0, width, height, fill="white")
    return "\n".join([head, *titled, background, *body, "</svg>"]) + "\n"


def text(x: float, y: float, content: str, size: float = 12, anchor: str = "start",
         weight: str = "normal", fill: str = "#222", cls: str = "") -> str:
    """A line of text whose baseline starts (or centres, or ends) at (x, y)."""
    klass = f' class="{cls}"' if cls else ""
    return (f'<text{klass} x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(content)}</text>')


def rect(x: float, y: float, width: float, height: float, fill: str = "none",
         stroke: str = "none", radius: float = 0, dash: bool = False, cls: str = "") -> str:
    """A rectangle from its top-left corner."""
    klass = f' class="{cls}"' if cls else ""
    dashed = ' stroke-dasharray="4 3"' if dash else ""
    return (f'<rect{klass} x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
            f'rx="{radius}" fill="{fill}" stroke="{stroke}"{dashed}/>')


def line(x1: float, y1: float, x2: float, y2: float, stroke: str = "#999",
         width: float = 1, cls: str = "") -> str:
    """A straight line."""
    klass = f' class="{cls}"' if cls else ""
    return (f'<line{klass} x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{stroke}" stroke-width="{width}"/>')


def log_colour(value: float, low: float, high: float) -> str:
    """The scale's colour of `value` between 10^low and 10^high (log scale); zero: the lightest,
    non-finite: black."""
    if not math.isfinite(value):
        return "#000000"
    if value <= 0:
        return SCALE[0]
    share = (math.log10(value) - low) / ((high - low) or 1.0)
    return SCALE[min(max(int(share * len(SCALE)), 0), len(SCALE) - 1)]


def ink_on(fill: str) -> str:
    """Black or white text, whichever reads on `fill` ("#rrggbb")."""
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#111" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"


def number(value: float) -> str:
    """A number in at most 8 characters: 0.7616, -12.5, 3.2e-05."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.1e}"


def scale_legend(x: float, y: float, low: float, high: float, caption: str) -> list[str]:
    """The colour scale as a row of swatches from 10^low to 10^high, each power of ten marked
    and numbered."""
    cell, out = 34.0, [text(x, y - 6, caption, size=11, fill="#444")]
    steps = len(SCALE)
    for i, colour in enumerate(SCALE):
        out.append(rect(x + i * cell, y, cell, 14, fill=colour, stroke="#888", cls="swatch"))
    for power in range(math.ceil(low), math.floor(high) + 1):     # each power of ten, placed
        at = x + (power - low) / ((high - low) or 1.0) * steps * cell
        out.append(line(at, y + 14, at, y + 18, stroke="#444"))
        out.append(text(at, y + 29, f"1e{power:+03d}", size=10, anchor="middle", fill="#444"))
    return out
