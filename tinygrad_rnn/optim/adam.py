"""Adam and AdamW: per-coordinate steps from bias-corrected moving averages of g and g²."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.optim.optimizer import Optimizer, beta_pair, flag, non_negative

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with PyTorch's update rule (t counts this parameter's steps, from 1):

        g ← ∇θ + λθ                          (L2 penalty folded into the gradient; AdamW differs)
        m ← β₁m + (1 − β₁)g                  v ← β₂v + (1 − β₂)g²
        v̂ ← max(v̂, v) if amsgrad, else v
        θ ← θ − lr/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
    """

    checks = {"lr": non_negative, "betas": beta_pair, "eps": non_negative,
              "weight_decay": non_negative, "amsgrad": flag, "maximize": flag}

    def __init__(self, params: Tensor | Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)

    def _decay(self, param: np.ndarray, grad: np.ndarray, group: dict[str, Any]) -> np.ndarray:
        """Adam's weight decay: an L2 penalty, added to the gradient."""
        return grad + group["weight_decay"] * param if group["weight_decay"] != 0 else grad

    def _init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": 0, "exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        return state

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], scratch: np.ndarray) -> None:
        (beta1, beta2), lr, eps = group["betas"], group["lr"], group["eps"]
        grad = self._decay(param, grad, group)
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        np.subtract(grad, m, out=scratch)
        scratch *= 1.0 - beta1
        m += scratch                                   # m ← m + (1 − β₁)(g − m)
        v *= beta2
        np.multiply(grad, 1.0 - beta2, out=scratch)
        scratch *= grad
        v += scratch                                   # v ← β₂v + (1 − β₂)g²
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        np.sqrt(v, out=scratch)
        scratch /= math.sqrt(1.0 - beta2**t)
        scratch += eps                                 # √v̂ / √(1 − β₂ᵗ) + ε
        np.divide(m, scratch, out=scratch)
        scratch *= lr / (1.0 - beta1**t)
        param -= scratch


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): the decay never enters m or v.

        θ ← θ(1 − lr·λ),  then the Adam step with g = ∇θ
    """

    def __init__(self, params: Tensor | Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)

    def _decay(self, param: np.ndarray, grad: np.ndarray, group: dict[str, Any]) -> np.ndarray:
        """AdamW's weight decay: shrink the parameter itself; the gradient is left alone."""
        param *= 1.0 - group["lr"] * group["weight_decay"]
        return grad
