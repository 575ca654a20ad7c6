"""Property-based gradient testing for your own ops: hypothesis strategies and one assertion.

    from hypothesis import given
    from tinygrad_rnn.testing import assert_gradients_match, tensors

    @given(tensors(domain="positive"))
    def test_my_op(x):
        assert_gradients_match(lambda x: (x.exp() + 1.0).log(), x)

Every strategy states the domain of what it draws: elements are bounded (|x| ≤ 3), so a
gradient check never meets overflow, and the domains keep ops away from where they are not
differentiable (log and sqrt at 0, relu and abs at the kink).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as error:  # hypothesis is a test extra, not a runtime dependency
    raise ImportError("tinygrad_rnn.testing needs hypothesis: pip install hypothesis") from error

from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.testing.gradcheck import gradcheck

__all__ = ["DOMAINS", "shapes", "broadcastable_shapes", "arrays", "tensors",
           "assert_gradients_match"]

# domain name -> (low, high) bounds of the element magnitudes or values, see `arrays`
DOMAINS: dict[str, tuple[float, float]] = {
    "real": (-3.0, 3.0),            # any value in [-3, 3]
    "positive": (0.1, 3.0),         # in [0.1, 3]: log, sqrt, a divisor, a base of a real power
    "away_from_zero": (0.1, 3.0),   # 0.1 ≤ |x| ≤ 3, either sign: relu, abs, sign-like kinks at 0
    "unit": (0.05, 0.95),           # inside (0, 1): probabilities, log(1 - p)
}

Shape = tuple[int, ...]


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[Shape]:
    """Shapes of min_dims..max_dims dims, each of size min_side..max_side (() is a scalar)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


@st.composite
def broadcastable_shapes(draw: st.DrawFn, n: int = 2, min_dims: int = 0, max_dims: int = 3,
                         min_side: int = 1, max_side: int = 4) -> tuple[Shape, ...]:
    """A tuple of `n` shapes that broadcast together: each is a full shape (min_dims..max_dims
    dims) with some leading dims left out and some dims set to size 1. The full shape's sides
    are at least 2 (when max_side allows), so a size-1 dim is always really stretched."""
    full = draw(shapes(min_dims, max_dims, min(max(min_side, 2), max_side), max_side))
    result = []
    for _ in range(n):
        lead = draw(st.integers(0, len(full)))  # how many leading dims this shape leaves out
        ones = draw(st.lists(st.booleans(), min_size=len(full) - lead,
                             max_size=len(full) - lead))
        result.append(tuple(1 if one else side for one, side in zip(ones, full[lead:],
                                                                      strict=True)))
    return tuple(result)


@st.composite
def arrays(draw: st.DrawFn, shape: Shape | st.SearchStrategy[Shape],
           dtype: Any = np.float64, domain: str = "real", unique: bool = False) -> np.ndarray:
    """Float arrays of `shape` (a tuple or a strategy of shapes) whose elements lie in `domain`:
    "real" [-3, 3]; "positive" [0.1, 3]; "away_from_zero" 0.1 ≤ |x| ≤ 3; "unit" [0.05, 0.95].
    `unique=True` spreads the elements apart (no two closer than 1/(2·size) of the domain's
    width), for ops like max whose gradient is undefined at ties. Values are drawn in float64
    and then cast, so a float32 array keeps its domain up to float32 rounding."""
    if domain not in DOMAINS:
        raise ValueError(f"arrays: unknown domain {domain!r}; choose from {sorted(DOMAINS)}")
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    low, high = DOMAINS[domain]
    if unique:
        size = math.prod(shape)
        order = np.array(draw(st.permutations(range(size))), dtype=np.float64)
        jitter = draw(hnp.arrays(np.float64, size, elements=st.floats(0.0, 0.5)))
        values = low + (high - low) * (order + 0.25 + jitter) / max(size, 1)
        values = values.reshape(shape)
    else:
        values = draw(hnp.arrays(np.float64, shape, elements=st.floats(low, high)))
    if domain == "away_from_zero":
        values = np.where(draw(hnp.arrays(np.bool_, shape)), -values, values)
    return values.astype(dtype)


@st.composite
def tensors(draw: st.DrawFn, shape: Shape | st.SearchStrategy[Shape] | None = None,
            dtype: Any = np.float64, domain: str = "real", unique: bool = False,
            requires_grad: bool = True) -> Tensor:
    """Tensors whose data is drawn by `arrays(shape, dtype, domain, unique)`; any shape from
    `shapes()` (0 to 3 dims of size 1 to 4) when `shape` is None. Float64 and requiring grad
    by default, ready for `assert_gradients_match`."""
    data = draw(arrays(shapes() if shape is None else shape, dtype, domain, unique))
    return Tensor(data, requires_grad=requires_grad)


def assert_gradients_match(fn: Callable[..., Tensor], *tensors: Tensor, atol: float = 1e-5,
                           rtol: float = 1e-3) -> None:
    """Assert that backward() of `fn(*tensors)` matches central differences on every element
    (float64 inputs); the AssertionError names the input, index, analytic and numerical values."""
    __tracebackhide__ = True  # pytest: show the caller's line, not this one
    gradcheck(fn, tensors, atol=atol, rtol=rtol)
