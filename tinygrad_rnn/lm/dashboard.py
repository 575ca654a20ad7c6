"""What `tinygrad-rnn train` shows: a rich live dashboard on a terminal, plain lines elsewhere.

Both are reporters for `train.train`: it calls start, then step after every optimizer step,
evaluated after every evaluation (with a fresh sample), and finish. Whoever makes a reporter
calls its close() however the run ends (`with contextlib.closing(reporter):`), so an error or a
Ctrl-C stops the live display and gives the terminal back (cursor shown) before the message.
"""

from __future__ import annotations

import io
import sys
import textwrap
import time
from collections import deque
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from tinygrad_rnn.lm.runs import read_metrics
from tinygrad_rnn.lm.train import Summary, TrainConfig
from tinygrad_rnn.viz.plot import Series, chart_text

__all__ = ["PlainReporter", "Dashboard", "make_reporter"]

def _describe(config: TrainConfig) -> str:
    source = config.data or f"the built-in corpus {config.corpus}"
    mode = "lines" if config.lines else f"stream, windows of {config.seq_len}"
    return (f"{config.cell.upper()} {config.layers}×{config.hidden} on {source} "
            f"({config.level} level, {mode})")


def _stopped(summary: Summary, scratch: bool = False) -> str:
    how = {"steps": "done", "minutes": "time budget reached", "interrupt": "interrupted"}
    best = "" if summary.best_val_loss is None else f", best val loss {summary.best_val_loss:.4f}"
    if scratch:
        return (f"{how[summary.stopped]} at step {summary.step}{best}\n"
                "(the run directory was temporary and is deleted; --out DIR keeps it)")
    return f"{how[summary.stopped]} at step {summary.step}{best}; checkpoints in {summary.out}"


def _length(config: TrainConfig) -> str:
    """How long the run is: its steps, or its time budget and the steps it cannot pass."""
    if config.minutes is None:
        return f"{config.steps} steps"
    return f"for {config.minutes:g} min (or {config.steps:,} steps, whichever comes first)"


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


def _fit(line: str, width: int = 80) -> str:
    """`line` wrapped at `width` columns, continuation lines indented (a log reads at 80)."""
    return "\n".join(textwrap.wrap(line, width, subsequent_indent="    ",
                                   break_long_words=False, break_on_hyphens=False))


def _cut(text: str, width: int) -> str:
    """Each line of `text` cut to `width` characters (… marks a cut)."""
    return "\n".join(line if len(line) <= width else line[:width - 1] + "…"
                     for line in text.split("\n"))


