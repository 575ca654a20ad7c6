"""Many-to-many, Tx ≠ Ty: an encoder–decoder translates human-readable dates to ISO 8601.

    python demos/date_translation.py                  # with attention, 1000 steps
    python demos/date_translation.py --quick          # fewer steps (the test runs this)
    python demos/date_translation.py --no-attention   # the decoder sees only the final state
    python demos/date_translation.py --plain          # no colours or boxes

    "25th of November 2026", "nov 25, 26", "Wednesday 25 November 2026", "25.11.2026",
    "November 25, 2026"  →  "2026-11-25"

The encoder GRU reads the input characters; the decoder GRU cell starts from the encoder's final
state and writes the 10 output characters one at a time, each step fed the previous output
character. In training it is fed the *true* previous character (teacher forcing); at test time
its own greedy choice. With attention (the default) the decoder also looks back at every encoder
state at each step: a softmax over dot products picks where to read from (the day digits while
writing the day, the month name while writing the month). Dates run from 2000 to 2039, so the
two-digit year "26" means 2026. Exact-match accuracy on 1000 held-out dates (never seen in
training) is printed; the bar for --quick is 0.80 (an untrained model scores 0). Without
attention the 32 decoder units must carry the whole date from h⟨T⟩ alone: --no-attention gets
only a few dates right, even after the full run.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

import numpy as np
from _gallery import Printer, gallery_parser, run_demo, run_length

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.nn.utils import clip_grad_norm_

OUTPUT_CHARS = "^0123456789-"   # "^" starts the decoder; every output is 10 characters long


@dataclass
class Settings:
    """Everything the script trains with."""

    attention: bool = True     # let the decoder look at every encoder state
    test_size: int = 1000      # held-out dates (all other dates in 2000–2039 are for training)
    embed: int = 16            # character embedding width (input and output)
    hidden: int = 32           # GRU units in the encoder and in the decoder
    batch_size: int = 64       # dates per step, each in a random format
    steps: int = 1000          # optimizer steps (--quick: 250)
    lr: float = 1e-2           # Adam's learning rate
    clip: float = 1.0          # max gradient norm
    log_every: int = 100       # steps between progress lines
    seed: int = 0              # data, initialisation and batches


def human(date: datetime.date) -> list[str]:
    """The date in five human-readable formats."""
    day, month, year = date.day, date.strftime("%B"), date.year
    suffix = "th" if 10 < day < 14 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return [
        f"{day}{suffix} of {month} {year}",                          # 25th of November 2026
        f"{month[:3].lower()} {day}, {year % 100:02d}",              # nov 25, 26
        f"{date.strftime('%A')} {day} {month} {year}",               # Wednesday 25 November 2026
        f"{day:02d}.{date.month:02d}.{year}",                        # 25.11.2026
        f"{month} {day}, {year}",                                    # November 25, 2026
    ]


def encode(texts: list[str], chars: dict[str, int]) -> np.ndarray:
    """Character ids (T, B), padded with 0 at the *start*: the encoder's last step is real."""
    ids = np.zeros((max(map(len, texts)), len(texts)), dtype=np.int64)   # (T, B)
    for b, text in enumerate(texts):
        ids[len(ids) - len(text):, b] = [chars[c] for c in text]
    return ids


class Translator(nn.Module):
    """Encoder GRU over the input (T, B) → decoder GRU cell writing 10 characters (10, B, V)."""

    def __init__(self, input_vocab: int, s: Settings) -> None:
        super().__init__()
        self.attention = s.attention
        self.in_embedding = nn.Embedding(input_vocab, s.embed)
        self.encoder = nn.GRU(s.embed, s.hidden)
        self.out_embedding = nn.Embedding(len(OUTPUT_CHARS), s.embed)
        self.decoder = nn.GRUCell(s.embed, s.hidden)
        self.head = nn.Linear(s.hidden * (2 if s.attention else 1), len(OUTPUT_CHARS))

    def encode(self, ids: np.ndarray) -> tuple[tg.Tensor, tg.Tensor, np.ndarray]:
        """Encoder states (T, B, H), the final one (B, H), and -1e9 at padding (T, B)."""
        states, h_n = self.encoder(self.in_embedding(ids))           # (T, B, H), (1, B, H)
        return states, h_n[0], np.where(ids == 0, -1e9, 0.0).astype(np.float32)

    def step(self, prev: np.ndarray, h: tg.Tensor, states: tg.Tensor, mask: np.ndarray
             ) -> tuple[tg.Tensor, tg.Tensor]:
        """One decoder step: previous output ids (B,) and state (B, H) → logits (B, V), state."""
        h = self.decoder(self.out_embedding(prev), h)                # (B, H)
        if not self.attention:
            return self.head(h), h                                   # (B, V)
        scores = (states * h).sum(dim=2) + mask                      # (T, B, H)·(B, H) → (T, B)
        weights = scores.softmax(dim=0)                              # (T, B): sums to 1 over T
        context = (weights.unsqueeze(2) * states).sum(dim=0)         # (B, H)
        return self.head(tg.cat([h, context], dim=1)), h             # (B, 2H) → (B, V)

    def forward(self, ids: np.ndarray, targets: np.ndarray) -> tg.Tensor:
        """Teacher forcing: step t is fed the true character t-1 ("^" first) → logits (10, B, V)."""
        states, h, mask = self.encode(ids)
        prev = np.zeros(ids.shape[1], dtype=np.int64)                # "^" (B,)
        logits = []
        for t in range(targets.shape[0]):
            step_logits, h = self.step(prev, h, states, mask)
            logits.append(step_logits)
            prev = targets[t]                                        # the truth, not the guess
        return tg.stack(logits, dim=0)                               # (10, B, V)

    def greedy(self, ids: np.ndarray) -> np.ndarray:
        """Test time: each step is fed the model's own most likely character → ids (10, B)."""
        with tg.no_grad():
            states, h, mask = self.encode(ids)
            prev = np.zeros(ids.shape[1], dtype=np.int64)            # "^" (B,)
            out = []
            for _ in range(10):
                step_logits, h = self.step(prev, h, states, mask)
                prev = step_logits.numpy().argmax(axis=1)            # (B,)
                out.append(prev)
        return np.stack(out)                                         # (10, B)


