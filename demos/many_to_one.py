"""Many-to-one: read a whole sequence, answer once. Does a digit string contain "7 3"?

    python demos/many_to_one.py              # a GRU, 400 steps
    python demos/many_to_one.py --quick      # fewer steps: held-out accuracy must reach 0.90
    python demos/many_to_one.py --cell rnn   # the plain RNN cell, for comparison
    python demos/many_to_one.py --plain      # no colours or boxes

    x⟨1⟩  x⟨2⟩ … x⟨T⟩          one digit per step
     ↓     ↓      ↓
    h⟨1⟩→ h⟨2⟩→ … h⟨T⟩ → ŷ    one probability, from the last hidden state only

Label 1 when a 7 is *immediately* followed by a 3. The negatives are built to fool a model that
ignores order: many contain "3 7" or "7 x 3", so counting digits (a bag of words) is not enough;
the network must remember "the previous digit was a 7" for exactly one step. Held-out accuracy
is printed; the bar for --quick is 0.90 (an untrained model scores about 0.5).
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

    cell: str = "gru"          # rnn, gru or lstm
    length: int = 12           # digits per sequence
    train_size: int = 4000     # generated training sequences
    test_size: int = 1000      # held-out sequences, generated with another seed
    embed: int = 8             # digit embedding width
    hidden: int = 32           # recurrent units
    batch_size: int = 64       # sequences per step
    steps: int = 400           # optimizer steps (--quick: 100)
    lr: float = 1e-2           # Adam's learning rate
    clip: float = 1.0          # max gradient norm
    log_every: int = 50        # steps between progress lines
    seed: int = 0              # data, initialisation and batches


def contains_7_3(seq: np.ndarray) -> bool:
    """True when a 7 is immediately followed by a 3."""
    return bool(np.any((seq[:-1] == 7) & (seq[1:] == 3)))


def make_data(n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n digit sequences (n, length) and labels (n,): half contain "7 3", half do not."""
    x = np.zeros((n, length), dtype=np.int64)                        # (N, T)
    y = np.arange(n) % 2                                             # balanced labels
    for i in range(n):
        while True:                                                  # draw until the label fits
            seq = rng.integers(0, 10, size=length)
            at = rng.integers(0, length - 2)
            other = rng.choice([0, 1, 2, 4, 5, 6, 8, 9])
            if y[i] == 1:
                seq[at:at + 2] = (7, 3)                              # plant the pattern
            elif rng.random() < 0.5:                                 # or a decoy with 3 and 7
                seq[at:at + 3] = (3, 7, other) if rng.random() < 0.5 else (7, other, 3)
            if contains_7_3(seq) == y[i]:
                x[i] = seq
                break
    order = rng.permutation(n)
    return x[order], y[order]


class Classifier(nn.Module):
    """digits (B, T) → embedding (T, B, E) → RNN → last hidden state (B, H) → one logit (B,)."""

    def __init__(self, s: Settings) -> None:
        super().__init__()
        rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[s.cell]
        self.embedding = nn.Embedding(10, s.embed)
        self.rnn = rnn(s.embed, s.hidden)
        self.head = nn.Linear(s.hidden, 1)

    def forward(self, digits: np.ndarray) -> tg.Tensor:
        outputs, _ = self.rnn(self.embedding(digits.T))              # (T, B, H)
        return self.head(outputs[-1]).reshape(-1)                    # (B, H) → (B,)


def accuracy(model: Classifier, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Fraction classified right (logit > 0 means "contains 7 3"), and the probabilities."""
    model.eval()
    with tg.no_grad():
        probs = model(x).sigmoid().numpy()                           # (N,)
    model.train()
    return float(((probs > 0.5) == y).mean()), probs


def parse(argv: list[str] | None) -> tuple[Settings, bool]:
    """Settings from the command line, and whether to print plain text."""
    parser = gallery_parser(__doc__, Settings.seed)
    parser.add_argument("--cell", choices=["rnn", "gru", "lstm"], default=Settings.cell)
    args = parser.parse_args(argv)
    s = Settings(cell=args.cell, seed=args.seed)
    return run_length(s, args, steps=100, train_size=2000, log_every=25), args.plain


def main(argv: list[str] | None = None) -> float:
    """Train, print examples and held-out accuracy; return the accuracy."""
    s, plain = parse(argv)
    out = Printer(plain)
    rng = tg.manual_seed(s.seed)
    x_train, y_train = make_data(s.train_size, s.length, np.random.default_rng(s.seed))
    x_test, y_test = make_data(s.test_size, s.length, np.random.default_rng(s.seed + 1))
    out.line(f"{s.train_size} training sequences of {s.length} digits, {s.test_size} held out; "
             f"a {s.cell.upper()} with {s.hidden} units", style="bold")

    model = Classifier(s)
    optimizer = optim.Adam(model.parameters(), lr=s.lr)
    start = time.perf_counter()
    for step in range(1, s.steps + 1):
        rows = rng.integers(0, s.train_size, size=s.batch_size)
        logits = model(x_train[rows])                                # forward: (B,)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y_train[rows].astype(
            np.float32))
        optimizer.zero_grad()
        loss.backward()
        grad_norm = clip_grad_norm_(model.parameters(), s.clip)
        optimizer.step()
        if step % s.log_every == 0 or step == s.steps:
            acc, _ = accuracy(model, x_test, y_test)
            out.line(f"step {step:4d}  loss {loss.item():.3f}  grad {grad_norm:.2f}  "
                     f"held-out accuracy {acc:.3f}  {time.perf_counter() - start:.0f}s")

    acc, probs = accuracy(model, x_test, y_test)
    rows = [[" ".join(map(str, x_test[i])), "yes" if y_test[i] else "no", f"{probs[i]:.2f}",
             "✓" if (probs[i] > 0.5) == y_test[i] else "✗"] for i in range(10)]
    out.table("held-out sequences", ["digits", "contains 7 3", "P(yes)", ""], rows)
    out.line(f"held-out accuracy {acc:.3f} (bar for --quick: 0.90; chance: 0.5)",
             style="bold green")
    return acc


if __name__ == "__main__":
    run_demo(main)
