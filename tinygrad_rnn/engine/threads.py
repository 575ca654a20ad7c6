"""How many threads numpy's BLAS (and any OpenMP pool) may use: one, unless told otherwise.

The models this package trains are small: a (32, 128) @ (128, 512) product is over before a
second thread has been woken, so one thread is faster, and its results repeat exactly. Measured
with `python -m benchmarks.threads` (an LSTM language model's training step at batch 32, 1 and 2
threads interleaved, on a 2-core machine; docs/language-model.md, "Threads"): 2 threads were
slower at hidden 128 in every run; from 256 to 1024 they took 0.6-0.9 of the time in some runs
and 3-12 times as long in others, when other work shared the cores. So the CLI and the demos call
`set_num_threads(DEFAULT_THREADS)` at start (`--threads N` changes it), through threadpoolctl,
and a fresh shell needs no OPENBLAS_NUM_THREADS.

    import tinygrad_rnn as tg
    tg.set_num_threads(1)          # what `tinygrad-rnn train` does before it builds the model
    tg.get_num_threads()           # 1
"""

from __future__ import annotations

import argparse

from threadpoolctl import threadpool_info, threadpool_limits

__all__ = ["DEFAULT_THREADS", "set_num_threads", "get_num_threads", "add_threads_flag",
           "use_threads"]

DEFAULT_THREADS = 1  # never much slower, often much faster (see the module docstring)


def set_num_threads(n: int) -> None:
    """Limit every BLAS and OpenMP thread pool loaded in this process to `n` threads."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a whole number >= 1, got {n!r}")
    threadpool_limits(limits=n)


def get_num_threads() -> int:
    """The largest thread count among the BLAS pools loaded in this process (1 if none)."""
    return max((pool["num_threads"] for pool in threadpool_info()
                if pool["user_api"] == "blas"), default=1)


def _thread_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def add_threads_flag(parser: argparse.ArgumentParser) -> None:
    """Give a command `--threads N` (its value: None unless given); see `use_threads`."""
    parser.add_argument("--threads", type=_thread_count, metavar="N",
                        help=f"BLAS threads ({DEFAULT_THREADS}: fastest for these model sizes)")


def use_threads(n: int | None) -> int:
    """Set the thread count a command was given (None: DEFAULT_THREADS); return it."""
    count = DEFAULT_THREADS if n is None else n
    set_num_threads(count)
    return count
