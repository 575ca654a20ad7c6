"""Holding out validation data: the end of a text stream, or a seeded random choice of lines."""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from tinygrad_rnn.data.errors import DataError
from tinygrad_rnn.engine.random import generator

__all__ = ["split_train_val"]

_S = TypeVar("_S", str, np.ndarray, list)


def split_train_val(data: _S, val_frac: float,
                    rng_or_seed: np.random.Generator | int | None = None) -> tuple[_S, _S]:
    """(train, val): the last `val_frac` of a text or id array; a seeded share of a list of lines.

    With `val_frac > 0` each side keeps at least one character or line. Lines keep their order
    within each side; the choice of validation lines is drawn from `rng_or_seed` (an int seed or a
    Generator; None uses the package's generator).
    """
    if isinstance(val_frac, bool) or not isinstance(val_frac, (int, float)) \
            or not 0 <= val_frac < 1:
        raise DataError(f"val_frac must be a number in [0, 1), got {val_frac!r}")
    n = len(data)
    if val_frac > 0 and n < 2:
        what = "lines" if isinstance(data, list) else "tokens"
        raise DataError(f"cannot hold out validation data from {n} {what}: "
                        "pass more data or --val-frac 0")
    n_val = 0 if val_frac == 0 else min(max(1, round(n * val_frac)), n - 1)
    if not isinstance(data, list):
        return data[:n - n_val], data[n - n_val:]
    rng = generator() if rng_or_seed is None else np.random.default_rng(rng_or_seed)
    val = set(rng.permutation(n)[:n_val].tolist())
    train = [line for i, line in enumerate(data) if i not in val]
    return train, [line for i, line in enumerate(data) if i in val]
