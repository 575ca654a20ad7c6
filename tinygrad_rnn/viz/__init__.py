"""Pictures of what the engine does: computation graphs (rich tree, Graphviz DOT) and terminal
charts. UI code: it uses rich, which the engine itself never imports."""

from tinygrad_rnn.viz.graph import Node, graph_nodes, graph_tree, to_dot

__all__ = ["Node", "graph_nodes", "graph_tree", "to_dot"]
