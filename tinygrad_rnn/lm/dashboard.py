"""What `tinygrad-rnn train` shows: a rich live dashboard on a terminal, plain lines elsewhere.

Both are reporters for `train.train`: it calls start, then step after every optimizer step,
evaluated after every evaluation (with a fresh sample), and finish. Whoever makes a reporter
calls its close() however the run ends (`with contextlib.closing(reporter):`), so an error or a
Ctrl-C stops the live display and gives the terminal back (cursor shown) before the message.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from tinygrad_rnn.lm.train import Summary, TrainConfig

__all__ = ["sparkline", "PlainReporter", "Dashboard", "make_reporter"]

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 60) -> str:
    """The last `width` values as a row of block characters, lowest ▁ to highest █."""
    values = values[-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low or 1.0
    return "".join(BLOCKS[round((v - low) / span * (len(BLOCKS) - 1))] for v in values)


def _describe(config: TrainConfig) -> str:
    source = config.data or f"the built-in corpus {config.corpus}"
    mode = "lines" if config.lines else f"stream, windows of {config.seq_len}"
    return (f"{config.cell.upper()} {config.layers}×{config.hidden} on {source} "
            f"({config.level} level, {mode})")


def _stopped(summary: Summary) -> str:
    how = {"steps": "done", "minutes": "time budget reached", "interrupt": "interrupted"}
    best = "" if summary.best_val_loss is None else f", best val loss {summary.best_val_loss:.4f}"
    return f"{how[summary.stopped]} at step {summary.step}{best}; checkpoints in {summary.out}"


class _Speed:
    """Tokens per second over the last few steps."""

    def __init__(self) -> None:
        self.recent: deque[tuple[float, int]] = deque(maxlen=20)

    def add(self, seconds: float, tokens: int) -> float:
        self.recent.append((seconds, tokens))
        if len(self.recent) < 2:
            return 0.0
        elapsed = self.recent[-1][0] - self.recent[0][0]
        return sum(t for _, t in list(self.recent)[1:]) / elapsed if elapsed > 0 else 0.0


class PlainReporter:
    """One line per evaluation (for logs, pipes and --plain)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.speed = _Speed()
        self.tokens_per_second = 0.0
        self.steps = 0
        self.sample = ""

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def start(self, config: TrainConfig, start_step: int, about: str) -> None:
        self.steps = config.steps
        resumed = f", resuming at step {start_step}" if start_step else ""
        self._print(f"training {_describe(config)}: {about}; {config.steps} steps{resumed}")

    def step(self, step: int, loss: float, grad_norm: float, lr: float, tokens: int,
             seconds: float) -> None:
        self.tokens_per_second = self.speed.add(seconds, tokens)

    def evaluated(self, record: dict[str, Any], sample: str) -> None:
        val = "" if record["val_loss"] is None else \
            f"  val {record['val_loss']:.4f} ({record['val_bpc']:.3f} bpc)"
        self._print(f"step {record['step']:>6}/{self.steps}  train {record['train_loss']:.4f}{val}"
                    f"  grad {record['grad_norm']:.3f}  lr {record['lr']:.2e}"
                    f"  {self.tokens_per_second:,.0f} tok/s  {record['seconds']:.1f}s")
        self.sample = sample

    def finish(self, summary: Summary) -> None:
        if self.sample:
            self._print("sample: " + self.sample.replace("\n", "\n        "))
        self._print(_stopped(summary))

    def close(self) -> None:
        """Nothing to restore: every line is already flushed."""


class Dashboard:
    """A live view: progress with ETA, losses, speed, a loss sparkline, gradient norm, samples."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.progress = Progress(TextColumn("step {task.completed}/{task.total}"), BarColumn(),
                                 TaskProgressColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                 console=self.console)
        self.task = self.progress.add_task("train", total=1)
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self.speed = _Speed()
        self.losses: list[float] = []
        self.stats: dict[str, str] = {}
        self.title, self.sample, self.last_draw, self.best = "", "", 0.0, float("inf")

    def start(self, config: TrainConfig, start_step: int, about: str) -> None:
        self.title = f"{_describe(config)} · {about}"
        self.progress.update(self.task, total=config.steps, completed=start_step)
        self.stats = {"train loss": "…", "val loss": "…", "best val": "…"}
        self.live.start()
        self._draw()

    def step(self, step: int, loss: float, grad_norm: float, lr: float, tokens: int,
             seconds: float) -> None:
        self.losses.append(loss)
        self.progress.update(self.task, completed=step)
        self.stats.update({"train loss": f"{loss:.4f}", "grad norm (before clip)":
                           f"{grad_norm:.3f}", "lr": f"{lr:.2e}",
                           "tokens / s": f"{self.speed.add(seconds, tokens):,.0f}"})
        if time.monotonic() - self.last_draw > 0.2:
            self._draw()

    def evaluated(self, record: dict[str, Any], sample: str) -> None:
        if record["val_loss"] is not None:
            self.stats["val loss"] = f"{record['val_loss']:.4f} ({record['val_bpc']:.3f} bpc)"
            self.best = min(self.best, record["val_loss"])
            self.stats["best val"] = f"{self.best:.4f}"
        self.sample = sample
        self._draw()

    def _draw(self) -> None:
        table = Table.grid(padding=(0, 2))
        for name, value in self.stats.items():
            table.add_row(Text(name, style="bold"), value)
        curve = Text(sparkline(self.losses), style="cyan")
        self.live.update(Group(
            Text(self.title, style="bold magenta"), self.progress, table,
            Panel(curve, title="train loss", title_align="left"),
            Panel(Text(self.sample or "(after the first evaluation)"), title="latest sample",
                  title_align="left")))
        self.last_draw = time.monotonic()

    def finish(self, summary: Summary) -> None:
        self._draw()
        self.live.stop()
        self.console.print(_stopped(summary))

    def close(self) -> None:
        """Stop the live display and restore the terminal (a no-op after finish)."""
        self.live.stop()


def make_reporter(plain: bool, stream: TextIO | None = None) -> PlainReporter | Dashboard:
    """The dashboard on a terminal, plain lines with --plain or when stdout is not a terminal."""
    stream = stream or sys.stdout
    if plain or not stream.isatty():
        return PlainReporter(stream)
    return Dashboard(Console(file=stream))
