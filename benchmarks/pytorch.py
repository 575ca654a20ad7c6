"""PyTorch contenders (only when torch is importable): the fused layer and a primitive-op loop.

`fused_step` uses torch.nn.RNN/GRU/LSTM (one C++ kernel per layer); `primitives_step` runs the
same per-step loop as our cell contender, each cell written from torch's primitive ops exactly as
our cells are, so the two loops issue the same ops and differ only in the engine underneath.
torch runs on one thread, as every contender does.

    /tmp/tv_bench/bin/python -m benchmarks --quick      # a venv with torch installed
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.numpy_bptt import Params
from benchmarks.step import Step, make_step
from benchmarks.workloads import Workload

__all__ = ["available", "version", "torch_module", "fused_step", "primitives_step",
           "language_model"]

RECURRENT_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@functools.cache
def _torch() -> ModuleType | None:
    """torch on one thread, imported on first use (so importing this module never loads it)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def available() -> bool:
    """True when torch can be imported."""
    return _torch() is not None


def torch_module() -> ModuleType:
    """torch itself, on one thread (check `available()` first)."""
    torch = _torch()
    if torch is None:
        raise ImportError("torch is not installed")
    return torch


def version() -> str | None:
    """torch's version, or None when it is not installed."""
    torch = _torch()
    return torch.__version__ if torch is not None else None


def language_model(cell: str, vocab: int, embed: int, hidden: int) -> Any:
    """Our LanguageModel's architecture in torch (embedding, one fused recurrent layer, a Linear
    head), with the same state-dict keys, so our weights load into it unchanged."""
    torch = torch_module()
    layer = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]

    class LanguageModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab, embed)
            self.rnn = layer(embed, hidden)
            self.head = torch.nn.Linear(hidden, vocab)

        def forward(self, ids: Any) -> Any:
            return self.head(self.rnn(self.embedding(ids))[0])               # (T, B, V)

    return LanguageModel()


def _tensors(params: Params, requires_grad: bool = False) -> dict[str, Any]:
    torch = _torch()
    return {name: torch.tensor(p, requires_grad=requires_grad) for name, p in params.items()}


def fused_step(workload: Workload, params: Params, inputs: np.ndarray,
               targets: np.ndarray) -> Step:
    """torch.nn.RNN/GRU/LSTM, a Linear head and one cross_entropy over all T·B positions."""
    torch = _torch()
    layer_class = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[workload.cell]
    dtype = getattr(torch, workload.dtype)
    layer = layer_class(workload.vocab, workload.hidden, dtype=dtype)
    head = torch.nn.Linear(workload.hidden, workload.vocab, dtype=dtype)
    weights = _tensors(params)
    layer.load_state_dict({f"{key}_l0": weights[key] for key in RECURRENT_KEYS})
    head.load_state_dict({"weight": weights["head_weight"], "bias": weights["head_bias"]})
    x = torch.from_numpy(inputs)                                                 # (T, B, V)
    y = torch.from_numpy(targets).reshape(-1)                                    # (T·B,)

    def forward() -> Any:
        out, _ = layer(x)                                                        # (T, B, H)
        logits = head(out.reshape(-1, workload.hidden))                          # (T·B, V)
        return torch.nn.functional.cross_entropy(logits, y)

    return make_step(workload, forward, [*layer.parameters(), *head.parameters()],
                     torch.optim, torch.nn.utils)


# ---- cells from primitive ops (the equations of tinygrad_rnn/nn/cells.py) ----------------------
def _rnn_cell(w: dict[str, Any], x: Any, h: Any) -> Any:
    x_proj = x @ w["weight_ih"].T + w["bias_ih"]                                  # (B, H)
    return (x_proj + (h @ w["weight_hh"].T + w["bias_hh"])).tanh()


def _gru_cell(w: dict[str, Any], x: Any, h: Any) -> Any:
    x_r, x_z, x_n = (x @ w["weight_ih"].T + w["bias_ih"]).chunk(3, dim=1)        # (B, H) each
    h_r, h_z, h_n = (h @ w["weight_hh"].T + w["bias_hh"]).chunk(3, dim=1)        # (B, H) each
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return (1.0 - z) * n + z * h


def _lstm_cell(w: dict[str, Any], x: Any, state: tuple[Any, Any]) -> tuple[Any, Any]:
    h, c = state
    x_proj = x @ w["weight_ih"].T + w["bias_ih"]                                  # (B, 4H)
    gates = x_proj + (h @ w["weight_hh"].T + w["bias_hh"])                       # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=1)                                           # (B, H) each
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    c = f * c + i * g
    h = o * c.tanh()
    return h, c


CELLS: dict[str, Callable[..., Any]] = {"rnn": _rnn_cell, "gru": _gru_cell, "lstm": _lstm_cell}


def primitives_step(workload: Workload, params: Params, inputs: np.ndarray,
                    targets: np.ndarray) -> Step:
    """A Python loop over a cell made of torch primitives, a head and a loss at every step."""
    torch = _torch()
    w = _tensors(params, requires_grad=True)
    cell = CELLS[workload.cell]
    xs = list(torch.from_numpy(inputs))                                          # T × (B, V)
    ys = list(torch.from_numpy(targets))                                         # T × (B,)
    zeros = torch.zeros(workload.batch, workload.hidden, dtype=getattr(torch, workload.dtype))
    is_lstm = workload.cell == "lstm"

    def forward() -> Any:
        state: Any = (zeros, zeros) if is_lstm else zeros
        total = None
        for x, y in zip(xs, ys, strict=True):
            state = cell(w, x, state)
            h = state[0] if is_lstm else state                                   # (B, H)
            loss = torch.nn.functional.cross_entropy(h @ w["head_weight"].T + w["head_bias"], y)
            total = loss if total is None else total + loss
        return total / len(xs)

    return make_step(workload, forward, w.values(), torch.optim, torch.nn.utils)
