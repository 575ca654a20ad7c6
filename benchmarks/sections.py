"""The parts of `make bench`, in report order: one module per workload, each with its SECTION.

A Section (benchmarks/report.py) measures its results and names its goals, the rows of the
"where we stand" table. To add a workload: write a module with `SECTION = Section(name,
measure, goals)` and add it to SECTIONS below; `--only NAME` then runs it alone.

    python -c "from benchmarks.sections import SECTIONS; print([s.name for s in SECTIONS])"
"""

from __future__ import annotations

from benchmarks import memory, names, training, updates, versions, word_lm
from benchmarks.report import Section

__all__ = ["SECTIONS", "by_name"]

SECTIONS: tuple[Section, ...] = (
    *training.SECTIONS,          # min-char-rnn, lstm, scaling
    names.SECTION,
    updates.SECTION,
    memory.SECTION,
    word_lm.SECTION,
    versions.SECTION,
)


def by_name(name: str) -> Section:
    """The section called `name`."""
    for section in SECTIONS:
        if section.name == name:
            return section
    raise KeyError(f"no section {name!r}; choose from {[s.name for s in SECTIONS]}")
