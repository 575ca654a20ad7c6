"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.optim.optimizer import Optimizer, flag, fraction, non_negative

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop with PyTorch's update rule (α = alpha, μ = momentum; ε is added after the √):

        g ← ∇θ + λθ
        s ← αs + (1 − α)g²
        d ← √(s − ḡ²) + ε  with  ḡ ← αḡ + (1 − α)g   if centered,   else  d ← √s + ε
        b ← μb + g/d,  θ ← θ − lr·b   if μ > 0,        else  θ ← θ − lr·g/d
    """

    checks = {"lr": non_negative, "alpha": fraction, "eps": non_negative,
              "weight_decay": non_negative, "momentum": non_negative, "centered": flag,
              "maximize": flag}

    def __init__(self, params: Tensor | Iterable[Tensor] | Iterable[dict], lr: float = 1e-2,
                 alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, maximize: bool = False) -> None:
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered, maximize=maximize)

    def _init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": 0, "square_avg": np.zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(param)
        return state

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], scratch: np.ndarray) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        state["step"] += 1
        square_avg = state["square_avg"]
        square_avg *= alpha
        np.multiply(grad, 1.0 - alpha, out=scratch)
        scratch *= grad
        square_avg += scratch                          # s ← αs + (1 − α)g²
        if group["centered"]:
            grad_avg = state["grad_avg"]
            np.subtract(grad, grad_avg, out=scratch)
            scratch *= 1.0 - alpha
            grad_avg += scratch                        # ḡ ← αḡ + (1 − α)g
            np.multiply(grad_avg, grad_avg, out=scratch)
            np.subtract(square_avg, scratch, out=scratch)
            np.sqrt(scratch, out=scratch)
        else:
            np.sqrt(square_avg, out=scratch)
        scratch += group["eps"]                        # d
        np.divide(grad, scratch, out=scratch)          # g / d
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += scratch                             # b ← μb + g/d
            np.multiply(buf, group["lr"], out=scratch)
        else:
            scratch *= group["lr"]
        param -= scratch
