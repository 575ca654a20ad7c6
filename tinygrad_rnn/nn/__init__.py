"""Neural-network building blocks: Module, layers, recurrent cells and layers, losses, init, and
gradient clipping in `nn.utils` (as torch.nn.utils)."""

from tinygrad_rnn.nn import functional, init, utils
from tinygrad_rnn.nn.cells import GRUCell, LSTMCell, RNNCell
from tinygrad_rnn.nn.layers import Dropout, Embedding, Linear
from tinygrad_rnn.nn.module import (
    IncompatibleKeys,
    Module,
    ModuleList,
    Parameter,
    StateDictError,
)
from tinygrad_rnn.nn.recurrent import GRU, LSTM, RNN

__all__ = [
    "Module", "ModuleList", "Parameter", "IncompatibleKeys", "StateDictError",
    "Linear", "Embedding", "Dropout", "RNNCell", "GRUCell", "LSTMCell", "RNN", "GRU", "LSTM",
    "functional", "init", "utils",
]
