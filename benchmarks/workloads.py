"""The training benchmark workloads (sizes, dtype, optimizer, clipping) and their data.

Every workload is a character model on one-hot input: a recurrent layer, a linear head on every
step, and the mean cross-entropy over all T·B positions. `train=True` times a whole training step
(forward, backward, clip, update); `train=False` only forward and backward.

    python -c "from benchmarks.workloads import suite; print(*suite(quick=False), sep='\\n')"
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Workload", "suite", "make_data", "memory_workload", "SCALING_STEPS"]


@dataclass(frozen=True)
class Workload:
    """One benchmark set-up; `name` is the row key in the report."""

    name: str
    cell: str                    # "rnn" | "lstm" | "gru"
    hidden: int
    steps: int                   # T, the sequence length
    batch: int
    dtype: str                   # "float64" | "float32"
    vocab: int = 65              # one-hot symbols in and classes out
    train: bool = True           # a whole training step, or forward+backward only
    optimizer: str = "adam"      # "adagrad" (lr 0.1) | "adam" (lr 1e-3)
    clip: str = "norm"           # "value" | "norm", at 5
    clip_at: float = 5.0

    @property
    def lr(self) -> float:
        return 0.1 if self.optimizer == "adagrad" else 1e-3


# T for the scaling rows; the report compares the per-step cost at the last T with the first
SCALING_STEPS = {False: (50, 200, 800, 3200), True: (10, 20, 40, 80)}


def suite(quick: bool) -> list[Workload]:
    """The timed workloads, in report order (quick: the same rows, shorter sequences)."""
    lstm_steps = 10 if quick else 50
    timed = [
        Workload("min-char-rnn", "rnn", hidden=100, steps=25, batch=1, dtype="float64",
                 optimizer="adagrad", clip="value"),
        Workload("lstm", "lstm", hidden=256, steps=lstm_steps, batch=32, dtype="float32"),
    ]
    timed += [Workload(f"scaling T={t}", "gru", hidden=128, steps=t, batch=8, dtype="float32",
                       train=False) for t in SCALING_STEPS[quick]]
    return timed


def memory_workload(quick: bool) -> Workload:
    """Peak memory of one LSTM forward+backward (measured in a fresh process per contender)."""
    return Workload("memory", "lstm", hidden=256, steps=100 if quick else 2000, batch=16,
                    dtype="float32", train=False)


def make_data(workload: Workload, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random symbol sequence as one-hot inputs (T, B, V) and next-symbol targets (T, B)."""
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, workload.vocab, (workload.steps + 1, workload.batch))
    inputs = np.eye(workload.vocab, dtype=workload.dtype)[symbols[:-1]]         # (T, B, V)
    return inputs, symbols[1:]                                                   # (T, B) int64
