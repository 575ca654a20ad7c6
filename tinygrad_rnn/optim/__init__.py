"""Optimizers and learning-rate schedules with PyTorch's names, update rules and defaults."""

from tinygrad_rnn.optim import lr_scheduler
from tinygrad_rnn.optim.adagrad import Adagrad
from tinygrad_rnn.optim.adam import Adam, AdamW
from tinygrad_rnn.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearWarmup,
    LRScheduler,
    StepLR,
)
from tinygrad_rnn.optim.optimizer import Optimizer
from tinygrad_rnn.optim.rmsprop import RMSprop
from tinygrad_rnn.optim.sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler",
    "LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearWarmup",
]
