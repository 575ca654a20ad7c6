"""Our contenders: the layer (`nn.RNN/GRU/LSTM`) and a user-written loop over the cell.

Both use a `Linear` head. The layer computes the loss once over all T·B positions
(`cross_entropy` on (T·B, V) logits); the cell loop computes it per step, as a user would.

    python -c "from benchmarks import ours; help(ours.layer_step)"
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.numpy_bptt import Params
from benchmarks.step import Step, make_step
from benchmarks.workloads import Workload
from tinygrad_rnn import Tensor, clip, nn, optim
from tinygrad_rnn.nn import functional as F

__all__ = ["layer_step", "cell_step"]

RECURRENT_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
CELLS = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}


def _head(workload: Workload, params: Params) -> nn.Linear:
    head = nn.Linear(workload.hidden, workload.vocab).to_dtype(workload.dtype)
    head.load_state_dict({"weight": params["head_weight"], "bias": params["head_bias"]})
    return head


def layer_step(workload: Workload, params: Params, inputs: np.ndarray,
               targets: np.ndarray) -> Step:
    """nn.RNN/GRU/LSTM over the whole sequence, the head and one cross_entropy on all steps."""
    layer = LAYERS[workload.cell](workload.vocab, workload.hidden).to_dtype(workload.dtype)
    layer.load_state_dict({f"{key}_l0": params[key] for key in RECURRENT_KEYS})
    head = _head(workload, params)
    x = Tensor(inputs)                                                           # (T, B, V)
    y = targets.reshape(-1)                                                      # (T·B,)
    rows = workload.steps * workload.batch

    def forward() -> Tensor:
        out, _ = layer(x)                                                        # (T, B, H)
        logits = head(out.reshape(rows, workload.hidden))                        # (T·B, V)
        return F.cross_entropy(logits, y)

    return make_step(workload, forward, [*layer.parameters(), *head.parameters()],
                                optim, clip)


def cell_step(workload: Workload, params: Params, inputs: np.ndarray,
              targets: np.ndarray) -> Step:
    """A Python loop over RNNCell/GRUCell/LSTMCell with the head and a loss at every step."""
    cell = CELLS[workload.cell](workload.vocab, workload.hidden).to_dtype(workload.dtype)
    cell.load_state_dict({key: params[key] for key in RECURRENT_KEYS})
    head = _head(workload, params)
    xs = [Tensor(x) for x in inputs]                                             # T × (B, V)
    is_lstm = workload.cell == "lstm"

    def forward() -> Tensor:
        state: Any = None                                                        # zeros
        total: Tensor | None = None
        for x, y in zip(xs, targets, strict=True):
            state = cell(x, state)
            h = state[0] if is_lstm else state                                   # (B, H)
            loss = F.cross_entropy(head(h), y)
            total = loss if total is None else total + loss
        return total / len(xs)

    return make_step(workload, forward, [*cell.parameters(), *head.parameters()],
                                optim, clip)
