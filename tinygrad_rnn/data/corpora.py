"""Built-in corpora that every CPython install carries, so training needs no download."""

from __future__ import annotations

import builtins
import keyword
import sys
from pydoc_data.topics import topics

from tinygrad_rnn.data.errors import DataError

__all__ = ["CORPORA", "DEFAULT_CORPUS", "corpus"]

DEFAULT_CORPUS = "python-help"
CORPORA: dict[str, str] = {
    "python-help": "the interactive help topics of pydoc (about 465,000 characters of English "
                   "prose and Python code)",
    "python-names": "one Python name per line: standard-library modules, builtins and keywords "
                    "(for --lines)",
}


def _python_help() -> str:
    return "".join(topics[key] for key in sorted(topics))


def _python_names() -> str:
    names = set(sys.stdlib_module_names) | set(dir(builtins)) | set(keyword.kwlist)
    return "".join(f"{name}\n" for name in sorted(names) if not name.startswith("_"))


def corpus(name: str = DEFAULT_CORPUS) -> str:
    """The text of the built-in corpus `name` (see `CORPORA`)."""
    if name == "python-help":
        return _python_help().replace("\r\n", "\n")
    if name == "python-names":
        return _python_names()
    raise DataError(f"unknown corpus {name!r}: choose one of {', '.join(CORPORA)}")
