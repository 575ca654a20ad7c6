"""split_train_val: the end of a stream, or a seeded share of the lines."""

import numpy as np
import pytest

from tinygrad_rnn.data import DataError, split_train_val

TEXT = "".join(chr(ord("a") + i % 26) for i in range(100))
LINES = [f"line{i}" for i in range(10)]


def test_stream_keeps_the_end_for_validation():
    train, val = split_train_val(TEXT, 0.1)
    assert (len(train), len(val)) == (90, 10)
    assert train == TEXT[:90] and val == TEXT[90:]


def test_stream_split_works_on_id_arrays():
    train, val = split_train_val(np.arange(10), 0.2)
    assert train.tolist() == list(range(8)) and val.tolist() == [8, 9]


def test_zero_val_frac_keeps_everything_for_training():
    assert split_train_val(TEXT, 0) == (TEXT, "")
    assert split_train_val(LINES, 0.0, 1) == (LINES, [])


def test_at_least_one_each_side():
    assert [len(part) for part in split_train_val("abc", 0.01)] == [2, 1]
    assert [len(part) for part in split_train_val("abc", 0.99)] == [1, 2]
    assert [len(part) for part in split_train_val(LINES, 0.01, 0)] == [9, 1]
    assert [len(part) for part in split_train_val(LINES, 0.99, 0)] == [1, 9]


def test_lines_are_a_seeded_shuffle_in_file_order():
    train, val = split_train_val(LINES, 0.3, 0)
    assert (len(train), len(val)) == (7, 3)
    assert sorted(train + val) == sorted(LINES)
    assert train == [line for line in LINES if line in train]          # file order kept
    assert val == [line for line in LINES if line in val]
    assert split_train_val(LINES, 0.3, 0) == (train, val)
    assert split_train_val(LINES, 0.3, np.random.default_rng(0)) == (train, val)
    others = {tuple(split_train_val(LINES, 0.3, seed)[1]) for seed in range(1, 6)}
    assert others != {tuple(val)}                                      # the seed matters


@pytest.mark.parametrize("val_frac", [1, 1.0, -0.1, 2, "0.1", True, None])
def test_val_frac_outside_the_range(val_frac):
    with pytest.raises(DataError, match=r"val_frac must be a number in \[0, 1\)"):
        split_train_val(TEXT, val_frac)


def test_too_little_data_to_split():
    with pytest.raises(DataError, match="1 lines"):
        split_train_val(["only"], 0.1, 0)
    with pytest.raises(DataError, match="1 tokens"):
        split_train_val("a", 0.5)
