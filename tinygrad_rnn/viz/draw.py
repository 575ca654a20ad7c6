"""`tg.draw(tensor)`: the graph that made a tensor, as an SVG picture (no Graphviz needed).

    with tg.watch():                       # keep every node's value and gradient
        y = (x @ w + b).tanh()
        loss = y.sum()
        loss.backward()
    tg.draw(loss, names={"x": x, "w": w, "b": b}).save("graph.svg")   # or show it in Jupyter

Each node shows its name or op, its shape, a summary of its value and, after backward(), the
norm of its gradient ‖∂L/∂node‖, which also colours it on a log scale shared by the picture (with
its legend). Inputs are drawn above the ops that use them, the output at the bottom.

The layout is layered (the classic Sugiyama recipe, cut down): the output in the bottom layer,
every other node in the layer right above its first user, then a few sweeps that order each
layer by the mean position of its neighbours, which untangles most crossings of expression- and
cell-sized graphs. A library would draw large graphs better, but none is needed at this size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.viz.graph import Node, graph_nodes, to_dot
from tinygrad_rnn.viz.svg import document, ink_on, log_colour, number, rect, scale_legend, text

__all__ = ["Drawing", "draw", "layers_of", "value_summary"]

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 166.0, 64.0, 24.0, 40.0, 20.0
LANE = 10.0        # the width an edge takes through a layer it passes
MAX_NODES = 2000   # a picture larger than this would not be read, only waited for


@dataclass(frozen=True)
class Shown:
    """What one node shows: its value and gradient arrays when known (else None)."""

    node: Node
    value: np.ndarray | None
    grad: np.ndarray | None


def _known(node: Node, root: Tensor) -> Shown:
    """The node's tensor, if the graph still reaches it: a leaf, the root, or an op's output
    kept by tg.watch() or retain_grad()."""
    source = node.source
    if node.is_leaf:
        return Shown(node, source.data, source.grad)
    if source is root._ctx:
        return Shown(node, root.data, root.grad)
    kept = source.retained() if source.retained is not None else None
    return Shown(node, None, None) if kept is None else Shown(node, kept.data, kept.grad)


def value_summary(value: np.ndarray | None) -> str:
    """"= 0.7616" for one number, "μ 0.12  in [-0.9, 0.8]" for more, "" when unknown."""
    if value is None:
        return ""
    if value.size == 1:
        return f"= {number(float(value.reshape(-1)[0]))}"
    v = value.astype(np.float64)
    return f"μ {v.mean():.3g}  in [{v.min():.3g}, {v.max():.3g}]"


def _norm(grad: np.ndarray | None) -> float | None:
    return None if grad is None else float(np.sqrt(np.sum(np.square(grad, dtype=np.float64))))


def layers_of(nodes: list[Node]) -> list[list[int]]:
    """Node indices by layer, top (inputs) to bottom (the output), each layer ordered so that
    edges cross little."""
    users: list[list[int]] = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        for j in node.inputs:
            users[j].append(i)
    rank = [0] * len(nodes)
    for i in reversed(range(len(nodes))):     # users come after their inputs: root first
        if users[i]:
            rank[i] = min(rank[u] for u in users[i]) - 1
    low = min(rank)
    layers: list[list[int]] = [[] for _ in range(max(rank) - low + 1)]
    for i in range(len(nodes)):
        layers[rank[i] - low].append(i)
    neighbours = [list(node.inputs) + users[i] for i, node in enumerate(nodes)]
    for sweep in range(6):                   # down, up, down, ...: order by neighbours' mean
        position = {i: p for layer in layers for p, i in enumerate(layer)}
        for layer in (layers[1:] if sweep % 2 == 0 else layers[-2::-1]):
            layer.sort(key=lambda i, at=position: _mean([at[j] for j in neighbours[i]], at[i]))
            position.update({i: p for p, i in enumerate(layer)})
    return layers


def _place(nodes: list[Node], layers: list[list[int]]
           ) -> tuple[dict[int, tuple[float, float]], dict[tuple[int, int], list[float]], float]:
    """Each node's top-left corner; for an edge that skips layers, the x of the lane it takes
    through each layer between (so it passes between boxes, not behind them); the width."""
    row = {i: r for r, layer in enumerate(layers) for i in layer}
    guess = {i: (p - (len(layer) - 1) / 2) * (BOX_W + GAP_X)       # centred rows, as a start
             for layer in layers for p, i in enumerate(layer)}
    items: list[list[tuple[float, object]]] = [[(guess[i], i) for i in layer] for layer in layers]
    for i, node in enumerate(nodes):
        for slot, j in enumerate(node.inputs):
            span = row[i] - row[j]
            for r in range(row[j] + 1, row[i]):                     # a lane in each layer between
                share = (r - row[j]) / span
                items[r].append((guess[j] + share * (guess[i] - guess[j]), (i, slot)))
    where: dict[int, tuple[float, float]] = {}
    lane_x: dict[tuple[int, int], list[float]] = {}
    rows = []
    for layer_items in items:
        layer_items.sort(key=lambda item: item[0])
        xs, x = [], 0.0
        for _, item in layer_items:
            size = BOX_W if isinstance(item, int) else LANE
            xs.append(x)
            x += size + (GAP_X if isinstance(item, int) else LANE / 2)
        rows.append((xs, x))
    width = max(max(total for _, total in rows) + 2 * MARGIN, 420.0)
    for r, (layer_items, (xs, total)) in enumerate(zip(items, rows, strict=True)):
        offset = (width - total) / 2
        y = MARGIN + 24 + r * (BOX_H + GAP_Y)
        for (_, item), x in zip(layer_items, xs, strict=True):
            if isinstance(item, int):
                where[item] = (offset + x, y)
            else:
                lane_x.setdefault(item, []).append(offset + x + LANE / 2)
    return where, lane_x, width


def _edge(start: tuple[float, float], end: tuple[float, float], lanes: list[float], slot: int,
          slots: int) -> str:
    """A curve from the bottom of the input's box to its port on the top of the user's box,
    straight down each lane it takes through the layers between."""
    x, y = start[0] + BOX_W / 2, start[1] + BOX_H
    x2 = end[0] + BOX_W / 2 + (slot - (slots - 1) / 2) * 16     # each input its own port
    path = [f"M{x:.1f},{y:.1f}"]
    for k, lane in enumerate(lanes):                          # layer k + 1 below the input's
        top = start[1] + (k + 1) * (BOX_H + GAP_Y)
        path.append(f"C{x:.1f},{y + GAP_Y / 2:.1f} {lane:.1f},{top - GAP_Y / 2:.1f} "
                    f"{lane:.1f},{top:.1f} L{lane:.1f},{top + BOX_H:.1f}")
        x, y = lane, top + BOX_H
    y2 = end[1]
    path.append(f"C{x:.1f},{y + GAP_Y / 2:.1f} {x2:.1f},{y2 - GAP_Y / 2:.1f} {x2:.1f},"
                f"{y2 - 4:.1f}")
    return (f'<path class="edge" d="{" ".join(path)}" fill="none" stroke="#888" '
            f'stroke-width="1.2"/>'
            f'<path d="M{x2 - 4:.1f},{y2 - 7:.1f} L{x2:.1f},{y2:.1f} L{x2 + 4:.1f},'
            f'{y2 - 7:.1f}" fill="none" stroke="#888" stroke-width="1.2"/>')


def _mean(values: list[int], default: float) -> float:
    return sum(values) / len(values) if values else default


class Drawing:
    """A computation graph with what each node holds; `svg()` draws it, Jupyter shows it
    inline (`_repr_svg_`), `save(path)` writes the SVG, `dot()` gives Graphviz text."""

    def __init__(self, root: Tensor, names: Mapping[str, Tensor] | None = None,
                 title: str | None = None) -> None:
        self.root, self.names = root, names
        self.nodes = graph_nodes(root, names)
        if len(self.nodes) > MAX_NODES:
            raise ValueError(f"draw: the graph has {len(self.nodes)} nodes, more than "
                             f"{MAX_NODES} can be read in one picture: draw a part of it (one "
                             f"step, a shorter sequence) or use viz.graph_tree / to_dot")
        self.shown = [_known(node, root) for node in self.nodes]
        self.title = title or (f"the graph of {self.nodes[-1].label} {self.nodes[-1].shape}: "
                               f"{len(self.nodes)} nodes")

    def norms(self) -> list[float | None]:
        """‖gradient‖ of each node (None where there is none)."""
        return [_norm(s.grad) for s in self.shown]

    def dot(self) -> str:
        """Graphviz DOT text of the same graph (for those who have `dot`)."""
        return to_dot(self.root, self.names)

    def svg(self) -> str:
        """The picture as a standalone SVG document."""
        layers = layers_of(self.nodes)
        where, lanes, width = _place(self.nodes, layers)
        height = MARGIN + 24 + len(layers) * (BOX_H + GAP_Y) - GAP_Y + 70
        norms = self.norms()
        finite = [n for n in norms if n is not None and n > 0 and math.isfinite(n)]
        low = math.floor(math.log10(min(finite))) if finite else -1.0
        high = math.ceil(math.log10(max(finite))) if finite else 1.0
        high = high if high > low else low + 1
        body = [text(MARGIN, MARGIN + 4, self.title, size=14, weight="bold")]
        for i, node in enumerate(self.nodes):
            for slot, j in enumerate(node.inputs):
                body.append(_edge(where[j], where[i], lanes.get((i, slot), []), slot,
                                  len(node.inputs)))
        for i, shown in enumerate(self.shown):
            body.append(self._node(shown, norms[i], *where[i], low, high))
        legend_y = height - 40
        body += scale_legend(MARGIN, legend_y, low, high, "colour: ‖∂L/∂node‖ (log scale); "
                             "white: no gradient")
        if any(s.value is None for s in self.shown):
            body.append(text(MARGIN + 300, legend_y + 11, "(…: not kept; draw inside "
                             "tg.watch() to keep every value)", size=10, fill="#666"))
        return document(width, height, body, self.title)

    def _node(self, shown: Shown, norm: float | None, x: float, y: float, low: float,
              high: float) -> str:
        node = shown.node
        fill = "white" if norm is None else log_colour(norm, low, high)
        ink = ink_on(fill if fill.startswith("#") else "#ffffff")
        title = node.label + (f" = {node.op}" if node.op and node.op != node.label else "")
        kind = "leaf" if node.is_leaf else "op"
        if norm is not None:
            grad = f"‖∇‖ {number(norm)}"
        else:
            grad = "no grad" if not node.requires_grad else "∇ not computed"
        value = value_summary(shown.value) or "…"
        parts = [f'<g class="node {kind}">',
                 f"<title>{escape(title)} {node.shape}</title>",
                 rect(x, y, BOX_W, BOX_H, fill=fill, stroke="#2a6f2a" if node.is_leaf and
                      node.requires_grad else "#555", radius=0 if node.is_leaf else 10,
                      dash=not node.requires_grad),
                 text(x + BOX_W / 2, y + 15, title, size=12, anchor="middle", weight="bold",
                      fill=ink),
                 text(x + BOX_W / 2, y + 29, str(node.shape), size=10, anchor="middle", fill=ink),
                 text(x + BOX_W / 2, y + 43, value, size=10, anchor="middle", fill=ink),
                 text(x + BOX_W / 2, y + 57, grad, size=10, anchor="middle", fill=ink),
                 "</g>"]
        return "".join(parts)

    def _repr_svg_(self) -> str:
        return self.svg()

    def save(self, path: str) -> str:
        """Write the SVG to `path`; return the path."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.svg())
        return path

    def __repr__(self) -> str:
        return f"<Drawing: {self.title}>"


def draw(tensor: Tensor, names: Mapping[str, Tensor] | None = None,
         title: str | None = None) -> Drawing:
    """The graph that made `tensor`, ready to draw: `.svg()`, `.save(path)`, inline in Jupyter.
    `names` maps names to tensors (leaves or intermediate results) to label their nodes."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw: expected a Tensor, got {type(tensor).__name__}")
    return Drawing(tensor, names, title)
