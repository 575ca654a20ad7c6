"""Fuzzing the data path a training run takes (file → text → vocabulary → split → batches →
validation batches): random bytes and random UTF-8 give usable batches or a DataError, nothing
else; and vocabulary files and batch states from anywhere load or raise DataError."""

import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn.data import (
    DataError,
    LineBatches,
    StreamBatches,
    line_eval_batches,
    stream_eval_batches,
    vocab_from_json,
)
from tinygrad_rnn.lm.train import TrainConfig, _load_data

# Characters that stress the decoder and the tokenizer: line ends, a BOM, NUL, tabs, accents,
# a character outside the BMP, combining marks and the tokens <unk>/<eos> themselves.
TRICKY = st.sampled_from(list("ab c.\n\r\t\ufeffé€😀\u0301,") + ["\x00", "<unk>", "<eos>"])


def tricky(max_size: int) -> st.SearchStrategy[str]:
    """Strings made of TRICKY pieces."""
    return st.lists(TRICKY, max_size=max_size).map("".join)

SETTINGS = st.fixed_dictionaries({
    "lines": st.booleans(), "level": st.sampled_from(["char", "word"]),
    "batch_size": st.integers(1, 6), "seq_len": st.integers(1, 12),
    "val_frac": st.sampled_from([0.0, 0.001, 0.1, 0.5, 0.9]), "seed": st.integers(0, 3)})


def load_or_data_error(tmp_path_factory, raw: bytes, settings: dict) -> None:
    """Load `raw` as a training run would; check every batch it gives, or that it refused."""
    path = tmp_path_factory.mktemp("fuzz") / "data.txt"
    path.write_bytes(raw)
    config = TrainConfig(data=str(path), **settings)
    try:
        data = _load_data(config)
    except DataError as error:
        assert str(error) and "\n" not in str(error)
        return
    size = len(data.vocab)
    for _ in range(3):
        x, y = data.batches.next()                                   # (T, B) each
        assert x.shape == y.shape and x.ndim == 2 and x.shape[1] <= config.batch_size
        assert x.dtype == np.int64 and ((x >= 0) & (x < size)).all()
        assert (((y >= 0) & (y < size)) | (y == -100)).all()
    if not data.val:
        return
    if config.lines:
        batches = line_eval_batches(data.val, config.batch_size, data.batches.boundary_id)
    else:
        batch = max(1, min(config.batch_size, len(data.val) // 2))
        batches = stream_eval_batches(np.array(data.val), batch, config.seq_len)
    assert sum(int((y != -100).sum()) for _, y in batches) > 0


@given(raw=st.binary(max_size=400), settings=SETTINGS)
def test_random_bytes_load_or_raise_a_data_error(tmp_path_factory, raw, settings):
    load_or_data_error(tmp_path_factory, raw, settings)


@given(text=tricky(300) | st.text(max_size=200), settings=SETTINGS)
def test_random_utf8_loads_or_raises_a_data_error(tmp_path_factory, text, settings):
    load_or_data_error(tmp_path_factory, text.encode("utf-8"), settings)


def test_the_fuzzed_checker_accepts_good_text_and_reports_a_short_validation_early(
        tmp_path_factory):
    """Good text loads; one held-out token (which used to fail only at the first evaluation,
    after training) is found up front: the run trains without validation and says so."""
    settings = dict(lines=False, level="char", batch_size=2, seq_len=4, val_frac=0.1, seed=0)
    load_or_data_error(tmp_path_factory, b"abcdefghij" * 20, settings)
    path = tmp_path_factory.mktemp("short") / "data.txt"
    path.write_bytes(b"abcdefghij" * 20)
    data = _load_data(TrainConfig(data=str(path), **{**settings, "val_frac": 0.001}))
    assert data.val == [] and data.config.val_frac == 0
    assert data.notes == ("no validation: --val-frac 0.001 would hold out 1 of 200 tokens, "
                          "too few to measure",)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | tricky(6),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["kind", "tokens", "lower", "x"]), inner,
                                      max_size=4), max_leaves=12)


@given(doc=JSON | st.fixed_dictionaries({"kind": st.sampled_from(["char", "word"]),
                                         "tokens": st.lists(tricky(2)),
                                         "lower": JSON}))
def test_any_json_is_a_vocabulary_or_a_data_error(doc):
    try:
        vocab = vocab_from_json(json.dumps(doc), "fuzz.json")
    except DataError as error:
        assert str(error).startswith("fuzz.json ")
        return
    assert vocab_from_json(vocab.to_json()) == vocab                   # a real one round-trips


PLAUSIBLE = st.integers(-1, 4) | st.lists(st.integers(-1, 3) | st.text(max_size=1), max_size=4)
STATE = st.dictionaries(st.sampled_from(["position", "epoch", "order", "rng"]),
                        PLAUSIBLE | JSON, max_size=4)


@given(state=JSON | STATE)
def test_any_batch_state_loads_or_raises_a_data_error(state):
    """What a resume feeds the batchers from a (possibly hand-edited) checkpoint."""
    for batches in (StreamBatches(np.arange(40) % 5, 2, 3),
                    LineBatches([[1, 2], [3], [4, 4, 4]], 2, 0, np.random.default_rng(0))):
        try:
            batches.load_state_dict(state)
        except DataError:
            continue
        x, _ = batches.next()
        assert x.ndim == 2
