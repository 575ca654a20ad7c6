"""The run directory: its files, its checkpoints, and the state an exact resume restores.

    config.json     the settings (TrainConfig and ModelConfig), for people to read
    vocab.json      the vocabulary
    metrics.jsonl   one JSON object per evaluation: step, train_loss, val_loss, seconds, lr,
                    grad_norm (before clipping), the sample drawn then, ...
    last.ckpt       everything an exact resume needs: model, optimizer, schedule, data position,
                    the carried hidden state, random generators, the metrics accumulators
    best.ckpt       the model with the lowest validation loss so far
    run.lock        held by the one process training in the directory (its pid inside)
Both checkpoints also carry the model config and the vocabulary, so each loads on its own, and
the run id that config.json holds too: a checkpoint copied in from another run is not resumed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from tinygrad_rnn import optim
from tinygrad_rnn.data import DataError, LineBatches, StreamBatches, vocab_from_json
from tinygrad_rnn.engine.random import get_rng_state, set_rng_state
from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.lm.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tinygrad_rnn.lm.config import TrainConfig, TrainError
from tinygrad_rnn.lm.model import LanguageModel, ModelConfig, State
from tinygrad_rnn.lm.sizes import parameter_count

__all__ = ["LAST", "BEST", "METRICS", "LOCK", "Progress", "run_lock", "new_run_id",
           "check_run_id", "start_files", "keep_metrics", "append_metrics", "resume_state",
           "save_run", "LoadedModel", "load_model", "restore", "saved_config"]

LAST, BEST, METRICS, LOCK = "last.ckpt", "best.ckpt", "metrics.jsonl", "run.lock"

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer per directory is up to the user
    fcntl = None  # type: ignore[assignment]


@dataclass
class Progress:
    """The loop's counters, saved in last.ckpt so a resumed run counts on."""

    step: int = 0
    seconds: float = 0.0             # training time before this session
    best_val_loss: float | None = None
    loss_sum: float = 0.0            # train losses since the last evaluation
    loss_count: int = 0


