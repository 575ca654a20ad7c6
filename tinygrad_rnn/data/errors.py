"""The one exception the data layer raises for bad input (the CLI prints it and exits 2)."""

from __future__ import annotations

__all__ = ["DataError"]


class DataError(ValueError):
    """Bad input data: the message is one line saying what is wrong and how to fix it."""
