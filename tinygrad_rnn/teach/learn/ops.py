"""Exercises 1-4: the backward passes of the engine's own ops, in numpy.

The truth is the engine: each case runs the op forward on Tensors and calls backward() with the
case's upstream gradient, so the learner's formula is held to the autograd they are rebuilding.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.nn.functional import cross_entropy
from tinygrad_rnn.teach.grading import Wrong, compare, copied
from tinygrad_rnn.teach.learn.exercise import Case, Exercise, function
from tinygrad_rnn.testing.diagnose import broadcast_parts

__all__ = ["UNARY", "MATMUL", "UNBROADCAST", "SOFTMAX_CE"]

RNG_SEED = 16


# ---- 1. tanh, sigmoid, exp, log ---------------------------------------------------------------
UNARY_STUB = '''"""Exercise 1: the backward of tanh, sigmoid, exp and log.

Each function gets the input x, the forward's output y = f(x) and the upstream gradient
grad = dL/dy (all the same shape), and returns dL/dx = grad * f'(x) (the chain rule).
    tanh:     y = tanh(x)          dy/dx = 1 - y²
    sigmoid:  y = 1 / (1 + e^-x)   dy/dx = y (1 - y)
    exp:      y = e^x              dy/dx = e^x = y
    log:      y = log(x)           dy/dx = 1 / x           (x > 0)
Check: tinygrad-rnn learn check 1
"""

import numpy as np


def tanh_backward(x: np.ndarray, y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """dL/dx for y = tanh(x)."""
    raise NotImplementedError


def sigmoid_backward(x: np.ndarray, y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """dL/dx for y = sigmoid(x)."""
    raise NotImplementedError


def exp_backward(x: np.ndarray, y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """dL/dx for y = exp(x)."""
    raise NotImplementedError


def log_backward(x: np.ndarray, y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """dL/dx for y = log(x), x > 0."""
    raise NotImplementedError
'''

UNARY_OPS = {"tanh": Tensor.tanh, "sigmoid": Tensor.sigmoid, "exp": Tensor.exp,
             "log": Tensor.log}


def _unary_fixed() -> list[Case]:
    rng = np.random.default_rng(RNG_SEED)
    x = np.array([[0.5, -1.0, 2.0], [0.1, 1.5, -0.3]])
    return [{"x": x, "grad": rng.standard_normal((2, 3))},
            {"x": rng.uniform(-2, 2, (4,)), "grad": rng.standard_normal(4)}]


def _unary_cases() -> Any:
    from hypothesis import strategies as st

    from tinygrad_rnn.testing.strategies import arrays, shapes
    return shapes().flatmap(lambda s: st.fixed_dictionaries(
        {"x": arrays(s, domain="real"), "grad": arrays(s, domain="real")}))


def _backward(op: Any, x: np.ndarray, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = Tensor(x.copy(), requires_grad=True)
    y = op(t)
    y.backward(grad)
    return y.numpy(), t.grad


def _unary_check(module: ModuleType, case: Case) -> None:
    for name, op in UNARY_OPS.items():
        x = np.abs(case["x"]) + 0.1 if name == "log" else case["x"]     # log needs x > 0
        y, truth = _backward(op, x, case["grad"])
        _, local = _backward(op, x, np.ones_like(x))
        got = function(module, f"{name}_backward")(*copied((x, y, case["grad"])))
        compare(f"{name}_backward", got, truth, mistakes={
            "upstream": (local, "it ignores the upstream gradient: multiply the local "
                                "derivative by grad (the chain rule)")})


UNARY = Exercise(
    "unary_backward", "backward of tanh, sigmoid, exp, log",
    ("tanh_backward", "sigmoid_backward", "exp_backward", "log_backward"), UNARY_STUB,
    ("Each answer is grad times the derivative from the docstring; one line each.",
     "Use y where you can: tanh's derivative is 1 - y * y, exp's is y itself.",
     "log_backward is grad / x. Multiply elementwise (*), never with @."),
    _unary_fixed, _unary_cases, _unary_check)


# ---- 2. matmul --------------------------------------------------------------------------------
MATMUL_STUB = '''"""Exercise 2: the backward of a matrix product, batched too.

    z = a @ b     a (..., n, k), b (k, m) or (..., k, m), grad = dL/dz (..., n, m)
    dL/da = grad @ bᵀ                (..., n, k)
    dL/db = aᵀ @ grad                (..., k, m), then summed over the batch dims when b had none
