"""Training a language model: truncated BPTT, validation, checkpoints, exact resume.

The loop, one step: forward, loss, zero_grad, backward, clip, step, schedule, then every
`eval_every` steps: validate, log, checkpoint, sample. In stream mode the hidden state is carried
from window to window (detached: gradients flow back `seq_len` steps only) and reset at each pass.
The settings live in train_config.py; the run directory, its checkpoints and resume in run_dir.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from tinygrad_rnn import optim
from tinygrad_rnn.data import (
    CharVocab,
    LineBatches,
    StreamBatches,
    WordVocab,
    corpus,
    line_eval_batches,
    read_text,
    split_train_val,
    stream_eval_batches,
    text_lines,
)
from tinygrad_rnn.engine.random import manual_seed
from tinygrad_rnn.lm.checkpoint import load_checkpoint
from tinygrad_rnn.lm.config import DEFAULT_LR as DEFAULT_LR
from tinygrad_rnn.lm.config import OPTIMIZERS, TrainConfig, TrainError, check_resumable
from tinygrad_rnn.lm.generate import GenerationError
from tinygrad_rnn.lm.model import (
    LanguageModel,
    ModelConfig,
    bits,
    detach_state,
    mean_loss,
    sample_text,
)
from tinygrad_rnn.lm.run_dir import (
    BEST,
    LAST,
    METRICS,
    Progress,
    append_metrics,
    check_run_id,
    keep_metrics,
    load_model,
    new_run_id,
    restore,
    resume_state,
    run_lock,
    save_run,
    saved_config,
    start_files,
)
from tinygrad_rnn.lm.sizes import gib, memory_available, training_bytes
from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_
from tinygrad_rnn.testing.anomaly import AnomalyError, detect_anomaly

__all__ = ["TrainConfig", "TrainError", "Reporter", "Summary", "train", "load_model",
           "run_config", "OPTIMIZERS", "LAST", "BEST", "METRICS"]


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
    config: TrainConfig              # the settings, fitted to a text too short for them
    notes: tuple[str, ...] = ()      # what was fitted, said when training starts


def fit_to_data(cfg: TrainConfig, n: int) -> tuple[TrainConfig, list[str]]:
    """The settings for a text of `n` tokens (or lines, with `cfg.lines`): without validation
    when `val_frac` would hold out too little to measure (fewer than 2 tokens, or no line and
    nothing left to train on), and in stream mode, when the default batch size and window do
    not fit the text, with fewer streams and shorter windows (sizes you chose are kept, and
    refused if they do not fit). Each change comes with a note."""
    notes = []
    unit = "lines" if cfg.lines else "tokens"
    held = 0 if cfg.val_frac == 0 else max(1, round(n * cfg.val_frac))
    if cfg.val_frac > 0 and (n - held < 1 or (not cfg.lines and held < 2)):
        notes.append(f"no validation: --val-frac {cfg.val_frac:g} would hold out {held} of {n} "
                     f"{unit}, too few to measure")
        cfg, held = replace(cfg, val_frac=0.0), 0
    left = n - held
    defaults = TrainConfig()
    chosen = (cfg.batch_size, cfg.seq_len) != (defaults.batch_size, defaults.seq_len)
    if not cfg.lines and not chosen and 2 <= left < cfg.batch_size * (cfg.seq_len + 1):
        batch = max(1, min(cfg.batch_size, left // (cfg.seq_len + 1)))
        seq_len = min(cfg.seq_len, left // batch - 1)
        notes.append(f"the text is short ({left} {unit} to train on): {batch} stream(s) of "
                     f"windows of {seq_len} instead of {cfg.batch_size} of {cfg.seq_len}")
        cfg = replace(cfg, batch_size=batch, seq_len=seq_len)
    return cfg, notes


def _load_data(cfg: TrainConfig) -> _Data:
    text = read_text(cfg.data) if cfg.data is not None else corpus(cfg.corpus)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if cfg.lines:
        examples = text_lines(text)
        vocab = (CharVocab.from_text("\n".join(examples), lines=True) if cfg.level == "char"
                 else WordVocab.from_text(text))
        cfg, notes = fit_to_data(cfg, len(examples))
        train, val = split_train_val(examples, cfg.val_frac, cfg.seed)
        batches = LineBatches([vocab.encode(s) for s in train], cfg.batch_size,
                              vocab.boundary_id, np.random.default_rng(cfg.seed))
        return _Data(vocab, batches, [vocab.encode(s) for s in val], digest, cfg, tuple(notes))
    vocab = CharVocab.from_text(text) if cfg.level == "char" else WordVocab.from_text(text)
    ids = vocab.encode(text)
    cfg, notes = fit_to_data(cfg, len(ids))
    train, val = split_train_val(ids, cfg.val_frac)
    return _Data(vocab, StreamBatches(train, cfg.batch_size, cfg.seq_len), list(val), digest,
                 cfg, tuple(notes))


def _validate(model: LanguageModel, data: _Data, cfg: TrainConfig) -> float | None:
    if not data.val:
        return None
    if cfg.lines:
        batches = line_eval_batches(data.val, cfg.batch_size, data.batches.boundary_id)
    else:
        size = max(1, min(cfg.batch_size, len(data.val) // 2))
        batches = stream_eval_batches(np.array(data.val), size, cfg.seq_len)
    return mean_loss(model.eval(), batches, carry_state=not cfg.lines)[0]


# ---- the loop -------------------------------------------------------------------------------
class _Quiet:
    def start(self, config: TrainConfig, start_step: int, about: str) -> None: ...
    def step(self, step: int, loss: float, grad_norm: float, lr: float, tokens: int,
             seconds: float) -> None: ...
    def evaluated(self, record: dict[str, Any], sample: str) -> None: ...
    def finish(self, summary: Summary) -> None: ...


def _sample(model: LanguageModel, data: _Data, cfg: TrainConfig, step: int) -> str:
    rng = np.random.default_rng([cfg.seed, step])    # its own generator: training is unaffected
    if cfg.lines:
        return "  ".join(sample_text(model, data.vocab, rng, lines=True, max_len=40,
                                     temperature=0.8) for _ in range(5))
    return sample_text(model, data.vocab, rng, max_len=200, temperature=0.8)


def train(cfg: TrainConfig, out: str, resume: bool = False, reporter: Reporter | None = None,
          check_anomalies: bool = False) -> Summary:
    """Train (or, with resume, continue exactly) the run in directory `out`; check_anomalies
    runs it under detect_anomaly(), so divergence names the first op that made NaN or Inf."""
    _prepare_dir(out, resume)
    with run_lock(out):
        _check_run(out, resume)                 # again: another writer may have started it
        return _train(cfg, out, resume, reporter or _Quiet(), check_anomalies)


def _train(cfg: TrainConfig, out: str, resume: bool, view: Reporter,
           check_anomalies: bool) -> Summary:
    saved: tuple[dict[str, np.ndarray], dict[str, Any]] | None = None
    run_id = new_run_id()
    if resume:
        saved = load_checkpoint(os.path.join(out, LAST))
        check_run_id(out, saved[1])
        run_id = saved[1].get("run_id") or run_id
        check_resumable(cfg, saved_config(os.path.join(out, LAST), saved[1]))
    manual_seed(cfg.seed)
    data = _load_data(cfg)
    cfg = data.config                        # fitted to a short text (data.notes say how)
    model_config = ModelConfig(len(data.vocab), cfg.cell, cfg.hidden, cfg.layers, cfg.embed,
                               cfg.dropout)
    _check_memory(cfg, model_config)
    try:
        model = LanguageModel(model_config)
    except (MemoryError, ValueError) as e:               # numpy: cannot allocate, too big
        raise TrainError(f"cannot build a model with --hidden {cfg.hidden} --embed {cfg.embed} "
                         f"--layers {cfg.layers} ({e}): choose smaller sizes") from None
    optimizer = OPTIMIZERS[cfg.optim](model.parameters(), lr=cfg.lr)
    scheduler = (optim.CosineAnnealingLR(optimizer, cfg.steps, eta_min=cfg.lr / 10)
                 if cfg.schedule == "cosine" else None)
    _check_space(out, model)
    progress, state = Progress(), None
    kept: int | None = None                  # the step last.ckpt holds (None: no file yet)
    if saved is not None:
        state = restore(saved, out, data.batches, data.digest, model, optimizer, scheduler,
                        progress)
        kept = progress.step
        keep_metrics(out, progress.step, cfg.eval_every)
    else:
        start_files(out, cfg, model, data.vocab, run_id)

    def save(name: str, seconds: float) -> None:
        nonlocal kept
        run = (resume_state(optimizer, scheduler, data.batches, state, progress, seconds,
                            data.digest) if name == LAST else None)
        save_run(out, name, cfg, model, data.vocab, progress.step, run_id, run)
        if name == LAST:
            kept = progress.step

    start_step, started = progress.step, time.monotonic()
    view.start(cfg, start_step, "; ".join([f"{sum(p.data.size for p in model.parameters()):,} "
                                           f"parameters, {len(data.vocab)} tokens in the "
                                           "vocabulary", *data.notes]))
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
            del logits              # T·B·V floats: not kept while the next step makes its own
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
            over_time = (cfg.minutes is not None                  # this session's budget
                         and time.monotonic() - started >= cfg.minutes * 60)
            if progress.step % cfg.eval_every == 0 or progress.step == cfg.steps:
                record = _evaluate(model, data, cfg, progress, seconds, optimizer, grad_norm)
                if record["val_loss"] is not None and not math.isfinite(record["val_loss"]):
                    raise _diverged(f"the validation loss is {record['val_loss']}",
                                    progress.step, out, kept)
                try:                                        # before saving: NaN logits show
                    sample = _sample(model, data, cfg, progress.step)
                except GenerationError:
                    raise _diverged("the model's logits are not finite", progress.step, out,
                                    kept) from None
                append_metrics(out, {**record, "sample": sample})   # the report shows it
                records.append(record)
                if record["val_loss"] == progress.best_val_loss:
                    save(BEST, seconds)
                save(LAST, seconds)
                view.evaluated(record, sample)
                model.train()
            if over_time or ctrl_c[0]:
                stopped = "minutes" if over_time else "interrupt"
                break
    if stopped != "steps" and kept != progress.step:      # a stop between evaluations: no
        save(LAST, progress.seconds + time.monotonic() - started)  # extra one (best.ckpt and
                                                                   # the log stay as unstopped)
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


def _diverged(what: str, step: int, out: str, kept: int | None) -> TrainError:
    """The error that stops a run whose loss, gradients or logits stopped being finite."""
    where = (f"{os.path.join(out, LAST)} still holds step {kept}" if kept is not None
             else "no checkpoint was saved")
    return TrainError(f"step {step}: {what}: training diverged and stopped ({where}); "
                      f"train again with a lower --lr")


def _clip(model: LanguageModel, cfg: TrainConfig) -> float:
    """Clip the gradients as configured; return their total norm before clipping."""
    params = list(model.parameters())
    if cfg.clip > 0 and cfg.clip_mode == "norm":
        return clip_grad_norm_(params, cfg.clip)
    norm = clip_grad_norm_(params, math.inf)                # measures, never rescales
    if cfg.clip > 0:
        clip_grad_value_(params, cfg.clip)
    return norm


def _evaluate(model: LanguageModel, data: _Data, cfg: TrainConfig, progress: Progress,
              seconds: float, optimizer: optim.Optimizer, grad_norm: float) -> dict[str, Any]:
    """The metrics record of this evaluation; one every eval_every steps restarts the running
    train loss (the last step's, off that schedule, does not: a run resumed with more --steps
    then logs what an unstopped one would)."""
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


# ---- the run directory: refuse to start what cannot finish ----------------------------------
def run_config(out: str) -> TrainConfig:
    """The settings of the run in `out` (from its last checkpoint)."""
    _prepare_dir(out, resume=True)
    return load_model(os.path.join(out, LAST)).config


def _check_run(out: str, resume: bool) -> None:
    """Make sure that we neither clobber nor invent a run."""
    has_run = os.path.exists(os.path.join(out, LAST))
    if resume and not has_run:
        raise TrainError(f"nothing to resume: {out} holds no {LAST}; train without --resume")
    if not resume and has_run:
        raise TrainError(f"{out} already holds a run: pass --resume to continue it, "
                         f"or choose another --out")


def _prepare_dir(out: str, resume: bool) -> None:
    """Make sure `out` exists and is writable, and that we neither clobber nor invent a run."""
    _check_run(out, resume)
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, f".write-test-{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise TrainError(f"cannot write to {out}: {e.strerror or e}") from None


def _check_memory(cfg: TrainConfig, model_config: ModelConfig) -> None:
    """Refuse to start, before allocating anything, a run that would not fit in memory."""
    weights, activations = training_bytes(model_config, cfg.batch_size, cfg.seq_len)
    available = memory_available()
    if available is not None and weights + activations > available:
        raise TrainError(
            f"cannot build a model with --hidden {cfg.hidden} --embed {cfg.embed} --layers "
            f"{cfg.layers} and train it with --batch-size {cfg.batch_size} --seq-len "
            f"{cfg.seq_len}: it needs about {gib(weights + activations)} of memory (weights, "
            f"gradients and optimizer state {gib(weights)}, activations {gib(activations)}), "
            f"{gib(available)} is available: choose smaller sizes")


def _check_space(out: str, model: LanguageModel) -> None:
    """Refuse to start when the disk of `out` cannot hold the checkpoints: last.ckpt (the model
    and up to two optimizer arrays per parameter) and best.ckpt, each written next to its old
    copy before the swap: 8 model sizes, plus a MiB for metadata and logs."""
    need = 8 * sum(p.data.nbytes for p in model.parameters()) + 2**20
    free = shutil.disk_usage(out).free
    if free < need:
        raise TrainError(f"{out} has {free / 2**20:.1f} MiB free, but the checkpoints need "
                         f"about {need / 2**20:.1f} MiB: free some space or choose another --out")
