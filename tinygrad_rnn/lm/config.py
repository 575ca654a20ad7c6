"""The settings of a training run (TrainConfig), checked on construction and on --resume."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from tinygrad_rnn import optim
from tinygrad_rnn.lm.model import CELLS

__all__ = ["TrainConfig", "TrainError", "OPTIMIZERS", "DEFAULT_LR", "RESUMABLE",
           "check_resumable"]

OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW,
              "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad}
DEFAULT_LR = {"sgd": 0.5, "adam": 3e-3, "adamw": 3e-3, "rmsprop": 2e-3, "adagrad": 0.1}
RESUMABLE = ("steps", "minutes")  # the settings a resumed run may change


class TrainError(ValueError):
    """A bad setting or run directory; the message is one line saying what to change."""


@dataclass
class TrainConfig:
    """The settings of a run (the CLI's train flags), validated on construction."""

    data: str | None = None          # a UTF-8 text file; None trains on the built-in corpus
    corpus: str = "python-help"      # the built-in corpus used without data
    lines: bool = False              # one example per line (names) instead of one long stream
    level: str = "char"              # char or word tokens
    cell: str = "gru"                # rnn, gru or lstm
    hidden: int = 128                # hidden units per layer
    layers: int = 1                  # stacked recurrent layers
    embed: int = 32                  # embedding width; 0 feeds one-hot vectors
    dropout: float = 0.0             # dropout probability (0 is right for small models)
    seq_len: int = 64                # truncated-BPTT window in stream mode
    batch_size: int = 32             # streams (or lines) per step
    steps: int = 2000                # optimizer steps in total (a resumed run counts on)
    minutes: float | None = None     # stop after this many minutes of this session (None or 0: no
                                     # limit); a --resume may change or remove it
    optim: str = "adam"              # sgd, adam, adamw, rmsprop or adagrad
    lr: float | None = None          # None: the optimizer's usual value (DEFAULT_LR)
    clip: float = 1.0                # max gradient norm (or value); 0 turns clipping off
    clip_mode: str = "norm"          # norm rescales the whole gradient, value clamps elements
    val_frac: float = 0.1            # share of the data held out for validation (0: none)
    eval_every: int = 100            # validate, log, checkpoint and sample every N steps
    seed: int = 0                    # initialisation, dropout, shuffling and samples
    schedule: str = "constant"       # constant lr, or cosine decay to lr/10 over the steps

    def __post_init__(self) -> None:
        if not (self.data is None or isinstance(self.data, str)) or not isinstance(
                self.corpus, str) or not isinstance(self.lines, bool):
            raise TrainError(f"--data must be a file name, --corpus a name and --lines true or "
                             f"false, got {self.data!r}, {self.corpus!r}, {self.lines!r}"[:200])
        choices = {"level": ("char", "word"), "cell": tuple(CELLS), "optim": tuple(OPTIMIZERS),
                   "clip_mode": ("norm", "value"), "schedule": ("constant", "cosine")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise TrainError(f"--{_flag(name)}: unknown value {getattr(self, name)!r}: "
                                 f"choose one of {', '.join(allowed)}")
        for name in ("hidden", "layers", "seq_len", "batch_size", "steps", "eval_every"):
            _check_int(name, getattr(self, name), 1)
        _check_int("embed", self.embed, 0)
        _check_int("seed", self.seed, 0)
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optim]
        _check_number("lr", self.lr, positive=True)
        _check_number("clip", self.clip, positive=False)
        if self.minutes is not None:
            _check_number("minutes", self.minutes, positive=False)
            self.minutes = self.minutes or None  # 0: no limit
        for name in ("dropout", "val_frac"):
            value = getattr(self, name)
            _check_number(name, value, positive=False)
            if value >= 1:
                raise TrainError(f"--{_flag(name)} must be in [0, 1), got {value!r}")


def check_resumable(cfg: TrainConfig, before: TrainConfig) -> None:
    """Refuse to resume a run saved with `before` under settings `cfg` that may not change."""
    free = RESUMABLE if before.schedule == "constant" else ("minutes",)  # cosine: fixed end
    changed = [f.name for f in fields(TrainConfig)
               if f.name not in free and getattr(cfg, f.name) != getattr(before, f.name)]
    if changed:
        name = changed[0]
        raise TrainError(f"--{_flag(name)} {getattr(cfg, name)} differs from the run's "
                         f"{getattr(before, name)}: only {' and '.join(free)} may change "
                         f"on --resume")


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise TrainError(f"--{_flag(name)} must be a whole number >= {low}, got {value!r}")


def _check_number(name: str, value: Any, positive: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        raise TrainError(f"--{_flag(name)} must be a {'positive' if positive else 'non-negative'}"
                         f" number, got {value!r}")
