"""Initialisers that fill a tensor in place (PyTorch's `nn.init` names and formulas).

Each draws from `tinygrad_rnn.engine.random.generator(rng)`, so `manual_seed` makes them repeatable,
keeps the tensor's dtype, and returns the tensor.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_rnn.engine.random import generator
from tinygrad_rnn.engine.tensor import ShapeError, Tensor, increment_version

__all__ = ["uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
           "xavier_normal_", "orthogonal_", "fan_in_and_fan_out"]


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = values.astype(tensor.dtype)
    increment_version(tensor, "an nn.init fill")
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             rng: np.random.Generator | None = None) -> Tensor:
    """Fill with samples of U(a, b)."""
    return _fill(tensor, generator(rng).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            rng: np.random.Generator | None = None) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    return _fill(tensor, generator(rng).normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with `value`."""
    return _fill(tensor, np.full(tensor.shape, value))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel), as PyTorch computes them."""
    if tensor.ndim < 2:
        raise ShapeError(f"init: fan in and fan out need at least 2 dims, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    rng: np.random.Generator | None = None) -> Tensor:
    """Glorot: U(-a, a) with a = gain·√(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   rng: np.random.Generator | None = None) -> Tensor:
    """Glorot: N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def orthogonal_(tensor: Tensor, gain: float = 1.0,
                rng: np.random.Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix (rows or columns orthonormal), times gain; a good W_hh start."""
    if tensor.ndim < 2:
        raise ShapeError(f"orthogonal_: needs at least 2 dims, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = generator(rng).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)                 # q: (max, min) with orthonormal columns
    q *= np.sign(np.diag(r))                  # make the decomposition unique (uniform over Q)
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))   # (rows, cols) -> tensor's shape
