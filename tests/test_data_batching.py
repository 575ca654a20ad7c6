"""Stream batches (truncated BPTT) and line batches (padded, shuffled), including exact resume."""

import json

import numpy as np
import pytest

from tinygrad_rnn.data import (
    IGNORE_INDEX,
    DataError,
    LineBatches,
    StreamBatches,
    line_eval_batches,
    stream_eval_batches,
)

# ---------------------------------------------------------------- streams


def test_stream_windows_by_hand():
    # 20 ids, 2 streams of 10: column 0 is 0..9, column 1 is 10..19; windows of 3 -> (10-1)//3 = 3
    batches = StreamBatches(np.arange(20), batch_size=2, seq_len=3)
    assert len(batches) == 3
    x, y = batches.next()
    assert x.dtype == np.int64 and y.dtype == np.int64
    assert x.tolist() == [[0, 10], [1, 11], [2, 12]]
    assert y.tolist() == [[1, 11], [2, 12], [3, 13]]
    assert batches.new_epoch
    x, y = batches.next()
    assert x.tolist() == [[3, 13], [4, 14], [5, 15]]
    assert y.tolist() == [[4, 14], [5, 15], [6, 16]]
    assert not batches.new_epoch
    x, y = batches.next()
    assert x.tolist() == [[6, 16], [7, 17], [8, 18]]
    assert y.tolist() == [[7, 17], [8, 18], [9, 19]]
    assert batches.epoch == 1                      # the pass is complete
    x, _ = batches.next()                          # wraps to the start
    assert x.tolist() == [[0, 10], [1, 11], [2, 12]]
    assert batches.new_epoch and batches.epoch == 1


def test_streams_continue_from_window_to_window():
    ids = np.random.default_rng(0).integers(0, 50, size=1000)
    batches = StreamBatches(ids, batch_size=4, seq_len=7)
    previous_y = None
    for _ in range(len(batches)):
        x, y = batches.next()
        assert x.shape == y.shape == (7, 4)
        np.testing.assert_array_equal(x[1:], y[:-1])              # y is x shifted by one
        if previous_y is not None:
            np.testing.assert_array_equal(x[0], previous_y[-1])   # window k+1 continues window k
        previous_y = y
    # 1000 // 4 = 250 per stream; stream b starts at 250 * b
    np.testing.assert_array_equal(StreamBatches(ids, 4, 7).next()[0][0], ids[[0, 250, 500, 750]])


def test_stream_state_round_trip_reproduces_the_batches():
    ids = np.arange(100)
    batches = StreamBatches(ids, batch_size=3, seq_len=4)      # 33 per stream, 8 windows
    for _ in range(6):
        batches.next()
    state = json.loads(json.dumps(batches.state_dict()))
    expected = [batches.next() for _ in range(5)]              # crosses the end of the epoch
    resumed = StreamBatches(ids, batch_size=3, seq_len=4)
    resumed.load_state_dict(state)
    for (x, y), (x2, y2) in zip(expected, [resumed.next() for _ in range(5)], strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    assert resumed.state_dict() == batches.state_dict() == {"position": 3, "epoch": 1}


def test_stream_state_that_does_not_fit_is_an_error():
    batches = StreamBatches(np.arange(100), batch_size=3, seq_len=4)
    for bad in [{"position": 8, "epoch": 0}, {"position": -1, "epoch": 0},
                {"position": 0, "epoch": -1}, {"position": 0}, None]:
        with pytest.raises(DataError):
            batches.load_state_dict(bad)


def test_text_too_short_for_one_window():
    StreamBatches(np.arange(8), batch_size=2, seq_len=3)       # 2 x (3 + 1) = 8 is just enough
    with pytest.raises(DataError, match="7 tokens.*at least 8"):
        StreamBatches(np.arange(7), batch_size=2, seq_len=3)


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "4"])
def test_sizes_must_be_positive_whole_numbers(size):
    with pytest.raises(DataError, match="batch_size"):
        StreamBatches(np.arange(100), batch_size=size, seq_len=3)
    with pytest.raises(DataError, match="seq_len"):
        StreamBatches(np.arange(100), batch_size=2, seq_len=size)


def test_stream_ids_must_be_integers():
    with pytest.raises(DataError, match="integer"):
        StreamBatches(np.linspace(0, 1, 100), batch_size=2, seq_len=3)


