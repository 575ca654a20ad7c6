"""Neural-network building blocks: Module, Sequential, layers and activations, recurrent cells and
layers, losses (functions and modules), init, and gradient clipping in `nn.utils` (as
torch.nn.utils)."""

from tinygrad_rnn.nn import functional, init, utils
from tinygrad_rnn.nn.adaptive import AdaptiveLogSoftmaxWithLoss, ASMOutput
from tinygrad_rnn.nn.cells import GRUCell, LSTMCell, RNNCell
from tinygrad_rnn.nn.layers import Dropout, Embedding, Linear, ReLU, Sigmoid, Tanh
from tinygrad_rnn.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from tinygrad_rnn.nn.module import (
    IncompatibleKeys,
    Module,
    ModuleList,
    Parameter,
    Sequential,
    StateDictError,
)
from tinygrad_rnn.nn.recurrent import GRU, LSTM, RNN

__all__ = [
    "Module", "ModuleList", "Sequential", "Parameter", "IncompatibleKeys", "StateDictError",
    "Linear", "Embedding", "Dropout", "Tanh", "ReLU", "Sigmoid",
    "RNNCell", "GRUCell", "LSTMCell", "RNN", "GRU", "LSTM",
    "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss",
    "AdaptiveLogSoftmaxWithLoss", "ASMOutput",
    "functional", "init", "utils",
]
