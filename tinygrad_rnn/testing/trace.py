"""trace(): watch the engine work, each op as it runs forward and each gradient as it flows back.

    with trace(names={"x": x, "w": w, "b": b}):
        y = (x @ w + b).tanh()          # prints  #1 = matmul(x, w) -> (2, 2)  …
        y.sum().backward()              # prints  ∂L/∂#4 () through sum -> ∂L/∂#3  …

Nothing in the engine knows about tracing: while the context is open, `Function.apply` and every
op's `backward` are wrapped (as `tour.broken` wraps one op) and put back on exit, so tracing costs
nothing when it is off. Call `backward()` inside the block to see the backward pass.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from tinygrad_rnn.engine.tensor import Function, Tensor

__all__ = ["Event", "Trace", "trace"]


@dataclass(frozen=True)
class Event:
    """One line of a trace: an op run forward, or the gradients one op passed back."""

    phase: str                 # "forward" or "backward"
    op: str                    # the op's name, e.g. "matmul"
    node: str                  # the label of the op's output, e.g. "#3"
    inputs: tuple[str, ...]    # labels of its inputs (backward: those that received a gradient)
    shape: tuple[int, ...]     # forward: the output's shape; backward: the incoming gradient's

    def __str__(self) -> str:
        if self.phase == "forward":
            return f"{self.node} = {self.op}({', '.join(self.inputs)}) -> {self.shape}"
        sent = ", ".join(f"∂L/∂{label}" for label in self.inputs) or "nothing"
        return f"∂L/∂{self.node} {self.shape} through {self.op} -> {sent}"


@dataclass
class Trace:
    """The events recorded so far, and how tensors are labelled (names, #k, or a constant)."""

    names: dict[int, str]
    file: TextIO
    events: list[Event] = field(default_factory=list)
    _labels: dict[int, str] = field(default_factory=dict)
    _keep: list[Any] = field(default_factory=list)  # so no id() is reused while tracing

    def label(self, tensor: Tensor | Function) -> str:
        """A tensor's (or graph node's) label: its given name, its op's number (#k), or its value
        if a scalar."""
        key = id(tensor)
        if key in self.names:
            return self.names[key]
        if key in self._labels:
            return self._labels[key]
        if isinstance(tensor, Function):  # a node made before tracing began
            return f"<{tensor.shape}>"
        if tensor.numel() == 1:
            return f"{tensor.data.item():g}"
        return f"<{tensor.shape}>"

    def record(self, event: Event) -> None:
        """Keep the event and print it."""
        self.events.append(event)
        print(f"  {event}", file=self.file)

    def forward(self, op: type[Function], inputs: tuple[Tensor, ...], out: Tensor) -> None:
        """Number the op's output and record the op."""
        label = f"#{sum(e.phase == 'forward' for e in self.events) + 1}"
        self._labels[id(out)] = label
        if out._ctx is not None:
            self._labels[id(out._ctx)] = label
        self._keep += [out, out._ctx]
        self.record(Event("forward", op.op_name(), label, tuple(map(self.label, inputs)),
                          out.shape))

    def backward(self, ctx: Function, grad: np.ndarray, grads: tuple[Any, ...]) -> None:
        """Record the gradients one node passed back to its inputs."""
        node = self._labels.get(id(ctx), "?")
        sent = tuple(self.label(parent) for parent, needs, g
                     in zip(ctx.parents, ctx.needs_input_grad, grads, strict=False)
                     if needs and g is not None)
        self.record(Event("backward", type(ctx).op_name(), node, sent, grad.shape))


def _op_classes() -> list[type[Function]]:
    """Every Function subclass (the primitive ops, and any a user defined)."""
    found, todo = [], [Function]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


def _traced_backward(original: Any, tracer: Trace) -> staticmethod:
    def backward(ctx: Function, grad: np.ndarray) -> tuple:
        grads = original.__func__(ctx, grad)
        tracer.backward(ctx, grad, grads)
        return grads

    return staticmethod(backward)


@contextlib.contextmanager
def trace(names: Mapping[str, Tensor] | None = None, file: TextIO | None = None
          ) -> Iterator[Trace]:
    """Print (to `file`, default the current sys.stdout) and record each op forward and each
    gradient backward; tensors in `names` are shown by name, op outputs as #1, #2, … in the
    order they were made."""
    tracer = Trace({id(t): name for name, t in (names or {}).items()}, file or sys.stdout)
    original_apply = Function.__dict__["apply"]

    def apply(cls: type[Function], *inputs: Tensor, **kwargs: Any) -> Tensor:
        out = original_apply.__func__(cls, *inputs, **kwargs)
        tracer.forward(cls, inputs, out)
        return out

    patched = {op: op.__dict__["backward"] for op in _op_classes() if "backward" in op.__dict__}
    Function.apply = classmethod(apply)
    for op, original in patched.items():
        op.backward = _traced_backward(original, tracer)
    try:
        yield tracer
    finally:
        Function.apply = original_apply
        for op, original in patched.items():
            op.backward = original
