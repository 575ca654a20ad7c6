"""Character-level text generation in one readable script: the training loop in plain sight.

    python demos/char_generation.py                          # names, one per line (python-names)
    python demos/char_generation.py --data my_names.txt      # your own list, one per line
    python demos/char_generation.py --steps 3000 --cell lstm
    python demos/char_generation.py --quick                  # 60 steps, a few seconds

What `tinygrad-rnn train --lines` does, written as a learner would write it with the library's
public pieces: a vocabulary, padded batches of lines, an embedding → GRU → linear model, Adam,
gradient clipping, and sampling one character at a time until the end of the line. python-names
is small (about 400 lines), so the model soon starts to memorise it: the validation loss turns
up while the training loss keeps falling. The script says so when it happens and keeps the
weights of the best validation loss (early stopping) for its last samples.
"""

from __future__ import annotations

import argparse
import math
import textwrap
import time
from dataclasses import dataclass, replace

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.cli import quiet_broken_pipe
from tinygrad_rnn.data import (
    CharVocab,
    LineBatches,
    corpus,
    line_eval_batches,
    read_text,
    split_train_val,
    text_lines,
)
from tinygrad_rnn.engine.threads import add_threads_flag, use_threads
from tinygrad_rnn.lm.generate import generate
from tinygrad_rnn.nn.utils import clip_grad_norm_


@dataclass
class Settings:
    """Everything the script trains with."""

    data: str | None = None     # a UTF-8 file, one example per line; None: python-names
    cell: str = "gru"           # rnn, gru or lstm
    embed: int = 24             # embedding width
    hidden: int = 64            # recurrent units (python-names is small: more overfits)
    batch_size: int = 32        # lines per step
    steps: int = 600            # optimizer steps
    lr: float = 3e-3            # Adam's learning rate
    clip: float = 1.0           # max gradient norm
    eval_every: int = 100       # steps between validation and samples
    samples: int = 8            # names printed at each evaluation
    seed: int = 0               # everything random


class CharModel(nn.Module):
    """ids (T, B) → embedding (T, B, E) → RNN (T, B, H) → logits (T, B, V)."""

    def __init__(self, vocab_size: int, s: Settings) -> None:
        super().__init__()
        rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[s.cell]
        self.embedding = nn.Embedding(vocab_size, s.embed)
        self.rnn = rnn(s.embed, s.hidden)
        self.head = nn.Linear(s.hidden, vocab_size)

    def forward(self, ids: np.ndarray, state=None):
        outputs, state = self.rnn(self.embedding(ids), state)     # (T, B, H)
        return self.head(outputs), state                           # (T, B, V)


def loss_of(model: CharModel, x: np.ndarray, y: np.ndarray) -> tg.Tensor:
    """Mean nats per predicted character (padding, marked -100, is ignored)."""
    logits, _ = model(x)                                           # (T, B, V)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def validate(model: CharModel, lines: list[np.ndarray], boundary: int) -> float:
    """Mean loss per predicted character over every validation line."""
    model.eval()
    total = count = 0
    with tg.no_grad():
        for x, y in line_eval_batches(lines, 256, boundary):
            tokens = int((y != -100).sum())
            total += loss_of(model, x, y).item() * tokens
            count += tokens
    model.train()
    return total / count


def sample_names(model: CharModel, vocab: CharVocab, n: int, rng: np.random.Generator) -> str:
    """n names, each drawn one character at a time from "\\n" until the next "\\n"."""
    model.eval()

    def step(ids, state):                                          # ids (B,) → logits (B, V)
        with tg.no_grad():
            logits, state = model(ids[None, :], state)
        return logits.data[0], state

    names = [vocab.decode(generate(step, None, [vocab.boundary_id], max_len=30, rng=rng,
                                   temperature=0.8, stop_id=vocab.boundary_id))
             for _ in range(n)]
    model.train()
    return textwrap.fill(", ".join(names), 80, initial_indent="    ", subsequent_indent="    ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a text file, one example per line")
    parser.add_argument("--cell", choices=["rnn", "gru", "lstm"], default=Settings.cell)
    parser.add_argument("--steps", type=int, help=f"optimizer steps ({Settings.steps})")
    parser.add_argument("--quick", action="store_true", help="60 steps, a few seconds")
    parser.add_argument("--plain", action="store_true", help="plain lines (this script prints "
                        "nothing else; every demo takes the flag)")
    add_threads_flag(parser)
    args = parser.parse_args()
    use_threads(args.threads)                                # one BLAS thread by default
    s = Settings(data=args.data, cell=args.cell)
    if args.quick:
        s = replace(s, steps=60, eval_every=20, samples=4)
    if args.steps is not None:
        s = replace(s, steps=args.steps)

    # data: one example per line, 10% of the lines held out
    text = read_text(s.data) if s.data else corpus("python-names")
    train_lines, val_lines = split_train_val(text_lines(text), 0.1, s.seed)
    vocab = CharVocab.from_text("\n".join(train_lines + val_lines), lines=True)
    batches = LineBatches([vocab.encode(w) for w in train_lines], s.batch_size,
                          vocab.boundary_id, np.random.default_rng(s.seed))
    val = [vocab.encode(w) for w in val_lines]
    print(f"{len(train_lines)} training lines, {len(val)} held out, {len(vocab)} characters;\n"
          f"a uniform guess scores {math.log(len(vocab)):.3f} nats/char")

    # model and optimizer
    rng = tg.manual_seed(s.seed)
    model = CharModel(len(vocab), s)
    optimizer = optim.Adam(model.parameters(), lr=s.lr)

    start = time.perf_counter()
    best, best_step, best_weights, warned = math.inf, 0, model.state_dict(), False
    for step in range(1, s.steps + 1):
        x, y = batches.next()                                      # (T, B) each
        loss = loss_of(model, x, y)                                # forward and loss
        optimizer.zero_grad()
        loss.backward()
        grad_norm = clip_grad_norm_(model.parameters(), s.clip)
        optimizer.step()
        if step % s.eval_every == 0 or step == s.steps:            # log and sample
            val_loss = validate(model, val, vocab.boundary_id)
            print(f"step {step:5d}  train {loss.item():.3f}  val {val_loss:.3f}  "
                  f"grad {grad_norm:.2f}  {time.perf_counter() - start:.0f}s")
            print(sample_names(model, vocab, s.samples, rng))
            if val_loss < best:                                    # early stopping: keep the best
                best, best_step = val_loss, step
                best_weights = {k: v.copy() for k, v in model.state_dict().items()}
            elif not warned:
                warned = True
                print(f"    val rose ({best:.3f} at step {best_step}, now {val_loss:.3f}) while "
                      f"train fell:\n    the model is memorising its {len(train_lines)} "
                      "training lines (overfitting)")
    model.load_state_dict(best_weights)
    print(f"best val {best:.3f} at step {best_step}; samples from those weights:")
    print(sample_names(model, vocab, s.samples, rng))
    if warned:
        print("Less memorising: more lines (--data), a smaller model (Settings.hidden), or\n"
              "fewer --steps.")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BrokenPipeError:                  # `| head`: the reader has seen enough
        raise SystemExit(quiet_broken_pipe()) from None
