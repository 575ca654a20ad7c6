"""trace(): ops in forward order, gradients in reverse order; nothing left patched afterwards."""

import io

import numpy as np

from tinygrad_rnn import Function, Tensor
from tinygrad_rnn.testing.trace import trace


def _inputs():
    x = Tensor(np.ones((2, 3)))
    w = Tensor(np.full((3, 2), 0.5), requires_grad=True)
    b = Tensor(np.zeros(2), requires_grad=True)
    return x, w, b


def test_forward_then_backward_order():
    x, w, b = _inputs()
    out = io.StringIO()
    with trace({"x": x, "w": w, "b": b}, file=out) as t:
        y = (x @ w + b).tanh()
        (y * y).sum().backward()
    forward = [(e.op, e.node, e.inputs) for e in t.events if e.phase == "forward"]
    assert forward == [("matmul", "#1", ("x", "w")), ("add", "#2", ("#1", "b")),
                       ("tanh", "#3", ("#2",)), ("mul", "#4", ("#3", "#3")),
                       ("sum", "#5", ("#4",))]
    backward = [(e.op, e.node, e.inputs) for e in t.events if e.phase == "backward"]
    assert backward == [("sum", "#5", ("#4",)), ("mul", "#4", ("#3", "#3")),
                        ("tanh", "#3", ("#2",)), ("add", "#2", ("#1", "b")),
                        ("matmul", "#1", ("w",))]       # x needs no grad: nothing sent to it
    lines = out.getvalue().splitlines()
    assert lines[0].strip() == "#1 = matmul(x, w) -> (2, 2)"
    assert lines[-1].strip() == "∂L/∂#1 (2, 2) through matmul -> ∂L/∂w"
    assert len(lines) == 10


def test_trace_changes_no_result_and_unpatches():
    x, w, b = _inputs()
    apply = Function.__dict__["apply"]
    with trace(file=io.StringIO()):
        (x @ w + b).tanh().sum().backward()
    traced = w.grad.copy()
    assert Function.__dict__["apply"] is apply
    w.grad = None
    (x @ w + b).tanh().sum().backward()
    np.testing.assert_array_equal(w.grad, traced)
    with trace(file=io.StringIO()) as t:
        pass
    (x @ w).sum()
    assert t.events == []                               # nothing recorded once closed


def test_unnamed_constants_are_shown_by_value():
    x, _, _ = _inputs()
    x.requires_grad_()
    with trace(file=io.StringIO()) as t:
        1.0 - x
    assert t.events[0].inputs == ("1", "<(2, 3)>")
