"""Pictures, below the applications that show them: computation graphs (a rich tree, Graphviz
DOT, an SVG drawing with values and gradients), unrolled chains, line charts and terminal charts.
They read the engine's graph and plain numbers; the dashboard and report (lm/) and the teaching
tools (teach/) draw with them. UI code: it uses rich, which the engine never imports.

    graph.py   a computation graph as a rich tree or Graphviz DOT
    draw.py    tg.draw: the graph as SVG, each node's value and ‖gradient‖ (no Graphviz)
    chain.py   a cell unrolled over time, each state coloured by ‖∂L/∂h⟨t⟩‖
    plot.py    line charts (train/validation loss, ...) as SVG and as terminal text
    svg.py     the SVG pieces and the log colour scale the pictures share
    charts.py  sparklines, heat strips and their legends for the terminal
"""

from tinygrad_rnn.viz.graph import Node, graph_nodes, graph_tree, to_dot

__all__ = ["Node", "graph_nodes", "graph_tree", "to_dot"]
