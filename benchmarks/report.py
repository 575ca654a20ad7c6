"""The report: measured results, the ratios issue 7 sets targets for, a rich table and JSON.

A result is one (workload, contender) measurement: seconds per training step, seconds per time
step (scaling), or peak MiB (memory). A target row divides ours by a contender's result.

    python -m benchmarks --quick           # the tables
    python -m benchmarks --quick --json    # the same as JSON
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["Result", "Target", "TARGETS", "target_rows", "render"]


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
class Target:
    """ours / vs ≤ target on `workload`; for scaling, vs is ours again at the shortest T."""

    workload: str
    ours: str
    vs: str
    target: float


TARGETS = (
    Target("min-char-rnn", "ours-layer", "numpy", 1.0),
    Target("min-char-rnn", "ours-layer", "torch-fused", 1.0),
    Target("lstm", "ours-layer", "numpy", 1.0),
    Target("lstm", "ours-cell", "torch-prims", 1.0),
    Target("scaling", "ours-layer", "ours-layer", 1.2),
    Target("memory", "ours-layer", "numpy", 1.5),
)


def _find(results: list[Result], workload: str, contender: str) -> Result | None:
    for result in results:
        if result.workload == workload and result.contender == contender:
            return result
    return None


def target_rows(results: list[Result]) -> list[dict[str, Any]]:
    """One row per target: the labels, the measured ratio (None when a side is missing)."""
    scaling = [r.workload for r in results if r.workload.startswith("scaling")]
    shortest, longest = (scaling[0], scaling[-1]) if scaling else ("scaling", "scaling")
    rows = []
    for target in TARGETS:
        if target.workload == "scaling":
            ours, vs = _find(results, longest, target.ours), _find(results, shortest, target.vs)
            workload = f"scaling {longest.split()[-1]} / {shortest.split()[-1]}"
        else:
            ours, vs = _find(results, target.workload, target.ours), \
                _find(results, target.workload, target.vs)
            workload = target.workload
        row: dict[str, Any] = {
            "workload": workload, "ours": target.ours, "vs": target.vs,
            "ours_label": ours.label if ours else target.ours,
            "vs_label": vs.label if vs else target.vs,
            "target": target.target, "ratio": None, "met": None, "status": "ok"}
        missing = [r for r in (ours, vs) if r is None or r.value is None]
        if missing:
            row["status"] = missing[0].status if missing[0] else "not measured"
        else:
            row["ratio"] = ours.value / vs.value
            row["met"] = row["ratio"] <= target.target
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
                  caption="per training step; scaling: per time step; memory: peak above the "
                          "baseline\n× base: over hand-derived numpy; scaling: over the same "
                          "contender at the shortest T\n" + _skipped_note(results))
    for column in ("workload", "contender", "median", "spread", "first loss", "× base"):
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


def _targets_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Issue 7 targets (ratio = ours / contender, lower is better)")
    for column in ("workload", "ours via", "vs", "ratio", "target", ""):
        table.add_column(column, justify="right" if column in ("ratio", "target") else "left")
    for row in rows:
        if row["ratio"] is None:
            verdict, ratio = f"[dim]{row['status'].removeprefix('skipped: ')}[/dim]", "—"
        else:
            ratio = f"{row['ratio']:.2f}"
            verdict = "[green]met[/green]" if row["met"] else "[red]not met[/red]"
        table.add_row(row["workload"], row["ours_label"], row["vs_label"], ratio,
                      f"≤ {row['target']:g}", verdict)
    return table


def render(report: dict[str, Any], console: Console) -> None:
    """Print the results and targets tables, and the configuration line."""
    results = [Result(**r) for r in report["results"]]
    console.print(_results_table(results))
    console.print(_targets_table(report["targets"]))
    config = report["config"]
    console.print(f"[dim]{'quick' if config['quick'] else 'full'} run · python "
                  f"{config['python']} · numpy {config['numpy']} · torch "
                  f"{config['torch'] or 'not installed'} · {config['cpus']} CPUs · "
                  f"{config['seconds']:.0f} s[/dim]")


def as_dicts(results: list[Result]) -> list[dict[str, Any]]:
    """Results as plain dicts (for JSON)."""
    return [asdict(r) for r in results]