ᵀ swaps the last two axes: np.swapaxes(b, -1, -2) (b.T is only right for 2-D arrays).
Check: tinygrad-rnn learn check 2
"""

import numpy as np


def matmul_backward(a: np.ndarray, b: np.ndarray, grad: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(dL/da, dL/db) for z = a @ b, each of its input's shape."""
    raise NotImplementedError
'''


def _matmul_fixed() -> list[Case]:
    rng = np.random.default_rng(RNG_SEED + 2)
    shapes = [((3, 3), (3, 3)), ((2, 3), (3, 4)), ((2, 3, 3), (3, 3)), ((2, 2, 3), (2, 3, 4))]
    cases = []
    for sa, sb in shapes:
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        cases.append({"a": a, "b": b, "grad": rng.standard_normal((a @ b).shape)})
    return cases


def _matmul_cases() -> Any:
    from hypothesis import strategies as st

    from tinygrad_rnn.testing.strategies import arrays

    def build(sizes: tuple[int, int, int, tuple[int, ...], bool]) -> Any:
        n, k, m, batch, shared = sizes
        b_shape = (k, m) if shared else (*batch, k, m)
        return st.fixed_dictionaries({"a": arrays((*batch, n, k)), "b": arrays(b_shape),
                                      "grad": arrays((*batch, n, m))})
    side = st.integers(1, 4)
    return st.tuples(side, side, side, st.lists(st.integers(1, 3), max_size=2).map(tuple),
                     st.booleans()).flatmap(build)


def _matmul_check(module: ModuleType, case: Case) -> None:
    a, b, grad = case["a"], case["b"], case["grad"]
    ta, tb = Tensor(a.copy(), requires_grad=True), Tensor(b.copy(), requires_grad=True)
    (ta @ tb).backward(grad)
    hints: dict[str, Any] = {}
    batch = a.shape[:-2]
    if b.ndim == 2 and batch:               # b is shared by the batch: db sums over it
        spread = Tensor(np.broadcast_to(b, (*batch, *b.shape)).copy(), requires_grad=True)
        (Tensor(a) @ spread).backward(grad)
        hints = {"parts": broadcast_parts(spread.grad, b.shape)}
    got = function(module, "matmul_backward")(*copied((a, b, grad)))
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Wrong(f"matmul_backward returned {type(got).__name__}; return a pair (da, db)")
    compare("da", got[0], ta.grad, others={"db": tb.grad})
    compare("db", got[1], tb.grad, others={"da": ta.grad}, **hints)


MATMUL = Exercise(
    "matmul_backward", "matmul backward, batched too", ("matmul_backward",), MATMUL_STUB,
    ("Check the shapes first: da must be a's shape, so grad (n, m) meets bᵀ (m, k).",
     "Use np.swapaxes(x, -1, -2) for ᵀ, so the batched case works too.",
     "When b is 2-D and a is batched, every batch entry used the same b: sum db over the "
     "leading axes, db.sum(axis=tuple(range(db.ndim - 2)))."),
    _matmul_fixed, _matmul_cases, _matmul_check)


# ---- 3. unbroadcast ---------------------------------------------------------------------------
UNBROADCAST_STUB = '''"""Exercise 3: unbroadcast, the one helper every binary op's backward calls.

When a (3, 1) tensor is added to a (2, 3, 4) one, numpy broadcasts it: it is used 2 × 4 times.
Its gradient is the sum of those uses: sum grad over the leading axes broadcasting added, and
over the axes where `shape` has size 1 but grad does not; the result has exactly `shape`.
    grad (2, 3, 4), shape (3, 1)  ->  sum over axis 0 (added) and axis 2 (stretched)
Check: tinygrad-rnn learn check 3
"""

