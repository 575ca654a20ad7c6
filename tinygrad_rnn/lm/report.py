"""`tinygrad-rnn report RUN`: one self-contained HTML file about a run, to open in any browser
with no server and no network: inline SVG charts of the loss, the gradient norm before clipping
and the learning rate; the samples drawn as training went; the settings; the vocabulary.

    tinygrad-rnn report runs/names                 # writes runs/names/report.html
    tinygrad-rnn report runs/names --out names.html
"""

from __future__ import annotations

import argparse
import html
import json
import os
from typing import Any

from tinygrad_rnn.lm.plot import loss_series
from tinygrad_rnn.lm.runs import Run, RunError, read_run
from tinygrad_rnn.viz.plot import Series, chart_svg

__all__ = ["CHARTS", "report_html", "add_report_command", "cmd_report"]

CHARTS = ("loss", "grad-norm", "lr")   # the id of each chart's figure in the page

STYLE = """
body { font-family: DejaVu Sans, Verdana, Arial, sans-serif; margin: 2em auto; max-width: 980px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
figure { margin: 0.5em 0; width: 460px; } figcaption { color: #555; font-size: 0.9em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.sample { font-family: DejaVu Sans Mono, monospace; white-space: pre-wrap; }
.tokens span { display: inline-block; font-family: DejaVu Sans Mono, monospace; margin: 2px;
               padding: 1px 5px; border: 1px solid #ccc; border-radius: 3px; }
"""


def _figure(chart_id: str, svg: str, caption: str) -> str:
    return (f'<figure id="{chart_id}" class="chart">{svg}<figcaption>{html.escape(caption)}'
            f"</figcaption></figure>")


def _settings_table(config: dict[str, Any]) -> str:
    rows = []
    for part in ("train", "model"):
        for key, value in config.get(part, {}).items():
            rows.append(f"<tr><th>{part}.{html.escape(str(key))}</th>"
                        f"<td>{html.escape(json.dumps(value))}</td></tr>")
    return "<table>" + "".join(rows) + "</table>" if rows else "<p>(no config.json)</p>"


def _token(token: str) -> str:
    shown = {"\n": "\\n", "\t": "\\t", " ": "␣"}.get(token, token)
    return f"<span title=\"{html.escape(repr(token))}\">{html.escape(shown)}</span>"


def report_html(run: Run) -> str:
    """The whole page as one string: every chart is inline SVG, nothing is fetched."""
    records = run.metrics
    steps = [r["step"] for r in records]
    unit = "char" if run.config.get("train", {}).get("level", "char") == "char" else "token"
    loss = chart_svg(loss_series([run]), "loss", "step", f"loss (nats/{unit})", 460, 300)
    grad = chart_svg([Series("gradient norm before clipping", steps,
                             [r.get("grad_norm") for r in records])],
                     "gradient norm", "step", "‖∇‖ (all parameters)", 460, 300, log_y=True)
    lr = chart_svg([Series("learning rate", steps, [r.get("lr") for r in records])],
                   "learning rate", "step", "lr", 460, 300)
    clip = run.config.get("train", {}).get("clip")
    figures = [
        _figure("loss", loss, "train loss (the mean since the last evaluation) and "
                "validation loss, at each evaluation"),
        _figure("grad-norm", grad, "the total gradient norm at the evaluation's step, before "
                f"clipping (clip threshold {clip})"),
        _figure("lr", lr, "the learning rate at each evaluation"),
    ]
    samples = "".join(f"<tr><td>{r['step']}</td><td class=\"sample\">"
                      f"{html.escape(str(r['sample']))}</td></tr>"
                      for r in records if r.get("sample"))
    last = records[-1] if records else {}
    summary = (f"{len(records)} evaluations up to step {last.get('step', 0)}; "
               f"{last.get('seconds', 0):.1f} s of training")
    best = [r["val_loss"] for r in records if r.get("val_loss") is not None]
    if best:
        summary += f"; best validation loss {min(best):.4f} nats/{unit}"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(run.name)}: tinygrad-rnn run report</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Run report: {html.escape(run.name)}</h1>", f"<p>{html.escape(summary)}</p>",
        '<h2>Training</h2><div class="charts">', *figures, "</div>",
        "<h2>Samples as training went</h2>",
        ("<table><tr><th>step</th><th>sample (temperature 0.8)</th></tr>" + samples + "</table>"
         if samples else "<p>(this run's metrics hold no samples)</p>"),
        "<h2>Settings</h2>", _settings_table(run.config),
        f"<h2>Vocabulary ({len(run.tokens)} tokens, in id order)</h2>",
        '<p class="tokens">' + "".join(_token(t) for t in run.tokens) + "</p>",
        "</body></html>", ""])


def add_report_command(commands: argparse._SubParsersAction) -> None:
    """Register `report` with the CLI's subcommands."""
    p = commands.add_parser("report", help="one self-contained HTML page about a run")
    p.add_argument("run", metavar="RUN", help="a run directory (--out of train)")
    p.add_argument("--out", metavar="FILE", help="where to write it (RUN/report.html)")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report and say where it is."""
    run = read_run(args.run)
    if not run.metrics:
        raise RunError(f"{args.run} has no evaluations yet: train past its first --eval-every")
    out = args.out or os.path.join(args.run, "report.html")
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise RunError(f"--out {out}: the directory does not exist")
    with open(out, "w", encoding="utf-8") as f:
        f.write(report_html(run))
    print(f"wrote {out} (open it in a browser: it needs no server or network)")
    return 0
