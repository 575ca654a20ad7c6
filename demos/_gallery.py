"""What the gallery demos share: their common flags, a printer (rich on a terminal, plain lines
otherwise) and names.

Each demo trains its own model on its own generated data; only output and word lists live here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tinygrad_rnn.cli import quiet_broken_pipe
from tinygrad_rnn.engine.threads import add_threads_flag, use_threads

__all__ = ["Printer", "FIRST_NAMES", "SURNAMES", "gallery_parser", "run_length", "run_demo"]

Settings = TypeVar("Settings")

# First names for name_tagging and one_to_many, written for this project (lowercase, a–z only).
FIRST_NAMES = """
aaron abigail adam adrian alan albert alice amelia andrew angela anna anthony arthur
barbara beatrice ben bernard bertha brian bridget carl caroline catherine charles charlotte
chloe christopher clara colin daniel david deborah dennis diana donald dorothy douglas edgar
edith edward eleanor elizabeth emily emma eric ethan eva felix fiona florence francis fred
gabriel george gerald gloria gordon gregory hannah harold harry helen henry hermione howard
hugo ian irene isaac isabel jacob james jane janet jason jeffrey jennifer jeremy jessica
joan john jonathan joseph joshua judith julia julian karen katherine keith kevin laura
lawrence leo leonard lucas lucy luke margaret maria martha martin matthew maurice megan
michael miriam monica nathan neville nicholas nigel nina noah norman oliver oscar owen pamela
patricia patrick paul peter philip quentin rachel ralph rebecca richard robert roger ronald
rosalind ruth samuel sandra sarah sebastian simon sophia stanley stephen susan thomas
timothy ursula valerie vera victor vincent walter wendy william xavier yvonne zachary zoe
""".split()

SURNAMES = """
abbott archer baker barnes bennett brooks carter chapman clarke cooper dawson dixon edwards
ellis fisher fletcher foster gardner gibson granger graham harper hayes hughes jenkins
kennedy lambert lawson marsh mason mills morgan murray nelson osborne palmer parker potter
powell quinn reynolds richards russell saunders shaw spencer stevens sutton taylor turner
walker warren watson webb wheeler whitaker wood wright young
""".split()


def gallery_parser(doc: str, seed: int) -> argparse.ArgumentParser:
    """A parser with the flags every gallery demo takes: --quick, --steps, --seed, --plain,
    --threads."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (the test runs this)")
    parser.add_argument("--steps", type=int, help="optimizer steps (0: evaluate untrained)")
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--plain", action="store_true", help="plain text, no colours or boxes")
    add_threads_flag(parser)
    return parser


def run_length(s: Settings, args: argparse.Namespace, **quick: Any) -> Settings:
    """The settings with the `quick` changes under --quick, then the steps of --steps if given;
    sets the BLAS thread count (--threads, else one)."""
    use_threads(args.threads)
    if args.quick:
        s = replace(s, **quick)
    if args.steps is not None:
        s = replace(s, steps=args.steps)
    return s


def run_demo(main: Callable[[], object]) -> None:
    """Run a demo's main as a script: a reader who closes the pipe early (`| head`) ends it
    quietly, without a traceback."""
    try:
        main()
    except BrokenPipeError:
        raise SystemExit(quiet_broken_pipe()) from None


class Printer:
    """rich tables and coloured lines on a terminal; plain text with --plain or through a pipe."""

    def __init__(self, plain: bool) -> None:
        self.plain = plain or not sys.stdout.isatty()
        self.console = Console(highlight=False) if not self.plain else None

    def line(self, text: str, style: str = "") -> None:
        """One line of text (style is a rich style such as "bold green", ignored when plain)."""
        if self.console is None:
            print(text, flush=True)
        else:
            self.console.print(text, style=style or None, markup=False)

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        """A table with a title; in plain text, columns without lines, wrapped to fit 80."""
        if self.console is None:
            table = Table(box=None, pad_edge=False, show_edge=False, padding=(0, 2, 0, 0))
            for column in columns:
                table.add_column(column, overflow="fold")
            for row in rows:
                table.add_row(*[Text(str(c)) for c in row])
            print(title)
            Console(color_system=None, width=80, highlight=False).print(table)
            print(flush=True)
            return
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*[Text(str(c)) for c in row])   # Text: "[...]" is not markup
        self.console.print(table)
