"""Reading a run directory back, for plots and reports: its settings, its vocabulary and its
metrics.jsonl (one record per evaluation; a line torn by a crash is skipped). Only reads: a run
still training can be read at any time."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from tinygrad_rnn.lm.run_dir import METRICS

__all__ = ["RunError", "Run", "read_metrics", "read_run"]


class RunError(ValueError):
    """A path that is not a run directory (no metrics.jsonl), or one whose files are unreadable."""


@dataclass(frozen=True)
class Run:
    """What a run directory holds, as plain data."""

    path: str
    config: dict[str, Any]           # {"train": {...}, "model": {...}}, or {} if missing
    tokens: list[str]                # the vocabulary, in id order ([] if missing)
    metrics: list[dict[str, Any]]    # the evaluations, in step order

    @property
    def name(self) -> str:
        """The directory's name, with the cell: "runs/gru (GRU)"."""
        cell = self.config.get("train", {}).get("cell")
        return f"{self.path.rstrip(os.sep)}" + (f" ({cell.upper()})" if cell else "")


def read_metrics(path: str) -> list[dict[str, Any]]:
    """The records of `path`/metrics.jsonl that have a step, in file order; [] if it is absent."""
    file = os.path.join(path, METRICS)
    if not os.path.exists(file):
        return []
    records = []
    with open(file, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:       # a torn last line: evaluated again on resume
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                records.append(record)
    return records


def _json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path} cannot be read ({e})") from None


def read_run(path: str) -> Run:
    """The run in directory `path`; RunError if it is not one."""
    if not os.path.isdir(path):
        raise RunError(f"{path} is not a directory: give a run directory (the --out of "
                       f"tinygrad-rnn train)")
    if not os.path.exists(os.path.join(path, METRICS)):
        raise RunError(f"{path} holds no {METRICS}: give a run directory (the --out of "
                       f"tinygrad-rnn train)")
    config = _json(os.path.join(path, "config.json"))
    vocab = _json(os.path.join(path, "vocab.json"))
    tokens = vocab.get("tokens", []) if isinstance(vocab, dict) else []
    return Run(path, config if isinstance(config, dict) else {}, list(tokens),
               read_metrics(path))
