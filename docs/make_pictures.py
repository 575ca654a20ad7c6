"""Draw the pictures the docs show (docs/pictures/*.svg) and the notebook of docs/pictures.md.

    make pictures                    # or: python docs/make_pictures.py [OUT_DIR]

Everything is computed here by the package's own code (seeded, float64 where it matters), so a
test (tests/test_pictures.py) draws them again and checks the committed files are the same.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn.lm.plot import loss_series
from tinygrad_rnn.lm.runs import read_run
from tinygrad_rnn.lm.train import TrainConfig, train
from tinygrad_rnn.teach.graph_view import cell_source, unrolled
from tinygrad_rnn.viz.chain import Row, chain_svg
from tinygrad_rnn.viz.plot import chart_svg

DOCS = Path(__file__).resolve().parent


def expression() -> str:
    """tanh(x @ w + b) summed, with every value and gradient (the docs' first example)."""
    x = tg.Tensor(np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]))
    w = tg.Tensor(np.array([[0.1, -0.2], [0.3, 0.1], [-0.1, 0.2]]), requires_grad=True)
    b = tg.Tensor(np.array([0.0, 0.5]), requires_grad=True)
    with tg.watch():
        loss = (x @ w + b).tanh().sum()
        loss.backward()
    return tg.draw(loss, {"x": x, "w": w, "b": b}, "L = Σ tanh(x @ w + b)").svg()


def bptt(steps: int = 6) -> str:
    """RNN, GRU and LSTM unrolled: ‖∂L/∂h⟨t⟩‖ per step on one colour scale."""
    rows = []
    for kind in ("rnn", "gru", "lstm"):
        run = unrolled(kind, steps)
        rows.append(Row(kind.upper(), "h", run.norms))
        if run.cell_norms is not None:
            rows.append(Row("LSTM", "c", run.cell_norms))
    return chain_svg(rows, f"∂L/∂state over {steps} steps, L from the last state "
                           "(untrained cells, seed 0)")


def loss_curves(runs: Path) -> str:
    """Two tiny runs on the names corpus, an RNN and a GRU, overlaid."""
    for cell in ("rnn", "gru"):
        config = TrainConfig(corpus="python-names", lines=True, cell=cell, hidden=24, embed=16,
                             batch_size=16, steps=120, eval_every=10)
        train(config, str(runs / cell))
    found = [replace(read_run(str(runs / cell)), path=cell)    # short names in the legend
             for cell in ("rnn", "gru")]
    return chart_svg(loss_series(found), "names: RNN vs GRU, 120 steps", "step",
                     "loss (nats/char)")


def pictures() -> dict[str, str]:
    """Every picture's file name and SVG text."""
    out = {"expression.svg": expression(), "bptt.svg": bptt(),
           "gru_step.svg": cell_source("gru").drawing().svg(),
           "lstm_step.svg": cell_source("lstm").drawing().svg()}
    rnn = unrolled("rnn", 3)
    out["rnn_unrolled.svg"] = tg.draw(rnn.loss, rnn.names, "an RNN over 3 steps, "
                                      "L = Σ R ⊙ h⟨3⟩").svg()
    with tempfile.TemporaryDirectory() as runs:
        out["loss.svg"] = loss_curves(Path(runs))
    return out


def notebook() -> str:
    """docs/pictures.md as a Jupyter notebook (jupytext), to run cell by cell; its shell
    commands stay text (jupytext would make them %%bash cells, run with the notebook)."""
    import jupytext
    from nbformat.v4 import new_markdown_cell

    book = jupytext.read(DOCS / "pictures.md")
    book.cells = [new_markdown_cell("```bash\n" + cell.source.removeprefix("%%bash\n") + "\n```")
                  if cell.cell_type == "code" and cell.source.startswith("%%bash") else cell
                  for cell in book.cells]
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}
    for k, cell in enumerate(book.cells):
        cell.id = f"cell-{k}"                 # not random ids: the file repeats exactly
    return jupytext.writes(book, fmt="ipynb")


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else DOCS / "pictures"
    out.mkdir(exist_ok=True)
    for name, svg in pictures().items():
        (out / name).write_text(svg, encoding="utf-8")
        print(f"wrote {out / name}")
    (DOCS / "pictures.ipynb").write_text(notebook(), encoding="utf-8")
    print(f"wrote {DOCS / 'pictures.ipynb'}")


if __name__ == "__main__":
    main(sys.argv[1:])
