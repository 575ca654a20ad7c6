"""The built-in corpora: present on every CPython, of the stated size and shape."""

import pytest

from tinygrad_rnn.data import CORPORA, DEFAULT_CORPUS, DataError, corpus


def test_catalogue():
    assert DEFAULT_CORPUS == "python-help"
    assert {"python-help", "python-names"} <= set(CORPORA)
    assert all(description and "\n" not in description for description in CORPORA.values())
    assert corpus() == corpus("python-help")


def test_python_help_is_the_pydoc_topics():
    text = corpus("python-help")
    assert 300_000 < len(text) < 700_000                     # about 465,000 on CPython 3.11
    assert text.startswith('The "assert" statement')         # "assert" is the first topic key
    assert 'The "if" statement' in text
    assert "\r" not in text


def test_python_names_is_one_identifier_per_line():
    text = corpus("python-names")
    assert text.endswith("\n")
    names = text.split("\n")[:-1]
    assert len(names) > 300
    assert all(name.isidentifier() and not name.startswith("_") for name in names)
    assert names == sorted(set(names))
    assert {"os", "sys", "print", "while", "len", "collections"} <= set(names)


def test_unknown_corpus_lists_the_valid_names():
    with pytest.raises(DataError, match="python-help, python-names"):
        corpus("shakespeare")
