"""tinygrad_rnn: a tiny reverse-mode autograd engine on numpy, and recurrent networks on it.

The package reads bottom to top (README, "Where things are"): engine/, then testing/; nn/, optim/,
data/; lm/, the language-model application; teach/, the teaching tools; cli.py on top. This file
is the short list of what a learner imports.
"""

from typing import Any

from tinygrad_rnn import _moved, nn, optim
from tinygrad_rnn.engine.creation import (
    arange,
    cat,
    eye,
    full,
    ones,
    ones_like,
    rand,
    randn,
    randn_like,
    stack,
    tensor,
    uniform,
    where,
    zeros,
    zeros_like,
)
from tinygrad_rnn.engine.random import manual_seed
from tinygrad_rnn.engine.scan import scan_report, scan_source
from tinygrad_rnn.engine.tensor import (
    Function,
    ShapeError,
    Tensor,
    enable_grad,
    is_grad_enabled,
    no_grad,
    watch,
)
from tinygrad_rnn.engine.threads import get_num_threads, set_num_threads
from tinygrad_rnn.nn import utils as clip  # tg.clip.clip_grad_norm_, as before nn.utils existed
from tinygrad_rnn.testing.anomaly import AnomalyError, detect_anomaly
from tinygrad_rnn.testing.gradcheck import GradcheckError, gradcheck, numerical_grad


def draw(tensor: Tensor, names: dict[str, Tensor] | None = None, title: str | None = None) -> Any:
    """The graph that made `tensor` as a picture: `.save("g.svg")`, or shown inline in Jupyter;
    each node its op, shape, value and ‖gradient‖ (see tinygrad_rnn.viz.draw)."""
    from tinygrad_rnn.viz.draw import draw as draw_graph  # SVG code loads only when drawing

    return draw_graph(tensor, names, title)


_moved.alias_loaded()  # old module paths keep working: tinygrad_rnn.tensor, tinygrad_rnn.train, ...

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Function", "ShapeError", "no_grad", "enable_grad", "is_grad_enabled",
    "tensor", "zeros", "ones", "full", "randn", "rand", "uniform", "arange", "eye",
    "zeros_like", "ones_like", "randn_like", "cat", "stack", "where", "manual_seed",
    "gradcheck", "numerical_grad", "GradcheckError", "detect_anomaly", "AnomalyError",
    "optim", "clip", "nn", "draw", "watch", "scan_source", "scan_report", "set_num_threads",
    "get_num_threads",
]
