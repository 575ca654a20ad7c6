"""What `tinygrad-rnn vanishing` shows: ‖∂L/∂h⟨t⟩‖ over time for RNN, GRU and LSTM as heat strips,
before and after a short training, then the gradient norm per training step with and without
clipping. The numbers come from tinygrad_rnn/vanishing.py; this file only draws them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tinygrad_rnn.vanishing import (
    KINDS,
    FirstTokenTask,
    accuracy,
    hidden_grad_norms,
    make_probe,
    train_probe,
)
from tinygrad_rnn.viz.charts import heat_strip, legend, log_range, log_sparkline

__all__ = ["Settings", "QUICK", "show_vanishing"]


@dataclass(frozen=True)
class Settings:
    """Sizes of the two experiments."""

    steps: int = 30            # T: the first token decides the class, T − 1 distractors follow
    hidden: int = 16           # hidden units of every cell
    batch: int = 64            # sequences the gradient norms and accuracies are measured on
    train_steps: int = 300     # Adam steps of the "after training" picture
    train_batch: int = 16      # sequences per training step
    lr: float = 0.03           # Adam's learning rate
    explode_steps: int = 60    # SGD steps of the clipping comparison
    explode_length: int = 30   # sequence length of the clipping comparison
    seed: int = 0


QUICK = Settings(steps=10, hidden=8, batch=64, train_steps=60, explode_steps=15, explode_length=12)


def _strips(title: str, norms: dict[str, np.ndarray], accuracies: dict[str, float]) -> Table:
    low, high = log_range(*norms.values())
    table = Table(title=title, caption=Text("log scale  ").append(legend(low, high)),
                  title_justify="left")
    for name in ("cell", "‖∂L/∂h⟨t⟩‖,  t = 0 → T−1", "t=0", "t=T−1", "ratio", "accuracy"):
        table.add_column(name, justify="left" if name.startswith(("cell", "‖")) else "right")
    for kind, n in norms.items():
        table.add_row(kind.upper(), heat_strip(n, low, high), f"{n[0]:.1e}", f"{n[-1]:.1e}",
                      f"{n[0] / n[-1]:.0e}", f"{accuracies[kind]:.0%}")
    return table


def _vanishing(console: Console, s: Settings) -> None:
    task = FirstTokenTask(s.steps)
    rng = np.random.default_rng(s.seed)
    x, labels = task.batch(s.batch, rng)
    probes = {kind: make_probe(kind, task, s.hidden, rng) for kind in KINDS}
    before = {kind: hidden_grad_norms(p, x, labels) for kind, p in probes.items()}
    console.print(_strips(f"Untrained (PyTorch init; LSTM forget-gate bias 1), T = {s.steps}",
                          before, {k: accuracy(p, x, labels) for k, p in probes.items()}))
    console.print(f"[dim]The class is the first token: its only path to the loss is the product "
                  f"of {s.steps - 1} Jacobians ∂h⟨t⟩/∂h⟨t−1⟩, which shrinks it step by step.[/]\n")
    with console.status(f"training each cell for {s.train_steps} steps…"):
        for p in probes.values():
            train_probe(p, task, s.train_steps, rng, batch=s.train_batch, lr=s.lr)
    x, labels = task.batch(s.batch, rng)
    after = {kind: hidden_grad_norms(p, x, labels) for kind, p in probes.items()}
    accuracies = {k: accuracy(p, x, labels) for k, p in probes.items()}
    console.print(_strips(f"After {s.train_steps} Adam steps (lr {s.lr:g}, batch "
                          f"{s.train_batch}), on {s.batch} new sequences", after, accuracies))
    console.print(f"[dim]{_verdict(accuracies)} 50% is chance. Adam rescales every parameter's "
                  "step, so even a vanished gradient can be enough: whether a cell escapes the "
                  "50% plateau in time depends on T, the seed and the cell (try --seed).[/]\n")


def _verdict(accuracies: dict[str, float]) -> str:
    """One sentence: which cells learned the task (accuracy ≥ 90%) and which did not."""
    learned = [k.upper() for k, a in accuracies.items() if a >= 0.9]
    missed = [k.upper() for k, a in accuracies.items() if a < 0.9]
    parts = [f"learned it (≥ 90%): {', '.join(learned)}" if learned else "",
             f"did not (< 90%): {', '.join(missed)}" if missed else ""]
    sentence = "; ".join(p for p in parts if p)
    return sentence[0].upper() + sentence[1:] + "."


def _exploding(console: Console, s: Settings) -> None:
    task = FirstTokenTask(s.explode_length)
    logs = {}
    for clip in (None, 1.0):
        rng = np.random.default_rng(s.seed)
        probe = make_probe("rnn", task, s.hidden, rng, recurrent_gain=2.0)
        logs[clip] = train_probe(probe, task, s.explode_steps, rng, lr=0.2, optimizer="sgd",
                                 clip=clip)
    low, high = log_range(*(log.grad_norms for log in logs.values()))
    table = Table(title=f"Exploding: a tanh RNN with W_hh = 2 × orthogonal, SGD lr 0.2, "
                        f"T = {s.explode_length}", title_justify="left",
                  caption=f"heights on a log scale, 1e{low:.0f} to 1e{high:.0f}")
    for name in ("clipping", "gradient norm per step (before clipping)", "max", "loss per step",
                 "last loss"):
        table.add_column(name, justify="right" if name in ("max", "last loss") else "left")
    for clip, log in logs.items():
        losses = log.losses
        table.add_row("none" if clip is None else f"norm ≤ {clip:g}",
                      log_sparkline(log.grad_norms, low, high, "yellow"),
                      f"{max(log.grad_norms):.1e}",
                      log_sparkline(losses, *log_range(*(g.losses for g in logs.values()))),
                      f"{np.mean(losses[-5:]):.2f}")
    console.print(table)
    console.print("[dim]Without clipping one large step can throw W_hh into saturation, where "
                  "training stalls; clipping bounds every step (the direction is kept).[/]")


def show_vanishing(console: Console, settings: Settings) -> None:
    """Run both experiments and print them."""
    _vanishing(console, settings)
    _exploding(console, settings)
