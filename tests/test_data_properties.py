"""Property tests: vocabulary round trips, read_text on arbitrary bytes, stream coverage."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn.data import CharVocab, DataError, StreamBatches, WordVocab, read_text


@given(st.text(min_size=1))
def test_char_vocab_round_trips_any_text(text):
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    assert vocab.decode(ids) == text
    assert len(ids) == len(text) and ids.min() >= 0 and ids.max() < len(vocab)


@given(st.text(alphabet="ab cd.\n,Éé'ts()[]!?%;:", min_size=1), st.lists(st.integers(0, 20)))
def test_word_vocab_round_trips_ids(text, picks):
    try:
        vocab = WordVocab.from_text(text)
    except DataError:
        assert not text.split()                                # refused only without words
        return
    ids = [p % len(vocab) for p in picks]
    assert vocab.encode(vocab.decode(ids)).tolist() == ids


@given(raw=st.binary(max_size=64))
def test_read_text_gives_text_or_a_data_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("bytes") / "f.txt"
    path.write_bytes(raw)
    try:
        text = read_text(path)
    except DataError as e:
        assert "\n" not in str(e)
        assert b"\0" in raw or not utf8(raw) or raw in (b"", "\ufeff".encode()), raw  # a reason
        return
    assert text == raw.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")


def utf8(raw: bytes) -> bool:
    """Whether `raw` decodes as UTF-8."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(st.integers(1, 5), st.integers(1, 6), st.integers(0, 40))
def test_one_stream_epoch_reads_each_stream_in_order(batch_size, seq_len, extra):
    n = batch_size * (seq_len + 1) + extra
    ids = np.arange(n)
    batches = StreamBatches(ids, batch_size, seq_len)
    xs = np.concatenate([batches.next()[0] for _ in range(len(batches))])   # (windows*T, B)
    length = n // batch_size
    for b in range(batch_size):
        assert xs[:, b].tolist() == list(range(b * length, b * length + len(xs)))
    assert len(xs) == (length - 1) // seq_len * seq_len
    assert batches.epoch == 1
