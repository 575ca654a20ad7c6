"""Every view reads at 80 columns, through a pipe and on a terminal: each demo runs with `--quick`
and with `--plain` (tiny sizes, by the rules of tests/doc_commands.py) in a pseudo-terminal 80
columns wide, and so does each teaching command. No line may be wider than 80, `--plain` may
print no colour, the teaching commands' `--plain` prints exactly the text of their default, and
what colour shows must also be in the text: a run of one glyph that changes colour is information
only a colour carries (an old heat strip was `██████████` in ten colours). Through a pipe the
same commands are checked by tests/test_doc_commands.py (the README lists every demo).
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import termios
from pathlib import Path

import pytest
from doc_commands import ROOT, as_run, environment

DEMOS = sorted(p.name for p in (ROOT / "demos").glob("*.py") if not p.name.startswith("_"))
TEACHING = ["tinygrad-rnn gradcheck", "tinygrad-rnn vanishing", "tinygrad-rnn graph --trace",
            "tinygrad-rnn graph --cell lstm"]
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def in_terminal(line: str, cwd: Path, columns: int = 80, timeout: float = 120) -> str:
    """What `line` (resized) writes to a pseudo-terminal `columns` wide, escapes included."""
    import fcntl
    import struct

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**environment(columns), "TERM": "xterm-256color"}
    env.pop("COLUMNS")                        # the terminal says how wide it is
    process = subprocess.Popen(["bash", "-c", as_run(line)], cwd=cwd, env=env, stdin=follower,
                               stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], timeout)
            if not ready:
                process.kill()
                raise AssertionError(f"{line}: no output for {timeout} s")
            try:
                data = os.read(leader, 65536)
            except OSError:                   # the other end closed: the process is done
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
        status = process.wait()
    text = b"".join(chunks).decode("utf-8", errors="replace")
    assert status == 0 and "Traceback" not in text, f"{line}: status {status}\n{text[-2000:]}"
    return text


def screen(raw: str) -> list[list[tuple[str, str]]]:
    """The lines a terminal ends up showing, each a list of (character, its colour and style):
    SGR escapes set the style; a carriage return, "erase line" and "cursor up" rewrite lines as
    a spinner or a live display does; other escapes are dropped."""
    rows: list[list[tuple[str, str]]] = [[]]
    row, style = 0, ""
    tokens = r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07]*\x07|\x1b.|\r|\n|[^\x1b\r\n]+"
    for token in re.finditer(tokens, raw.replace("\r\n", "\n")):
        piece, codes, command = token[0], token[1], token[2]
        if command == "m":
            style = "" if codes in ("", "0") else (style + ";" + codes if style else codes)
        elif command == "K" or piece == "\r":
            rows[row] = []
        elif command == "A":
            row = max(0, row - int(codes or 1))
        elif piece == "\n":
            row += 1
            if row == len(rows):
                rows.append([])
        elif not piece.startswith("\x1b"):
            rows[row].extend((char, style) for char in piece)
    return rows


def text_of(lines: list[list[tuple[str, str]]]) -> str:
    return "\n".join("".join(c for c, _ in line).rstrip() for line in lines).strip("\n")


def colour_only(lines: list[list[tuple[str, str]]]) -> list[str]:
    """The lines where one glyph repeats with a change of colour: a difference only colour shows."""
    found = []
    for line in lines:
        for (a, style_a), (b, style_b) in zip(line, line[1:], strict=False):
            if a == b and not a.isspace() and style_a != style_b:
                found.append("".join(c for c, _ in line))
                break
    return found


def check_view(raw: str, line: str) -> list[str]:
    """What is wrong with a view: lines wider than 80 columns, information only in colour."""
    lines = screen(raw)
    problems = [f"{line}: wider than 80: {text!r}" for text in text_of(lines).splitlines()
                if len(text) > 80]
    problems += [f"{line}: only colour tells apart: {text!r}" for text in colour_only(lines)]
    return problems


@pytest.mark.parametrize("demo", DEMOS)
def test_every_demo_reads_on_an_80_column_terminal_and_takes_quick_and_plain(demo, tmp_path):
    line = f"python demos/{demo}"
    problems = check_view(in_terminal(line, ROOT), line)
    plain = in_terminal(f"{line} --plain", ROOT)
    problems += check_view(plain, f"{line} --plain")
    if SGR.search(plain):
        problems.append(f"{line} --plain: prints colours or styles on a terminal")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("line", TEACHING)
def test_a_teaching_view_reads_at_80_columns_and_plain_is_the_same_text(line, tmp_path):
    coloured = in_terminal(line, tmp_path)
    plain = in_terminal(f"{line} --plain", tmp_path)
    problems = check_view(coloured, line)
    assert not problems, "\n".join(problems)
    assert SGR.search(coloured) and not SGR.search(plain)
    assert text_of(screen(plain)) == text_of(screen(coloured))


# ---- the checks themselves -------------------------------------------------------------------
def test_a_strip_told_apart_only_by_colour_is_found():
    strip = "".join(f"\x1b[38;5;{16 + k}m█" for k in range(10)) + "\x1b[0m\n"
    assert colour_only(screen(strip)) == ["█" * 10]
    glyphs = "".join(f"\x1b[38;5;{16 + k}m{'▁▂▃▄▅▆▇█'[k % 8]}" for k in range(8)) + "\x1b[0m\n"
    assert colour_only(screen(glyphs)) == []
    same = "\x1b[33m███\x1b[0m done\n"
    assert colour_only(screen(same)) == []


def test_a_wide_line_and_a_spinner_are_read_as_a_terminal_shows_them():
    raw = "\x1b[?25lspinning…\r\x1b[2Kdone\n" + "x" * 81 + "\n"
    assert text_of(screen(raw)) == "done\n" + "x" * 81
    assert check_view(raw, "t") == [f"t: wider than 80: {'x' * 81!r}"]


def test_a_terminal_run_reports_its_width_and_a_failure(tmp_path):
    assert "\x1b[" not in in_terminal("python -c 'print(1)'", tmp_path)
    wide = in_terminal("python -c 'import shutil; print(shutil.get_terminal_size().columns)'",
                       tmp_path)
    assert wide.strip() == "80"
    with pytest.raises(AssertionError, match="status 3"):
        in_terminal("python -c 'raise SystemExit(3)'", tmp_path)
