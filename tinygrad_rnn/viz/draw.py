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
        widest = max(len(layer) for layer in layers)
        width = max(widest * (BOX_W + GAP_X) - GAP_X + 2 * MARGIN, 420.0)
        top = MARGIN + 24
        where: dict[int, tuple[float, float]] = {}
        for r, layer in enumerate(layers):
            row_w = len(layer) * (BOX_W + GAP_X) - GAP_X
            for p, i in enumerate(layer):
                where[i] = ((width - row_w) / 2 + p * (BOX_W + GAP_X), top + r * (BOX_H + GAP_Y))
        height = top + len(layers) * (BOX_H + GAP_Y) - GAP_Y + 70
        norms = self.norms()
        finite = [n for n in norms if n is not None and n > 0 and math.isfinite(n)]
        low = math.floor(math.log10(min(finite))) if finite else -1.0
        high = math.ceil(math.log10(max(finite))) if finite else 1.0
        high = high if high > low else low + 1
        body = [text(MARGIN, MARGIN + 4, self.title, size=14, weight="bold")]
        for i, node in enumerate(self.nodes):
            for slot, j in enumerate(node.inputs):
                body.append(self._edge(where[j], where[i], slot, len(node.inputs)))
        for i, shown in enumerate(self.shown):
            body.append(self._node(shown, norms[i], *where[i], low, high))
        legend_y = height - 40
        body += scale_legend(MARGIN, legend_y, low, high, "colour: ‖∂L/∂node‖ (log scale); "
                             "white: no gradient")
        if any(s.value is None for s in self.shown):
            body.append(text(MARGIN + 300, legend_y + 11, "(…: not kept; draw inside "
                             "tg.watch() to keep every value)", size=10, fill="#666"))
        return document(width, height, body, self.title)

    def _edge(self, start: tuple[float, float], end: tuple[float, float], slot: int,
              slots: int) -> str:
        x1, y1 = start[0] + BOX_W / 2, start[1] + BOX_H
        x2 = end[0] + BOX_W / 2 + (slot - (slots - 1) / 2) * 16   # each input its own port
        y2 = end[1]
        bend = max((y2 - y1) / 2, 12)
        return (f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} '
                f'{x2:.1f},{y2 - bend:.1f} {x2:.1f},{y2 - 4:.1f}" fill="none" stroke="#888" '
                f'stroke-width="1.2"/>'
                f'<path d="M{x2 - 4:.1f},{y2 - 7:.1f} L{x2:.1f},{y2:.1f} L{x2 + 4:.1f},'
                f'{y2 - 7:.1f}" fill="none" stroke="#888" stroke-width="1.2"/>')

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
