"""The gradient-check tour: every primitive op, each recurrent cell and each layer against central
differences (float64, every element of every input and parameter), as a table of errors a learner
can read at a glance.

`break_op` swaps in a deliberately wrong backward for one op — it forgets to multiply by the
upstream gradient, the classic chain-rule slip — for the whole tour: the op's own row fails, and so
does every cell and layer built on it, while checks that never use it still pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from tinygrad_rnn import nn
from tinygrad_rnn.engine import functions as F
from tinygrad_rnn.engine.creation import cat, stack, where
from tinygrad_rnn.engine.tensor import Function, Tensor
from tinygrad_rnn.testing.gradcheck import analytic_grad, numerical_grad

__all__ = ["Check", "CheckResult", "op_checks", "module_checks", "all_checks", "op_names",
           "run_check", "run_checks", "broken"]


@dataclass(frozen=True)
class Check:
    """One item of the tour: a function of some inputs, and how to draw those inputs."""

    name: str
    op: type[Function] | None  # the primitive it exercises (what --break can break)
    fn: Callable[..., Tensor]  # fn(*inputs), or fn(module, *inputs) when `module` is given
    shapes: tuple[tuple[int, ...], ...]
    positive: bool = False  # draw inputs in [0.5, 1.5] (log, sqrt, pow)
    kind: str = "op"  # "op", "cell" or "layer": the section of the table
    module: Callable[[], nn.Module] | None = None  # its parameters are checked too


@dataclass(frozen=True)
class CheckResult:
    name: str
    max_abs_error: float
    max_rel_error: float
    passed: bool
    kind: str = "op"


def _targets() -> np.ndarray:
    return np.array([0, 2, 1])


def op_checks() -> list[Check]:
    """One check per primitive op, on small float64 inputs."""
    return [
        Check("add (broadcast)", F.Add, lambda a, b: a + b, ((3, 4), (4,))),
        Check("sub (broadcast)", F.Sub, lambda a, b: a - b, ((3, 1), (1, 4))),
        Check("mul (broadcast)", F.Mul, lambda a, b: a * b, ((2, 3, 4), (3, 1))),
        Check("div", F.Div, lambda a, b: a / b, ((3, 4), (3, 4)), positive=True),
        Check("neg", F.Neg, lambda a: -a, ((3, 4),)),
        Check("pow", F.Pow, lambda a, b: a**b, ((3, 4), (4,)), positive=True),
        Check("matmul", F.MatMul, lambda a, b: a @ b, ((3, 4), (4, 5))),
        Check("matmul (batched)", F.MatMul, lambda a, b: a @ b, ((2, 3, 4), (4, 2))),
        Check("exp", F.Exp, lambda a: a.exp(), ((3, 4),)),
        Check("log", F.Log, lambda a: a.log(), ((3, 4),), positive=True),
        Check("sqrt", F.Sqrt, lambda a: a.sqrt(), ((3, 4),), positive=True),
        Check("abs", F.Abs, lambda a: a.abs(), ((3, 4),), positive=True),
        Check("tanh", F.Tanh, lambda a: a.tanh(), ((3, 4),)),
        Check("sigmoid", F.Sigmoid, lambda a: a.sigmoid(), ((3, 4),)),
        Check("relu", F.Relu, lambda a: (a - 1.0).relu(), ((3, 4),), positive=True),
        Check("clip", F.Clip, lambda a: a.clip(0.7, 1.3), ((3, 4),), positive=True),
        Check("sum", F.Sum, lambda a: a.sum(1), ((3, 4),)),
        Check("amax", F.Max, lambda a: a.amax(0), ((3, 4),)),
        Check("reshape", F.Reshape, lambda a: a.reshape(4, 3), ((3, 4),)),
        Check("transpose", F.Permute, lambda a: a.T, ((3, 4),)),
        Check("getitem", F.GetItem, lambda a: a[np.array([0, 2, 0]), 1:], ((3, 4),)),
        Check("cat", F.Cat, lambda a, b: cat([a, b], 1), ((3, 2), (3, 4))),
        Check("stack", F.Stack, lambda a, b: stack([a, b], 0), ((3, 4), (3, 4))),
        Check("where", F.Where, lambda a, b: where(a.data > 0, a, b), ((3, 4), (3, 4))),
        Check("softmax", F.Softmax, lambda a: a.softmax(1), ((3, 4),)),
        Check("log_softmax", F.LogSoftmax, lambda a: a.log_softmax(1), ((3, 4),)),
        Check("logsumexp", F.LogSumExp, lambda a: a.logsumexp(1), ((3, 4),)),
        Check("embedding", F.Embedding,
              lambda w: F.Embedding.apply(w, indices=np.array([[1, 0], [1, 4]])), ((5, 3),)),
        Check("cross_entropy", F.CrossEntropy,
              lambda a: F.CrossEntropy.apply(a, target=_targets()), ((3, 4),)),
    ]


def _cell_output(state: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    """A cell's new state as one tensor: h', or h' and c' side by side (LSTM)."""
    return cat(list(state), 1) if isinstance(state, tuple) else state


def _layer_output(output: Tensor, final: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    """A layer's output and final state(s), flattened into one vector."""
    finals = list(final) if isinstance(final, tuple) else [final]
    return cat([t.reshape(-1) for t in [output, *finals]], 0)


