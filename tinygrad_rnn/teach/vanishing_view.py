"""What `tinygrad-rnn vanishing` shows: ‖∂L/∂h⟨t⟩‖ over time for RNN, GRU and LSTM as heat strips,
before and after a short training, then the gradient norm per training step with and without
clipping. The numbers come from tinygrad_rnn/teach/vanishing.py; this file only draws them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tinygrad_rnn.teach.vanishing import (
    KINDS,
    AddingTask,
    FirstTokenTask,
    hidden_grad_norms,
    make_probe,
    mean_squared_error,
    train_probe,
)
from tinygrad_rnn.viz.charts import heat_strip, legend, log_range, log_sparkline

__all__ = ["Settings", "QUICK", "SOLVED", "show_vanishing"]


@dataclass(frozen=True)
class Settings:
    """Sizes of the two experiments."""

    steps: int = 30            # T of the adding problem: one marked number in the first tenth
    hidden: int = 16           # hidden units of every cell
    batch: int = 128           # sequences the gradient norms and errors are measured on
    train_steps: int = 800     # Adam steps of the "after training" picture
    train_batch: int = 16      # sequences per training step
    lr: float = 0.03           # Adam's learning rate
    explode_steps: int = 60    # SGD steps of the clipping comparison
    explode_length: int = 30   # sequence length of the clipping comparison
    seed: int = 0


QUICK = Settings(steps=10, hidden=8, batch=64, train_steps=60, explode_steps=15, explode_length=12)

SOLVED = 0.02                  # an mse below this counts as solved (guessing 1 scores 1/6)


def _strips(title: str, norms: dict[str, np.ndarray], errors: dict[str, float]) -> Table:
    low, high = log_range(*norms.values())
    table = Table(title=title, caption=Text("log scale  ").append(legend(low, high)),
                  title_justify="left")
    for name in ("cell", "‖∂L/∂h⟨t⟩‖,  t = 0 → T−1", "t=0", "t=T−1", "ratio", "mse"):
        table.add_column(name, justify="left" if name.startswith(("cell", "‖")) else "right")
    for kind, n in norms.items():
        table.add_row(kind.upper(), heat_strip(n, low, high), f"{n[0]:.1e}", f"{n[-1]:.1e}",
                      f"{n[0] / n[-1]:.0e}", f"{errors[kind]:.3f}")
    return table


def _vanishing(console: Console, s: Settings) -> None:
    task = AddingTask(s.steps)
    rng = np.random.default_rng(s.seed)
    x, targets = task.batch(s.batch, rng)
    probes = {kind: make_probe(kind, task, s.hidden, rng) for kind in KINDS}
    before = {kind: hidden_grad_norms(p, task, x, targets) for kind, p in probes.items()}
    console.print(_strips(f"Untrained (PyTorch init; LSTM forget-gate bias 1), adding problem, "
                          f"T = {s.steps}", before,
                          {k: mean_squared_error(p, x, targets) for k, p in probes.items()}))
    console.print(f"[dim]The target is the sum of two marked numbers, one at a step "
                  f"t < {max(1, s.steps // 10)}: what the loss says about it must pass through "
                  f"≥ {s.steps - max(1, s.steps // 10)} Jacobians ∂h⟨t⟩/∂h⟨t−1⟩. A latch (a "
                  "saturated unit keeping its sign) cannot store a real number.[/]\n")
    with console.status(f"training each cell for {s.train_steps} steps…"):
        for p in probes.values():
            train_probe(p, task, s.train_steps, rng, batch=s.train_batch, lr=s.lr)
    x, targets = task.batch(s.batch, rng)
    after = {kind: hidden_grad_norms(p, task, x, targets) for kind, p in probes.items()}
    errors = {k: mean_squared_error(p, x, targets) for k, p in probes.items()}
    console.print(_strips(f"After {s.train_steps} Adam steps (lr {s.lr:g}, batch "
                          f"{s.train_batch}), on {s.batch} new sequences", after, errors))
    console.print(f"[dim]{_verdict(errors)} Guessing the mean sum 1 scores 1/6 ≈ 0.167, knowing "
                  "only the late number 1/12 ≈ 0.083. A cell first sits on the 0.167 plateau; "
                  "when (and whether) it leaves it depends on T, the seed and the cell "
                  "(try --seed).[/]\n")


def _verdict(errors: dict[str, float]) -> str:
    """One sentence: which cells solved the task (mse < SOLVED) and which did not."""
    solved = [k.upper() for k, e in errors.items() if e < SOLVED]
    missed = [k.upper() for k, e in errors.items() if e >= SOLVED]
    parts = [f"solved it (mse < {SOLVED:g}): {', '.join(solved)}" if solved else "",
             f"did not: {', '.join(missed)}" if missed else ""]
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