# ---- one writer at a time ---------------------------------------------------------------------
@contextlib.contextmanager
def run_lock(out: str) -> Iterator[None]:
    """Hold `out`'s lock while inside: a second writer is refused, naming the holder's pid. The
    lock is the operating system's (flock), so a killed holder's lock is gone with it and the
    next writer takes the file over; readers (sample, eval, score) never look at it."""
    try:
        os.makedirs(out, exist_ok=True)
        fd = os.open(os.path.join(out, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise TrainError(f"cannot write to {out}: {e.strerror or e}") from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                raise TrainError(f"{out} is in use by another training process (pid {holder})"
                                 f": wait for it to finish, or choose another --out") from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)                                       # closing releases the lock


def new_run_id() -> str:
    """A fresh run's id (kept in config.json and in each of its checkpoints)."""
    return uuid.uuid4().hex


def check_run_id(out: str, meta: dict[str, Any]) -> None:
    """Refuse to resume from a last.ckpt whose run id is not the one in out's config.json."""
    try:
        with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
            expected = json.load(f).get("run_id")
    except (OSError, ValueError, AttributeError, RecursionError):
        expected = None                                # no readable config.json: nothing to hold
    if expected is not None and meta.get("run_id") != expected:
        raise TrainError(f"{os.path.join(out, LAST)} belongs to another run (run id "
                         f"{meta.get('run_id')!r}, while {out}/config.json says {expected!r}): "
                         f"resume a run in its own directory, with its own checkpoints")


# ---- the readable files ---------------------------------------------------------------------
def start_files(out: str, cfg: TrainConfig, model: LanguageModel, vocab: Any,
                run_id: str) -> None:
    """Write a new run's config.json and vocab.json, and an empty metrics.jsonl."""
    _write_json(os.path.join(out, "config.json"), json.dumps(
        {"run_id": run_id, "train": asdict(cfg), "model": asdict(model.config)}, indent=1))
    vocab.save(os.path.join(out, "vocab.json"))
    _write_json(os.path.join(out, METRICS), "")


def keep_metrics(out: str, step: int, eval_every: int) -> None:
    """Keep the scheduled evaluations up to `step`, where a resume starts: drop later ones and
    the extra one a stop added, so the resumed log reads as if the run had never stopped."""
    path = os.path.join(out, METRICS)
    if not os.path.exists(path):
        return
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            with contextlib.suppress(json.JSONDecodeError):   # a line torn by a crash or a
                records.append(json.loads(line))              # full disk: evaluated again
    kept = [json.dumps(r) + "\n" for r in records if isinstance(r, dict)
            and isinstance(r.get("step"), int) and r["step"] <= step
            and r["step"] % eval_every == 0]
    _write_json(path, "".join(kept))


def append_metrics(out: str, record: dict[str, Any]) -> None:
    """Add one evaluation's record to metrics.jsonl."""
    with open(os.path.join(out, METRICS), "a", encoding="utf-8") as f:
        f.write(json.dumps(record, allow_nan=False) + "\n")  # never NaN: that is not JSON


def _write_json(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


# ---- checkpoints ----------------------------------------------------------------------------
def resume_state(optimizer: optim.Optimizer, scheduler: optim.LRScheduler | None,
                 batches: StreamBatches | LineBatches, state: State, progress: Progress,
                 seconds: float, digest: str) -> dict[str, Any]:
    """Everything besides the model that last.ckpt keeps for an exact resume."""
    return {"optimizer": optimizer.state_dict(), "data": batches.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler else None,
            "rng": get_rng_state(), "state": _state_arrays(state),
            "progress": asdict(replace(progress, seconds=seconds)),
            "digest": digest}


def save_run(out: str, name: str, cfg: TrainConfig, model: LanguageModel, vocab: Any,
             step: int, run_id: str, run: dict[str, Any] | None = None) -> None:
    """Write checkpoint `name` in `out`: the model at `step`, and `run` (resume_state) if given."""
    meta = {**_model_meta(cfg, model, vocab, step), "run_id": run_id}
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    if run is not None:
        meta["run"] = _split_arrays(run, "run", arrays)
    try:
        save_checkpoint(os.path.join(out, name), arrays, meta)
    except OSError as e:
        raise TrainError(f"cannot save {os.path.join(out, name)} at step {step}: "
                         f"{e.strerror or e}; the previous {name}, if any, is untouched"
                         ) from None


class LoadedModel(NamedTuple):
    """What `load_model` returns: `model, vocab, config, meta = load_model(path)` still works."""

    model: LanguageModel     # in eval mode
    vocab: Any               # CharVocab or WordVocab
    config: TrainConfig      # the settings it was trained with
    meta: dict[str, Any]     # the checkpoint's metadata: step, settings, vocabulary, run state


# what a malformed checkpoint's values make the code that reads them raise
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError,
              OverflowError)


def load_model(path: str) -> LoadedModel:
    """(model in eval mode, vocabulary, settings, meta) from a checkpoint of a run."""
    arrays, meta = load_checkpoint(path)
    if not isinstance(meta, dict) or meta.get("kind") != "tinygrad_rnn language model":
        raise CheckpointError(f"{path} is not a language-model checkpoint of tinygrad_rnn")
    _check_finite(path, arrays)
    weights = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    try:
        cfg = TrainConfig(**meta["train"])
        config = ModelConfig.from_dict(meta["model"])
        held = sum(a.size for a in weights.values())
        if parameter_count(config) > 16 * held + 2**16:     # not built: no allocation for a
            raise ValueError(f"its model settings need {parameter_count(config):,} parameters, "
                             f"its arrays hold {held:,}")   # (a near miss is named by key below)
        model = LanguageModel(config)
        model.load_state_dict(weights)
        vocab = vocab_from_json(meta["vocab"], path)
    except _MALFORMED as e:
        raise CheckpointError(f"{path} does not hold a consistent model ({e})"[:300]) from None
    if len(vocab) != model.config.vocab_size:
        raise CheckpointError(f"{path}: its vocabulary has {len(vocab)} tokens but its model "
                              f"was built for {model.config.vocab_size}")
    return LoadedModel(model.eval(), vocab, cfg, meta)


def restore(saved: tuple[dict[str, np.ndarray], dict[str, Any]], out: str,
            batches: StreamBatches | LineBatches, digest: str, model: LanguageModel,
            optimizer: optim.Optimizer, scheduler: optim.LRScheduler | None,
            progress: Progress) -> State:
    """Load everything `last` holds into the fresh objects; return the carried hidden state."""
    arrays, meta = saved
    _check_finite(os.path.join(out, LAST), arrays)
    try:
        run = _join_arrays(meta["run"], arrays)
        if run["digest"] != digest:
            raise TrainError(f"the data differs from what the run in {out} was trained on: "
                             "resume with the same --data or --corpus")
        model.load_state_dict({k[len("model/"):]: v for k, v in arrays.items()
                               if k.startswith("model/")})
        optimizer.load_state_dict(run["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(run["scheduler"])
        batches.load_state_dict(run["data"])
        set_rng_state(run["rng"])
        for name, value in _progress(run["progress"]).items():
            setattr(progress, name, value)
        state = _carried(run["state"], model, batches)
    except (TrainError, DataError):
        raise
    except _MALFORMED as e:
        raise CheckpointError(f"{os.path.join(out, LAST)} cannot be resumed from ({e})"[:300]
                              ) from None
    if isinstance(state, list):
        return tuple(Tensor(s) for s in state)
    return None if state is None else Tensor(state)


def saved_config(path: str, meta: dict[str, Any]) -> TrainConfig:
    """The settings a checkpoint's meta holds; CheckpointError if they are malformed."""
    try:
        return TrainConfig(**meta["train"])
    except _MALFORMED as e:
        raise CheckpointError(f"{path} holds no valid settings ({e})"[:300]) from None


def _check_finite(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Refuse a checkpoint holding NaN or Inf (a diverged model is no model)."""
    for name, array in arrays.items():
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            raise CheckpointError(f"{path}: {name} holds NaN or Inf; refusing a diverged model: "
                                  f"use an earlier checkpoint or train again")


def _progress(value: Any) -> dict[str, Any]:
    """The saved loop counters, each checked for its type and range."""
    counts, amounts = ("step", "loss_count"), ("seconds", "loss_sum", "best_val_loss")
    if not isinstance(value, dict) or not set(value) <= {*counts, *amounts}:
        raise ValueError(f"progress must be an object with the keys {[*counts, *amounts]}")
    for name, v in value.items():
        number = isinstance(v, (int, float)) and not isinstance(v, bool)
        if name in counts and not (number and isinstance(v, int) and v >= 0):
            raise ValueError(f"progress.{name} must be a whole number >= 0, got {v!r}"[:120])
        if name in amounts and not (number and math.isfinite(v)) and not (
                v is None and name == "best_val_loss"):
            raise ValueError(f"progress.{name} must be a finite number, got {v!r}"[:120])
    return value


def _carried(value: Any, model: LanguageModel, batches: StreamBatches | LineBatches) -> Any:
    """The saved hidden state, checked against the model (line mode starts each batch anew:
    it keeps none)."""
    if value is None or isinstance(batches, LineBatches):
        return None
    parts = 2 if model.config.cell == "lstm" else 1
    shape = (model.config.layers, batches.batch_size, model.config.hidden)
    dtype = model.head.weight.dtype
    got = value if parts == 2 and isinstance(value, list) else [value]
    if len(got) != parts or not all(isinstance(a, np.ndarray) and a.shape == shape
                                    and a.dtype == dtype for a in got):
        what = "a pair of arrays" if parts == 2 else "an array"
        raise ValueError(f"the carried state must be {what} of shape {shape} and dtype {dtype}")
    return value


def _model_meta(cfg: TrainConfig, model: LanguageModel, vocab: Any, step: int) -> dict[str, Any]:
    return {"kind": "tinygrad_rnn language model", "step": step, "train": asdict(cfg),
            "model": asdict(model.config), "vocab": vocab.to_json()}


def _state_arrays(state: State) -> Any:
    """The carried hidden state as arrays (a list of two for an LSTM), or None."""
    if isinstance(state, tuple):
        return [s.data for s in state]
    return None if state is None else state.data


def _split_arrays(value: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """`value` with each ndarray moved into `arrays` and replaced by {"array": its key}."""
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"array": prefix}
    if isinstance(value, dict):
        return {str(k): _split_arrays(v, f"{prefix}/{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split_arrays(v, f"{prefix}/{i}", arrays) for i, v in enumerate(value)]
    return value.item() if isinstance(value, np.generic) else value


def _join_arrays(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The inverse of `_split_arrays`."""
    if isinstance(value, dict):
        if set(value) == {"array"}:
            return arrays[value["array"]]
        return {k: _join_arrays(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_arrays(v, arrays) for v in value]
    return value
