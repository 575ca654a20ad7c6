"""Losses as modules (`nn.CrossEntropyLoss()(logits, target)`), each a thin layer over the
function of the same name in nn.functional. Options are keyword-only: PyTorch's positional
`weight` (class weights) is not supported, so a positional argument fails instead of meaning
something else."""

from __future__ import annotations

from typing import Any

from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.nn import functional
from tinygrad_rnn.nn.module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss"]


class _Loss(Module):
    """What every loss module keeps: how the per-element losses are reduced."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = functional._reduction(reduction, type(self).__name__)


class CrossEntropyLoss(_Loss):
    """functional.cross_entropy: logits (N, C) or (N, C, d1, …), integer targets (N,) or
    (N, d1, …)."""

    def __init__(self, *, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.cross_entropy(input, target, reduction=self.reduction,
                                        ignore_index=self.ignore_index)


class NLLLoss(_Loss):
    """functional.nll_loss: log-probabilities (N, C) or (N, C, d1, …), as cross_entropy."""

    def __init__(self, *, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.nll_loss(input, target, reduction=self.reduction,
                                   ignore_index=self.ignore_index)


class MSELoss(_Loss):
    """functional.mse_loss: (input - target)², reduced."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.mse_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """functional.binary_cross_entropy_with_logits, with an optional pos_weight."""

    def __init__(self, *, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction=reduction)
        self.pos_weight = pos_weight

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return functional.binary_cross_entropy_with_logits(input, target, self.reduction,
                                                           self.pos_weight)
