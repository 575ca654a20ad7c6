"""One-to-many: one input, a whole sequence out. Write a name that starts with a given letter.

    python demos/one_to_many.py              # a GRU, 600 steps
    python demos/one_to_many.py --quick      # fewer steps (the test runs this)
    python demos/one_to_many.py --plain      # no colours or boxes

    letter ──→ h⟨0⟩ → h⟨1⟩ → h⟨2⟩ → …        the single input sets the starting state
                 ↑  ↘ŷ⟨1⟩ ↑  ↘ŷ⟨2⟩         each output character is fed back as the next input
                 ^    ŷ⟨1⟩

The letter is looked up in an embedding table whose rows are starting states h⟨0⟩; the GRU then
reads "^" (start) and writes the name one character at a time, each sampled character fed back
in, until it writes "$" (end). Training uses the names in _gallery.py. The measure: the fraction
of sampled names that start with the requested letter, over 200 samples (a model that ignored
its input would be right 1 time in 26). The bar for --quick is 0.90.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from _gallery import FIRST_NAMES, Printer, gallery_parser, run_demo, run_length

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.lm.generate import generate
from tinygrad_rnn.nn.utils import clip_grad_norm_

CHARS = "^$abcdefghijklmnopqrstuvwxyz"   # "^" starts a name, "$" ends it


@dataclass
class Settings:
    """Everything the script trains with."""

    embed: int = 16            # character embedding width
    hidden: int = 32           # GRU units (also the size of each starting state)
    batch_size: int = 64       # names per step
    steps: int = 600           # optimizer steps (--quick: 200)
    lr: float = 1e-2           # Adam's learning rate
    clip: float = 1.0          # max gradient norm
    temperature: float = 0.8   # sampling temperature (lower: safer, duller names)
    samples: int = 200         # names sampled to measure the first-letter fraction
    log_every: int = 100       # steps between progress lines
    seed: int = 0              # initialisation, batches and samples


class NameWriter(nn.Module):
    """letter (B,) → h⟨0⟩ (1, B, H); chars (T, B) → embedding (T, B, E) → GRU → logits (T, B, V)."""

    def __init__(self, s: Settings) -> None:
        super().__init__()
        self.start = nn.Embedding(26, s.hidden)                      # one starting state a letter
        self.embedding = nn.Embedding(len(CHARS), s.embed)
        self.rnn = nn.GRU(s.embed, s.hidden)
        self.head = nn.Linear(s.hidden, len(CHARS))

    def initial_state(self, letters: np.ndarray) -> tg.Tensor:
        """Letter ids (B,) (a = 0) → h⟨0⟩ (1, B, H), squashed into the GRU's range."""
        return self.start(letters).tanh().unsqueeze(0)               # (1, B, H)

    def forward(self, chars: np.ndarray, state: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        outputs, state = self.rnn(self.embedding(chars), state)      # (T, B, H)
        return self.head(outputs), state                             # (T, B, V)


def batch(names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Letters (B,), inputs "^name" (T, B) and targets "name$" (T, B), -100 after the end."""
    steps = max(map(len, names)) + 1
    inputs = np.zeros((steps, len(names)), dtype=np.int64)           # (T, B), "^" after the end
    targets = np.full((steps, len(names)), -100, dtype=np.int64)     # (T, B)
    for b, name in enumerate(names):
        inputs[:len(name) + 1, b] = [CHARS.index(c) for c in "^" + name]
        targets[:len(name) + 1, b] = [CHARS.index(c) for c in name + "$"]
    letters = np.array([ord(name[0]) - ord("a") for name in names])  # (B,)
    return letters, inputs, targets


def sample(model: NameWriter, letter: str, s: Settings, rng: np.random.Generator) -> str:
    """A name sampled from the model given its requested first letter."""
    def step(ids: np.ndarray, state: tg.Tensor) -> tuple[np.ndarray, tg.Tensor]:
        logits, state = model(ids[None, :], state)                   # (1, 1, V)
        return logits.data[0], state                                 # (1, V)

    model.eval()
    with tg.no_grad():
        state = model.initial_state(np.array([ord(letter) - ord("a")]))
        ids = generate(step, state, [CHARS.index("^")], max_len=15, rng=rng,
                       temperature=s.temperature, stop_id=CHARS.index("$"))
    model.train()
    return "".join(CHARS[i] for i in ids)


def parse(argv: list[str] | None) -> tuple[Settings, bool]:
    """Settings from the command line, and whether to print plain text."""
    parser = gallery_parser(__doc__, Settings.seed)
    args = parser.parse_args(argv)
    s = Settings(seed=args.seed)
    return run_length(s, args, steps=200, log_every=50), args.plain


def main(argv: list[str] | None = None) -> float:
    """Train, print names for a few letters and the first-letter fraction; return it."""
    s, plain = parse(argv)
    out = Printer(plain)
    rng = tg.manual_seed(s.seed)
    letters = sorted({name[0] for name in FIRST_NAMES})
    out.line(f"{len(FIRST_NAMES)} names starting with {len(letters)} different letters",
             style="bold")

    model = NameWriter(s)
    optimizer = optim.Adam(model.parameters(), lr=s.lr)
    start = time.perf_counter()
    for step in range(1, s.steps + 1):
        names = [FIRST_NAMES[i] for i in rng.integers(0, len(FIRST_NAMES), size=s.batch_size)]
        first, inputs, targets = batch(names)                        # (B,), (T, B), (T, B)
        logits, _ = model(inputs, model.initial_state(first))        # forward: (T, B, V)
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(CHARS)),
                                           targets.reshape(-1))      # (T·B, V)
        optimizer.zero_grad()
        loss.backward()
        grad_norm = clip_grad_norm_(model.parameters(), s.clip)
        optimizer.step()
        if step % s.log_every == 0 or step == s.steps:
            out.line(f"step {step:4d}  loss {loss.item():.3f} nats/char  grad {grad_norm:.2f}  "
                     f"{time.perf_counter() - start:.0f}s")

    requested = [letters[i] for i in rng.integers(0, len(letters), size=s.samples)]
    names = [sample(model, letter, s, rng) for letter in requested]
    fraction = float(np.mean([n.startswith(c) for n, c in zip(names, requested, strict=True)]))
    known = set(FIRST_NAMES)
    rows = [[letter, ", ".join(n + ("" if n in known else "*") for n in
                               [sample(model, letter, s, rng) for _ in range(6)])]
            for letter in "abcjmrs"]
    out.table("sampled names (* not in the training list)", ["letter", "names"], rows)
    out.line(f"{fraction:.3f} of {s.samples} samples start with the requested letter "
             f"(bar for --quick: 0.90)", style="bold green")
    return fraction


if __name__ == "__main__":
    run_demo(main)
