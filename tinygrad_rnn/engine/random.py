"""The package's random number generator: one seeded numpy Generator, as torch.manual_seed."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import _Recording

__all__ = ["manual_seed", "generator", "get_rng_state", "set_rng_state"]


class _Default:
    rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the generator that initialisation, dropout and sampling use by default."""
    _Default.rng = np.random.default_rng(seed)
    return _Default.rng


def generator(rng: np.random.Generator | None = None) -> np.random.Generator:
    """`rng` if given, else the package's default generator."""
    _Recording.value_outside_ops()  # random numbers inside a traced step: it cannot be replayed
    return _Default.rng if rng is None else rng


def get_rng_state() -> dict[str, Any]:
    """The default generator's state, a JSON-serialisable dict (saved in checkpoints)."""
    return _Default.rng.bit_generator.state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a state from `get_rng_state()` (for exact resume)."""
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    _Default.rng = rng
