"""Training curves: the chart (SVG and terminal) has axes, labels, a legend and every curve;
`tinygrad-rnn plot` overlays runs; the dashboard's loss chart covers the whole run and survives
--resume; run directories are read back (torn lines skipped)."""

import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console
from train_settings import tiny_run

from tinygrad_rnn import cli
from tinygrad_rnn.lm.dashboard import Dashboard
from tinygrad_rnn.lm.runs import RunError, read_metrics, read_run
from tinygrad_rnn.lm.train import train
from tinygrad_rnn.viz.plot import Series, chart_svg, chart_text, downsample, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
TEXT = "the cat sat on the mat. the dog sat on the log. " * 12


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished tiny runs, an RNN and a GRU (about a second each)."""
    base = tmp_path_factory.mktemp("runs")
    for cell in ("rnn", "gru"):
        train(tiny_run(base, TEXT, cell=cell, steps=30), str(base / cell))
    return base


def _classes(svg: str, name: str) -> list[ET.Element]:
    return [e for e in ET.fromstring(svg).iter() if name in (e.get("class") or "").split()]


def test_svg_chart_has_axes_labels_legend_and_both_curves():
    train_ = Series("train", [1, 2, 3, 4], [3.0, 2.5, 2.2, 2.0])
    val = Series("validation", [2, 4], [2.7, 2.3], marker=True)
    svg = chart_svg([train_, val], "loss", "step", "loss (nats/char)")
    assert [e.text for e in _classes(svg, "xlabel")] == ["step"]
    assert [e.text for e in _classes(svg, "ylabel")] == ["loss (nats/char)"]
    assert [e.text for e in _classes(svg, "legend")] == ["train", "validation"]
    assert len(_classes(svg, "xtick")) >= 2 and len(_classes(svg, "ytick")) >= 2
    curves = {e.get("data-label"): e for e in _classes(svg, "series")}
    assert len(curves["train"].get("points").split()) == 4           # a line through 4 points
    assert len(curves["validation"].findall(f"{SVG}circle")) == 2     # 2 markers


def test_terminal_chart_reads_through_a_pipe_at_80_columns():
    train_ = Series("train", list(range(1, 201)), [3.0 - i / 100 for i in range(200)])
    val = Series("validation", [50, 100, 150, 200], [2.6, 2.1, 1.6, 1.1], marker=True)
    console = Console(width=80, file=io.StringIO(), color_system=None)
    console.print(chart_text([train_, val], "loss", "step", "loss (nats/char)", 80, 12))
    out = console.file.getvalue()
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[0] == "loss" and lines[1] == "loss (nats/char)"
    assert "• train" in lines[-1] and "o validation" in lines[-1]     # a glyph per curve
    assert out.count("o") - lines[-1].count("o") >= 4                # the 4 validation points
    assert any("┤" in line for line in lines) and any("└" in line for line in lines)
    assert re.search(r"\b200\b", out) and "step" in out


def test_nice_ticks_and_downsampling():
    assert nice_ticks(0, 300) == [0, 100, 200, 300]
    assert nice_ticks(2.85, 4.0) == [3.0, 3.5, 4.0]
    points = [(float(i), float(i % 2)) for i in range(1000)]
    down = downsample(points, 10)
    assert len(down) == 10 and all(y == pytest.approx(0.5) for _, y in down)


def test_read_run_and_torn_lines(tmp_path, runs):
    run = read_run(str(runs / "gru"))
    assert run.name.endswith("(GRU)") and [r["step"] for r in run.metrics] == [5, 10, 15, 20,
                                                                               25, 30]
    assert run.tokens and all(r.get("sample") for r in run.metrics)
    (tmp_path / "metrics.jsonl").write_text('{"step": 5, "train_loss": 1}\n{"step": 10, "tr')
    assert read_metrics(str(tmp_path)) == [{"step": 5, "train_loss": 1}]
    with pytest.raises(RunError, match="is not a directory"):
        read_run(str(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="holds no metrics.jsonl"):
        read_run(str(tmp_path / "empty"))


def test_plot_overlays_runs_and_writes_svg(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(runs)
    path = runs / "cmp.svg"
    assert cli.main(["plot", "rnn", "gru", "--svg", "cmp.svg"]) == 0
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "rnn (RNN) train" in out and "gru (GRU) validation" in out
    labels = [e.get("data-label") for e in _classes(path.read_text(), "series")]
    assert len(labels) == 4 and sum("validation" in label for label in labels) == 2
    first = read_metrics(str(runs / "gru"))[0]["train_loss"]
    ys = [float(t.text) for t in _classes(path.read_text(), "ytick")]
    assert min(ys) <= first <= max(ys) + 0.5


def test_plot_refuses_what_is_not_a_run(tmp_path, capsys):
    assert cli.main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no metrics.jsonl" in err


def test_dashboard_chart_covers_the_whole_run_after_resume(tmp_path):
    out = tmp_path / "run"
    train(tiny_run(tmp_path, TEXT, steps=20), str(out))
    board = Dashboard(Console(file=io.StringIO(), force_terminal=True, width=80,
                              color_system=None), str(out))
    train(tiny_run(tmp_path, TEXT, steps=30), str(out), resume=True, reporter=board)
    earlier = [(r["step"], r["train_loss"]) for r in read_metrics(str(out)) if r["step"] <= 20]
    assert board.losses[:len(earlier)] == earlier                   # read from metrics.jsonl
    assert [s for s, _ in board.losses[len(earlier):]] == list(range(21, 31))
    assert [s for s, _ in board.val] == [5, 10, 15, 20, 25, 30]
    console = Console(width=80, file=io.StringIO(), color_system=None)
    console.print(board._chart())
    chart = console.file.getvalue()
    assert "of training" in chart and "step" in chart and "o validation" in chart
    assert re.search(r"\b30\b", chart.splitlines()[-5]) or "30" in chart
    assert all(len(line) <= 80 for line in chart.splitlines())


def test_samples_are_kept_in_the_metrics(runs):
    records = [json.loads(line) for line in (runs / "rnn" / "metrics.jsonl").open()]
    assert all(isinstance(r["sample"], str) for r in records)
