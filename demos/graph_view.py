"""The computation graph behind a tensor, as a tree; Graphviz DOT; a trace of forward and backward.

    python demos/graph_view.py                           # tanh(x @ w + b), as in docs/autograd.md
    python demos/graph_view.py --cell gru --dot gru.dot  # one GRU step; dot -Tsvg gru.dot
    python demos/graph_view.py "(a * b).sum()" --input a=3 --input b=3 --trace
    python demos/graph_view.py --plain                   # no colours

Every demo takes --quick; drawing a graph takes no time, so here it changes nothing.

The same as `tinygrad-rnn graph`; the library functions are tinygrad_rnn.teach.graph_tree/to_dot.
"""

import sys

from tinygrad_rnn.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["graph", *[word for word in sys.argv[1:] if word != "--quick"]]))