def module_checks() -> list[Check]:
    """One check per cell (one step from a given state) and per layer (2 layers, bidirectional,
    3 steps, batch 2), over the input, the initial state and every parameter."""
    cell = ((2, 2), (2, 3))                              # x (B, I), h (B, H)
    layer = ((3, 2, 2), (4, 2, 2))                       # x (T, B, I), h0 (L·D, B, H)
    stacked = {"num_layers": 2, "bidirectional": True}
    return [
        Check("RNNCell (tanh)", None, lambda m, x, h: m(x, h), cell, kind="cell",
              module=lambda: nn.RNNCell(2, 3)),
        Check("RNNCell (relu)", None, lambda m, x, h: m(x, h), cell, kind="cell",
              module=lambda: nn.RNNCell(2, 3, nonlinearity="relu")),
        Check("GRUCell", None, lambda m, x, h: m(x, h), cell, kind="cell",
              module=lambda: nn.GRUCell(2, 3)),
        Check("LSTMCell", None, lambda m, x, h, c: _cell_output(m(x, (h, c))),
              (*cell, (2, 3)), kind="cell", module=lambda: nn.LSTMCell(2, 3)),
        Check("RNN (2 layers, bidirectional)", None, lambda m, x, h: _layer_output(*m(x, h)),
              layer, kind="layer", module=lambda: nn.RNN(2, 2, **stacked)),
        Check("GRU (2 layers, bidirectional)", None, lambda m, x, h: _layer_output(*m(x, h)),
              layer, kind="layer", module=lambda: nn.GRU(2, 2, **stacked)),
        Check("LSTM (2 layers, bidirectional)", None,
              lambda m, x, h, c: _layer_output(*m(x, (h, c))), (*layer, (4, 2, 2)),
              kind="layer", module=lambda: nn.LSTM(2, 2, **stacked)),
    ]


def all_checks() -> list[Check]:
    """The whole tour: every primitive op, then each cell, then each layer."""
    return op_checks() + module_checks()


@contextlib.contextmanager
def broken(op: type[Function]) -> Iterator[None]:
    """Within this context `op.backward` forgets the upstream gradient (uses ones instead)."""
    original = op.__dict__["backward"]

    def wrong_backward(ctx: Function, grad: np.ndarray) -> tuple:
        return original.__func__(ctx, np.ones_like(grad))

    op.backward = staticmethod(wrong_backward)
    try:
        yield
    finally:
        op.backward = original


def _prepare(check: Check, rng: np.random.Generator) -> tuple[Callable[..., Tensor], list[Tensor]]:
    """The function to check and its inputs: the drawn tensors, then any module's parameters."""
    inputs = [Tensor(rng.uniform(0.5, 1.5, s) if check.positive else rng.standard_normal(s),
                     requires_grad=True) for s in check.shapes]
    if check.module is None:
        return check.fn, inputs
    module, count = check.module().double(), len(inputs)
    for p in module.parameters():
        p.data = rng.uniform(-1.0, 1.0, p.shape)        # the same values on every run

    def fn(*tensors: Tensor) -> Tensor:
        return check.fn(module, *tensors[:count])       # the module reads its own parameters

    return fn, inputs + list(module.parameters())


def run_check(check: Check, seed: int = 0, atol: float = 1e-5, rtol: float = 1e-3) -> CheckResult:
    """Compare analytic and numerical gradients of one check; report the worst errors."""
    rng = np.random.default_rng(seed)
    fn, inputs = _prepare(check, rng)
    upstream = rng.standard_normal(fn(*inputs).shape)
    analytic = analytic_grad(fn, inputs, upstream)
    numerical = numerical_grad(fn, inputs, upstream)
    pairs = list(zip(analytic, numerical, strict=True))
    abs_err = max(float(np.max(np.abs(a - n), initial=0.0)) for a, n in pairs)
    rel_err = max(float(np.max(np.abs(a - n) / np.maximum(np.abs(n), 1e-8), initial=0.0))
                  for a, n in pairs)
    passed = all(np.all(np.abs(a - n) <= atol + rtol * np.abs(n)) for a, n in pairs)
    return CheckResult(check.name, abs_err, rel_err, bool(passed), check.kind)


def op_names(checks: list[Check]) -> list[str]:
    """The names `break_op` accepts: the primitive ops the checks exercise."""
    return sorted({check.op.op_name() for check in checks if check.op is not None})


def run_checks(checks: list[Check], break_op: str | None = None) -> list[CheckResult]:
    """Run every check; with `break_op` (an op name, e.g. "matmul") that op's backward is wrong
    throughout, so every check built on it fails too, not only the op's own."""
    if break_op is None:
        return [run_check(check) for check in checks]
    ops = {check.op.op_name(): check.op for check in op_checks() if check.op is not None}
    if break_op not in ops:
        raise ValueError(f"no op named {break_op!r}; choose from {', '.join(sorted(ops))}")
    with broken(ops[break_op]):
        return [run_check(check) for check in checks]
