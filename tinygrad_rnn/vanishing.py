"""Vanishing and exploding gradients, measured: the numbers behind `tinygrad-rnn vanishing`.

The task has a long-range dependency: a sequence's class is its first token, and T−1 random
distractor tokens follow. A classifier reads the whole sequence and predicts from its last hidden
state, so the only useful gradient is the one that travels back T−1 steps to h⟨0⟩:

    ∂L/∂h⟨t−1⟩ = ∂L/∂h⟨t⟩ · ∂h⟨t⟩/∂h⟨t−1⟩        (for a tanh RNN: (g ⊙ (1 − h⟨t⟩²)) W_hh)

a product of T−1 Jacobians, which shrinks (or grows) geometrically. `hidden_grad_norms` measures
‖∂L/∂h⟨t⟩‖ at every step with `retain_grad()`; `train_probe` trains a probe (optionally clipping
the gradient norm) and records the gradient norm and loss of every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tinygrad_rnn.clip import clip_grad_norm_
from tinygrad_rnn.nn import GRUCell, Linear, LSTMCell, Module, RNNCell, functional, init
from tinygrad_rnn.optim import SGD, Adam
from tinygrad_rnn.tensor import Tensor

__all__ = ["KINDS", "FirstTokenTask", "Probe", "TrainLog", "make_probe", "hidden_grad_norms",
           "train_probe", "accuracy"]

KINDS = ("rnn", "gru", "lstm")


@dataclass(frozen=True)
class FirstTokenTask:
    """Sequences whose class is their first token (one of `classes`), then `steps − 1` tokens
    drawn from `distractors` other symbols; every token is given one-hot."""

    steps: int = 50
    classes: int = 2
    distractors: int = 6

    @property
    def vocab_size(self) -> int:
        return self.classes + self.distractors

    def batch(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One-hot inputs (T, B, V) float64 and class labels (B,)."""
        labels = rng.integers(0, self.classes, size)
        tokens = rng.integers(self.classes, self.vocab_size, (self.steps, size))   # (T, B)
        tokens[0] = labels
        return np.eye(self.vocab_size)[tokens], labels                           # (T, B, V)


class Probe(Module):
    """A recurrent cell read out by a linear layer at the last step (many-to-one)."""

    def __init__(self, cell: RNNCell | GRUCell | LSTMCell, classes: int) -> None:
        super().__init__()
        self.cell = cell
        self.head = Linear(cell.hidden_size, classes)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """x (T, B, V) → logits (B, C) and the hidden state h⟨t⟩ (B, H) of every step."""
        steps, batch, features = x.shape
        x_proj = self.cell.project_input(x.reshape(steps * batch, features))   # (T·B, G·H)
        x_proj = x_proj.reshape(steps, batch, x_proj.shape[1])                 # (T, B, G·H)
        zeros = Tensor(np.zeros((batch, self.cell.hidden_size), dtype=x.dtype))
        state = (zeros, zeros) if isinstance(self.cell, LSTMCell) else zeros
        hidden = []
        for t in range(steps):
            state = self.cell.step(x_proj[t], state)
            hidden.append(state[0] if isinstance(state, tuple) else state)
        return self.head(hidden[-1]), hidden


def make_probe(kind: str, task: FirstTokenTask, hidden: int, rng: np.random.Generator,
               recurrent_gain: float | None = None, forget_bias: float = 1.0) -> Probe:
    """A float64 probe with PyTorch's initialisation drawn from `rng`; `recurrent_gain` makes
    W_hh that many times an orthogonal matrix; an LSTM's forget-gate bias starts at
    `forget_bias` (the usual 1: the cell keeps its memory until it learns to forget)."""
    cells = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}
    if kind not in cells:
        raise ValueError(f"make_probe: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    probe = Probe(cells[kind](task.vocab_size, hidden), task.classes).double()
    for p in probe.parameters():                    # the head's fan-in is H too
        init.uniform_(p, -1.0 / math.sqrt(hidden), 1.0 / math.sqrt(hidden), rng)
    if recurrent_gain is not None:
        init.orthogonal_(probe.cell.weight_hh, recurrent_gain, rng)
    if kind == "lstm":
        probe.cell.bias_ih.data[hidden:2 * hidden] = forget_bias   # gate order i, f, g, o
        probe.cell.bias_hh.data[hidden:2 * hidden] = 0.0
    return probe


def hidden_grad_norms(probe: Probe, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """‖∂L/∂h⟨t⟩‖ (over the batch) for t = 0 … T−1, L the mean cross-entropy; the parameters'
    .grad is left as it was."""
    saved = [p.grad for p in probe.parameters()]
    logits, hidden = probe(Tensor(x))
    for h in hidden:
        h.retain_grad()
    functional.cross_entropy(logits, labels).backward()
    for p, g in zip(probe.parameters(), saved, strict=True):
        p.grad = g
    return np.array([np.linalg.norm(h.grad) for h in hidden])


def accuracy(probe: Probe, x: np.ndarray, labels: np.ndarray) -> float:
    """The share of sequences whose class the probe predicts."""
    logits, _ = probe(Tensor(x))
    return float(np.mean(logits.data.argmax(axis=1) == labels))


@dataclass
class TrainLog:
    """What happened at every training step: loss and gradient norm before clipping."""

    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)


def train_probe(probe: Probe, task: FirstTokenTask, steps: int, rng: np.random.Generator,
                batch: int = 32, lr: float = 1e-2, optimizer: str = "adam",
                clip: float | None = None) -> TrainLog:
    """Train on fresh batches; `clip` caps the total gradient norm (None: no clipping). A step
    whose loss is not finite is logged and skipped: that is what an explosion looks like."""
    params = list(probe.parameters())
    optim = Adam(params, lr=lr) if optimizer == "adam" else SGD(params, lr=lr)
    log = TrainLog()
    for _ in range(steps):
        x, labels = task.batch(batch, rng)
        logits, _ = probe(Tensor(x))
        loss = functional.cross_entropy(logits, labels)
        optim.zero_grad()
        loss.backward()
        if clip is not None:
            norm = clip_grad_norm_(params, clip)
        else:
            norm = math.sqrt(sum(float(np.sum(p.grad ** 2)) for p in params))
        log.losses.append(loss.item())
        log.grad_norms.append(norm)
        if math.isfinite(norm) and math.isfinite(loss.item()):
            optim.step()
    return log
