"""read_text: UTF-8 text in, one clear DataError line for every kind of bad file."""

import os

import pytest

from tinygrad_rnn.data import DataError, decode_text, read_text, text_lines
from tinygrad_rnn.data import text as text_module


def _one_line_error(call) -> str:
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and message
    return message


def test_reads_utf8_and_normalises_crlf(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("héllo\r\nwörld\r\n".encode())
    assert read_text(path) == "héllo\nwörld\n"
    assert read_text(str(path)) == "héllo\nwörld\n"


def test_drops_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfabc")
    assert read_text(path) == "abc"


def test_missing_file(tmp_path):
    message = _one_line_error(lambda: read_text(tmp_path / "nope.txt"))
    assert "nope.txt" in message and "no such file" in message


def test_directory(tmp_path):
    assert "directory" in _one_line_error(lambda: read_text(tmp_path))


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert "empty" in _one_line_error(lambda: read_text(path))


def test_a_bom_alone_is_empty_too(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf")
    assert "empty" in _one_line_error(lambda: read_text(path))


def test_nul_byte_is_binary_and_names_the_offset(tmp_path):
    path = tmp_path / "bin.dat"
    path.write_bytes(b"abc\x00def")
    message = _one_line_error(lambda: read_text(path))
    assert "binary" in message and "offset 3" in message


def test_invalid_utf8_names_the_byte_and_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("ab é".encode("latin-1"))            # é is the lone byte 0xe9 at offset 3
    message = _one_line_error(lambda: read_text(path))
    assert "UTF-8" in message and "0xe9" in message and "offset 3" in message


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can read any file")
def test_unreadable_file_by_permissions(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("x")
    path.chmod(0)
    assert "cannot read" in _one_line_error(lambda: read_text(path))


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.txt"
    path.write_text("x")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(text_module, "open", refuse, raising=False)
    message = _one_line_error(lambda: read_text(path))
    assert "cannot read" in message and "Permission denied" in message


def test_decode_text_names_its_source():
    assert "stdin" in _one_line_error(lambda: decode_text(b"", "stdin"))


def test_text_lines_drops_blank_lines():
    assert text_lines("emma\n\nolivia\n   \nava\n") == ["emma", "olivia", "ava"]
