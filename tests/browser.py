"""A real headless browser for the tests: Debian's chromium (`.ci/run` installs it), run with the
flags this sandbox needs (as root, with no network), and a small PNG reader to tell a blank
screenshot from a drawn one. Tests skip with the reason when chromium is missing."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MISSING = "chromium is not installed (apt-get install -y chromium; .ci/run does it)"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
    """Run chromium on a local file with a fresh profile; its console goes to stderr."""
    assert CHROMIUM is not None, MISSING
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                               "--enable-logging=stderr", "--v=0", *args, page.as_uri()],
                              capture_output=True, text=True, timeout=180)


def console_messages(stderr: str) -> list[str]:
    """What the page wrote to its console (console.error, uncaught exceptions, ...)."""
    return re.findall(r":CONSOLE[^\]]*\] (.*)", stderr)


def load(page: Path) -> tuple[str, list[str]]:
    """The page's DOM after loading, and its console messages."""
    done = chromium(page, "--dump-dom")
    return done.stdout, console_messages(done.stderr)


def screenshot(page: Path, png: Path, width: int = 1100, height: int = 1400) -> np.ndarray:
    """A screenshot of the page as an (H, W, channels) uint8 array."""
    chromium(page, f"--screenshot={png}", f"--window-size={width},{height}")
    return read_png(png.read_bytes())


def read_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB or RGBA PNG (what chromium writes) into an array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * channels)
    rows = np.zeros((height, width * channels), np.int32)
    previous = np.zeros(width * channels, np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            out = line
        elif kind == 2:                                        # Up
            out = (line + previous) & 255
        else:                                                  # Sub, Average, Paeth: in order
            out = line.copy()
            for x in range(width * channels):
                left = out[x - channels] if x >= channels else 0
                up, corner = previous[x], previous[x - channels] if x >= channels else 0
                if kind == 1:
                    out[x] = (out[x] + left) & 255
                elif kind == 3:
                    out[x] = (out[x] + (left + up) // 2) & 255
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    best = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                    out[x] = (out[x] + best) & 255
        rows[y], previous = out, out
    return rows.reshape(height, width, channels).astype(np.uint8)
