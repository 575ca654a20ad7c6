"""Batches for training: contiguous streams for truncated BPTT, and padded batches of lines.

Every batch is time-major, (x, y) of shape (T, B) as PyTorch's default `batch_first=False`, with
y[t] the token that follows x[t]. In line batches y holds `IGNORE_INDEX` where there is no target.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from tinygrad_rnn.data.errors import DataError

__all__ = ["StreamBatches", "LineBatches", "stream_eval_batches", "line_eval_batches",
           "IGNORE_INDEX"]

IGNORE_INDEX = -100

Batch = tuple[np.ndarray, np.ndarray]


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DataError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def _ids(values: object, what: str) -> np.ndarray:
    ids = np.asarray(values)
    if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
        raise DataError(f"{what} must be a 1-D sequence of integer token ids")
    return ids.astype(np.int64)


def _streams(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """Cut `ids` into `batch_size` contiguous streams, one per column: (L, B)."""
    length = len(ids) // batch_size
    return ids[:length * batch_size].reshape(batch_size, length).T


class StreamBatches:
    """Windows of `seq_len` over `batch_size` contiguous streams (char-rnn's truncated BPTT).

    Window k+1 continues window k in every column, so carry the hidden state (detached) across
    windows, and reset it when `new_epoch` says the batch just returned starts a new pass.
    """

    def __init__(self, ids: Sequence[int] | np.ndarray, batch_size: int, seq_len: int) -> None:
        self.batch_size = _positive("batch_size", batch_size)
        self.seq_len = _positive("seq_len", seq_len)
        ids = _ids(ids, "the text")
        need = self.batch_size * (self.seq_len + 1)
        if len(ids) < need:
            raise DataError(f"the text is too short: {len(ids)} tokens, but batch_size "
                            f"{self.batch_size} x (seq_len {self.seq_len} + 1) needs at least "
                            f"{need}: use more text or a smaller batch size or sequence length")
        self.data = _streams(ids, self.batch_size)                       # (L, B)
        self.windows = (len(self.data) - 1) // self.seq_len
        self.position = 0           # index of the next window
        self.epoch = 0              # completed passes over the data
        self.new_epoch = False      # did the last batch start a pass?

    def __len__(self) -> int:
        return self.windows

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        return self.next()

    def next(self) -> Batch:
        """The next window (x, y), each (seq_len, batch_size); wraps around after the last one."""
        start = self.position * self.seq_len
        x = self.data[start:start + self.seq_len]                         # (T, B)
        y = self.data[start + 1:start + self.seq_len + 1]                 # (T, B)
        self.new_epoch = self.position == 0
        self.position += 1
        if self.position == self.windows:
            self.position, self.epoch = 0, self.epoch + 1
        return x, y

    def state_dict(self) -> dict[str, int]:
        """Where the batches stand (JSON-able), for an exact resume."""
        return {"position": self.position, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a `state_dict()` taken on the same data and sizes."""
        try:
            position, epoch = state["position"], state["epoch"]
        except (KeyError, TypeError):
            raise DataError("stream batch state needs \"position\" and \"epoch\"") from None
        if not (isinstance(position, int) and 0 <= position < self.windows
                and isinstance(epoch, int) and epoch >= 0):
            raise DataError(f"stream batch state {state!r} does not fit {self.windows} windows: "
                            "resume with the same data, batch size and sequence length")
        self.position, self.epoch = position, epoch


def _pad_lines(lines: Sequence[np.ndarray], boundary_id: int) -> Batch:
    """[boundary] + line + [boundary] for each line, padded into time-major (x, y)."""
    steps = max(len(line) for line in lines) + 1
    x = np.full((steps, len(lines)), boundary_id, dtype=np.int64)        # (T, B)
    y = np.full((steps, len(lines)), IGNORE_INDEX, dtype=np.int64)       # (T, B)
    for b, line in enumerate(lines):
        x[1:len(line) + 1, b] = line
        y[:len(line), b] = line
        y[len(line), b] = boundary_id
    return x, y


def _lines(lines_ids: Sequence[Sequence[int]]) -> list[np.ndarray]:
    lines = [_ids(line, "each line") for line in lines_ids]
    if not lines:
        raise DataError("there are no lines: line mode needs at least one non-blank line")
    return lines


class LineBatches:
    """Shuffled batches of whole lines, each padded to the longest in its batch.

    An epoch visits every line once in an order drawn from `rng`; its last batch may be smaller.
    """

    def __init__(self, lines_ids: Sequence[Sequence[int]], batch_size: int, boundary_id: int,
                 rng: np.random.Generator) -> None:
        self.lines = _lines(lines_ids)
        self.batch_size = _positive("batch_size", batch_size)
        self.boundary_id = int(boundary_id)
        self.rng = rng
        self.order = rng.permutation(len(self.lines))
        self.position = 0           # index into `order` of the next line
        self.epoch = 0              # completed passes over the lines

    def __len__(self) -> int:
        return -(-len(self.lines) // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        return self.next()

    def next(self) -> Batch:
        """The next batch (x, y), each (T, B): x starts with the boundary, y ends with it."""
        chosen = self.order[self.position:self.position + self.batch_size]
        self.position += len(chosen)
        if self.position == len(self.lines):
            self.order = self.rng.permutation(len(self.lines))
            self.position, self.epoch = 0, self.epoch + 1
        return _pad_lines([self.lines[i] for i in chosen], self.boundary_id)

    def state_dict(self) -> dict[str, Any]:
        """Order, position, epoch and the generator's state (JSON-able), for an exact resume."""
        return {"order": self.order.tolist(), "position": self.position, "epoch": self.epoch,
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a `state_dict()` taken on the same lines; this also sets `rng`'s state."""
        try:
            order, position, epoch, rng = (state[k] for k in ("order", "position", "epoch", "rng"))
        except (KeyError, TypeError):
            raise DataError("line batch state needs \"order\", \"position\", \"epoch\" and "
                            "\"rng\"") from None
        n = len(self.lines)
        if not (isinstance(order, list) and all(isinstance(i, int) for i in order)
                and sorted(order) == list(range(n))
                and isinstance(position, int) and 0 <= position < n
                and isinstance(epoch, int) and epoch >= 0):
            raise DataError(f"line batch state does not fit these {n} lines: "
                            "resume with the same data")
        try:
            self.rng.bit_generator.state = rng
        except (TypeError, ValueError, KeyError):
            raise DataError("line batch state has an invalid \"rng\" state") from None
        self.order, self.position, self.epoch = np.array(order, dtype=np.int64), position, epoch


def stream_eval_batches(ids: Sequence[int] | np.ndarray, batch_size: int,
                        seq_len: int) -> Iterator[Batch]:
    """One deterministic pass of windows over `ids` for validation; the last may be shorter.

    Weight each window's mean loss by `x.size` to get the mean loss per token.
    """
    batch_size, seq_len = _positive("batch_size", batch_size), _positive("seq_len", seq_len)
    ids = _ids(ids, "the validation text")
    if len(ids) < 2 * batch_size:
        raise DataError(f"the validation text is too short: {len(ids)} tokens, but batch_size "
                        f"{batch_size} needs at least {2 * batch_size}: use a larger --val-frac")
    data = _streams(ids, batch_size)                                      # (L, B)
    for start in range(0, len(data) - 1, seq_len):
        stop = min(start + seq_len, len(data) - 1)
        yield data[start:stop], data[start + 1:stop + 1]


def line_eval_batches(lines_ids: Sequence[Sequence[int]], batch_size: int,
                      boundary_id: int) -> Iterator[Batch]:
    """Every line once, in order, in padded batches; weight by `(y != IGNORE_INDEX).sum()`."""
    lines = _lines(lines_ids)
    batch_size = _positive("batch_size", batch_size)
    for start in range(0, len(lines), batch_size):
        yield _pad_lines(lines[start:start + batch_size], int(boundary_id))
