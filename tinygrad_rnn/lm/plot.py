"""`tinygrad-rnn plot RUN [RUN …]`: train and validation loss against step, in the terminal
(several runs overlaid, one glyph per curve) or as an SVG picture.

    tinygrad-rnn plot runs/names
    tinygrad-rnn plot runs/rnn runs/gru runs/lstm --svg compare.svg
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.console import Console

from tinygrad_rnn.lm.runs import Run, RunError, read_run
from tinygrad_rnn.viz.plot import COLOURS, Series, chart_svg, chart_text

__all__ = ["loss_series", "add_plot_command", "cmd_plot"]


def loss_series(runs: Sequence[Run]) -> list[Series]:
    """Each run's train loss (a line) and validation loss (points) in the run's colour."""
    series = []
    for k, run in enumerate(runs):
        label, colour = run.name if len(runs) > 1 else "", COLOURS[k % len(COLOURS)]
        steps = [r["step"] for r in run.metrics]
        series.append(Series(f"{label} train".strip(), steps,
                             [r.get("train_loss") for r in run.metrics], colour=colour))
        val = [r for r in run.metrics if r.get("val_loss") is not None]
        if val:
            series.append(Series(f"{label} validation".strip(), [r["step"] for r in val],
                                 [r["val_loss"] for r in val], marker=True, colour=colour))
    return series


def _unit(runs: Sequence[Run]) -> str:
    levels = {run.config.get("train", {}).get("level", "char") for run in runs}
    return "char" if levels == {"char"} else "token"


def add_plot_command(commands: argparse._SubParsersAction) -> None:
    """Register `plot` with the CLI's subcommands."""
    p = commands.add_parser("plot", help="train and validation loss against step, of one or "
                            "more runs")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (--out of train)")
    p.add_argument("--svg", metavar="FILE", help="also draw the chart as an SVG picture")
    p.add_argument("--height", type=int, default=14, help="chart rows in the terminal (14)")
    p.set_defaults(handler=cmd_plot)


def cmd_plot(args: argparse.Namespace) -> int:
    """Print the chart; with --svg also write it as a picture."""
    runs = [read_run(path) for path in args.runs]
    empty = [run.path for run in runs if not run.metrics]
    if empty:
        raise RunError(f"{empty[0]} has no evaluations yet: train past its first --eval-every")
    if not 4 <= args.height <= 100:
        raise RunError(f"--height must be between 4 and 100, got {args.height}")
    series = loss_series(runs)
    unit = _unit(runs)
    title = "loss of " + ", ".join(run.name for run in runs)
    console = Console()
    width = min(console.width, 100)
    console.print(chart_text(series, title, "step", f"loss (nats/{unit})", width, args.height))
    if args.svg is not None:
        with open(args.svg, "w", encoding="utf-8") as f:
            f.write(chart_svg(series, title, "step", f"loss (nats/{unit})"))
        print(f"wrote {args.svg} (open it in a browser)")
    return 0
