"""Issue 17's malformed inputs, each one line and exit 2: checkpoints with wrong types anywhere in
their metadata or resume state, members that claim or inflate to huge sizes, metadata outside the
checksum, NaN weights, sizes too big for memory, and the graph command's long expressions."""

import io
import json
import math
import time
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from train_settings import tiny_run

from tinygrad_rnn import cli
from tinygrad_rnn.lm import checkpoint as checkpoint_module
from tinygrad_rnn.lm import sizes
from tinygrad_rnn.lm import train as train_module
from tinygrad_rnn.lm.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tinygrad_rnn.lm.train import BEST, LAST, load_model, train

TEXT = "abcabd abcabd " * 40


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny stream-mode GRU run (its last.ckpt carries a hidden state) and a held-out file."""
    root = tmp_path_factory.mktemp("misuse")
    config = tiny_run(root, TEXT, steps=4, eval_every=2)
    train(config, str(root / "run"))
    (root / "held.txt").write_text("abcabd", encoding="utf-8")
    return root


def write_raw(path, arrays, meta, version=2, allow_nan=True):
    """A checkpoint written by hand: any meta (NaN included), with a checksum that matches it."""
    digest = checkpoint_module._checksum(arrays, meta, version)
    text = json.dumps({"format": "tinygrad_rnn-checkpoint", "version": version, "sha256": digest,
                       "meta": meta}, allow_nan=allow_nan)
    members = {**arrays, "__meta__": np.frombuffer(text.encode(), np.uint8)}
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in members.items():
            out = io.BytesIO()
            np.lib.format.write_array(out, np.asarray(array), allow_pickle=False)
            archive.writestr(name + ".npy", out.getvalue())


def copy_run(run, tmp_path, change_meta=None, change_arrays=None):
    """tmp_path/run: the fixture's run with its last.ckpt's meta or arrays changed."""
    out = tmp_path / "run"
    out.mkdir()
    for name in ("config.json", "vocab.json", "metrics.jsonl"):
        (out / name).write_bytes((run / "run" / name).read_bytes())
    arrays, meta = load_checkpoint(run / "run" / LAST)
    if change_meta:
        change_meta(meta)
    if change_arrays:
        change_arrays(arrays)
    write_raw(out / LAST, arrays, meta)
    return out


def commands(run, out):
    return [["sample", out, "--max-len", "5"], ["score", out, "abc", "--json"],
            ["eval", out, "--data", run / "held.txt", "--json"],
            ["train", "--out", out, "--resume", "--steps", "6", "--plain"]]


def assert_one_line(capsys, argv, code=2):
    got = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert got == code, (argv, captured.err)
    if code == 2:
        assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    return captured


# ---- item 4: malformed checkpoints ----------------------------------------------------------
def raw_bytes_meta(tmp_path, run):
    """__meta__ as a member of raw bytes, not an .npy array."""
    out = copy_run(run, tmp_path)
    with zipfile.ZipFile(out / LAST) as old:
        members = {name: old.read(name) for name in old.namelist()}
    members["__meta__.npy"] = b'{"format": "tinygrad_rnn-checkpoint"}'
    with zipfile.ZipFile(out / LAST, "w") as new:
        for name, data in members.items():
            new.writestr(name, data)
    return out


def deep_meta_text(tmp_path, run):
    """Metadata nested 100,000 deep (written as text: json.dumps itself would recurse)."""
    out = copy_run(run, tmp_path)
    arrays, meta = load_checkpoint(out / LAST)
    body = json.dumps({**meta, "train": 0}).replace('"train": 0', '"train": ' + "[" * 100_000
                                                     + "0" + "]" * 100_000)
    text = (f'{{"format": "tinygrad_rnn-checkpoint", "version": 2, "sha256": "0", '
            f'"meta": {body}}}')
    members = {**arrays, "__meta__": np.frombuffer(text.encode(), np.uint8)}
    with zipfile.ZipFile(out / LAST, "w") as archive:
        for name, array in members.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array)
            archive.writestr(name + ".npy", buffer.getvalue())
    return out


def state_of_shape(shape):
    def change(arrays):
        arrays["run/state"] = np.zeros(shape, np.float32)
    return change


RUN_CASES = {
    "progress.step a string": (lambda m: m["run"]["progress"].update(step="7"), None,
                               "progress.step must be a whole number"),
    "progress a list": (lambda m: m["run"].update(progress=[1, 2]), None,
                        "progress must be an object"),
    "state a list of three": (lambda m: m["run"].update(state=[{"array": "run/state"}] * 3),
                              None, "the carried state must be an array"),
    "state of the wrong shape": (None, state_of_shape((1, 2, 3)),
                                 r"the carried state must be an array of shape \(1, 4, 12\)"),
    "train a list": (lambda m: m.update(train=[1]), None, "holds no valid settings|consistent"),
    "optimizer groups a string": (lambda m: m["run"]["optimizer"].update(param_groups="x"), None,
                                  "cannot be resumed from"),
}


@pytest.mark.parametrize("case", sorted(RUN_CASES))
def test_issue_malformed_resume_states_are_one_line(run, tmp_path, capsys, case):
    change_meta, change_arrays, expected = RUN_CASES[case]
    out = copy_run(run, tmp_path, change_meta, change_arrays)
    err = assert_one_line(capsys, commands(run, out)[-1]).err
    assert __import__("re").search(expected, err), err


@pytest.mark.parametrize("make", [raw_bytes_meta, deep_meta_text])
def test_issue_raw_bytes_or_deeply_nested_metadata_is_one_line_for_every_command(
        run, tmp_path, capsys, make):
    out = make(tmp_path, run)
    for argv in commands(run, out):
        err = assert_one_line(capsys, argv).err
        assert "unreadable metadata" in err or "'__meta__' is not an .npy array" in err


def test_metadata_deeper_than_the_limit_but_within_json_is_refused(tmp_path):
    nested: object = 0
    for _ in range(100):
        nested = {"a": nested}
    write_raw(tmp_path / "c.ckpt", {"w": np.ones(2)}, {"x": nested})
    with pytest.raises(CheckpointError, match="nested more than 64 deep"):
        load_checkpoint(tmp_path / "c.ckpt")


# ---- item 3: members checked before they are read --------------------------------------------
def test_a_member_that_inflates_is_refused_before_it_is_read(tmp_path):
    write_raw(tmp_path / "c.ckpt", {"w": np.ones(2)}, {})
    with zipfile.ZipFile(tmp_path / "c.ckpt") as old:
        members = {name: old.read(name) for name in old.namelist()}
    members["w.npy"] = members["w.npy"][:-16] + bytes(64 * 2**20)   # 64 MiB of zeros, deflated
    with zipfile.ZipFile(tmp_path / "c.ckpt", "w", zipfile.ZIP_DEFLATED) as new:
        for name, data in members.items():
            new.writestr(name, data)
    assert (tmp_path / "c.ckpt").stat().st_size < 2**20
    with pytest.raises(CheckpointError, match="'w.npy' is not a stored .npy array no larger"):
        load_checkpoint(tmp_path / "c.ckpt")


def test_an_npy_header_claiming_a_huge_shape_is_refused_before_allocation(tmp_path, monkeypatch):
    write_raw(tmp_path / "c.ckpt", {"w": np.ones(2)}, {})
    with zipfile.ZipFile(tmp_path / "c.ckpt") as old:
        members = {name: old.read(name) for name in old.namelist()}
    claim = members["w.npy"].replace(b"(2,)", b"(1000000000000,)")   # 12 more characters,
    members["w.npy"] = claim.replace(b" " * 12 + b"\n", b"\n", 1)      # 12 fewer spaces
    with zipfile.ZipFile(tmp_path / "c.ckpt", "w") as new:
        for name, data in members.items():
            new.writestr(name, data)
    allocated = []
    monkeypatch.setattr(checkpoint_module, "bytearray",
                        lambda n: allocated.append(n) or bytearray(n), raising=False)
    with pytest.raises(CheckpointError, match=r"claims shape \(1000000000000,\) \(8000000000000 "
                                              r"bytes\) but holds 16 bytes"):
        load_checkpoint(tmp_path / "c.ckpt")
    assert allocated == []


def test_arrays_larger_than_the_memory_available_are_refused(tmp_path, monkeypatch):
    write_raw(tmp_path / "c.ckpt", {"w": np.ones(1000)}, {})
    monkeypatch.setattr(checkpoint_module, "memory_available", lambda: 1000)
    with pytest.raises(CheckpointError, match="more than the 0.0 MiB of memory available"):
        load_checkpoint(tmp_path / "c.ckpt")


def test_a_model_config_far_larger_than_its_arrays_is_not_built(run, tmp_path, capsys):
    out = copy_run(run, tmp_path, lambda m: m["model"].update(hidden=10**9))
    started = time.monotonic()
    err = assert_one_line(capsys, ["sample", out]).err
    assert "its model settings need" in err and time.monotonic() - started < 30


# ---- item 3: sizes from the flags, before allocation -----------------------------------------
def test_layers_a_billion_is_refused_at_once_with_the_estimate(tmp_path, capsys):
    argv = ["train", "--data", tiny_run(tmp_path, TEXT).data, "--layers", "1000000000",
            "--batch-size", "4", "--seq-len", "8", "--steps", "1", "--plain",
            "--out", tmp_path / "run"]
    started = time.monotonic()
    err = assert_one_line(capsys, argv).err
    assert time.monotonic() - started < 30
    assert "--layers 1000000000" in err and "GiB of memory" in err and "is available" in err


def test_hidden_15000_on_a_3_gib_machine_is_refused_with_the_estimate(tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.setattr(train_module, "memory_available", lambda: 3 * 2**30)
    argv = ["train", "--data", tiny_run(tmp_path, TEXT).data, "--hidden", "15000",
            "--batch-size", "4", "--seq-len", "8", "--steps", "1", "--plain",
            "--out", tmp_path / "run"]
    err = assert_one_line(capsys, argv).err
    assert "--hidden 15000" in err and "3.0 GiB is available" in err
    assert not (tmp_path / "run" / LAST).exists()


def test_the_parameter_count_matches_the_models(tmp_path):
    from tinygrad_rnn.lm.model import LanguageModel, ModelConfig
    for config in (ModelConfig(7, "gru", 5, 2, 3), ModelConfig(9, "lstm", 4, 3, 0),
                   ModelConfig(4, "rnn", 6, 1, 2)):
        model = LanguageModel(config)
        assert sizes.parameter_count(config) == sum(p.numel() for p in model.parameters())


# ---- item 5: the checksum covers the metadata; non-finite weights; JSON ----------------------
def test_a_reversed_vocabulary_fails_the_checksum(run, tmp_path, capsys):
    out = copy_run(run, tmp_path)
    text = (out / LAST).read_bytes()
    arrays, meta = load_checkpoint(out / LAST)
    vocab = json.loads(meta["vocab"])
    reversed_vocab = json.dumps({**vocab, "tokens": vocab["tokens"][::-1]})
    with zipfile.ZipFile(out / LAST) as old:
        members = {name: old.read(name) for name in old.namelist()}
    header = json.loads(np.load(io.BytesIO(members["__meta__.npy"])).tobytes())
    header["meta"]["vocab"] = reversed_vocab                  # the old checksum kept
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.frombuffer(json.dumps(header).encode(), np.uint8))
    members["__meta__.npy"] = buffer.getvalue()
    with zipfile.ZipFile(out / LAST, "w") as new:
        for name, data in members.items():
            new.writestr(name, data)
    assert (out / LAST).read_bytes() != text
    for argv in commands(run, out):
        assert "checksum mismatch" in assert_one_line(capsys, argv).err


def test_a_version_1_checkpoint_still_loads(run, tmp_path):
    arrays, meta = load_checkpoint(run / "run" / BEST)
    digest = checkpoint_module._checksum(arrays, version=1)
    text = json.dumps({"format": "tinygrad_rnn-checkpoint", "version": 1, "sha256": digest,
                       "meta": meta})
    write_raw(tmp_path / "old.ckpt", arrays, meta)
    with zipfile.ZipFile(tmp_path / "old.ckpt") as old:
        members = {name: old.read(name) for name in old.namelist()}
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.frombuffer(text.encode(), np.uint8))
    members["__meta__.npy"] = buffer.getvalue()
    with zipfile.ZipFile(tmp_path / "old.ckpt", "w") as new:
        for name, data in members.items():
            new.writestr(name, data)
    model = load_model(str(tmp_path / "old.ckpt")).model
    assert model.config.hidden == 12


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights_are_refused_by_every_command(run, tmp_path, capsys, bad):
    def spoil(arrays):
        arrays["model/head.bias"] = arrays["model/head.bias"].copy()
        arrays["model/head.bias"][0] = bad
    out = copy_run(run, tmp_path, change_arrays=spoil)
    for argv in commands(run, out):
        err = assert_one_line(capsys, argv).err
        assert "model/head.bias holds NaN or Inf" in err


def test_json_output_never_holds_nan(run, capsys, monkeypatch):
    monkeypatch.setattr(cli, "mean_loss", lambda *a, **k: (math.nan, 3))
    err = assert_one_line(capsys, ["eval", run / "run", "--data", run / "held.txt", "--json"])
    assert "not a finite number" in err.err and err.out == ""


def test_save_refuses_nan_in_meta(tmp_path):
    with pytest.raises(CheckpointError, match="not JSON-serialisable"):
        save_checkpoint(tmp_path / "c.ckpt", {"w": np.ones(1)}, {"loss": math.nan})


# ---- property: any type anywhere in the metadata is a clear error or a working load ----------
def paths(value, prefix=()):
    """Every (path) to a value inside a JSON tree, parents first."""
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += paths(v, prefix + (i,))
    return found


def replaced(meta, path, value):
    if not path:
        return value
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return meta


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=4)
    | st.floats(allow_nan=True, allow_infinity=True),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3), max_leaves=6)


@given(st.data())
def test_property_any_type_anywhere_in_the_metadata_is_one_line(run, tmp_path_factory, data):
    arrays, meta = load_checkpoint(run / "run" / LAST)
    path = data.draw(st.sampled_from(paths(meta)[1:]), label="path")
    meta = replaced(meta, path, data.draw(json_values, label="value"))
    out = tmp_path_factory.mktemp("fuzz") / "run"
    out.mkdir()
    for name in ("config.json", "vocab.json", "metrics.jsonl"):
        (out / name).write_bytes((run / "run" / name).read_bytes())
    write_raw(out / LAST, arrays, meta)
    for argv in (["sample", out, "--max-len", "3"],
                 ["train", "--out", out, "--resume", "--steps", "5", "--plain"]):
        code = cli.main([str(a) for a in argv])
        assert code in (0, 2), (path, argv)


# ---- item 7: graph ----------------------------------------------------------------------------
def test_graph_of_a_thousand_terms_needs_no_recursion(capsys):
    expression = " + ".join(["x"] * 1000)
    assert cli.main(["graph", expression, "--input", "x=2", "--trace"]) == 0
    out = capsys.readouterr().out
    assert out.count("add") >= 999


def test_graph_expressions_too_deep_for_the_parser_are_one_line(capsys):
    expression = " + ".join(["x"] * 20_000)
    err = assert_one_line(capsys, ["graph", expression, "--input", "x=2"]).err
    assert "nested too deeply for Python's parser" in err


def test_graph_input_sizes_are_checked_before_allocation(capsys):
    argv = ["graph", "x @ w", "--input", "x=100000,100000", "--input", "w=2,2"]
    expected = "10,000,000,000 elements; the graph command takes at most 1,000,000 per input"
    started = time.monotonic()
    assert expected in assert_one_line(capsys, argv).err
    assert time.monotonic() - started < 30
