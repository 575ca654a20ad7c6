"""The package's tree is its architecture: no module imports from a layer above its own, the
README's map lists exactly the folders and modules in tinygrad_rnn/, and old module paths still
import (the same module objects)."""

import ast
import importlib
import re
from pathlib import Path

import pytest

import tinygrad_rnn
from tinygrad_rnn._moved import MOVED, new_name

PACKAGE = Path(tinygrad_rnn.__file__).parent
README = PACKAGE.parent / "README.md"

# bottom to top; a module may import its own layer and the layers below it
LAYERS = {"engine": 0, "testing": 1, "nn": 2, "optim": 2, "data": 2, "viz": 2, "lm": 3, "teach": 4,
          "cli": 5, "__main__": 5, "__init__": 5, "_moved": 5}


def layer_of(module: str) -> int:
    parts = module.split(".")
    assert parts[0] == "tinygrad_rnn", module
    return LAYERS[parts[1]] if len(parts) > 1 else LAYERS["__init__"]


def package_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinygrad_rnn"):
            names.update(f"{node.module}.{a.name}" if node.module == "tinygrad_rnn" else node.module
                         for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("tinygrad_rnn"))
    return names


def module_name(path: Path) -> str:
    return ".".join(("tinygrad_rnn", *path.relative_to(PACKAGE).with_suffix("").parts))


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_from_a_layer_above_it(path):
    own = layer_of(module_name(path))
    above = [name for name in package_imports(path)
             if layer_of(new_name(name) or name) > own]
    assert not above, f"{path.relative_to(PACKAGE)} (layer {own}) imports {above}"


def test_the_layer_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from tinygrad_rnn.lm.model import LanguageModel\nfrom tinygrad_rnn import nn\n")
    imported = package_imports(bad)
    assert {"tinygrad_rnn.lm.model", "tinygrad_rnn.nn"} <= imported
    assert max(layer_of(name) for name in imported) > LAYERS["engine"]


def readme_map() -> list[str]:
    section = README.read_text().split("## Where things are", 1)[1].split("\n## ", 1)[0]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    return re.findall(r"^  (\S+)\s", block, flags=re.MULTILINE)


def test_readme_map_matches_the_tree():
    on_disk = sorted(f"{p.name}/" if p.is_dir() else p.name for p in PACKAGE.iterdir()
                     if p.name != "__pycache__")
    assert sorted(readme_map()) == on_disk


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_module_paths_import_the_moved_module(old):
    assert importlib.import_module(old) is importlib.import_module(MOVED[old])


def test_old_names_under_a_moved_package_and_from_imports():
    from tinygrad_rnn.clip import clip_grad_norm_
    from tinygrad_rnn.viz.graph_view import cell_source as old

    from tinygrad_rnn.nn.utils import clip_grad_norm_ as new
    from tinygrad_rnn.teach.graph_view import cell_source
    assert clip_grad_norm_ is new and cell_source is old
    assert tinygrad_rnn.clip.clip_grad_norm_ is new
    assert new_name("tinygrad_rnn.nn.cells") is None
    importlib.import_module("tinygrad_rnn.gradcheck")  # old module names that are also functions'
    importlib.import_module("tinygrad_rnn.tensor")
    assert callable(tinygrad_rnn.gradcheck) and callable(tinygrad_rnn.tensor)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("tinygrad_rnn.viz.no_such_module")


def test_pip_install_shows_no_license_deprecation():
    """setuptools ≥ 77 wants `project.license` as an SPDX string; a table printed a deprecation
    box on every install."""
    tomllib = pytest.importorskip("tomllib")             # Python ≥ 3.11
    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)
    assert "setuptools>=77" in project["build-system"]["requires"]


def test_the_readme_says_how_to_put_tinygrad_rnn_on_the_path():
    readme = README.read_text()
    assert readme.index("source .venv/bin/activate") < readme.index("tinygrad-rnn train")
