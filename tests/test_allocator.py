"""reuse_freed_memory: a big array freed and made again costs no page faults inside it."""

from __future__ import annotations

import resource

import numpy as np
import pytest

from tinygrad_rnn.engine.allocator import _mallopt, reuse_freed_memory

pytestmark = pytest.mark.skipif(_mallopt() is None, reason="needs glibc's mallopt")
SIZE = 64 * 2**20 // 8                                   # 64 MiB of float64: above 32 MiB


def faults_of_a_second_array() -> int:
    """Minor page faults while a big array is made and filled again after one was freed."""
    first = np.ones(SIZE)
    del first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    second = np.ones(SIZE)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del second
    return faults


def test_inside_freed_memory_is_used_again() -> None:
    with reuse_freed_memory() as done:
        assert done
        faults = faults_of_a_second_array()
    assert faults < 8, f"{faults} page faults for an array the heap already had"


def test_outside_every_big_array_faults_its_pages_in() -> None:
    """The probe can fail: with glibc's defaults a freed 64 MiB block goes back to the kernel."""
    assert faults_of_a_second_array() >= 16
