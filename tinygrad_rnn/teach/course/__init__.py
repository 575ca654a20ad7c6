"""The course bridge: the sequence-models course's week-1 functions in its own layout and names
(column vectors (n, m), parameter dicts), on the engine; converters to and from nn cells; and
check_backward, which grades a hand-written backward against autograd and names the bug.

    from tinygrad_rnn import course
    a_next, yt_pred, cache = course.rnn_cell_forward(xt, a_prev, parameters)
    print(course.check_backward(my_rnn_cell_backward, "rnn_cell"))

    functions.py  rnn/lstm cell and sequence forward, their backward by autograd, clip
    convert.py    course dict <-> nn.RNNCell / nn.LSTMCell (and why there is no GRU one)
    check.py      check_backward
"""

from tinygrad_rnn.teach.course.check import BACKWARDS, Report, check_backward
from tinygrad_rnn.teach.course.convert import (
    from_lstm_cell,
    from_rnn_cell,
    to_lstm_cell,
    to_rnn_cell,
)
from tinygrad_rnn.teach.course.functions import (
    LSTM_KEYS,
    RNN_KEYS,
    clip,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_forward,
    rnn_backward,
    rnn_cell_backward,
    rnn_cell_forward,
    rnn_forward,
)

__all__ = ["rnn_cell_forward", "rnn_forward", "rnn_cell_backward", "rnn_backward",
           "lstm_cell_forward", "lstm_forward", "lstm_cell_backward", "clip", "RNN_KEYS",
           "LSTM_KEYS", "to_rnn_cell", "from_rnn_cell", "to_lstm_cell", "from_lstm_cell",
           "check_backward", "Report", "BACKWARDS"]
