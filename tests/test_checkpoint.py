"""Checkpoints: round trips, refusal of pickles, corruption and truncation, atomic writes."""

import json
import zipfile

import numpy as np
import pytest

from tinygrad_rnn import manual_seed, nn
from tinygrad_rnn.lm import checkpoint
from tinygrad_rnn.lm.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_module_state,
    save_checkpoint,
    save_module,
)

ARRAYS = {"weights": np.arange(12, dtype=np.float64).reshape(3, 4),
          "steps": np.array(7, dtype=np.int64), "mask": np.array([True, False])}
META = {"step": 7, "rng": {"bit_generator": "PCG64", "state": 2**100}, "name": "run/é"}


def test_round_trip_keeps_arrays_dtypes_and_meta(tmp_path):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, ARRAYS, META)
    arrays, meta = load_checkpoint(path)
    assert meta == META and set(arrays) == set(ARRAYS)
    for name, array in ARRAYS.items():
        assert arrays[name].dtype == array.dtype
        np.testing.assert_array_equal(arrays[name], array)
    with np.load(path, allow_pickle=False) as plain:                # an ordinary .npz
        header = json.loads(plain["__meta__"].tobytes())
    assert header["format"] == "tinygrad_rnn-checkpoint" and header["version"] == 2
    assert len(header["sha256"]) == 64


def test_names_numpy_reserves_are_fine(tmp_path):
    save_checkpoint(tmp_path / "c.npz", {"file": np.zeros(1), "allow_pickle": np.ones(1)})
    arrays, meta = load_checkpoint(tmp_path / "c.npz")
    assert meta == {} and arrays["allow_pickle"][0] == 1.0


def test_save_refuses_object_arrays_bad_names_and_unserialisable_meta(tmp_path):
    path = tmp_path / "c.npz"
    with pytest.raises(CheckpointError, match="array 'x' has dtype object"):
        save_checkpoint(path, {"x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match="invalid array name '__meta__'"):
        save_checkpoint(path, {"__meta__": np.zeros(1)})
    with pytest.raises(CheckpointError, match="meta is not JSON-serialisable"):
        save_checkpoint(path, {}, {"bad": object()})
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, payload=np.array([{"run": "code"}], dtype=object))   # np.savez pickles it
    with pytest.raises(CheckpointError, match="pickled object array; refusing"):
        load_checkpoint(path)


def test_missing_file_and_non_checkpoint_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "absent.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    with pytest.raises(CheckpointError, match="no __meta__ entry"):
        load_checkpoint(tmp_path / "plain.npz")
    (tmp_path / "text.npz").write_text("hello, not a zip")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "text.npz")
    np.save(tmp_path / "single.npy", np.zeros(2))
    with pytest.raises(CheckpointError, match="not a readable .npz archive"):
        load_checkpoint(tmp_path / "single.npy")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_truncated_file_is_a_clear_error(tmp_path, keep):
    path = tmp_path / "c.npz"
    save_checkpoint(path, ARRAYS, META)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_flipped_bytes_are_a_clear_error(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"w": np.zeros(1000)})
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF                                        # inside w's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def _rewrite(path, arrays, header):
    """A hand-made .npz with the given arrays and __meta__ header (bypassing save_checkpoint)."""
    meta = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in {**arrays, "__meta__": meta}.items():
            with archive.open(name + ".npy", "w") as member:
                np.lib.format.write_array(member, array)


def test_checksum_catches_arrays_swapped_behind_valid_zip_crcs(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, ARRAYS, META)
    with np.load(path) as archive:
        header = json.loads(archive["__meta__"].tobytes())
    _rewrite(path, {**ARRAYS, "weights": ARRAYS["weights"] + 1}, header)
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(path)
    _rewrite(path, ARRAYS, header)                # the same header with the right arrays loads
    assert load_checkpoint(path)[1] == META


def test_wrong_version_and_format_are_refused(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, ARRAYS, META)
    with np.load(path) as archive:
        header = json.loads(archive["__meta__"].tobytes())
    _rewrite(path, ARRAYS, {**header, "version": 99})
    with pytest.raises(CheckpointError, match="format version 99, this tinygrad_rnn reads "
                                              "versions 1, 2"):
        load_checkpoint(path)
    _rewrite(path, ARRAYS, {**header, "format": "other"})
    with pytest.raises(CheckpointError, match="not a tinygrad_rnn-checkpoint file"):
        load_checkpoint(path)


def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    save_checkpoint(path, ARRAYS, META)
    before = path.read_bytes()

    def broken_write(file, arrays):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "_write_npz", broken_write)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"other": np.ones(3)}, {"step": 8})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]          # no temp file left
    assert load_checkpoint(path)[1] == META


def test_save_and_load_module(tmp_path):
    manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2)
    save_module(tmp_path / "m.npz", lstm, {"hidden": 4})
    manual_seed(1)
    other = nn.LSTM(3, 4, num_layers=2)
    assert load_module_state(tmp_path / "m.npz", other) == {"hidden": 4}
    for name, value in other.state_dict().items():
        np.testing.assert_array_equal(value, lstm.state_dict()[name])
    with pytest.raises(CheckpointError, match="holds a LSTM, cannot load it into a GRU"):
        load_module_state(tmp_path / "m.npz", nn.GRU(3, 4, num_layers=2))
    with pytest.raises(CheckpointError, match="key 'weight_ih_l0' has shape \\(16, 3\\)"):
        load_module_state(tmp_path / "m.npz", nn.LSTM(5, 4, num_layers=2))
    save_checkpoint(tmp_path / "opt.npz", {"m": np.zeros(2)}, {"kind": "optimizer"})
    with pytest.raises(CheckpointError, match="holds 'optimizer', not a module"):
        load_module_state(tmp_path / "opt.npz", lstm)


def test_to_torch_needs_a_known_module():
    with pytest.raises(TypeError, match="no PyTorch twin for ModuleList"):
        checkpoint._torch_twin(nn.ModuleList(), torch=None)
