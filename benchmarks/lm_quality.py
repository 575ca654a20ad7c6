"""Quality and speed of a GRU language model here and in PyTorch, trained on the same batches.

    python benchmarks/lm_quality.py                 # the full benchmark (3,000 steps each)
    python benchmarks/lm_quality.py --steps 300     # a quick look
    python benchmarks/lm_quality.py --json out.json # also write the figures as JSON

The corpus: every distinct lower-case word (3+ letters) of Python's help text, one per line,
about 2,800 "names" that every CPython install carries. Both models (embedding 32, GRU 128, batch
32, Adam lr 3e-3, gradient-norm clip 1.0) see exactly the same batches of lines; the held-out
loss is the mean nats per predicted character (letters and end of line) on the validation lines.
Goals: held-out loss within 0.02 nats of PyTorch's, wall time at most 1.5× PyTorch's.
Both run on one thread (BLAS and torch), which is also the fastest for models this small.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # before numpy loads its BLAS
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402

import numpy as np  # noqa: E402

from tinygrad_rnn import manual_seed, optim  # noqa: E402
from tinygrad_rnn.data import (  # noqa: E402
    CharVocab,
    LineBatches,
    corpus,
    line_eval_batches,
    split_train_val,
)
from tinygrad_rnn.lm import LanguageModel, ModelConfig, mean_loss  # noqa: E402
from tinygrad_rnn.nn.utils import clip_grad_norm_  # noqa: E402


@dataclass
class Settings:
    """The benchmark's settings (the goals above are for these defaults)."""

    steps: int = 3000        # optimizer steps for each framework
    embed: int = 32          # embedding width
    hidden: int = 128        # GRU hidden units
    batch_size: int = 32     # lines per step
    lr: float = 3e-3         # Adam learning rate
    clip: float = 1.0        # max gradient norm
    val_frac: float = 0.1    # share of the lines held out
    seed: int = 0            # data split, batch order and initialisation


def word_lines() -> list[str]:
    """The distinct lower-case words of the python-help corpus, sorted: one name per line."""
    return sorted(set(re.findall(r"\b[a-z]{3,}\b", corpus("python-help"))))


def make_batches(s: Settings) -> tuple[int, list, list]:
    """(vocabulary size, the training batches in order, the validation batches)."""
    train, val = split_train_val(word_lines(), s.val_frac, s.seed)
    vocab = CharVocab.from_text("\n".join(train + val), lines=True)
    feed = LineBatches([vocab.encode(w) for w in train], s.batch_size, vocab.boundary_id,
                       np.random.default_rng(s.seed))
    batches = [feed.next() for _ in range(s.steps)]
    held_out = list(line_eval_batches([vocab.encode(w) for w in val], 256, vocab.boundary_id))
    return len(vocab), batches, held_out


def run_ours(s: Settings, vocab_size: int, batches: list, held_out: list) -> dict[str, float]:
    """Train tinygrad_rnn's model; its held-out loss and wall time."""
    manual_seed(s.seed)
    model = LanguageModel(ModelConfig(vocab_size, "gru", s.hidden, 1, s.embed))
    optimizer = optim.Adam(model.parameters(), lr=s.lr)
    params = list(model.parameters())
    start = time.perf_counter()
    for x, y in batches:
        logits, _ = model(x)                                   # (T, B, V)
        loss = model.loss(logits, y)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(params, s.clip)
        optimizer.step()
    seconds = time.perf_counter() - start
    return {"val_loss": mean_loss(model.eval(), held_out, carry_state=False)[0],
            "seconds": seconds, "final_train_loss": loss.item()}


def run_torch(s: Settings, vocab_size: int, batches: list, held_out: list) -> dict[str, float]:
    """The same model and schedule in PyTorch."""
    import torch

    torch.manual_seed(s.seed)
    torch.set_num_threads(1)

    class TorchLM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab_size, s.embed)
            self.rnn = torch.nn.GRU(s.embed, s.hidden)
            self.head = torch.nn.Linear(s.hidden, vocab_size)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.rnn(self.embedding(x))[0])   # (T, B, V)

    def loss_of(model: TorchLM, x: np.ndarray, y: np.ndarray) -> torch.Tensor:
        logits = model(torch.from_numpy(x))
        return torch.nn.functional.cross_entropy(logits.reshape(-1, vocab_size),
                                                 torch.from_numpy(y).reshape(-1))

    model = TorchLM()
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    start = time.perf_counter()
    for x, y in batches:
        loss = loss_of(model, x, y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.clip)
        optimizer.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        total = sum(loss_of(model, x, y).item() * int((y != -100).sum()) for x, y in held_out)
    tokens = sum(int((y != -100).sum()) for _, y in held_out)
    return {"val_loss": total / tokens, "seconds": seconds, "final_train_loss": loss.item()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=Settings.steps, help="steps per framework")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args()
    s = Settings(steps=args.steps)
    vocab_size, batches, held_out = make_batches(s)
    print(f"{len(word_lines())} words, {vocab_size} symbols, {s.steps} steps of {s.batch_size}")
    results = {"settings": asdict(s), "ours": run_ours(s, vocab_size, batches, held_out)}
    print(f"tinygrad_rnn  held-out loss {results['ours']['val_loss']:.4f} nats/char  "
          f"{results['ours']['seconds']:.1f} s")
    try:
        results["torch"] = run_torch(s, vocab_size, batches, held_out)
    except ImportError:
        print("PyTorch is not installed: no comparison (pip install torch)")
    else:
        ours, theirs = results["ours"], results["torch"]
        gap, ratio = ours["val_loss"] - theirs["val_loss"], ours["seconds"] / theirs["seconds"]
        results.update(loss_gap=gap, time_ratio=ratio)
        print(f"PyTorch       held-out loss {theirs['val_loss']:.4f} nats/char  "
              f"{theirs['seconds']:.1f} s")
        print(f"loss gap {gap:+.4f} nats (target |gap| <= 0.02: "
              f"{'met' if abs(gap) <= 0.02 else 'MISSED'}); time {ratio:.2f}x PyTorch's "
              f"(target <= 1.5x: {'met' if ratio <= 1.5 else 'MISSED'})")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
