"""tinygrad_rnn: a tiny reverse-mode autograd engine on numpy, and recurrent networks on it."""

from tinygrad_rnn import clip, nn, optim
from tinygrad_rnn.anomaly import AnomalyError, detect_anomaly
from tinygrad_rnn.creation import (
    arange,
    cat,
    eye,
    full,
    ones,
    ones_like,
    rand,
    randn,
    randn_like,
    stack,
    tensor,
    uniform,
    where,
    zeros,
    zeros_like,
)
from tinygrad_rnn.gradcheck import GradcheckError, gradcheck, numerical_grad
from tinygrad_rnn.random import manual_seed
from tinygrad_rnn.tensor import (
    Function,
    ShapeError,
    Tensor,
    enable_grad,
    is_grad_enabled,
    no_grad,
)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Function", "ShapeError", "no_grad", "enable_grad", "is_grad_enabled",
    "tensor", "zeros", "ones", "full", "randn", "rand", "uniform", "arange", "eye",
    "zeros_like", "ones_like", "randn_like", "cat", "stack", "where", "manual_seed",
    "gradcheck", "numerical_grad", "GradcheckError", "detect_anomaly", "AnomalyError",
    "optim", "clip", "nn",
]
