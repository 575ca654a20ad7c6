"""One-to-one: no sequence at all. A feed-forward network classifies points of the plane.

    python demos/one_to_one.py               # an MLP on three interleaved spirals
    python demos/one_to_one.py --quick       # fewer steps (the test runs this)
    python demos/one_to_one.py --plain       # no colours or boxes

    x (2,) → Linear → tanh → Linear → tanh → Linear → ŷ (3,)

The contrast to the other gallery demos: one input, one output, no time steps and no state
carried from one example to the next, so the order of the examples does not matter. The data:
three spiral arms wound around each other (no straight line separates them). The script prints
the plane as the network sees it, one letter per region, and the accuracy on held-out points;
the bar for --quick is 0.90 (chance is 1/3).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from _gallery import Printer, gallery_parser, run_demo, run_length

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.nn.utils import clip_grad_norm_


@dataclass
class Settings:
    """Everything the script trains with."""

    train_size: int = 600      # training points, a third per arm
    test_size: int = 300       # held-out points, drawn with another seed
    noise: float = 0.2         # spread of the points around their arm (radians)
    hidden: int = 64           # units in each of the two hidden layers
    batch_size: int = 64       # points per step
    steps: int = 2000          # optimizer steps (--quick: 800)
    lr: float = 2e-2           # Adam's learning rate
    clip: float = 5.0          # max gradient norm
    log_every: int = 400       # steps between progress lines
    seed: int = 0              # data and initialisation


def spirals(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points (n, 2) in [-1.5, 1.5]² on three spiral arms, and their arm (n,)."""
    arm = np.arange(n) % 3
    radius = rng.uniform(0.05, 1.0, size=n)
    angle = 3 * np.pi * radius + arm * 2 * np.pi / 3 + rng.normal(0, noise, size=n)
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)   # (N, 2)
    return points.astype(np.float32), arm


class MLP(nn.Module):
    """points (N, 2) → hidden (N, H) → hidden (N, H) → logits (N, 3)."""

    def __init__(self, s: Settings) -> None:
        super().__init__()
        self.layer1 = nn.Linear(2, s.hidden)
        self.layer2 = nn.Linear(s.hidden, s.hidden)
        self.head = nn.Linear(s.hidden, 3)

    def forward(self, points: np.ndarray) -> tg.Tensor:
        h = self.layer1(tg.Tensor(points)).tanh()                    # (N, H)
        h = self.layer2(h).tanh()                                    # (N, H)
        return self.head(h)                                          # (N, 3)


def predict(model: MLP, points: np.ndarray) -> np.ndarray:
    """The most likely arm of each point (N,)."""
    with tg.no_grad():
        return model(points).numpy().argmax(axis=1)


def plane(model: MLP, rows: int = 15, cols: int = 40) -> list[str]:
    """The square [-1, 1]² as text, each cell the letter of the arm the model predicts there."""
    ys, xs = np.meshgrid(np.linspace(1, -1, rows), np.linspace(-1, 1, cols), indexing="ij")
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)   # (rows·cols, 2)
    arms = predict(model, grid).reshape(rows, cols)                  # (rows, cols)
    return ["".join("abc"[a] for a in row) for row in arms]


def parse(argv: list[str] | None) -> tuple[Settings, bool]:
    """Settings from the command line, and whether to print plain text."""
    parser = gallery_parser(__doc__, Settings.seed)
    args = parser.parse_args(argv)
    s = Settings(seed=args.seed)
    return run_length(s, args, steps=800, log_every=200), args.plain


def main(argv: list[str] | None = None) -> float:
    """Train, print the learned regions and held-out accuracy; return the accuracy."""
    s, plain = parse(argv)
    out = Printer(plain)
    rng = tg.manual_seed(s.seed)
    x_train, y_train = spirals(s.train_size, s.noise, np.random.default_rng(s.seed))
    x_test, y_test = spirals(s.test_size, s.noise, np.random.default_rng(s.seed + 1))
    out.line(f"{s.train_size} training points on three spiral arms, {s.test_size} held out",
             style="bold")

    model = MLP(s)
    optimizer = optim.Adam(model.parameters(), lr=s.lr)
    start = time.perf_counter()
    for step in range(1, s.steps + 1):
        rows = rng.integers(0, s.train_size, size=s.batch_size)
        logits = model(x_train[rows])                                # forward: (B, 3)
        loss = nn.functional.cross_entropy(logits, y_train[rows])
        optimizer.zero_grad()
        loss.backward()
        grad_norm = clip_grad_norm_(model.parameters(), s.clip)
        optimizer.step()
        if step % s.log_every == 0 or step == s.steps:
            batch_accuracy = float((logits.numpy().argmax(axis=1) == y_train[rows]).mean())
            out.line(f"step {step:4d}  loss {loss.item():.3f}  grad {grad_norm:.2f}  "
                     f"batch accuracy {batch_accuracy:.3f}  {time.perf_counter() - start:.1f}s")

    accuracy = float((predict(model, x_test) == y_test).mean())
    out.table("the plane [-1, 1]² as the network sees it (a, b, c: the three arms)", ["map"],
              [[row] for row in plane(model)])
    out.line(f"held-out accuracy {accuracy:.3f} (bar for --quick: 0.90; chance: 0.33)",
             style="bold green")
    return accuracy


if __name__ == "__main__":
    run_demo(main)