def translate(model: Translator, texts: list[str], chars: dict[str, int]) -> list[str]:
    """Greedy translations of texts."""
    model.eval()
    ids = model.greedy(encode(texts, chars))                         # (10, B)
    model.train()
    return ["".join(OUTPUT_CHARS[i] for i in column) for column in ids.T]


def parse(argv: list[str] | None) -> tuple[Settings, bool]:
    """Settings from the command line, and whether to print plain text."""
    parser = gallery_parser(__doc__, Settings.seed)
    parser.add_argument("--no-attention", action="store_true", help="decode from h⟨T⟩ only")
    args = parser.parse_args(argv)
    s = Settings(attention=not args.no_attention, seed=args.seed)
    return run_length(s, args, steps=250, log_every=50), args.plain


def main(argv: list[str] | None = None) -> float:
    """Train, print translations and held-out exact-match accuracy; return the accuracy."""
    s, plain = parse(argv)
    out = Printer(plain)
    rng = tg.manual_seed(s.seed)
    first = datetime.date(2000, 1, 1)
    dates = [first + datetime.timedelta(days=int(d)) for d in
             np.random.default_rng(s.seed).permutation((datetime.date(2040, 1, 1) - first).days)]
    test_dates, train_dates = dates[:s.test_size], dates[s.test_size:]
    test_texts = [human(d)[rng.integers(5)] for d in test_dates]    # one random format each
    alphabet = sorted({c for d in dates for text in human(d) for c in text})
    chars = {c: i + 1 for i, c in enumerate(alphabet)}              # 0 is padding
    out.line(f"{len(train_dates)} training dates, {len(test_dates)} held out, "
             f"{len(chars)} input characters; attention {'on' if s.attention else 'off'}",
             style="bold")

    model = Translator(len(chars) + 1, s)
    optimizer = optim.Adam(model.parameters(), lr=s.lr)
    start = time.perf_counter()
    for step in range(1, s.steps + 1):
        batch = [train_dates[i] for i in rng.integers(0, len(train_dates), size=s.batch_size)]
        ids = encode([human(d)[rng.integers(5)] for d in batch], chars)  # (T, B)
        targets = np.array([[OUTPUT_CHARS.index(c) for c in d.isoformat()] for d in batch]).T
        logits = model(ids, targets)                                 # forward: (10, B, V)
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(OUTPUT_CHARS)),
                                           targets.reshape(-1))      # (10·B, V)
        optimizer.zero_grad()
        loss.backward()
        grad_norm = clip_grad_norm_(model.parameters(), s.clip)
        optimizer.step()
        if step % s.log_every == 0 or step == s.steps:
            out.line(f"step {step:4d}  loss {loss.item():.3f}  grad {grad_norm:.2f}  "
                     f"{time.perf_counter() - start:.0f}s")

    guesses = translate(model, test_texts, chars)
    right = [g == d.isoformat() for g, d in zip(guesses, test_dates, strict=True)]
    accuracy = float(np.mean(right))
    rows = [[test_texts[i], guesses[i], "✓" if right[i] else f"✗ {test_dates[i].isoformat()}"]
            for i in range(10)]
    out.table("held-out dates", ["input", "translation", ""], rows)
    out.line(f"exact-match accuracy on held-out dates {accuracy:.3f} (bar for --quick: 0.80)",
             style="bold green")
    return accuracy


if __name__ == "__main__":
    run_demo(main)
