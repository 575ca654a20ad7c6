"""The names workload: `tinygrad-rnn train --lines` on the built-in names corpus, against the
same model and schedule in torch, for the GRU, LSTM and RNN; wall time to the same step count.

Ours runs the training loop the CLI runs (tinygrad_rnn.lm.train.train: line batches padded to
the longest line, targets of -100 ignored by the loss, clipping, Adam, the one validation,
sample and checkpoint at the last step), without the dashboard. Torch runs the same batches in
the same order through Embedding → GRU/LSTM/RNN → Linear with cross_entropy(ignore_index=-100),
clip_grad_norm_ and Adam on one thread, then the same validation. Every run starts from scratch;
the six runs take turns (interleaved) in each block.

    python -m benchmarks --only names
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.console import Console

from benchmarks import pytorch
from benchmarks.report import Goal, Result, Section
from benchmarks.step import Step
from benchmarks.timing import interleaved
from tinygrad_rnn.data import (
    IGNORE_INDEX,
    CharVocab,
    LineBatches,
    corpus,
    line_eval_batches,
    split_train_val,
    text_lines,
)
from tinygrad_rnn.lm.train import TrainConfig, train

__all__ = ["Settings", "SECTION", "ours_run", "torch_run"]

CELLS = ("gru", "lstm", "rnn")


@dataclass(frozen=True)
class Settings:
    """The names run (the CLI's line-mode defaults, spelled out)."""

    steps: int = 200         # optimizer steps per run
    embed: int = 32          # embedding width
    hidden: int = 128        # hidden units
    batch_size: int = 32     # lines per step
    lr: float = 3e-3         # Adam
    clip: float = 1.0        # max gradient norm
    val_frac: float = 0.1    # lines held out
    seed: int = 0


def settings(quick: bool) -> Settings:
    """The settings of a full run, or a two-step one for --quick."""
    return Settings(steps=2) if quick else Settings()


def ours_run(cell: str, s: Settings) -> Step:
    """One whole `tinygrad-rnn train --lines` run per call; returns its last training loss."""
    config = TrainConfig(corpus="python-names", lines=True, cell=cell, hidden=s.hidden,
                         embed=s.embed, batch_size=s.batch_size, lr=s.lr, clip=s.clip,
                         steps=s.steps, eval_every=s.steps, val_frac=s.val_frac, seed=s.seed)

    def run() -> float:
        with tempfile.TemporaryDirectory() as folder:
            summary = train(config, f"{folder}/run")
        return summary.records[-1]["train_loss"]

    return run


def _data(s: Settings) -> tuple[int, list[list[int]], list[list[int]], int]:
    """As lm/train.py reads it: vocabulary size, training and validation lines, boundary id."""
    examples = text_lines(corpus("python-names"))
    vocab = CharVocab.from_text("\n".join(examples), lines=True)
    train_lines, val_lines = split_train_val(examples, s.val_frac, s.seed)
    return (len(vocab), [vocab.encode(w) for w in train_lines],
            [vocab.encode(w) for w in val_lines], vocab.boundary_id)


def torch_run(cell: str, s: Settings) -> Step:
    """The same model, batches and schedule in torch; returns the mean train loss of the last
    `steps` steps, as ours reports (one evaluation per run)."""
    torch = pytorch.torch_module()
    vocab_size, train_ids, val_ids, boundary = _data(s)
    def loss_of(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
        logits = model(torch.from_numpy(x))
        return torch.nn.functional.cross_entropy(logits.reshape(-1, vocab_size),
                                                 torch.from_numpy(y).reshape(-1),
                                                 ignore_index=IGNORE_INDEX)

    def run() -> float:
        torch.manual_seed(s.seed)
        batches = LineBatches(train_ids, s.batch_size, boundary, np.random.default_rng(s.seed))
        model = pytorch.language_model(cell, vocab_size, s.embed, s.hidden)
        optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
        total = 0.0
        for _ in range(s.steps):
            x, y = batches.next()                                                # (T, B) each
            loss = loss_of(model, x, y)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), s.clip)
            optimizer.step()
            total += loss.item()
        with torch.no_grad():
            for x, y in line_eval_batches(val_ids, s.batch_size, boundary):
                loss_of(model, x, y).item()
        return total / s.steps

    return run


def _measure(quick: bool, blocks: int, console: Console) -> list[Result]:
    s = settings(quick)
    steps: dict[tuple[str, str], Step] = {}
    results: dict[tuple[str, str], Result] = {}
    for cell in CELLS:
        workload = f"names {cell.upper()}"
        results[(workload, "ours")] = Result(workload, "ours", f"ours {cell.upper()} (train)",
                                             "ok", "s/run")
        steps[(workload, "ours")] = ours_run(cell, s)
        results[(workload, "torch")] = Result(workload, "torch", f"torch nn.{cell.upper()}",
                                              "ok", "s/run")
        if pytorch.available():
            steps[(workload, "torch")] = torch_run(cell, s)
        else:
            results[(workload, "torch")].status = "skipped: torch not installed"
    timed = interleaved(steps, min(blocks, 3), block_seconds=0.0, budget_seconds=60.0)
    for key, timing in timed.items():
        results[key].value, results[key].blocks = timing.median, timing.blocks
        results[key].loss = timing.first_loss
    return list(results.values())


def _goals(quick: bool) -> list[Goal]:
    s = settings(quick)
    detail = (f"tinygrad-rnn train --lines, wall time for {s.steps} steps (embed {s.embed}, "
              f"hidden {s.hidden}, batch {s.batch_size}, Adam {s.lr:g}, clip {s.clip:g})")
    return [Goal("names", detail, (f"names {cell.upper()}", "ours"),
                 (f"names {cell.upper()}", "torch"), 1.0) for cell in CELLS]


SECTION = Section("names", _measure, _goals)
