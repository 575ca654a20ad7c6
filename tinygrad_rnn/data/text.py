"""Reading a UTF-8 text file, with one clear error line for every kind of bad file."""

from __future__ import annotations

import os

from tinygrad_rnn.data.errors import DataError

__all__ = ["read_text", "decode_text", "text_lines"]


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's text as UTF-8 with "\\r\\n" turned into "\\n"; DataError for any bad file."""
    name = os.fspath(path)
    if os.path.isdir(name):
        raise DataError(f"{name} is a directory: pass a text file")
    try:
        with open(name, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{name}: no such file: check the path") from None
    except OSError as e:
        raise DataError(f"cannot read {name}: {e.strerror or e}: check its permissions") from None
    return decode_text(raw, name)


def decode_text(raw: bytes, name: str = "input") -> str:
    """Decode `raw` as UTF-8 text (a leading BOM dropped); DataError if empty or not text."""
    nul = raw.find(b"\0")
    if nul >= 0:
        raise DataError(f"{name} looks binary (NUL byte at offset {nul}): pass a UTF-8 text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{name} is not UTF-8 text (invalid byte 0x{raw[e.start]:02x} at offset "
                        f"{e.start}): convert it to UTF-8") from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if not text:
        raise DataError(f"{name} is empty: pass a file with some text in it")
    return text


def text_lines(text: str) -> list[str]:
    """The lines of `text` for line mode: one example per line, blank lines dropped."""
    return [line for line in text.split("\n") if line.strip()]
