"""The graphs `tinygrad-rnn graph` draws: one recurrent cell step, an expression over inputs
whose shapes are given on the command line (e.g. x=4,3), or a cell unrolled over T steps."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from tinygrad_rnn.engine.random import manual_seed
from tinygrad_rnn.engine.scan import scan_source
from tinygrad_rnn.engine.tensor import ShapeError, Tensor, watch
from tinygrad_rnn.nn import GRUCell, LSTMCell, RNNCell
from tinygrad_rnn.teach.expression import ExpressionError, evaluate, expression_names

__all__ = ["DEFAULT_EXPRESSION", "DEFAULT_INPUTS", "MAX_ELEMENTS", "Source",
           "parse_shape_spec", "expression_source", "cell_source", "graph_source", "Unrolled",
           "unrolled", "show_unrolled", "cell_code"]

DEFAULT_EXPRESSION = "tanh(x @ w + b)"
DEFAULT_INPUTS = ("x=2,3", "w=3,2", "b=2")   # a batch of 2 inputs, 3 features, 2 units
MAX_ELEMENTS = 1_000_000                     # per input: a graph to look at, not to train


class Source(NamedTuple):
    """Named input tensors, and a function that computes the output from them (again and again:
    once to draw the graph, once more under trace() or watch())."""

    names: dict[str, Tensor]
    compute: Callable[[], Tensor]
    title: str = ""

    def drawing(self, seed: int = 0) -> Any:
        """The graph as a picture (viz.draw): computed under watch(), then backward from a random
        upstream gradient R (L = Σ R ⊙ output, or L = output for a scalar), so every node shows
        its value and ‖∂L/∂node‖."""
        from tinygrad_rnn.viz.draw import draw

        for tensor in self.names.values():
            tensor.grad = None
        with watch():
            root = self.compute()
            upstream = np.random.default_rng(seed).standard_normal(root.shape)
            root.backward(upstream if root.numel() > 1 else None)
        how = "L = output" if root.numel() == 1 else "L = Σ R ⊙ output, R random"
        return draw(root, self.names, f"{self.title}  ({how})")


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
    if math.prod(shape) > MAX_ELEMENTS:      # checked before anything is allocated
        raise ExpressionError(f"--input {spec}: {math.prod(shape):,} elements; the graph "
                              f"command takes at most {MAX_ELEMENTS:,} per input")
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
    return Source(names, compute, text)


CELLS = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}


def cell_code(kind: str) -> str:
    """The Python source scan compiles for one step of this cell (batch 2, 3 inputs, 4 hidden
    units, float64): forward, and the backward autograd derived (BPTT through one step)."""
    return scan_source(CELLS[kind](3, 4).double(), batch=2)


def cell_source(kind: str, seed: int = 0) -> Source:
    """One step of a cell (batch 2, 3 inputs, 4 hidden units): h' from x (no grad), the previous
    state (needs grad: it came from the step before) and the parameters; for an LSTM, h' (whose
    graph contains c')."""
    cell = CELLS[kind](3, 4).double()
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((2, 3)))
    h = Tensor(rng.standard_normal((2, 4)), requires_grad=True)
    names = {"x": x, "h": h, **dict(cell.named_parameters())}
    title = f"one {kind.upper()} step: h' from x, h"
    if kind == "lstm":
        names["c"] = Tensor(rng.standard_normal((2, 4)), requires_grad=True)
        return Source(names, lambda: cell(x, (h, names["c"]))[0], title + ", c")
    return Source(names, lambda: cell(x, h), title)


def graph_source(cell: str | None, expression: str | None, inputs: Sequence[str],
                 no_grad: Sequence[str]) -> Source:
    """What `tinygrad-rnn graph` draws: a cell step, or an expression whose inputs take their
    --input shapes, else the default ones (x=2,3 w=3,2 b=2, with x needing no grad unless
    --no-grad says otherwise)."""
    if cell:
        return cell_source(cell)
    text = expression or DEFAULT_EXPRESSION
    given = {parse_shape_spec(spec)[0] for spec in inputs}
    defaults = [spec for spec in DEFAULT_INPUTS if spec.split("=")[0] not in given
                and spec.split("=")[0] in expression_names(text)]
    default_x = any(spec.startswith("x=") for spec in defaults)
    return expression_source(text, [*inputs, *defaults],
                             no_grad if no_grad or not default_x else ["x"])


