"""Vanishing and exploding gradients, measured: the numbers behind `tinygrad-rnn vanishing`.

Both tasks have a long-range dependency, read out from the last hidden state only. The adding
problem: T random numbers, two of them marked, one among the first tenth of the steps; the target
is their sum. The first-token task: a sequence's class is its first token. The gradient that
reaches an early step travels back through a product of Jacobians

    ∂L/∂h⟨t−1⟩ = ∂L/∂h⟨t⟩ · ∂h⟨t⟩/∂h⟨t−1⟩        (for a tanh RNN: (g ⊙ (1 − h⟨t⟩²)) W_hh)

which shrinks (or grows) geometrically. The first-token task can be solved by a latch (a tanh
unit with recurrent gain > 1 keeps its sign), the adding problem cannot: it needs a real number
stored while ~T others stream past. `hidden_grad_norms` measures ‖∂L/∂h⟨t⟩‖ at every step with
`retain_grad()`; `train_probe` trains a probe (optionally clipping the gradient norm) and records
the gradient norm and loss of every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.nn import GRUCell, Linear, LSTMCell, Module, RNNCell, functional, init
from tinygrad_rnn.nn.utils import clip_grad_norm_
from tinygrad_rnn.optim import SGD, Adam

__all__ = ["KINDS", "AddingTask", "FirstTokenTask", "Task", "Probe", "TrainLog", "make_probe",
           "hidden_grad_norms", "train_probe", "mean_squared_error"]

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

    @property
    def inputs(self) -> int:
        return self.vocab_size

    @property
    def outputs(self) -> int:
        return self.classes

    def loss(self, logits: Tensor, labels: np.ndarray) -> Tensor:
        """Mean cross-entropy of logits (B, C) against class labels (B,)."""
        return functional.cross_entropy(logits, labels)

    def batch(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One-hot inputs (T, B, V) float64 and class labels (B,)."""
        labels = rng.integers(0, self.classes, size)
        tokens = rng.integers(self.classes, self.vocab_size, (self.steps, size))   # (T, B)
        tokens[0] = labels
        return np.eye(self.vocab_size)[tokens], labels                           # (T, B, V)


@dataclass(frozen=True)
class AddingTask:
    """The adding problem: at every step a number u ~ U(0, 1) and a marker (0 or 1); two steps are
    marked, one among the first tenth of the sequence, one in its second half; the target is the
    sum of the two marked numbers. Guessing the mean (1) scores an mse of 1/6."""

    steps: int = 30
    inputs: int = 2                         # (number, marker)
    outputs: int = 1                        # the predicted sum

    def batch(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Inputs (T, B, 2) float64 and targets (B,)."""
        numbers = rng.uniform(0.0, 1.0, (self.steps, size))                    # (T, B)
        first = rng.integers(0, max(1, self.steps // 10), size)                 # (B,)
        second = rng.integers(self.steps // 2, self.steps, size)                # (B,)
        rows = np.arange(size)
        markers = np.zeros((self.steps, size))
        markers[first, rows] = markers[second, rows] = 1.0
        targets = numbers[first, rows] + numbers[second, rows]
        return np.stack([numbers, markers], axis=2), targets                    # (T, B, 2)

    def loss(self, output: Tensor, targets: np.ndarray) -> Tensor:
        """Mean squared error of output (B, 1) against targets (B,)."""
        return functional.mse_loss(output.reshape(output.shape[0]), targets)


Task = AddingTask | FirstTokenTask


class Probe(Module):
    """A recurrent cell read out by a linear layer at the last step (many-to-one)."""

    def __init__(self, cell: RNNCell | GRUCell | LSTMCell, outputs: int) -> None:
        super().__init__()
        self.cell = cell
        self.head = Linear(cell.hidden_size, outputs)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """x (T, B, V) → outputs (B, C) and the hidden state h⟨t⟩ (B, H) of every step."""
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


def make_probe(kind: str, task: Task, hidden: int, rng: np.random.Generator,
               recurrent_gain: float | None = None, forget_bias: float = 1.0) -> Probe:
    """A float64 probe with PyTorch's initialisation drawn from `rng`; `recurrent_gain` makes
    W_hh that many times an orthogonal matrix; an LSTM's forget-gate bias starts at
    `forget_bias` (the usual 1: the cell keeps its memory until it learns to forget)."""
    cells = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}
    if kind not in cells:
        raise ValueError(f"make_probe: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    probe = Probe(cells[kind](task.inputs, hidden), task.outputs).double()
    for p in probe.parameters():                    # the head's fan-in is H too
        init.uniform_(p, -1.0 / math.sqrt(hidden), 1.0 / math.sqrt(hidden), rng)
    if recurrent_gain is not None:
        init.orthogonal_(probe.cell.weight_hh, recurrent_gain, rng)
    if kind == "lstm":
        probe.cell.bias_ih.data[hidden:2 * hidden] = forget_bias   # gate order i, f, g, o
        probe.cell.bias_hh.data[hidden:2 * hidden] = 0.0
    return probe


def hidden_grad_norms(probe: Probe, task: Task, x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """‖∂L/∂h⟨t⟩‖ (over the batch) for t = 0 … T−1, L the task's loss; the parameters' .grad is
    left as it was."""
    saved = [p.grad for p in probe.parameters()]
    output, hidden = probe(Tensor(x))
    for h in hidden:
        h.retain_grad()
    task.loss(output, target).backward()
    for p, g in zip(probe.parameters(), saved, strict=True):
        p.grad = g
    return np.array([np.linalg.norm(h.grad) for h in hidden])


def mean_squared_error(probe: Probe, x: np.ndarray, targets: np.ndarray) -> float:
    """The mean squared error of a one-output probe's predictions."""
    output, _ = probe(Tensor(x))
    return float(np.mean((output.data[:, 0] - targets) ** 2))


@dataclass
class TrainLog:
    """What happened at every training step: loss and gradient norm before clipping."""

    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)


def train_probe(probe: Probe, task: Task, steps: int, rng: np.random.Generator,
                batch: int = 32, lr: float = 1e-2, optimizer: str = "adam",
                clip: float | None = None) -> TrainLog:
    """Train on fresh batches; `clip` caps the total gradient norm (None: no clipping). A step
    whose loss is not finite is logged and skipped: that is what an explosion looks like."""
    params = list(probe.parameters())
    optim = Adam(params, lr=lr) if optimizer == "adam" else SGD(params, lr=lr)
    log = TrainLog()
    for _ in range(steps):
        x, target = task.batch(batch, rng)
        output, _ = probe(Tensor(x))
        loss = task.loss(output, target)
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
