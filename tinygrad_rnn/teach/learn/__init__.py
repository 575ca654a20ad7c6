"""`tinygrad-rnn learn`: the exercise path, in course order.

    tinygrad-rnn learn list          the exercises and your progress
    tinygrad-rnn learn start 1       write learn/01_unary_backward.py, a stub to fill in
    tinygrad-rnn learn check 1       grade it: fixed cases, then hypothesis-drawn ones
    tinygrad-rnn learn hint 1        one more hint

    exercise.py   what an exercise is; grading: fixed cases, then hypothesis
    ops.py        1-4: tanh/sigmoid/exp/log, matmul, unbroadcast, softmax + cross-entropy
    sequence.py   5-7, 10: the course's RNN cell forward and backward, BPTT, LSTM backward
    training.py   8, 9, 11, 12: clipping, sampling, a GRU cell from Tensor ops, Adam
    workspace.py  the work folder: stubs, progress.json, hints
    child.py      runs one check in a separate process (the learner's code cannot hurt it)
    command.py    the subcommand's parser and output
"""

from tinygrad_rnn.teach.learn.exercise import Exercise
from tinygrad_rnn.teach.learn.ops import MATMUL, SOFTMAX_CE, UNARY, UNBROADCAST
from tinygrad_rnn.teach.learn.sequence import (
    LSTM_CELL_BACKWARD,
    RNN_BACKWARD,
    RNN_CELL_BACKWARD,
    RNN_CELL_FORWARD,
)
from tinygrad_rnn.teach.learn.training import ADAM, CLIP, GRU_CELL, SAMPLING

__all__ = ["EXERCISES", "Exercise"]

# the path, in course order; an exercise's number is its place here, from 1
EXERCISES: tuple[Exercise, ...] = (
    UNARY, MATMUL, UNBROADCAST, SOFTMAX_CE, RNN_CELL_FORWARD, RNN_CELL_BACKWARD, RNN_BACKWARD,
    CLIP, SAMPLING, LSTM_CELL_BACKWARD, GRU_CELL, ADAM)