def show_unrolled(console: Any, kinds: Sequence[str], steps: int, svg: str | None) -> None:
    """Each cell over `steps` steps: the table of ‖∂L/∂h⟨t⟩‖ (and ‖∂L/∂c⟨t⟩‖ for an LSTM),
    and with `svg` the same as a picture."""
    from tinygrad_rnn.viz.chain import Row, chain_svg, chain_table

    rows = []
    for kind in kinds:
        run = unrolled(kind, steps)
        rows.append(Row(kind.upper(), "h", run.norms))
        if run.cell_norms is not None:
            rows.append(Row("LSTM", "c", run.cell_norms))
    title = f"∂L/∂state over {steps} steps, L from the last state (untrained cells, seed 0)"
    console.print(f"‖∂L/∂state⟨t⟩‖ over {steps} steps, L from the last state (untrained "
                  f"cells, seed 0):")
    console.print(chain_table(rows))
    for row in rows:
        console.print(f"{row.name} {row.symbol}: ‖∂L/∂{row.symbol}⟨0⟩‖ / "
                      f"‖∂L/∂{row.symbol}⟨{steps}⟩‖ = {row.norms[0] / row.norms[-1]:.2e}")
    if svg is not None:
        with open(svg, "w", encoding="utf-8") as f:
            f.write(chain_svg(rows, title))
        console.print(f"wrote {svg} (open it in a browser)")


class Unrolled(NamedTuple):
    """A cell run over T steps from h⟨0⟩, with L = Σ R ⊙ h⟨T⟩ (R random), and ‖∂L/∂h⟨t⟩‖ for
    t = 0 … T: the gradient reaching each step's state back through the chain of steps (for an
    LSTM also ‖∂L/∂c⟨t⟩‖, its memory cell's)."""

    kind: str
    loss: Tensor
    names: dict[str, Tensor]     # h⟨t⟩ (c⟨t⟩), inputs x⟨t⟩, parameters and L, to label a drawing
    norms: list[float]
    cell_norms: list[float] | None


def unrolled(kind: str, steps: int, seed: int = 0, hidden: int = 8) -> Unrolled:
    """Run one cell (3 inputs, `hidden` units, batch 1, PyTorch's initialisation from `seed`,
    float64) over `steps` random inputs under watch(), so every node keeps value and gradient."""
    manual_seed(seed)
    cell = CELLS[kind](3, hidden).double()
    rng = np.random.default_rng(seed)
    xs = [Tensor(rng.standard_normal((1, 3))) for _ in range(steps)]
    hs = [Tensor(rng.standard_normal((1, hidden)), requires_grad=True)]
    cs = [Tensor(np.zeros((1, hidden)), requires_grad=True)] if kind == "lstm" else []
    with watch():
        for x in xs:
            if kind == "lstm":
                h, c = cell(x, (hs[-1], cs[-1]))
                hs.append(h)
                cs.append(c)
            else:
                hs.append(cell(x, hs[-1]))
        loss = (hs[-1] * Tensor(rng.standard_normal((1, hidden)))).sum()
        loss.backward()
    names = {f"h⟨{t}⟩": h for t, h in enumerate(hs)}
    names |= {f"c⟨{t}⟩": c for t, c in enumerate(cs)}
    names |= {f"x⟨{t}⟩": x for t, x in enumerate(xs, 1)}
    names |= {**dict(cell.named_parameters()), "L": loss}
    norms = [float(np.linalg.norm(h.grad)) for h in hs]
    cell_norms = [float(np.linalg.norm(c.grad)) for c in cs] if cs else None
    return Unrolled(kind, loss, names, norms, cell_norms)
