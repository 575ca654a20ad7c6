"""The simple layers: Linear, Embedding, Dropout, and the activations Tanh, ReLU, Sigmoid as
modules (PyTorch's names, shapes and initialisation)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import ShapeError, Tensor
from tinygrad_rnn.nn import functional, init
from tinygrad_rnn.nn.module import Module, Parameter

__all__ = ["Linear", "Embedding", "Dropout", "Tanh", "ReLU", "Sigmoid"]


class Linear(Module):
    """y = x Wᵀ + b with weight W (out_features, in_features) and bias b (out_features,).
    Both start as U(-1/√in, 1/√in), the bound PyTorch's default initialisation comes to."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = Parameter(np.zeros((out_features, in_features), dtype=np.float32))
        init.uniform_(self.weight, -bound, bound)
        self.bias = Parameter(np.zeros(out_features, dtype=np.float32)) if bias else None
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_features) → (..., out_features)."""
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ShapeError(f"Linear: input of shape {x.shape} does not end in "
                             f"in_features={self.in_features}")
        y = x @ self.weight.T                                        # (..., in) @ (in, out)
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table: integer indices (...) → rows of weight (num_embeddings, embedding_dim).
    Starts as N(0, 1) with the padding_idx row zeroed; that row never gets a gradient."""

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                 f"num_embeddings={num_embeddings}")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        self.weight = Parameter(np.zeros((num_embeddings, embedding_dim), dtype=np.float32))
        init.normal_(self.weight)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0.0

    def forward(self, indices: Any) -> Tensor:
        """(...) integer indices → (..., embedding_dim)."""
        return functional.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class Dropout(Module):
    """Inverted dropout with probability p in training; the identity in eval mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return functional.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Tanh(Module):
    """tanh(x), elementwise: a module for `Sequential`."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sigmoid(Module):
    """1 / (1 + e⁻ˣ), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()
