"""Hostile or mismatched files: never unpickled, verified before use, and a checkpoint for another
architecture or vocabulary is one line naming the mismatch (sample, score, eval and --resume)."""

import ast
import io
import json
import pathlib
import re
import zipfile

import numpy as np
import pytest

from tinygrad_rnn import cli
from tinygrad_rnn.lm.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tinygrad_rnn.lm.train import LAST, TrainConfig, TrainError, load_model, train

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tinygrad_rnn"


def unsafe_np_loads(source: str) -> list[int]:
    """Lines of `source` that call np.load/numpy.load without a literal allow_pickle=False."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "load" and isinstance(node.func.value, ast.Name) \
                and node.func.value.id in ("np", "numpy"):
            safe = any(k.arg == "allow_pickle" and isinstance(k.value, ast.Constant)
                       and k.value.value is False for k in node.keywords)
            if not safe:
                bad.append(node.lineno)
    return bad


def test_every_np_load_in_the_package_refuses_pickles():
    calls = 0
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert unsafe_np_loads(source) == [], path
        calls += source.count("np.load(") + source.count("read_array_header_")
    assert calls >= 1                           # the checker saw the real reader (.npy headers)


def test_the_np_load_checker_flags_unsafe_calls():
    assert unsafe_np_loads("import numpy as np\nnp.load(p)\nnp.load(p, allow_pickle=True)\n"
                           "np.load(p, allow_pickle=False)\n") == [2, 3]


# ---- two small runs that differ in cell and vocabulary --------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    for name, cell, text in (("gru", "gru", "abcabd abcabd " * 40),
                             ("lstm", "lstm", "xyz xzy zyx " * 40)):
        (root / f"{name}.txt").write_text(text, encoding="utf-8")
        train(TrainConfig(data=str(root / f"{name}.txt"), cell=cell, hidden=10, embed=4,
                          seq_len=6, batch_size=3, steps=4, eval_every=4), str(root / name))
    return root


def forge(runs, name, arrays_from, meta_from, change=None):
    """A run dir `name` whose last.ckpt mixes one run's arrays with another's meta, under a
    valid checksum: what a copied or hand-edited file looks like once it passes the checksum."""
    arrays, _ = load_checkpoint(runs / arrays_from / LAST)
    _, meta = load_checkpoint(runs / meta_from / LAST)
    if change:
        change(meta)
    (runs / name).mkdir(exist_ok=True)
    save_checkpoint(runs / name / LAST, arrays, meta)
    return runs / name


def zip_edit(source, target, edit):
    """Copy the .npz `source` to `target`, passing each (member name, bytes) through `edit`."""
    target.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            new.writestr(name, edit(name, old.read(name)))
    return target.parent


def header(edit):
    """An `edit` for zip_edit that rewrites the JSON header in __meta__."""
    def apply(name, data):
        if name != "__meta__.npy":
            return data
        doc = edit(json.loads(np.load(io.BytesIO(data), allow_pickle=False).tobytes()))
        out = io.BytesIO()
        np.lib.format.write_array(out, np.frombuffer(json.dumps(doc).encode(), np.uint8))
        return out.getvalue()
    return apply


def with_pickle(name, data):
    """An `edit` that swaps the first weight for a pickled object array of the same name."""
    if name != "model/embedding.weight.npy":
        return data
    out = io.BytesIO()
    np.lib.format.write_array(out, np.array([{"payload": "code"}], dtype=object),
                              allow_pickle=True)
    return out.getvalue()


def cases(runs):
    """(name, run dir, what the one-line error must say)."""
    return [
        ("arch", forge(runs, "arch", "gru", "lstm", lambda m: (
            m.update(vocab=json.dumps({"kind": "char", "tokens": list(" abcd")})),
            m["model"].update(vocab_size=5))),                # only the cell differs
         r"weight_ih_l0' has shape \(30, 4\), the parameter has shape \(40, 4\)"),
        ("vocab", forge(runs, "vocab", "gru", "gru",
                        lambda m: m.update(vocab=json.dumps({"kind": "char",
                                                             "tokens": list(" abcdef")}))),
         "its vocabulary has 7 tokens but its model was built for 5"),
        ("kind", forge(runs, "kind", "gru", "gru", lambda m: m.update(kind="optimizer")),
         "is not a language-model checkpoint"),
        ("config", forge(runs, "config", "gru", "gru", lambda m: m["model"].pop("vocab_size")),
         "does not hold a consistent model"),
        ("version", zip_edit(runs / "gru" / LAST, runs / "version" / LAST,
                             header(lambda d: {**d, "version": 99})),
         "format version 99, this tinygrad_rnn reads versions 1, 2"),
        ("checksum", zip_edit(runs / "gru" / LAST, runs / "checksum" / LAST,
                              header(lambda d: {**d, "sha256": "0" * 64})),
         "checksum mismatch"),
        ("pickle", zip_edit(runs / "gru" / LAST, runs / "pickle" / LAST, with_pickle),
         r"pickled object array; refusing to load it \(allow_pickle=False\)"),
    ]


def test_hostile_or_mismatched_checkpoints_are_one_line_for_every_command(runs, capsys):
    (runs / "held.txt").write_text("abcabd\n", encoding="utf-8")
    for name, run, expected in cases(runs):
        before = (run / LAST).read_bytes()
        for argv in (["sample", run, "--max-len", "5"], ["score", run, "abc"],
                     ["eval", run, "--data", runs / "held.txt"],
                     ["train", "--out", run, "--resume", "--steps", "8", "--plain"]):
            assert cli.main([str(a) for a in argv]) == 2, (name, argv)
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "Traceback" not in err, (name, argv, err)
            assert re.search(expected, err), (name, argv, err)
        assert (run / LAST).read_bytes() == before, name


def test_the_untouched_runs_load_and_sample(runs):
    """Positive control for the cases above: the untouched runs load and sample fine."""
    for name in ("gru", "lstm"):
        model, vocab, config, _ = load_model(str(runs / name / LAST))
        assert config.cell == name and model.config.vocab_size == len(vocab)
        assert cli.main(["sample", str(runs / name), "--max-len", "5"]) == 0


def test_resuming_a_gru_run_as_an_lstm_names_the_cell(runs):
    config = TrainConfig(data=str(runs / "gru.txt"), cell="lstm", hidden=10, embed=4,
                         seq_len=6, batch_size=3, steps=8, eval_every=4)
    with pytest.raises(TrainError, match="^--cell lstm differs from the run's gru: only steps "
                                         "and minutes may change on --resume$"):
        train(config, str(runs / "gru"), resume=True)


def test_vocab_json_is_for_people_the_checkpoint_carries_its_own(runs, capsys):
    """A run dir whose vocab.json was replaced by another run's (or by junk) samples and scores
    exactly as before: the checkpoint holds the vocabulary it was trained with."""
    argv = [["sample", runs / "gru", "--max-len", "30", "--seed", "3"],
            ["score", runs / "gru", "abcab", "--json"]]
    before = [(cli.main([str(a) for a in a_]), capsys.readouterr().out) for a_ in argv]
    original = (runs / "gru" / "vocab.json").read_bytes()
    try:
        for replacement in ((runs / "lstm" / "vocab.json").read_bytes(), b"\x00junk"):
            (runs / "gru" / "vocab.json").write_bytes(replacement)
            after = [(cli.main([str(a) for a in a_]), capsys.readouterr().out) for a_ in argv]
            assert after == before and before[0][0] == 0 and before[1][0] == 0
    finally:
        (runs / "gru" / "vocab.json").write_bytes(original)


def test_a_checkpoint_is_refused_before_its_arrays_are_used(runs):
    """The checksum is checked on load: a weight changed behind a valid zip fails loudly."""
    def nudge(name, data):
        if name != "model/head.bias.npy":
            return data
        array = np.load(io.BytesIO(data), allow_pickle=False) + 1
        out = io.BytesIO()
        np.lib.format.write_array(out, array)
        return out.getvalue()

    run = zip_edit(runs / "gru" / LAST, runs / "nudged" / LAST, nudge)
    with pytest.raises(CheckpointError, match="checksum mismatch; the arrays are corrupt"):
        load_model(str(run / LAST))
