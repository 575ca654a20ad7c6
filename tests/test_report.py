"""`tinygrad-rnn report RUN`: one self-contained HTML page (charts, samples, settings,
vocabulary), checked as text and in a real headless chromium: no console error, every chart
drawn, a screenshot that is not blank. The browser checks have negative tests."""

import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from browser import CHROMIUM, MISSING, load, screenshot
from train_settings import tiny_run

from tinygrad_rnn import cli
from tinygrad_rnn.lm.report import CHARTS, report_html
from tinygrad_rnn.lm.runs import read_run
from tinygrad_rnn.lm.train import train

TEXT = "the cat sat on the mat. the dog sat on the log. " * 12
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason=MISSING)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A finished tiny run and its report, written by the command."""
    base = tmp_path_factory.mktemp("report")
    train(tiny_run(base, TEXT, steps=30), str(base / "run"))
    assert cli.main(["report", str(base / "run")]) == 0
    return base / "run" / "report.html"


class Outline(HTMLParser):
    """The ids of figures holding an <svg>, the table cells and every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.figure, self.charts, self.links, self.cells = None, [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure":
            self.figure = attrs.get("id")
        if tag == "svg" and self.figure:
            self.charts.append(self.figure)
        self.links += [attrs[a] for a in ("src", "href") if a in attrs]

    def handle_endtag(self, tag):
        if tag == "figure":
            self.figure = None


def test_the_page_holds_every_part_and_fetches_nothing(report):
    page = report.read_text(encoding="utf-8")
    outline = Outline()
    outline.feed(page)
    assert outline.charts == list(CHARTS)
    assert outline.links == []                                  # no file, script or style fetched
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * 3
    run = read_run(str(report.parent))
    assert page.count('<td class="sample">') == len(run.metrics) == 6
    assert page.count("<span title=") == len(run.tokens)
    assert "train.hidden" in page and "<td>12</td>" in page       # the settings table


def test_report_refuses_what_is_not_a_run(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no metrics.jsonl" in err


def test_report_escapes_what_the_run_holds(tmp_path, report):
    run = read_run(str(report.parent))
    records = [dict(r, sample="<script>alert(1)</script>") for r in run.metrics]
    page = report_html(replace(run, tokens=["<", "&"], metrics=records))
    assert "<script>" not in page and "&lt;script&gt;" in page


@needs_chromium
def test_in_a_browser_every_chart_is_drawn_without_console_errors(report, tmp_path):
    dom, console = load(report)
    assert console == []
    outline = Outline()
    outline.feed(dom)
    assert outline.charts == list(CHARTS)
    pixels = screenshot(report, tmp_path / "report.png")
    ink = (pixels[..., :3].min(axis=2) < 128).mean()        # dark pixels: text and lines
    colour = (np.ptp(pixels[..., :3].astype(int), axis=2) > 60).mean()   # coloured curves
    assert ink > 0.002 and colour > 0.0005, (ink, colour)


@needs_chromium
def test_the_browser_checks_can_fail(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>undefined_function()</script>"
                      "</body></html>")
    _, console = load(broken)
    assert any("undefined_function is not defined" in m for m in console)
    blank = screenshot(broken, tmp_path / "blank.png", 400, 300)
    assert (blank[..., :3].min(axis=2) < 128).mean() == 0         # a blank page has no ink
