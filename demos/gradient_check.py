"""The gradient-check tour: every primitive op checked against central differences.

    python demos/gradient_check.py                # all ops pass
    python demos/gradient_check.py --break matmul # a wrong backward, and what the failure looks like
    python demos/gradient_check.py --plain        # plain text instead of a rich table
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from tinygrad_rnn.tour import op_checks, op_names, run_checks


def main() -> int:
    checks = op_checks()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--break", dest="break_op", choices=op_names(checks),
                        help="give this op a wrong backward (forgets the upstream gradient)")
    parser.add_argument("--plain", action="store_true", help="plain text output")
    args = parser.parse_args()

    results = run_checks(checks, break_op=args.break_op)
    console = Console(no_color=args.plain, force_terminal=False if args.plain else None)
    table = Table(title="gradcheck: backward() vs central differences (float64)")
    for column in ("check", "max |abs err|", "max rel err", "result"):
        table.add_column(column, justify="left" if column == "check" else "right")
    for r in results:
        verdict = "[green]pass[/]" if r.passed else "[bold red]FAIL[/]"
        table.add_row(r.name, f"{r.max_abs_error:.1e}", f"{r.max_rel_error:.1e}", verdict)
    console.print(table)
    failed = [r.name for r in results if not r.passed]
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed and not args.break_op else 0


if __name__ == "__main__":
    raise SystemExit(main())
