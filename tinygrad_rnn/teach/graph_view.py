"""The graphs `tinygrad-rnn graph` draws: one recurrent cell step, or an expression over inputs
whose shapes are given on the command line (e.g. x=4,3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from tinygrad_rnn.engine.tensor import ShapeError, Tensor
from tinygrad_rnn.nn import GRUCell, LSTMCell, RNNCell
from tinygrad_rnn.teach.expression import ExpressionError, evaluate, expression_names

__all__ = ["DEFAULT_EXPRESSION", "DEFAULT_INPUTS", "Source", "parse_shape_spec",
           "expression_source", "cell_source"]

DEFAULT_EXPRESSION = "tanh(x @ w + b)"
DEFAULT_INPUTS = ("x=2,3", "w=3,2", "b=2")   # a batch of 2 inputs, 3 features, 2 units


class Source(NamedTuple):
    """Named input tensors, and a function that computes the output from them (again and again:
    once to draw the graph, once more under trace())."""

    names: dict[str, Tensor]
    compute: Callable[[], Tensor]


def parse_shape_spec(spec: str) -> tuple[str, tuple[int, ...]]:
    """"x=4,3" → ("x", (4, 3)); "s=" is a scalar."""
    name, sep, dims = spec.partition("=")
    try:
        if not (sep and name.isidentifier()):
            raise ValueError
        shape = tuple(int(d) for d in dims.split(",") if d.strip())
        if any(d < 1 for d in shape):
            raise ValueError
    except ValueError:
        raise ExpressionError(f"--input {spec!r}: expected NAME=SHAPE such as x=4,3") from None
    return name, shape


def expression_source(text: str, specs: Sequence[str], no_grad: Sequence[str],
                      seed: int = 0) -> Source:
    """Evaluate `text` on float64 inputs of the given shapes (values in [0.5, 1.5], so log and
    sqrt are defined); every input needs grad except those in `no_grad`."""
    shapes = dict(parse_shape_spec(spec) for spec in specs)
    rng = np.random.default_rng(seed)
    names = {}
    for name in expression_names(text):
        if name not in shapes:
            raise ExpressionError(f"expression: input {name!r} has no shape: add --input "
                                  f"{name}=SHAPE (e.g. {name}=4,3)")
        names[name] = Tensor(rng.uniform(0.5, 1.5, shapes[name]),
                             requires_grad=name not in no_grad)
    unknown = sorted(set(no_grad) - set(names))
    if unknown:
        raise ExpressionError(f"--no-grad {unknown[0]}: not an input of the expression")

    def compute() -> Tensor:
        try:
            return evaluate(text, names)
        except ShapeError as e:
            raise ExpressionError(str(e)) from None

    compute()  # refuse a bad expression here, before anything is drawn
    return Source(names, compute)


def cell_source(kind: str, seed: int = 0) -> Source:
    """One step of a cell (batch 2, 3 inputs, 4 hidden units): h' from x (no grad), the previous
    state (needs grad: it came from the step before) and the parameters; for an LSTM, h' (whose
    graph contains c')."""
    cells = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}
    cell = cells[kind](3, 4).double()
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((2, 3)))
    h = Tensor(rng.standard_normal((2, 4)), requires_grad=True)
    names = {"x": x, "h": h, **dict(cell.named_parameters())}
    if kind == "lstm":
        names["c"] = Tensor(rng.standard_normal((2, 4)), requires_grad=True)
        return Source(names, lambda: cell(x, (h, names["c"]))[0])
    return Source(names, lambda: cell(x, h))
