"""Checking and watching the engine: gradcheck, property-test strategies, anomaly detection and a
trace of backward.

    gradcheck.py   backward() against central differences on every element
    diagnose.py    what kind of wrong a gradient is: transposed, ×2, swapped, one time step, ...
    strategies.py  hypothesis strategies and assert_gradients_match, for your own ops
    anomaly.py     detect_anomaly(): name the first op that made NaN or Inf
    trace.py       trace(): print each node as backward visits it

    from tinygrad_rnn.testing import assert_gradients_match, tensors

The strategies need hypothesis (a test dependency), so they load when first asked for.
"""

from typing import Any

from tinygrad_rnn.testing.anomaly import AnomalyError, detect_anomaly
from tinygrad_rnn.testing.diagnose import KINDS, Diagnosis, broadcast_parts, diagnose
from tinygrad_rnn.testing.gradcheck import GradcheckError, gradcheck, numerical_grad

_STRATEGIES = ("DOMAINS", "shapes", "broadcastable_shapes", "arrays", "tensors",
               "assert_gradients_match")

__all__ = ["gradcheck", "numerical_grad", "GradcheckError", "detect_anomaly", "AnomalyError",
           "diagnose", "Diagnosis", "KINDS", "broadcast_parts",
           *_STRATEGIES]


def __getattr__(name: str) -> Any:
    if name in _STRATEGIES:
        from tinygrad_rnn.testing import strategies
        return getattr(strategies, name)
    raise AttributeError(f"module 'tinygrad_rnn.testing' has no attribute {name!r}")
