"""The computation graph behind a tensor, as a rich Tree for the terminal or as Graphviz DOT text.

    y = (x @ w + b).tanh()
    Console().print(graph_tree(y, names={"x": x, "w": w, "b": b}))
    open("y.dot", "w").write(to_dot(y, names={"x": x, "w": w, "b": b}))   # dot -Tsvg y.dot

Nodes are tensors: an op's output (labelled by the op) or a leaf (labelled by its name, or by its
value if it is an unnamed scalar constant such as the 1.0 in 1.0 − z). Edges run from inputs to
the op that used them, in argument order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from rich.tree import Tree

from tinygrad_rnn.engine.tensor import Function, Tensor

__all__ = ["Node", "graph_nodes", "graph_tree", "to_dot"]


@dataclass(frozen=True)
class Node:
    """One tensor of the graph; `inputs` are indices into the same node list. `label` is the
    tensor's name (given, or the model's, such as a gate's) or else its op; `op` is "" for a
    leaf; `source` is the graph's own object (the Function, or the leaf Tensor)."""

    label: str
    shape: tuple[int, ...]
    requires_grad: bool
    is_leaf: bool
    inputs: tuple[int, ...]
    op: str = ""
    source: Any = field(default=None, compare=False, repr=False)


def _leaf_label(tensor: Tensor, names: dict[int, str]) -> str:
    if id(tensor) in names:
        return names[id(tensor)]
    return f"{tensor.data.item():g}" if tensor.numel() == 1 else "constant"


def _op_label(ctx: Function, names: dict[int, str]) -> str:
    return names.get(id(ctx)) or ctx.label or type(ctx).op_name()


def graph_nodes(root: Tensor, names: Mapping[str, Tensor] | None = None) -> list[Node]:
    """Every node that leads to `root` (the ops, and the leaf tensors they read), each after its
    inputs (root last); iterative, so a graph of any depth works."""
    by_id = {id(t if t._ctx is None else t._ctx): name for name, t in (names or {}).items()}
    index: dict[int, int] = {}
    nodes: list[Node] = []
    start: Function | Tensor = root._ctx if root._ctx is not None else root
    stack: list[tuple[Function | Tensor, bool]] = [(start, False)]
    while stack:
        node, inputs_done = stack.pop()
        parents = node.parents if isinstance(node, Function) else ()
        if inputs_done:
            if id(node) not in index:
                index[id(node)] = len(nodes)
                if isinstance(node, Function):
                    nodes.append(Node(_op_label(node, by_id), node.shape, True, False,
                                      tuple(index[id(p)] for p in parents),
                                      type(node).op_name(), node))
                else:
                    nodes.append(Node(_leaf_label(node, by_id), node.shape, node.requires_grad,
                                      True, (), "", node))
            continue
        if id(node) in index:
            continue
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(parents) if id(p) not in index)
    return nodes


def _describe(node: Node) -> Text:
    text = Text()
    text.append(node.label, style="cyan" if node.is_leaf else "bold")
    if node.op and node.op != node.label:
        text.append(f" = {node.op}")
    text.append(f"  {node.shape}", style="dim")
    if node.is_leaf:
        text.append("  needs grad" if node.requires_grad else "  no grad",
                    style="green" if node.requires_grad else "dim")
    return text


def graph_tree(root: Tensor, names: Mapping[str, Tensor] | None = None) -> Tree:
    """The graph as a tree rooted at the output: each op above its inputs; a node used twice is
    drawn once and referred to as "(shown above)" afterwards."""
    nodes = graph_nodes(root, names)
    tree = Tree(_describe(nodes[-1]))
    shown = {len(nodes) - 1}
    stack = [(tree, i) for i in reversed(nodes[-1].inputs)]
    while stack:
        branch, i = stack.pop()
        if i in shown:
            branch.add(_describe(nodes[i]).append("  (shown above)", style="italic dim"))
            continue
        shown.add(i)
        child = branch.add(_describe(nodes[i]))
        stack.extend((child, j) for j in reversed(nodes[i].inputs))
    return tree


def to_dot(root: Tensor, names: Mapping[str, Tensor] | None = None) -> str:
    """Graphviz DOT text: one line per node (leaves as boxes, green if they need grad), then one
    line per edge from input to op."""
    nodes = graph_nodes(root, names)
    lines = ["digraph {", "  rankdir=BT;"]
    for i, node in enumerate(nodes):
        shape = "box" if node.is_leaf else "ellipse"
        fill = ', style=filled, fillcolor="#c8f0c8"' if node.is_leaf and node.requires_grad else ""
        op = f"\\n{node.op}" if node.op and node.op != node.label else ""
        lines.append(f'  n{i} [label="{node.label}{op}\\n{node.shape}", shape={shape}{fill}];')
    lines += [f"  n{j} -> n{i};" for i, node in enumerate(nodes) for j in node.inputs]
    lines.append("}")
    return "\n".join(lines) + "\n"