import numpy as np


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum grad down to `shape`, the shape of the input that was broadcast."""
    raise NotImplementedError
'''


def _unbroadcast_fixed() -> list[Case]:
    rng = np.random.default_rng(RNG_SEED + 3)
    pairs = [((3, 4), (4,)), ((2, 3), (1, 3)), ((2, 3, 4), (3, 1)), ((3, 2), ()), ((2, 2), (2, 2))]
    return [{"grad": rng.standard_normal(g), "shape": s} for g, s in pairs]


def _unbroadcast_cases() -> Any:
    from hypothesis import strategies as st

    from tinygrad_rnn.testing.strategies import arrays, broadcastable_shapes

    def build(pair: tuple[tuple[int, ...], tuple[int, ...]]) -> Any:
        out = np.broadcast_shapes(*pair)
        return st.fixed_dictionaries({"grad": arrays(out), "shape": st.just(pair[0])})
    return broadcastable_shapes().flatmap(build)


def _unbroadcast_check(module: ModuleType, case: Case) -> None:
    grad, shape = case["grad"], case["shape"]
    small = Tensor(np.zeros(shape), requires_grad=True)
    (small + Tensor(np.zeros(grad.shape))).backward(grad)
    got = function(module, "unbroadcast")(grad.copy(), tuple(shape))
    compare(f"unbroadcast(grad {grad.shape}, {tuple(shape)})", got, small.grad,
            parts=broadcast_parts(grad, tuple(shape)))


UNBROADCAST = Exercise(
    "unbroadcast", "unbroadcast: sum over broadcast dims", ("unbroadcast",), UNBROADCAST_STUB,
    ("First sum away the leading axes: grad.ndim - len(shape) of them.",
     "Then, for each axis i where shape[i] == 1, sum with keepdims=True.",
     "Sum, never mean: each use of a broadcast element adds its own gradient."),
    _unbroadcast_fixed, _unbroadcast_cases, _unbroadcast_check)


# ---- 4. softmax + cross-entropy ---------------------------------------------------------------
SOFTMAX_CE_STUB = '''"""Exercise 4: the backward of softmax followed by cross-entropy, fused.

    ŷ = softmax(z) along each row        z = logits (N, C), targets (N,) class indices
    L = -(1/N) Σ_n log ŷ[n, targets[n]]  (the mean over the N rows)
    dL/dz = (ŷ - y) / N                  y = one-hot(targets), (N, C)
Compute the softmax stably: subtract each row's max before exp (large logits overflow).
Check: tinygrad-rnn learn check 4
"""

import numpy as np


def softmax_cross_entropy_backward(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """dL/dlogits (N, C) of the mean cross-entropy of softmax(logits) against targets."""
    raise NotImplementedError
'''


def _ce_fixed() -> list[Case]:
    rng = np.random.default_rng(RNG_SEED + 4)
    return [{"logits": rng.standard_normal((3, 4)), "targets": np.array([0, 3, 1])},
            {"logits": 1000.0 * rng.standard_normal((2, 5)), "targets": np.array([4, 0])}]


def _ce_cases() -> Any:
    from hypothesis import strategies as st

    from tinygrad_rnn.testing.strategies import arrays

    def build(nc: tuple[int, int]) -> Any:
        n, c = nc
        return st.fixed_dictionaries({
            "logits": arrays((n, c)),
            "targets": st.lists(st.integers(0, c - 1), min_size=n, max_size=n).map(np.array)})
    return st.tuples(st.integers(1, 4), st.integers(2, 5)).flatmap(build)


def _ce_check(module: ModuleType, case: Case) -> None:
    logits = Tensor(case["logits"].copy(), requires_grad=True)
    cross_entropy(logits, case["targets"]).backward()
    got = function(module, "softmax_cross_entropy_backward")(*copied((case["logits"],
                                                                       case["targets"])))
    compare("dlogits", got, logits.grad)


SOFTMAX_CE = Exercise(
    "softmax_cross_entropy", "softmax + cross-entropy backward", (
        "softmax_cross_entropy_backward",), SOFTMAX_CE_STUB,
    ("Softmax: e = np.exp(z - z.max(axis=1, keepdims=True)); p = e / e.sum(axis=1, "
     "keepdims=True).",
     "The one-hot y: y = np.zeros_like(p); y[np.arange(N), targets] = 1.",
     "The loss is a mean over N rows, so every row's gradient carries a 1/N."),
    _ce_fixed, _ce_cases, _ce_check)
