"""Stateless functions on tensors: losses, softmaxes, one-hot, dropout, embedding lookup.

Names, arguments and defaults follow `torch.nn.functional`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn.engine import functions as F
from tinygrad_rnn.engine.creation import stack
from tinygrad_rnn.engine.random import generator
from tinygrad_rnn.engine.tensor import ShapeError, Tensor

__all__ = ["cross_entropy", "nll_loss", "log_softmax", "softmax", "mse_loss",
           "binary_cross_entropy_with_logits", "one_hot", "dropout", "embedding",
           "relu", "tanh", "sigmoid"]

REDUCTIONS = ("mean", "sum", "none")


def _reduction(reduction: str, op: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.mean()
    return losses


def _integer_target(target: Any, op: str) -> np.ndarray:
    array = np.asarray(target.data if isinstance(target, Tensor) else target)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {array.dtype}")
    return array


def _check_target(input: Tensor, target: np.ndarray, op: str) -> None:
    """The target fits PyTorch's layouts: input (C,) and target (), (N, C) and (N,), or
    (N, C, d1, …) and (N, d1, …), the classes in dim 1; otherwise say how to fix the call."""
    if input.ndim == 0:
        raise ShapeError(f"{op}: input must be (C,), (N, C) or (N, C, d1, ...), got a scalar")
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape == expected:
        return
    if input.ndim == 1:
        raise ShapeError(f"{op}: input {input.shape} is one row of C = {input.shape[0]} "
                         f"classes, so the target must be one class index of shape (), "
                         f"got {target.shape}")
    if input.ndim == 2:
        raise ShapeError(f"{op}: input {input.shape} is (N, C) = {input.shape}, so the target "
                         f"must hold one class index per row, shape {expected}, "
                         f"got {target.shape}")
    hint = ""
    if target.shape == input.shape[:-1]:
        classes, last = input.shape[-1], input.ndim - 1
        hint = (f"; for logits with the classes last, (..., C) with C = {classes}, flatten "
                f"both: {op}(input.reshape(-1, {classes}), target.reshape(-1)), or move the "
                f"classes to dim 1: input.permute{(0, last, *range(1, last))}")
    raise ShapeError(f"{op}: input {input.shape} is read as PyTorch's (N, C, d1, ...), the "
                     f"C = {input.shape[1]} classes in dim 1, so the target must have shape "
                     f"{expected}, got {target.shape}{hint}")


def _as_rows(logits: Tensor, target: np.ndarray, op: str) -> tuple[Tensor, np.ndarray]:
    """(N, C) and (N,) as they are; (C,) and () as one row; (N, C, d1, …) and (N, d1, …) as
    (N·d1·…, C) and (N·d1·…,)."""
    _check_target(logits, target, op)
    if logits.ndim == 1:
        return logits.reshape(1, -1), target.reshape(1)                    # (1, C)
    if logits.ndim == 2:
        return logits, target
    moved = logits.permute((0,) + tuple(range(2, logits.ndim)) + (1,))     # (N, d1, …, C)
    return moved.reshape(-1, logits.shape[1]), target.reshape(-1)          # (N·d1·…, C)


def cross_entropy(input: Tensor, target: Any, reduction: str = "mean",
                  ignore_index: int = -100) -> Tensor:
    """-log softmax(input)[target] over the classes, reduced; targets equal to ignore_index
    count for nothing (not even in the mean). Input (N, C) with target (N,), PyTorch's
    (N, C, d1, …) with (N, d1, …), or one row (C,) with (). One fused op (softmax and its
    gradient share one buffer): dL/dinput = softmax - one_hot."""
    _reduction(reduction, "cross_entropy")
    target = _integer_target(target, "cross_entropy")
    _check_target(input, target, "cross_entropy")
    if input.ndim == 1:                                                    # one row: (1, C)
        loss = F.CrossEntropy.apply(input.reshape(1, -1), target=target.reshape(1),
                                    ignore_index=ignore_index, reduction=reduction)
        return loss.reshape(()) if reduction == "none" else loss
    return F.CrossEntropy.apply(input, target=target, ignore_index=ignore_index,
                                reduction=reduction)                       # (N, d1, …) or ()


def nll_loss(input: Tensor, target: Any, reduction: str = "mean",
             ignore_index: int = -100) -> Tensor:
    """-input[n, target[n]] (input holds log-probabilities), reduced as cross_entropy."""
    _reduction(reduction, "nll_loss")
    target = _integer_target(target, "nll_loss")
    rows, flat_target = _as_rows(input, target, "nll_loss")
    n, classes = rows.shape
    keep = flat_target != ignore_index
    safe = np.where(keep, flat_target, 0)
    if keep.any() and (safe.min() < 0 or safe.max() >= classes):
        raise ShapeError(f"nll_loss: targets must lie in [0, {classes}) "
                         f"(or equal ignore_index={ignore_index})")
    losses = -rows[np.arange(n), safe] * keep.astype(rows.dtype)                  # (N,)
    if reduction == "none":
        return losses.reshape(target.shape)                                 # (N, d1, …)
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / np.asarray(keep.sum(), dtype=rows.dtype)


def relu(input: Tensor) -> Tensor:
    """max(x, 0), elementwise (the Tensor method, by PyTorch's functional name)."""
    return input.relu()


def tanh(input: Tensor) -> Tensor:
    """tanh(x), elementwise."""
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + e⁻ˣ), elementwise."""
    return input.sigmoid()


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    """x - log Σ exp(x) along dim (stable)."""
    return input.log_softmax(dim)


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / Σ exp(x) along dim (stable)."""
    return input.softmax(dim)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """(input - target)², reduced."""
    _reduction(reduction, "mse_loss")
    target_shape = target.shape if isinstance(target, Tensor) else np.shape(target)
    if tuple(target_shape) != input.shape:
        raise ShapeError(f"mse_loss: input {input.shape} and target {tuple(target_shape)} "
                         f"must have the same shape")
    diff = input - target
    return _reduce(diff * diff, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """-[p·y·log σ(x) + (1-y)·log σ(-x)] (p = pos_weight, default 1), reduced.

    log σ(x) and log σ(-x) are the two entries of log_softmax([x, 0]): stable for |x| ~ 1e4, and
    smooth at x = 0 (a max(x, 0) formulation would give a wrong gradient there)."""
    _reduction(reduction, "binary_cross_entropy_with_logits")
    target_shape = target.shape if isinstance(target, Tensor) else np.shape(target)
    if tuple(target_shape) != input.shape:
        raise ShapeError(f"binary_cross_entropy_with_logits: input {input.shape} and target "
                         f"{tuple(target_shape)} must have the same shape")
    zeros = Tensor(np.zeros(input.shape, dtype=input.dtype))
    log_sigmoids = stack([input, zeros], dim=-1).log_softmax(-1)                   # (..., 2)
    log_p, log_not_p = log_sigmoids[..., 0], log_sigmoids[..., 1]
    positive = target * log_p if pos_weight is None else target * pos_weight * log_p
    losses = -(positive + (1.0 - target) * log_not_p)
    return _reduce(losses, reduction)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Integer indices (...) → an int64 tensor (..., num_classes) with a 1 at each index;
    num_classes=-1 means max index + 1 (as PyTorch)."""
    indices = _integer_target(tensor, "one_hot")
    if indices.size and indices.min() < 0:
        raise ValueError(f"one_hot: indices must be non-negative, got {indices.min()}")
    if num_classes == -1:
        num_classes = int(indices.max()) + 1 if indices.size else 0
    if indices.size and indices.max() >= num_classes:
        raise ValueError(f"one_hot: index {indices.max()} is out of range for "
                         f"num_classes={num_classes}")
    return Tensor((indices[..., None] == np.arange(num_classes)).astype(np.int64))


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            rng: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p),
    so the expected value is unchanged and evaluation needs no rescaling. Identity unless
    training (or when p = 0)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * np.zeros(input.shape, dtype=input.dtype)
    keep = generator(rng).random(input.shape) >= p
    return input * (keep / (1.0 - p)).astype(input.dtype)


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of weight (num_embeddings, dim) picked by integer indices (...) → (..., dim); the
    gradient is scatter-added back into those rows (none into padding_idx)."""
    indices = _integer_target(input, "embedding")
    return F.Embedding.apply(weight, indices=indices, padding_idx=padding_idx)
