"""The docs' pictures are what the code draws today: `make pictures` writes docs/pictures/*.svg
and docs/pictures.ipynb, and this test draws them again and compares; then the notebook runs
(when the test extras jupytext, nbclient and ipykernel are installed, as `make venv` does)."""

import importlib.util
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _make_pictures():
    spec = importlib.util.spec_from_file_location("make_pictures", DOCS / "make_pictures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_pictures_are_what_the_code_draws():
    drawn = _make_pictures().pictures()
    committed = {p.name: p.read_text(encoding="utf-8") for p in (DOCS / "pictures").glob("*.svg")}
    assert sorted(committed) == sorted(drawn), "run `make pictures`"
    for name, svg in drawn.items():
        ET.fromstring(svg)
        assert committed[name] == svg, f"docs/pictures/{name} is out of date: run `make pictures`"
    shown = "".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    assert all(f"pictures/{name}" in shown for name in drawn)      # every picture is in the docs


def test_the_notebook_is_the_chapter():
    pytest.importorskip("jupytext")
    assert (DOCS / "pictures.ipynb").read_text(encoding="utf-8") == _make_pictures().notebook(), \
        "docs/pictures.ipynb is out of date: run `make pictures`"


def test_the_notebook_runs_and_shows_pictures_tables_and_the_dashboard():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    book = nbformat.reads((DOCS / "pictures.ipynb").read_text(encoding="utf-8"), as_version=4)
    nbclient.NotebookClient(book, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(DOCS)}}).execute()
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]
    kinds = [kind for o in outputs for kind in o.get("data", {})]
    assert kinds.count("image/svg+xml") >= 2                       # the drawings, inline
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("<table>" in page and "weight_ih_l0" in page for page in html)   # the summary
    assert any("of training" in page for page in html)             # the dashboard's chart
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert json.dumps(book.metadata["kernelspec"]["name"]) == '"python3"'
