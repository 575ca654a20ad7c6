"""Keeping freed memory for the next array: no page faults for a training step's big arrays.

glibc's malloc gives every block above 32 MiB (a word model's logits: T·B × V floats) its own
fresh mapping and returns it to the kernel when numpy frees it, so each step the kernel maps,
zeroes and unmaps the same few hundred MiB again, page by page: for a 13k-word vocabulary that
was a third of the step's time. Inside `reuse_freed_memory()` every block comes from the heap
instead, and freed blocks stay there for the next step. Elsewhere (macOS, musl) it does nothing.

    with reuse_freed_memory():
        train(...)
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from collections.abc import Iterator

__all__ = ["reuse_freed_memory"]

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4                 # mallopt's parameter numbers (malloc.h)
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536   # glibc's defaults
KEEP_FREE = 1 << 30                                   # freed memory kept at the heap's top


def _mallopt() -> ctypes._CFuncPtr | None:
    """glibc's mallopt, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.mallopt
    except (OSError, AttributeError):
        return None


@contextlib.contextmanager
def reuse_freed_memory() -> Iterator[bool]:
    """Serve big arrays from the heap and keep what is freed for reuse; yields whether it could
    (glibc only). glibc's defaults are put back on the way out (memory kept stays kept)."""
    mallopt = _mallopt()
    done = (mallopt is not None and mallopt(M_MMAP_MAX, 0) == 1
            and mallopt(M_TRIM_THRESHOLD, KEEP_FREE) == 1)
    try:
        yield done
    finally:
        if mallopt is not None:
            mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
            mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
