"""The report: measured results, how each compares with its goal, a rich table and JSON.

A result is one (workload, contender) measurement: seconds per training step, seconds per time
step (scaling), seconds per run (names), or peak MiB (memory). A goal row divides one result of
ours by one of another implementation and says whether the ratio is at most the goal.

    python -m benchmarks --quick           # the tables
    python -m benchmarks --quick --json    # the same as JSON
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["Result", "Goal", "Section", "goal_rows", "render", "as_dicts"]


@dataclass
class Result:
    """One measurement; `value` is None unless status is "ok"."""

    workload: str
    contender: str
    label: str
    status: str
    unit: str = ""
    value: float | None = None
    blocks: list[float] = field(default_factory=list)
    loss: float | None = None


@dataclass(frozen=True)
class Goal:
    """One row of the goals table: ours / vs ≤ goal, with `what` saying what is compared."""

    what: str                    # the workload, in a word or two
    detail: str                  # its sizes and settings, in a user's words
    ours: tuple[str, str]        # (workload, contender) of our result
    vs: tuple[str, str]          # (workload, contender) of the result we compare with
    goal: float


@dataclass(frozen=True)
class Section:
    """One part of `make bench` (benchmarks/sections.py lists them): `measure(quick, blocks,
    console)` returns its results, `goals(quick)` its rows of the goals table."""

    name: str                                           # what --only selects
    measure: Callable[[bool, int, Console], list[Result]]
    goals: Callable[[bool], list[Goal]]


def _find(results: list[Result], workload: str, contender: str) -> Result | None:
    for result in results:
        if result.workload == workload and result.contender == contender:
            return result
    return None


def goal_rows(goals: list[Goal], results: list[Result]) -> list[dict[str, Any]]:
    """One row per goal: what, the labels, the measured ratio (None when a side is missing)."""
    rows = []
    for goal in goals:
        ours, vs = _find(results, *goal.ours), _find(results, *goal.vs)
        row: dict[str, Any] = {
            "what": goal.what, "detail": goal.detail, "ours": list(goal.ours),
            "vs": list(goal.vs),
            "ours_label": ours.label if ours else goal.ours[1],
            "vs_label": vs.label if vs else goal.vs[1],
            "goal": goal.goal, "ratio": None, "met": None, "status": "ok"}
        missing = [r for r in (ours, vs) if r is None or r.value is None]
        if missing:
            row["status"] = missing[0].status if missing[0] else "not measured"
        else:
            row["ratio"] = ours.value / vs.value
            row["met"] = row["ratio"] <= goal.goal
        rows.append(row)
    return rows


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "MiB":
        return f"{value:,.1f} MiB"
    if value >= 1.0:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def _baseline(results: list[Result], result: Result) -> Result | None:
    """What a result is compared with in the results table: hand-derived numpy on its workload;
    for scaling, the same contender at the shortest T."""
    if result.workload.startswith("scaling"):
        first = next(r.workload for r in results if r.workload.startswith("scaling"))
        return _find(results, first, result.contender)
    return _find(results, result.workload, "numpy")


def _skipped_note(results: list[Result]) -> str:
    """One line per reason, naming the contenders skipped for it."""
    reasons: dict[str, set[str]] = {}
    for r in results:
        if r.status != "ok":
            reasons.setdefault(r.status, set()).add(r.label)
    return "\n".join(f"{reason}: {', '.join(sorted(labels))}"
                     for reason, labels in reasons.items())


def _results_table(results: list[Result]) -> Table:
    table = Table(title="Measurements (median of interleaved blocks; one BLAS thread)",
                  caption="per training step; scaling: per time step; names: per whole run; "
                          "memory: peak above the baseline\n× numpy: over the numpy written by "
                          "hand; scaling: over the same contender at the shortest T\n"
                          + _skipped_note(results))
    for column in ("workload", "contender", "median", "spread", "loss", "× numpy"):
        table.add_column(column, justify="left" if column in ("workload", "contender")
                         else "right")
    previous = None
    for r in results:
        if r.status != "ok":
            continue
        base = _baseline(results, r)
        ratio = (f"{r.value / base.value:.2f}" if r.value is not None and base is not None
                 and base.value else "")
        spread = (f"{(max(r.blocks) - min(r.blocks)) / r.value:.0%}"
                  if r.value and len(r.blocks) > 1 else "")
        loss = f"{r.loss:.5f}" if r.loss is not None else ""
        table.add_row(r.workload if r.workload != previous else "", r.label,
                      _amount(r.value, r.unit), spread, loss, ratio)
        previous = r.workload
    return table


def _goals_table(rows: list[dict[str, Any]]) -> Table:
    details = dict.fromkeys(f"{row['what']}: {row['detail']}" for row in rows)
    table = Table(title="Where we stand (ratio = ours / the other: below 1, ours is faster or "
                        "smaller)", caption="\n".join(details), caption_justify="left")
    for column in ("workload", "ours", "against", "ratio", "goal", ""):
        table.add_column(column, justify="right" if column in ("ratio", "goal") else "left",
                         overflow="fold")
    previous = None
    for row in rows:
        if row["ratio"] is None:
            verdict, ratio = f"[dim]{row['status'].removeprefix('skipped: ')}[/dim]", "—"
        else:
            ratio = f"{row['ratio']:.2f}"
            verdict = "[green]met[/green]" if row["met"] else "[red]not met[/red]"
        if previous is not None and row["what"] != previous:
            table.add_section()
        table.add_row(row["what"] if row["what"] != previous else "", row["ours_label"],
                      row["vs_label"], ratio, f"≤ {row['goal']:g}", verdict)
        previous = row["what"]
    return table


def render(report: dict[str, Any], console: Console) -> None:
    """Print the results and targets tables, and the configuration line."""
    results = [Result(**r) for r in report["results"]]
    console.print(_results_table(results))
    console.print(_goals_table(report["goals"]))
    config = report["config"]
    console.print(f"[dim]{'quick' if config['quick'] else 'full'} run · python "
                  f"{config['python']} · numpy {config['numpy']} · torch "
                  f"{config['torch'] or 'not installed'} · {config['cpus']} CPUs · "
                  f"{config['seconds']:.0f} s[/dim]")


def as_dicts(results: list[Result]) -> list[dict[str, Any]]:
    """Results as plain dicts (for JSON)."""
    return [asdict(r) for r in results]