def test_stream_eval_covers_every_target_once_in_order():
    # 2 streams of 10 (ids 0..19, the 21st id is dropped); 9 targets per stream in windows 4, 4, 1
    windows = list(stream_eval_batches(np.arange(21), batch_size=2, seq_len=4))
    assert [x.shape for x, _ in windows] == [(4, 2), (4, 2), (1, 2)]
    ys = np.concatenate([y for _, y in windows])
    assert ys[:, 0].tolist() == list(range(1, 10))
    assert ys[:, 1].tolist() == list(range(11, 20))
    assert [x.tolist() for x, _ in windows] == [
        x.tolist() for x, _ in stream_eval_batches(np.arange(21), 2, 4)]
    with pytest.raises(DataError, match="too short"):
        list(stream_eval_batches(np.arange(3), batch_size=2, seq_len=4))


# ---------------------------------------------------------------- lines

BOUNDARY = 0


def test_line_padding_by_hand():
    (x, y), = line_eval_batches([[5], [6, 7]], batch_size=2, boundary_id=BOUNDARY)
    # column 0: "<b> 5 <b>"    column 1: "<b> 6 7 <b>"
    assert x.tolist() == [[0, 0], [5, 6], [0, 7]]
    assert y.tolist() == [[5, 6], [0, 7], [IGNORE_INDEX, 0]]


def _line_of(y_column: np.ndarray) -> tuple[int, ...]:
    """The line a target column spells: every target before the first boundary."""
    targets = y_column.tolist()
    return tuple(targets[:targets.index(BOUNDARY)])


LINES = [[i + 1] * (1 + i % 4) for i in range(10)]             # distinct lines of lengths 1..4


def test_every_line_once_per_epoch():
    batches = LineBatches(LINES, batch_size=3, boundary_id=BOUNDARY,
                          rng=np.random.default_rng(0))
    assert len(batches) == 4                                   # 3 + 3 + 3 + 1
    orders = []
    for epoch in range(2):
        seen = []
        for _ in range(4):
            assert batches.epoch == epoch
            x, y = batches.next()
            assert x.shape == y.shape and x.shape[1] in (3, 1)
            assert (x[0] == BOUNDARY).all()                    # every line starts at the boundary
            seen += [_line_of(y[:, b]) for b in range(y.shape[1])]
        assert sorted(seen) == sorted(tuple(line) for line in LINES)
        orders.append(seen)
    assert batches.epoch == 2
    assert orders[0] != orders[1]                              # each epoch has its own shuffle


def test_targets_end_with_the_boundary_then_padding():
    batches = LineBatches(LINES, batch_size=10, boundary_id=BOUNDARY,
                          rng=np.random.default_rng(1))
    x, y = batches.next()
    assert x.shape == (5, 10)                                  # longest line 4, plus the start
    for b in range(10):
        line = _line_of(y[:, b])
        n = len(line)
        assert x[1:n + 1, b].tolist() == list(line)            # x is y shifted right
        assert (y[n + 1:, b] == IGNORE_INDEX).all()
        assert (x[n + 1:, b] == BOUNDARY).all()


def test_line_batches_are_seeded():
    def run(seed):
        batches = LineBatches(LINES, 4, BOUNDARY, np.random.default_rng(seed))
        return [batches.next()[1].tolist() for _ in range(6)]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_line_state_round_trip_is_identical():
    batches = LineBatches(LINES, 4, BOUNDARY, np.random.default_rng(5))
    batches.next()
    state = json.loads(json.dumps(batches.state_dict()))
    expected = [batches.next() for _ in range(7)]              # crosses two epoch ends
    resumed = LineBatches(LINES, 4, BOUNDARY, np.random.default_rng(99))
    resumed.load_state_dict(state)
    for (x, y), (x2, y2) in zip(expected, [resumed.next() for _ in range(7)], strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    assert resumed.epoch == batches.epoch == 2


def test_line_state_that_does_not_fit_is_an_error():
    batches = LineBatches(LINES, 4, BOUNDARY, np.random.default_rng(5))
    good = batches.state_dict()
    for bad in [{**good, "order": list(range(9))}, {**good, "position": 10},
                {**good, "epoch": -1}, {**good, "rng": {"bit_generator": "nope"}},
                {"order": good["order"]}]:
        with pytest.raises(DataError):
            batches.load_state_dict(bad)


def test_no_lines_is_an_error():
    with pytest.raises(DataError, match="no lines"):
        LineBatches([], 4, BOUNDARY, np.random.default_rng(0))
    with pytest.raises(DataError, match="no lines"):
        list(line_eval_batches([], 4, BOUNDARY))


def test_line_eval_keeps_the_file_order():
    batches = list(line_eval_batches(LINES, batch_size=4, boundary_id=BOUNDARY))
    assert [y.shape[1] for _, y in batches] == [4, 4, 2]
    seen = [_line_of(y[:, b]) for _, y in batches for b in range(y.shape[1])]
    assert seen == [tuple(line) for line in LINES]