class PlainReporter:
    """One line per evaluation (for logs, pipes and --plain), at most 80 columns wide."""

    def __init__(self, stream: TextIO | None = None, scratch: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.scratch = scratch
        self.speed = _Speed()
        self.tokens_per_second = 0.0
        self.steps = ""          # "/2000", or "" when a time budget ends the run
        self.lr_changes = False  # a schedule: show the lr at each evaluation
        self.sample = ""

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def start(self, config: TrainConfig, start_step: int, about: str) -> None:
        self.steps = "" if config.minutes is not None else f"/{config.steps}"
        self.lr_changes = config.schedule != "constant"
        resumed = f", resuming at step {start_step}" if start_step else ""
        self._print(_fit(f"training {_describe(config)}: {about}; {_length(config)}{resumed}"))

    def step(self, step: int, loss: float, grad_norm: float, lr: float, tokens: int,
             seconds: float) -> None:
        self.tokens_per_second = self.speed.add(seconds, tokens)

    def evaluated(self, record: dict[str, Any], sample: str) -> None:
        val = "" if record["val_loss"] is None else \
            f"  val {record['val_loss']:.3f} ({record['val_bpc']:.2f} bpc)"
        lr = f"  lr {record['lr']:.1e}" if self.lr_changes else ""
        self._print(_fit(f"step {record['step']}{self.steps}  train {record['train_loss']:.3f}"
                         f"{val}  grad {record['grad_norm']:.2f}{lr}"
                         f"  {self.tokens_per_second:,.0f} tok/s  {record['seconds']:.1f}s"))
        self.sample = sample

    def finish(self, summary: Summary) -> None:
        if self.sample:
            self._print("sample: " + _cut(self.sample, 72).replace("\n", "\n        "))
        self._print(_stopped(summary, self.scratch))       # one line: scripts read it

    def close(self) -> None:
        """Nothing to restore: every line is already flushed."""


class Dashboard:
    """A live view: progress with ETA, losses, speed, the loss chart of the whole run so far
    (validation points too; on --resume the earlier part comes from `out`'s metrics.jsonl),
    gradient norm and the latest sample."""

    def __init__(self, console: Console | None = None, out: str | None = None,
                 scratch: bool = False) -> None:
        self.console = console or Console()
        self.out = out
        self.scratch = scratch
        self.budget: float | None = None      # seconds, when the run has a time budget
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TaskProgressColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                 console=self.console)
        self.budget: float | None = None      # seconds, when the run has a time budget
        self.task = self.progress.add_task("train", total=1)
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self.speed = _Speed()
        self.losses: list[tuple[int, float]] = []      # (step, train loss) of every step seen
        self.val: list[tuple[int, float]] = []         # (step, validation loss)
        self.stats: dict[str, str] = {}
        self.title, self.sample, self.last_draw, self.best = "", "", 0.0, float("inf")
        self.seconds, self.unit = 0.0, "char"
        self.jupyter_output: Any = None               # the notebook's display handle

    def start(self, config: TrainConfig, start_step: int, about: str) -> None:
        self.title = f"{_describe(config)} · {about} · {_length(config)}"
        self.unit = "char" if config.level == "char" else "token"
        earlier = [r for r in read_metrics(self.out) if r["step"] <= start_step] if self.out else []
        self.losses = [(r["step"], r["train_loss"]) for r in earlier]   # one mean per evaluation
        self.val = [(r["step"], r["val_loss"]) for r in earlier if r.get("val_loss") is not None]
        self.seconds = earlier[-1].get("seconds", 0.0) if earlier else 0.0
        self.best = min((v for _, v in self.val), default=float("inf"))
        if config.minutes is not None:       # the clock, not the step count, ends this run
            self.budget = 60.0 * config.minutes
            self.progress.update(self.task, total=self.budget, completed=self.seconds,
                                 description=f"step {start_step}")
        else:
            self.progress.update(self.task, total=config.steps, completed=start_step,
                                 description=f"step {start_step}/{config.steps}")
        self.stats = {"train loss": "…", "val loss": "…", "best val": "…"}
        if not self.console.is_jupyter:        # Jupyter: one display, updated (_show)
            self.live.start()
        self._draw()

    def step(self, step: int, loss: float, grad_norm: float, lr: float, tokens: int,
             seconds: float) -> None:
        self.losses.append((step, loss))
        self.seconds = seconds
        if self.budget is not None:
            self.progress.update(self.task, completed=min(seconds, self.budget),
                                 description=f"step {step}")
        else:
            total = self.progress.tasks[0].total
            self.progress.update(self.task, completed=step, description=f"step {step}/{total:.0f}")
        self.stats.update({"train loss": f"{loss:.4f}", "grad norm (before clip)":
                           f"{grad_norm:.3f}", "lr": f"{lr:.2e}",
                           "tokens / s": f"{self.speed.add(seconds, tokens):,.0f}"})
        if time.monotonic() - self.last_draw > 0.2:
            self._draw()

    def evaluated(self, record: dict[str, Any], sample: str) -> None:
        if record["val_loss"] is not None:
            self.val.append((record["step"], record["val_loss"]))
            self.stats["val loss"] = f"{record['val_loss']:.4f} ({record['val_bpc']:.3f} bpc)"
            self.best = min(self.best, record["val_loss"])
            self.stats["best val"] = f"{self.best:.4f}"
        self.sample = sample
        self._draw()

    def _draw(self) -> None:
        table = Table.grid(padding=(0, 2))
        for name, value in self.stats.items():
            table.add_row(Text(name, style="bold"), value)
        self._show(Group(
            Text(self.title, style="bold magenta"), self.progress, table,
            Panel(self._chart(), title="loss", title_align="left"),
            Panel(Text(self.sample or "(after the first evaluation)"), title="latest sample",
                  title_align="left")))
        self.last_draw = time.monotonic()

    def _show(self, view: Group) -> None:
        """Redraw: the live terminal view, or in Jupyter the notebook output (as HTML)."""
        if not self.console.is_jupyter:
            self.live.update(view)
            return
        from IPython.display import HTML, display

        page = Console(record=True, width=self.console.width, file=io.StringIO())
        page.print(view)
        shown = HTML(page.export_html(inline_styles=True, code_format="<pre>{code}</pre>"))
        if self.jupyter_output is None:
            self.jupyter_output = display(shown, display_id=True)
        else:
            self.jupyter_output.update(shown)

    def _chart(self) -> Text:
        """The whole run's loss so far (averaged down to the panel's width), with axes."""
        if not self.losses:
            return Text("(after the first step)")
        train = Series("train (each step; before this session: each evaluation's mean)",
                       *zip(*self.losses, strict=True), colour="cyan")
        series = [train] + ([Series("validation", *zip(*self.val, strict=True), marker=True,
                                    colour="magenta")] if self.val else [])
        minutes, seconds = divmod(int(self.seconds), 60)
        return chart_text(series, f"{minutes}:{seconds:02d} of training",
                          "step", f"loss (nats/{self.unit})", self.console.width - 4, 10)

    def finish(self, summary: Summary) -> None:
        self._draw()
        self.live.stop()
        self.console.print(_stopped(summary, self.scratch))

    def close(self) -> None:
        """Stop the live display and restore the terminal (a no-op after finish)."""
        self.live.stop()


def make_reporter(plain: bool, stream: TextIO | None = None,
                  out: str | None = None, scratch: bool = False) -> PlainReporter | Dashboard:
    """The dashboard on a terminal or in Jupyter (its chart starts with what `out`'s
    metrics.jsonl holds), plain lines with --plain or when stdout is neither; `scratch`: the
    run directory is temporary, so the last line does not point to it."""
    stream = stream or sys.stdout
    console = Console(file=stream)
    if plain or not (stream.isatty() or console.is_jupyter):
        return PlainReporter(stream, scratch)
    return Dashboard(console, out, scratch)
