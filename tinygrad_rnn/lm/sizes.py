"""Sizes before allocation: what a model and its training need, and the memory there is.

A flag such as `--layers 1000000000` or `--hidden 15000` must be refused at once with the
estimate, not after minutes of swapping or a kill by the out-of-memory killer. The estimate is
arithmetic on the flags (nothing is allocated), in float32 (the model's dtype):

    parameters    embedding V·E, per layer G·H·(I + H + 2), head H·V + V    (G: 1, 3 or 4 gates)
    training      parameters × 6: the weights, their gradients, two optimizer buffers (Adam's
                  m and v) and the copies a checkpoint writes
    activations   per position (T·B of them): per layer (3G + 2)·H saved values, 4·V for the
                  logits and their softmax, gradient and target, and E for the embedding

    python -c "from tinygrad_rnn.lm.sizes import memory_available; print(memory_available())"
"""

from __future__ import annotations

import os

from tinygrad_rnn.lm.model import ModelConfig

__all__ = ["GATES", "parameter_count", "training_bytes", "memory_available", "gib"]

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
FLOAT = 4  # bytes of a float32


def parameter_count(config: ModelConfig) -> int:
    """How many numbers the model of `config` holds (as `sum(p.numel() for p in parameters)`)."""
    gates, hidden, vocab = GATES[config.cell], config.hidden, config.vocab_size
    width = config.embed or vocab
    count = vocab * config.embed + hidden * vocab + vocab                # embedding and head
    count += gates * hidden * (width + hidden + 2)                      # layer 0 reads the input
    count += (config.layers - 1) * gates * hidden * (2 * hidden + 2)    # the others read h
    return count


def training_bytes(config: ModelConfig, batch_size: int, seq_len: int) -> tuple[int, int]:
    """(bytes of the parameters with their gradients and optimizer state, bytes of the
    activations one step keeps for backward), estimated from the settings alone."""
    gates, hidden = GATES[config.cell], config.hidden
    per_position = config.layers * (3 * gates + 2) * hidden + 4 * config.vocab_size + config.embed
    return 6 * FLOAT * parameter_count(config), FLOAT * batch_size * seq_len * per_position


def memory_available() -> int | None:
    """Bytes this process may still allocate: the smaller of the system's available memory and
    a container's (cgroup) limit; None where neither can be read."""
    found = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
            found.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
            used = int(f.read().strip())
        if limit != "max":
            found.append(max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def gib(count: int) -> str:
    """Bytes as GiB (or MiB below one GiB), for messages."""
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"
