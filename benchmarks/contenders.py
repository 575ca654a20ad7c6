"""The contenders: implementations of the same training step, each built from the same weights.

A contender's `build(workload, params, inputs, targets)` returns a `Step` (benchmarks/step.py):
one step (forward, loss, zero_grad, backward, and for training workloads clip and update) that
returns the loss. All start from the same parameters (`numpy_bptt.init_params`), so
their first losses agree: the report shows that they compute the same thing.

    python -c "from benchmarks.contenders import CONTENDERS; print([c.key for c in CONTENDERS])"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks import numpy_bptt, ours, pytorch
from benchmarks.step import Step, Unavailable
from benchmarks.workloads import Workload

__all__ = ["Contender", "CONTENDERS", "by_key"]

Build = Callable[[Workload, numpy_bptt.Params, np.ndarray, np.ndarray], Step]


@dataclass(frozen=True)
class Contender:
    """One implementation; `label` names it for a cell type ("rnn", "gru", "lstm")."""

    key: str
    label: Callable[[str], str]
    build: Build


def _numpy_step(workload: Workload, params: numpy_bptt.Params, inputs: np.ndarray,
                targets: np.ndarray) -> Step:
    """The hand-derived BPTT (tanh RNN with Adagrad, or LSTM with Adam)."""
    params = {name: p.copy() for name, p in params.items()}
    zeros = np.zeros((workload.batch, workload.hidden), dtype=workload.dtype)
    if workload.cell == "rnn":
        def loss_and_grads() -> tuple[float, numpy_bptt.Params]:
            loss, grads, _ = numpy_bptt.rnn_loss_and_grads(params, inputs, targets, zeros)
            return loss, grads
    elif workload.cell == "lstm":
        def loss_and_grads() -> tuple[float, numpy_bptt.Params]:
            loss, grads, _ = numpy_bptt.lstm_loss_and_grads(params, inputs, targets,
                                                            (zeros, zeros))
            return loss, grads
    else:
        raise Unavailable(f"no hand-derived {workload.cell.upper()}")
    optimizer = (numpy_bptt.Adagrad(lr=workload.lr) if workload.optimizer == "adagrad"
                 else numpy_bptt.Adam(lr=workload.lr))

    def step() -> float:
        loss, grads = loss_and_grads()
        if workload.train:
            if workload.clip == "value":
                numpy_bptt.clip_by_value_(grads, workload.clip_at)
            else:
                numpy_bptt.clip_by_norm_(grads, workload.clip_at)
            optimizer.step(params, grads)
        return loss

    return step


def _torch_build(build: Build) -> Build:
    """`build`, or Unavailable when torch is not importable."""
    def checked(workload: Workload, params: numpy_bptt.Params, inputs: np.ndarray,
                targets: np.ndarray) -> Step:
        if not pytorch.available():
            raise Unavailable("torch not installed")
        return build(workload, params, inputs, targets)
    return checked


def _layer_name(cell: str) -> str:
    return {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}[cell]


CONTENDERS = (
    Contender("ours-layer", lambda c: f"ours nn.{_layer_name(c)}", ours.layer_step),
    Contender("ours-cell", lambda c: f"ours {_layer_name(c)}Cell loop", ours.cell_step),
    Contender("numpy", lambda c: "numpy by hand", _numpy_step),
    Contender("torch-fused", lambda c: f"torch nn.{_layer_name(c)}",
              _torch_build(pytorch.fused_step)),
    Contender("torch-prims", lambda c: "torch prims loop",
              _torch_build(pytorch.primitives_step)),
)


def by_key(key: str) -> Contender:
    """The contender called `key`."""
    for contender in CONTENDERS:
        if contender.key == key:
            return contender
    raise KeyError(f"no contender {key!r}; choose from {[c.key for c in CONTENDERS]}")
