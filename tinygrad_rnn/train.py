"""Training a language model: truncated BPTT, validation, checkpoints, exact resume.

The run directory holds
    config.json     the settings (TrainConfig and ModelConfig), for people to read
    vocab.json      the vocabulary
    metrics.jsonl   one JSON object per evaluation: step, train_loss, val_loss, seconds, lr, ...
    last.ckpt       everything an exact resume needs: model, optimizer, schedule, data position,
                    the carried hidden state, random generators, the metrics accumulators
    best.ckpt       the model with the lowest validation loss so far
Both checkpoints also carry the model config and the vocabulary, so each loads on its own.

The loop, one step: forward, loss, zero_grad, backward, clip, step, schedule, then every
`eval_every` steps: validate, log, checkpoint, sample. In stream mode the hidden state is carried
from window to window (detached: gradients flow back `seq_len` steps only) and reset at each pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Protocol

import numpy as np

from tinygrad_rnn import optim
from tinygrad_rnn.anomaly import AnomalyError, detect_anomaly
from tinygrad_rnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tinygrad_rnn.clip import clip_grad_norm_, clip_grad_value_
from tinygrad_rnn.data import (
    CharVocab,
    DataError,
    LineBatches,
    StreamBatches,
    WordVocab,
    corpus,
    line_eval_batches,
    read_text,
    split_train_val,
    stream_eval_batches,
    text_lines,
    vocab_from_json,
)
from tinygrad_rnn.generate import GenerationError
from tinygrad_rnn.lm import (
    CELLS,
    LanguageModel,
    ModelConfig,
    State,
    bits,
    detach_state,
    mean_loss,
    sample_text,
)
from tinygrad_rnn.random import get_rng_state, manual_seed, set_rng_state
from tinygrad_rnn.tensor import Tensor

__all__ = ["TrainConfig", "TrainError", "Reporter", "Summary", "train", "load_model",
           "run_config", "OPTIMIZERS", "LAST", "BEST", "METRICS"]

LAST, BEST, METRICS = "last.ckpt", "best.ckpt", "metrics.jsonl"
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
    minutes: float | None = None     # stop after this many minutes of training (None: no limit)
    optim: str = "adam"              # sgd, adam, adamw, rmsprop or adagrad
    lr: float | None = None          # None: the optimizer's usual value (DEFAULT_LR)
    clip: float = 1.0                # max gradient norm (or value); 0 turns clipping off
    clip_mode: str = "norm"          # norm rescales the whole gradient, value clamps elements
    val_frac: float = 0.1            # share of the data held out for validation (0: none)
    eval_every: int = 100            # validate, log, checkpoint and sample every N steps
    seed: int = 0                    # initialisation, dropout, shuffling and samples
    schedule: str = "constant"       # constant lr, or cosine decay to lr/10 over the steps

    def __post_init__(self) -> None:
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
            _check_number("minutes", self.minutes, positive=True)
        for name in ("dropout", "val_frac"):
            value = getattr(self, name)
            _check_number(name, value, positive=False)
            if value >= 1:
                raise TrainError(f"--{_flag(name)} must be in [0, 1), got {value!r}")


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


class Reporter(Protocol):
    """What the loop tells a view (dashboard.py has a rich one and a plain one)."""

    def start(self, config: TrainConfig, start_step: int, about: str) -> None: ...
    def step(self, step: int, loss: float, grad_norm: float, lr: float, tokens: int,
             seconds: float) -> None: ...
    def evaluated(self, record: dict[str, Any], sample: str) -> None: ...
    def finish(self, summary: Summary) -> None: ...


@dataclass
class Summary:
    """How a run ended."""

    step: int                        # steps done in total
    stopped: str                     # "steps", "minutes" or "interrupt"
    best_val_loss: float | None      # lowest validation loss seen (None without validation)
    out: str                         # the run directory
    records: list[dict[str, Any]] = field(default_factory=list)  # this session's metrics


# ---- data -----------------------------------------------------------------------------------
@dataclass
class _Data:
    vocab: CharVocab | WordVocab
    batches: StreamBatches | LineBatches
    val: list[Any]                   # validation ids (stream) or lines of ids (line mode)
    digest: str                      # sha256 of the text, to refuse resuming on other data


def _load_data(cfg: TrainConfig) -> _Data:
    text = read_text(cfg.data) if cfg.data is not None else corpus(cfg.corpus)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if cfg.lines:
        examples = text_lines(text)
        vocab = (CharVocab.from_text("\n".join(examples), lines=True) if cfg.level == "char"
                 else WordVocab.from_text(text))
        train, val = split_train_val(examples, cfg.val_frac, cfg.seed)
        batches = LineBatches([vocab.encode(s) for s in train], cfg.batch_size,
                              vocab.boundary_id, np.random.default_rng(cfg.seed))
        return _Data(vocab, batches, [vocab.encode(s) for s in val], digest)
    vocab = CharVocab.from_text(text) if cfg.level == "char" else WordVocab.from_text(text)
    train, val = split_train_val(vocab.encode(text), cfg.val_frac)
    if len(val) == 1:                                  # found now, not at the first evaluation
        raise DataError(f"--val-frac {cfg.val_frac} holds out 1 of {len(train) + 1} tokens; "
                        f"validation needs at least 2: use a larger --val-frac, or 0")
    return _Data(vocab, StreamBatches(train, cfg.batch_size, cfg.seq_len), list(val), digest)


def _validate(model: LanguageModel, data: _Data, cfg: TrainConfig) -> float | None:
    if not data.val:
        return None
    if cfg.lines:
        batches = line_eval_batches(data.val, cfg.batch_size, data.batches.boundary_id)
    else:
        size = max(1, min(cfg.batch_size, len(data.val) // 2))
        batches = stream_eval_batches(np.array(data.val), size, cfg.seq_len)
    return mean_loss(model.eval(), batches, carry_state=not cfg.lines)[0]


# ---- checkpoints ----------------------------------------------------------------------------
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


def _model_meta(cfg: TrainConfig, model: LanguageModel, vocab: Any, step: int) -> dict[str, Any]:
    return {"kind": "tinygrad_rnn language model", "step": step, "train": asdict(cfg),
            "model": asdict(model.config), "vocab": vocab.to_json()}


def load_model(path: str) -> tuple[LanguageModel, Any, TrainConfig, dict[str, Any]]:
    """(model in eval mode, vocabulary, settings, meta) from a checkpoint of a run."""
    arrays, meta = load_checkpoint(path)
    if not isinstance(meta, dict) or meta.get("kind") != "tinygrad_rnn language model":
        raise CheckpointError(f"{path} is not a language-model checkpoint of tinygrad_rnn")
    try:
        cfg = TrainConfig(**meta["train"])
        model = LanguageModel(ModelConfig.from_dict(meta["model"]))
        model.load_state_dict({k[len("model/"):]: v for k, v in arrays.items()
                               if k.startswith("model/")})
        vocab = vocab_from_json(meta["vocab"], path)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} does not hold a consistent model ({e})"[:300]) from None
    if len(vocab) != model.config.vocab_size:
        raise CheckpointError(f"{path}: its vocabulary has {len(vocab)} tokens but its model "
                              f"was built for {model.config.vocab_size}")
    return model.eval(), vocab, cfg, meta


def run_config(out: str) -> TrainConfig:
    """The settings of the run in `out` (from its last checkpoint)."""
    _prepare_dir(out, resume=True)
    return load_model(os.path.join(out, LAST))[2]


# ---- the run directory ----------------------------------------------------------------------
def _prepare_dir(out: str, resume: bool) -> None:
    """Make sure `out` exists and is writable, and that we neither clobber nor invent a run."""
    has_run = os.path.exists(os.path.join(out, LAST))
    if resume and not has_run:
        raise TrainError(f"nothing to resume: {out} holds no {LAST}; train without --resume")
    if not resume and has_run:
        raise TrainError(f"{out} already holds a run: pass --resume to continue it, "
                         f"or choose another --out")
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, f".write-test-{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise TrainError(f"cannot write to {out}: {e.strerror or e}") from None


def _write_json(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _keep_metrics(path: str, step: int, eval_every: int) -> None:
    """Keep the scheduled evaluations up to `step`, where a resume starts: drop later ones and
    the extra one a stop added, so the resumed log reads as if the run had never stopped."""
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


@contextlib.contextmanager
def _stop_on_ctrl_c() -> Iterator[list[bool]]:
    """A first Ctrl-C asks the loop to stop after the current step; a second one interrupts."""
    requested = [False]
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def handler(signum: int, frame: Any) -> None:
        if requested[0]:
            raise KeyboardInterrupt
        requested[0] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)


# ---- the loop -------------------------------------------------------------------------------
@dataclass
class _Progress:
    step: int = 0
    seconds: float = 0.0             # training time before this session
    best_val_loss: float | None = None
    loss_sum: float = 0.0            # train losses since the last evaluation
    loss_count: int = 0


class _Quiet:
    def start(self, config: TrainConfig, start_step: int, about: str) -> None: ...
    def step(self, step: int, loss: float, grad_norm: float, lr: float, tokens: int,
             seconds: float) -> None: ...
    def evaluated(self, record: dict[str, Any], sample: str) -> None: ...
    def finish(self, summary: Summary) -> None: ...


def _sample(model: LanguageModel, data: _Data, cfg: TrainConfig, step: int) -> str:
    rng = np.random.default_rng([cfg.seed, step])    # its own generator: training is unaffected
    if cfg.lines:
        return "  ".join(sample_text(model, data.vocab, True, rng, max_len=40, temperature=0.8)
                         for _ in range(5))
    return sample_text(model, data.vocab, False, rng, max_len=200, temperature=0.8)


def train(cfg: TrainConfig, out: str, resume: bool = False, reporter: Reporter | None = None,
          check_anomalies: bool = False) -> Summary:
    """Train (or, with resume, continue exactly) the run in directory `out`; check_anomalies
    runs it under detect_anomaly(), so divergence names the first op that made NaN or Inf."""
    view = reporter or _Quiet()
    _prepare_dir(out, resume)
    saved: tuple[dict[str, np.ndarray], dict[str, Any]] | None = None
    if resume:
        saved = load_checkpoint(os.path.join(out, LAST))
        before = TrainConfig(**saved[1]["train"])
        free = RESUMABLE if before.schedule == "constant" else ("minutes",)  # cosine: fixed end
        changed = [f.name for f in fields(TrainConfig)
                   if f.name not in free and getattr(cfg, f.name) != getattr(before, f.name)]
        if changed:
            name = changed[0]
            raise TrainError(f"--{_flag(name)} {getattr(cfg, name)} differs from the run's "
                             f"{getattr(before, name)}: only {' and '.join(free)} may change "
                             f"on --resume")
    manual_seed(cfg.seed)
    data = _load_data(cfg)
    model_config = ModelConfig(len(data.vocab), cfg.cell, cfg.hidden, cfg.layers, cfg.embed,
                               cfg.dropout)
    try:
        model = LanguageModel(model_config)
    except (MemoryError, ValueError) as e:               # numpy: cannot allocate, too big
        raise TrainError(f"cannot build a model with --hidden {cfg.hidden} --embed {cfg.embed} "
                         f"--layers {cfg.layers} ({e}): choose smaller sizes") from None
    optimizer = OPTIMIZERS[cfg.optim](model.parameters(), lr=cfg.lr)
    scheduler = (optim.CosineAnnealingLR(optimizer, cfg.steps, eta_min=cfg.lr / 10)
                 if cfg.schedule == "cosine" else None)
    _check_space(out, model)
    progress, state = _Progress(), None
    metrics = os.path.join(out, METRICS)
    kept: int | None = None                  # the step last.ckpt holds (None: no file yet)
    if saved is not None:
        state = _restore(saved, out, data, model, optimizer, scheduler, progress)
        kept = progress.step
        _keep_metrics(metrics, progress.step, cfg.eval_every)
    else:
        _write_json(os.path.join(out, "config.json"), json.dumps(
            {"train": asdict(cfg), "model": asdict(model.config)}, indent=1))
        data.vocab.save(os.path.join(out, "vocab.json"))
        _write_json(metrics, "")

    def save(name: str, seconds: float) -> None:
        nonlocal kept
        meta = _model_meta(cfg, model, data.vocab, progress.step)
        arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
        if name == LAST:
            run = {"optimizer": optimizer.state_dict(), "data": data.batches.state_dict(),
                   "scheduler": scheduler.state_dict() if scheduler else None,
                   "rng": get_rng_state(), "state": _state_arrays(state),
                   "progress": asdict(replace(progress, seconds=seconds)),
                   "digest": data.digest}
            meta["run"] = _split_arrays(run, "run", arrays)
        try:
            save_checkpoint(os.path.join(out, name), arrays, meta)
        except OSError as e:
            raise TrainError(f"cannot save {os.path.join(out, name)} at step {progress.step}: "
                             f"{e.strerror or e}; the previous {name}, if any, is untouched"
                             ) from None
        if name == LAST:
            kept = progress.step

    start_step, started = progress.step, time.monotonic()
    view.start(cfg, start_step, f"{sum(p.data.size for p in model.parameters()):,} parameters, "
                                f"{len(data.vocab)} tokens in the vocabulary")
    stopped, records = "steps", []
    model.train()
    def anomaly(what: str) -> TrainError:
        return _diverged(what, progress.step + 1, out, kept)

    with _stop_on_ctrl_c() as ctrl_c, _anomalies_stop(check_anomalies, anomaly):
        while progress.step < cfg.steps:
            x, y = data.batches.next()                                       # (T, B) each
            if isinstance(data.batches, LineBatches) or data.batches.new_epoch:
                state = None                                                 # a fresh start
            logits, state = model(x, state)                                  # (T, B, V)
            loss = model.loss(logits, y)
            if not math.isfinite(loss.item()):
                raise _diverged(f"the training loss is {loss.item()}", progress.step + 1, out,
                                kept)
            optimizer.zero_grad()
            loss.backward()
            grad_norm = _clip(model, cfg)
            if not math.isfinite(grad_norm):                # a step would spoil the weights
                raise _diverged(f"the gradient norm is {grad_norm}", progress.step + 1, out,
                                kept)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            state = detach_state(state)
            progress.step += 1
            progress.loss_sum += loss.item()
            progress.loss_count += 1
            seconds = progress.seconds + time.monotonic() - started
            view.step(progress.step, loss.item(), grad_norm, optimizer.param_groups[0]["lr"],
                      int((y != -100).sum()), seconds)
            over_time = cfg.minutes is not None and seconds >= cfg.minutes * 60
            if progress.step % cfg.eval_every == 0 or progress.step == cfg.steps or over_time:
                record = _evaluate(model, data, cfg, progress, seconds, optimizer, grad_norm)
                if record["val_loss"] is not None and not math.isfinite(record["val_loss"]):
                    raise _diverged(f"the validation loss is {record['val_loss']}",
                                    progress.step, out, kept)
                try:                                        # before saving: NaN logits show
                    sample = _sample(model, data, cfg, progress.step)
                except GenerationError:
                    raise _diverged("the model's logits are not finite", progress.step, out,
                                    kept) from None
                with open(metrics, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
                records.append(record)
                if record["val_loss"] == progress.best_val_loss:
                    save(BEST, seconds)
                save(LAST, seconds)
                view.evaluated(record, sample)
                model.train()
            if over_time or ctrl_c[0]:
                stopped = "minutes" if over_time else "interrupt"
                break
    if stopped == "interrupt":
        save(LAST, progress.seconds + time.monotonic() - started)
    summary = Summary(progress.step, stopped, progress.best_val_loss, out, records)
    view.finish(summary)
    return summary


@contextlib.contextmanager
def _anomalies_stop(enabled: bool, stop: Callable[[str], TrainError]) -> Iterator[None]:
    """When enabled, run the body under detect_anomaly() and turn its AnomalyError into `stop`'s
    one-line TrainError (the last good checkpoint is kept, as for any divergence)."""
    if not enabled:
        yield
        return
    try:
        with detect_anomaly():
            yield
    except AnomalyError as e:
        raise stop(str(e)) from None


def _check_space(out: str, model: LanguageModel) -> None:
    """Refuse to start when the disk of `out` cannot hold the checkpoints: last.ckpt (the model
    and up to two optimizer arrays per parameter) and best.ckpt, each written next to its old
    copy before the swap: 8 model sizes, plus a MiB for metadata and logs."""
    need = 8 * sum(p.data.nbytes for p in model.parameters()) + 2**20
    free = shutil.disk_usage(out).free
    if free < need:
        raise TrainError(f"{out} has {free / 2**20:.1f} MiB free, but the checkpoints need "
                         f"about {need / 2**20:.1f} MiB: free some space or choose another --out")


def _diverged(what: str, step: int, out: str, kept: int | None) -> TrainError:
    """The error that stops a run whose loss, gradients or logits stopped being finite."""
    where = (f"{os.path.join(out, LAST)} still holds step {kept}" if kept is not None
             else "no checkpoint was saved")
    return TrainError(f"step {step}: {what}: training diverged and stopped ({where}); "
                      f"train again with a lower --lr")


def _state_arrays(state: State) -> Any:
    """The carried hidden state as arrays (a list of two for an LSTM), or None."""
    if isinstance(state, tuple):
        return [s.data for s in state]
    return None if state is None else state.data


def _clip(model: LanguageModel, cfg: TrainConfig) -> float:
    """Clip the gradients as configured; return their total norm before clipping."""
    params = list(model.parameters())
    if cfg.clip > 0 and cfg.clip_mode == "norm":
        return clip_grad_norm_(params, cfg.clip)
    norm = clip_grad_norm_(params, math.inf)                # measures, never rescales
    if cfg.clip > 0:
        clip_grad_value_(params, cfg.clip)
    return norm


def _evaluate(model: LanguageModel, data: _Data, cfg: TrainConfig, progress: _Progress,
              seconds: float, optimizer: optim.Optimizer, grad_norm: float) -> dict[str, Any]:
    """The metrics record of this evaluation; a scheduled one restarts the running train loss
    (an extra one, at a stop, does not: a resumed run then logs what an unstopped one would)."""
    val_loss = _validate(model, data, cfg)
    if val_loss is not None and (progress.best_val_loss is None
                                 or val_loss < progress.best_val_loss):
        progress.best_val_loss = val_loss
    train_loss = progress.loss_sum / progress.loss_count
    if progress.step % cfg.eval_every == 0:
        progress.loss_sum, progress.loss_count = 0.0, 0
    return {"step": progress.step, "train_loss": train_loss, "val_loss": val_loss,
            "val_bpc": None if val_loss is None else bits(val_loss),
            "seconds": round(seconds, 3), "lr": optimizer.param_groups[0]["lr"],
            "grad_norm": grad_norm}


def _restore(saved: tuple[dict[str, np.ndarray], dict[str, Any]], out: str, data: _Data,
             model: LanguageModel, optimizer: optim.Optimizer,
             scheduler: optim.LRScheduler | None, progress: _Progress) -> State:
    """Load everything `last` holds into the fresh objects; return the carried hidden state."""
    arrays, meta = saved
    try:
        run = _join_arrays(meta["run"], arrays)
        if run["digest"] != data.digest:
            raise TrainError(f"the data differs from what the run in {out} was trained on: "
                             "resume with the same --data or --corpus")
        model.load_state_dict({k[len("model/"):]: v for k, v in arrays.items()
                               if k.startswith("model/")})
        optimizer.load_state_dict(run["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(run["scheduler"])
        data.batches.load_state_dict(run["data"])
        set_rng_state(run["rng"])
        for name, value in run["progress"].items():
            setattr(progress, name, value)
        state = run["state"]
    except (TrainError, DataError):
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{os.path.join(out, LAST)} cannot be resumed from ({e})"[:300]
                              ) from None
    if isinstance(state, list):
        return tuple(Tensor(s) for s in state)
    return None if state is None else Tensor(state)

