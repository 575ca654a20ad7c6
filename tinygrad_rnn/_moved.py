"""Old module paths, kept working after the package was grouped into layers.

`from tinygrad_rnn.tensor import Tensor` and the like still import: each old name below is
answered with the module at its new place (the same module object, so patching either name
patches both). New code uses the new names; the table is the map from old to new.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

MOVED = {
    "tinygrad_rnn.tensor": "tinygrad_rnn.engine.tensor",
    "tinygrad_rnn.functions": "tinygrad_rnn.engine.functions",
    "tinygrad_rnn.scan": "tinygrad_rnn.engine.scan",
    "tinygrad_rnn.creation": "tinygrad_rnn.engine.creation",
    "tinygrad_rnn.random": "tinygrad_rnn.engine.random",
    "tinygrad_rnn.gradcheck": "tinygrad_rnn.testing.gradcheck",
    "tinygrad_rnn.anomaly": "tinygrad_rnn.testing.anomaly",
    "tinygrad_rnn.trace": "tinygrad_rnn.testing.trace",
    "tinygrad_rnn.clip": "tinygrad_rnn.nn.utils",
    "tinygrad_rnn.train": "tinygrad_rnn.lm.train",
    "tinygrad_rnn.train_config": "tinygrad_rnn.lm.config",
    "tinygrad_rnn.run_dir": "tinygrad_rnn.lm.run_dir",
    "tinygrad_rnn.checkpoint": "tinygrad_rnn.lm.checkpoint",
    "tinygrad_rnn.generate": "tinygrad_rnn.lm.generate",
    "tinygrad_rnn.dashboard": "tinygrad_rnn.lm.dashboard",
    "tinygrad_rnn.tour": "tinygrad_rnn.teach.tour",
    "tinygrad_rnn.vanishing": "tinygrad_rnn.teach.vanishing",
    "tinygrad_rnn.viz.graph_view": "tinygrad_rnn.teach.graph_view",
    "tinygrad_rnn.viz.expression": "tinygrad_rnn.teach.expression",
    "tinygrad_rnn.viz.vanishing_view": "tinygrad_rnn.teach.vanishing_view",
    "tinygrad_rnn.course": "tinygrad_rnn.teach.course",   # a short name, loaded when asked for
}


def new_name(name: str) -> str | None:
    """The module's name today, for an old name (or one under an old package); None otherwise."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old):]
    return None


class _OldNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name: str, path: object = None, target: object = None):
        return importlib.util.spec_from_loader(name, self) if new_name(name) else None

    def exec_module(self, module: ModuleType) -> None:
        # The import system returns whatever sys.modules holds under the name once this returns.
        sys.modules[module.__name__] = importlib.import_module(new_name(module.__name__))


def alias_loaded() -> None:
    """Enter the old names of modules already imported (the engine's, gradcheck) in sys.modules.
    Done at the end of the package's import, so `import tinygrad_rnn.tensor` later cannot set the
    package's attribute `tensor` (the function tg.tensor) to the module, as a first import would."""
    for old, new in MOVED.items():
        if new in sys.modules:
            sys.modules.setdefault(old, sys.modules[new])


if not any(isinstance(f, _OldNames) for f in sys.meta_path):
    sys.meta_path.insert(0, _OldNames())
