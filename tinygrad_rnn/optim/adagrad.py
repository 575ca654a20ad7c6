"""Adagrad: each coordinate's step shrinks with the sum of all its squared gradients so far."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.optim.optimizer import Optimizer, flag, non_negative

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad with PyTorch's update rule (t counts this parameter's steps, from 1):

        g ← ∇θ + λθ
        S ← S + g²                          (S starts at initial_accumulator_value)
        θ ← θ − lr/(1 + (t − 1)·lr_decay) · g / (√S + ε)       ε = 1e-10, outside the √

    Karpathy's min-char-rnn uses the variant  S ← S + g²;  θ ← θ − lr · g / √(S + 1e-8):
    ε = 1e-8 sits *inside* the square root (so it acts like ε ≈ 1e-4 while S is still 0), and
    there is no learning-rate decay or weight decay (its lr is 1e-1). Where S ≫ 1e-8 the two agree.
    """

    checks = {"lr": non_negative, "lr_decay": non_negative, "weight_decay": non_negative,
              "initial_accumulator_value": non_negative, "eps": non_negative, "maximize": flag}

    def __init__(self, params: Tensor | Iterable[Tensor] | Iterable[dict], lr: float = 1e-2,
                 lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps,
                         maximize=maximize)

    def _init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "sum": np.full_like(param, group["initial_accumulator_value"])}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], scratch: np.ndarray) -> None:
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        state["step"] += 1
        step_lr = group["lr"] / (1.0 + (state["step"] - 1) * group["lr_decay"])
        total = state["sum"]
        np.multiply(grad, grad, out=scratch)
        total += scratch                               # S ← S + g²
        np.sqrt(total, out=scratch)
        scratch += group["eps"]
        np.divide(grad, scratch, out=scratch)          # g / (√S + ε)
        scratch *= step_lr
        param -= scratch
