"""Stochastic gradient descent, with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.optim.optimizer import Optimizer, flag, non_negative

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with PyTorch's update rule (λ = weight_decay, μ = momentum, τ = dampening):

        g ← ∇θ + λθ                        (−∇θ + λθ when maximize)
        b ← g  on the first step,  μb + (1 − τ)g  after
        g ← g + μb  if nesterov,  else  g ← b          (only when μ > 0)
        θ ← θ − lr·g
    """

    checks = {"lr": non_negative, "momentum": non_negative, "dampening": non_negative,
              "weight_decay": non_negative, "nesterov": flag, "maximize": flag}

    def __init__(self, params: Tensor | Iterable[Tensor] | Iterable[dict], lr: float,
                 momentum: float = 0.0, dampening: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, maximize: bool = False) -> None:
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         nesterov=nesterov, weight_decay=weight_decay, maximize=maximize)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], scratch: np.ndarray) -> None:
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            grad = grad + weight_decay * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()     # b ← g on the first step
            else:
                buf *= momentum
                np.multiply(grad, 1.0 - group["dampening"], out=scratch)
                buf += scratch                                   # b ← μb + (1 − τ)g
            if group["nesterov"]:
                np.multiply(buf, momentum, out=scratch)
                scratch += grad                                  # g + μb
                grad = scratch
            else:
                grad = buf
        np.multiply(grad, group["lr"], out=scratch)
        param -= scratch
