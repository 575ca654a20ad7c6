"""Checkpoints: named arrays + JSON metadata in one `.npz` file, never pickled.

File format (version 2): an ordinary `.npz` (a zip of stored `.npy` files, readable by `np.load`)
holding the arrays under their own names plus one more member, `__meta__`: a uint8 array of UTF-8
JSON
    {"format": "tinygrad_rnn-checkpoint", "version": 2, "sha256": "<hex>", "meta": {...}}
where sha256 covers every array's name, dtype, shape and bytes (in name order) and then the meta
(as canonical JSON: sorted keys, no spaces), so a changed vocabulary or setting is found too; it is
verified on load. Version 1 files (whose sha256 covers the arrays only) still load. Reading checks
each member before allocating it: a stored (uncompressed) `.npy` of a numeric dtype whose header's
shape accounts for exactly its bytes, none larger than the file, all of them within the memory
available; the meta must be JSON at most 64 levels deep. No pickle is ever read or written (an
object array is refused both ways). Writes are atomic: a temp file `.NAME.XXXXXXXX.tmp` in the same
directory, fsync, os.replace; a failed write leaves the previous file untouched. A process killed
mid-write (SIGKILL, power loss) leaves its temp file behind: the next save of the same NAME
deletes such leftovers first, only regular files matching exactly that pattern (so a directory
must have one writer per checkpoint name; other names and other files are never touched).

    save_checkpoint(path, arrays, meta) / load_checkpoint(path) -> (arrays, meta)   generic
    save_module(path, module, config) / load_module_state(path, module) -> config  a Module
    to_torch(module) / from_torch(torch_module)                                   PyTorch twins

Load our weights into PyTorch in one line (keys and shapes match):
    torch_lstm.load_state_dict({k: torch.from_numpy(v) for k, v in lstm.state_dict().items()})
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from tinygrad_rnn.lm.sizes import gib, memory_available
from tinygrad_rnn.nn.cells import GRUCell, LSTMCell, RNNCell
from tinygrad_rnn.nn.layers import Embedding, Linear
from tinygrad_rnn.nn.module import Module
from tinygrad_rnn.nn.recurrent import GRU, LSTM, RNN

__all__ = ["CheckpointError", "FORMAT", "VERSION", "save_checkpoint", "load_checkpoint",
           "save_module", "load_module_state", "to_torch", "from_torch"]

FORMAT = "tinygrad_rnn-checkpoint"
VERSION = 2
READS = (1, 2)          # the versions load_checkpoint reads (1: the checksum leaves out meta)
META_KEY = "__meta__"
MAX_DEPTH = 64          # nesting of lists and dicts in meta


class CheckpointError(ValueError):
    """A checkpoint cannot be written or read; the message names the file and the problem."""


def _checksum(arrays: Mapping[str, np.ndarray], meta: Any = None, version: int = VERSION) -> str:
    """sha256 over each array's name, dtype, shape and bytes, in name order, then (from version
    2 on) the meta as canonical JSON."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    if version >= 2:
        digest.update(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def _checked_arrays(arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or name == META_KEY:
            raise CheckpointError(f"save_checkpoint: invalid array name {name!r}")
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":
            raise CheckpointError(f"save_checkpoint: array {name!r} has dtype {array.dtype}; "
                                  f"only numeric and bool arrays are stored (never pickles)")
        out[name] = array
    return out


def _write_npz(file: BinaryIO, arrays: Mapping[str, np.ndarray]) -> None:
    """The `.npz` layout np.savez writes (one stored `.npy` per array), without pickling."""
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def save_checkpoint(path: str | os.PathLike, arrays: Mapping[str, Any],
                    meta: Mapping[str, Any] | None = None) -> None:
    """Write `arrays` (name → numeric ndarray) and JSON-able `meta` to `path`, atomically."""
    path = Path(path)
    checked = _checked_arrays(arrays)
    try:   # as it will read back (tuples become lists); NaN and Inf are not JSON
        meta = json.loads(json.dumps(dict(meta or {}), allow_nan=False))
        text = json.dumps({"format": FORMAT, "version": VERSION,
                           "sha256": _checksum(checked, meta), "meta": meta})
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"save_checkpoint: meta is not JSON-serialisable: {error}") from None
    checked[META_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    _remove_stale_temps(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as file:
            _write_npz(file, checked)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _remove_stale_temps(path: Path) -> None:
    """Delete what killed saves of `path` left: regular files named `.NAME.XXXXXXXX.tmp` (the
    8 characters of tempfile.mkstemp) beside it; nothing else, and never through a link."""
    stale = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return                                         # the save itself will report it
    for entry in entries:
        if stale.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(OSError):         # gone already, or not ours to delete
                os.unlink(entry.path)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the OS allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by save_checkpoint: (arrays, meta), after verifying format, version
    and checksum. Any problem is a CheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"checkpoint {path}: corrupt or truncated: not a readable "
                              f".npz archive")
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = _read_members(path, archive)
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"checkpoint {path}: corrupt or truncated ({error})") from None
    if META_KEY not in arrays:
        raise CheckpointError(f"checkpoint {path}: no {META_KEY} entry; not a tinygrad_rnn "
                              f"checkpoint")
    header = _header(path, arrays.pop(META_KEY))
    if header["sha256"] != _checksum(arrays, header["meta"], header["version"]):
        raise CheckpointError(f"checkpoint {path}: checksum mismatch; the arrays are corrupt or "
                              f"the metadata was changed")
    return arrays, header["meta"]


def _read_members(path: Path, archive: zipfile.ZipFile) -> dict[str, np.ndarray]:
    """Every member as an array, each checked before it is allocated (see the module doc)."""
    infos, size = archive.infolist(), path.stat().st_size
    names = [info.filename.removesuffix(".npy") for info in infos]
    if len(set(names)) != len(names):
        raise CheckpointError(f"checkpoint {path}: a member appears twice")
    available = memory_available()
    total = sum(info.file_size for info in infos)
    if available is not None and total > available:
        raise CheckpointError(f"checkpoint {path}: its arrays take {gib(total)}, more than the "
                              f"{gib(available)} of memory available")
    arrays = {}
    for name, info in zip(names, infos, strict=True):
        if not info.filename.endswith(".npy") or info.compress_type != zipfile.ZIP_STORED \
                or info.file_size > size:
            raise CheckpointError(f"checkpoint {path}: member {info.filename!r} is not a stored "
                                  f".npy array no larger than the file")
        with archive.open(info) as member:
            arrays[name] = _read_npy(path, name, member, info.file_size)
    return arrays


def _read_npy(path: Path, name: str, member: BinaryIO, size: int) -> np.ndarray:
    """One `.npy` member of `size` bytes: its header checked against its size, then its data."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(member)
        read_header = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
        shape, fortran, dtype = read_header[version](member)
    except (ValueError, KeyError, SyntaxError, TypeError) as error:
        raise CheckpointError(f"checkpoint {path}: member {name!r} is not an .npy array "
                              f"({str(error)[:80]})") from None
    if dtype.hasobject:
        raise CheckpointError(f"checkpoint {path}: member {name!r} holds a pickled object array;"
                              f" refusing to load it (allow_pickle=False)")
    if dtype.kind not in "biufc":
        raise CheckpointError(f"checkpoint {path}: member {name!r} has dtype {dtype}; only "
                              f"numeric arrays are read")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != size - member.tell():
        raise CheckpointError(f"checkpoint {path}: member {name!r} claims shape {shape} "
                              f"({nbytes} bytes) but holds {size - member.tell()} bytes")
    data = bytearray(nbytes)
    if member.readinto(data) != nbytes or member.read(1):    # reading to the end checks its CRC
        raise CheckpointError(f"checkpoint {path}: member {name!r} is truncated")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def _header(path: Path, raw: np.ndarray) -> dict[str, Any]:
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"checkpoint {path}: unreadable metadata (not UTF-8 bytes)")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise CheckpointError(f"checkpoint {path}: unreadable metadata "
                              f"({str(error)[:80] or 'nested too deep'})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: not a {FORMAT} file")
    if header.get("version") not in READS:
        raise CheckpointError(f"checkpoint {path}: format version {header.get('version')!r}, "
                              f"this tinygrad_rnn reads versions {', '.join(map(str, READS))}")
    if not isinstance(header.get("sha256"), str) or not isinstance(header.get("meta"), dict):
        raise CheckpointError(f"checkpoint {path}: metadata lacks sha256 or meta")
    if _depth(header["meta"]) > MAX_DEPTH:
        raise CheckpointError(f"checkpoint {path}: metadata nested more than {MAX_DEPTH} deep")
    return header


def _depth(value: Any) -> int:
    """How deeply lists and dicts nest in a JSON value (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            stack += [(v, depth + 1) for v in (value.values() if isinstance(value, dict)
                                               else value)]
    return deepest


def save_module(path: str | os.PathLike, module: Module,
                config: Mapping[str, Any] | None = None) -> None:
    """Save a module's state_dict with its class name and a config (to rebuild it later)."""
    meta = {"kind": "module", "class": type(module).__name__, "config": dict(config or {})}
    save_checkpoint(path, module.state_dict(), meta)


def load_module_state(path: str | os.PathLike, module: Module) -> dict[str, Any]:
    """Load a save_module file into `module` (strictly) and return the saved config."""
    arrays, meta = load_checkpoint(path)
    if meta.get("kind") != "module":
        raise CheckpointError(f"checkpoint {path}: holds {meta.get('kind')!r}, not a module")
    if meta.get("class") != type(module).__name__:
        raise CheckpointError(f"checkpoint {path}: holds a {meta.get('class')}, "
                              f"cannot load it into a {type(module).__name__}")
    try:
        module.load_state_dict(arrays)
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"checkpoint {path}: {error}") from None
    return meta["config"]


# ---- PyTorch twins (torch is imported only here, only when asked) ----------------------------
def _torch_twin(module: Module, torch: Any) -> Any:
    """An uninitialised torch module with the same class and constructor arguments."""
    if isinstance(module, (RNN, GRU, LSTM)):
        options = dict(num_layers=module.num_layers, bias=module.bias,
                       batch_first=module.batch_first, dropout=module.dropout,
                       bidirectional=module.bidirectional)
        if isinstance(module, RNN):
            options["nonlinearity"] = module.nonlinearity
        cls = getattr(torch.nn, type(module).__name__)
        return cls(module.input_size, module.hidden_size, **options)
    if isinstance(module, (RNNCell, GRUCell, LSTMCell)):
        options = dict(bias=module.bias_ih is not None)
        if isinstance(module, RNNCell):
            options["nonlinearity"] = module.nonlinearity
        cls = getattr(torch.nn, type(module).__name__)
        return cls(module.input_size, module.hidden_size, **options)
    if isinstance(module, Linear):
        return torch.nn.Linear(module.in_features, module.out_features,
                               bias=module.bias is not None)
    if isinstance(module, Embedding):
        return torch.nn.Embedding(module.num_embeddings, module.embedding_dim,
                                  padding_idx=module.padding_idx)
    raise TypeError(f"to_torch: no PyTorch twin for {type(module).__name__}")


def to_torch(module: Module) -> Any:
    """The same layer as a torch.nn module with our weights, dtype and train/eval mode."""
    import torch

    twin = _torch_twin(module, torch)
    state = module.state_dict()
    dtype = next(iter(state.values())).dtype
    twin = twin.to(torch.float64 if dtype == np.float64 else torch.float32)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return twin.train(module.training)


def from_torch(torch_module: Any) -> Module:
    """Our twin of a torch.nn RNN/GRU/LSTM, cell, Linear or Embedding, with its weights."""
    name = type(torch_module).__name__
    m = torch_module
    if name in ("RNN", "GRU", "LSTM"):
        if getattr(m, "proj_size", 0):
            raise TypeError("from_torch: LSTM with proj_size > 0 has no tinygrad_rnn twin")
        options = dict(num_layers=m.num_layers, bias=m.bias, batch_first=m.batch_first,
                       dropout=m.dropout, bidirectional=m.bidirectional)
        if name == "RNN":
            options["nonlinearity"] = m.nonlinearity
        ours: Module = {"RNN": RNN, "GRU": GRU, "LSTM": LSTM}[name](
            m.input_size, m.hidden_size, **options)
    elif name in ("RNNCell", "GRUCell", "LSTMCell"):
        extra = {"nonlinearity": m.nonlinearity} if name == "RNNCell" else {}
        ours = {"RNNCell": RNNCell, "GRUCell": GRUCell, "LSTMCell": LSTMCell}[name](
            m.input_size, m.hidden_size, bias=m.bias, **extra)
    elif name == "Linear":
        ours = Linear(m.in_features, m.out_features, bias=m.bias is not None)
    elif name == "Embedding":
        ours = Embedding(m.num_embeddings, m.embedding_dim, padding_idx=m.padding_idx)
    else:
        raise TypeError(f"from_torch: no tinygrad_rnn twin for torch.nn.{name}")
    state = {k: v.detach().cpu().numpy() for k, v in torch_module.state_dict().items()}
    ours.to_dtype(next(iter(state.values())).dtype)
    ours.load_state_dict(state)
    return ours.train(torch_module.training)
