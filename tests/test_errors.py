"""Errors are one clear line that names the op and the shapes involved."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import ShapeError, Tensor
from tinygrad_rnn.engine import functions as F

a = Tensor(np.ones((3, 4)))

# (what goes wrong, the call, a regex the message must match: op name first, then the shapes)
CASES: list[tuple[str, Callable[[], object], str]] = [
    ("matmul inner dims", lambda: a @ Tensor(np.ones((5, 6))),
     r"^matmul: \(3, 4\) @ \(5, 6\): inner dimensions 4 != 5$"),
    ("matmul batch dims", lambda: Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((5, 4, 2))),
     r"^matmul: \(2, 3, 4\), \(5, 4, 2\): .*"),
    ("matmul of a scalar", lambda: Tensor(np.ones(3)) @ Tensor(np.ones(())),
     r"^matmul: \(3,\) @ \(\): both operands need at least 1 dim$"),
    ("add broadcast", lambda: a + Tensor(np.ones((2, 4))),
     r"^add: \(3, 4\), \(2, 4\): .*broadcast"),
    ("mul by an array", lambda: a * np.ones(5), r"^mul: \(3, 4\), \(5,\): .*broadcast"),
    ("div broadcast", lambda: Tensor(np.ones(2)) / a, r"^div: \(2,\), \(3, 4\): .*broadcast"),
    ("where broadcast", lambda: tg.where(np.ones(2, dtype=bool), a, 0.0),
     r"^where: \(3, 4\), \(\): .*broadcast"),
    ("comparison broadcast", lambda: a < np.ones(5), r"^less: \(3, 4\) and \(5,\): .*broadcast"),
    ("bad reshape", lambda: a.reshape(5, 2), r"^reshape: \(3, 4\): .*size 12.*\(5,2\)"),
    ("two unknown dims", lambda: a.reshape(-1, -1), r"^reshape: \(3, 4\): .*unknown"),
    ("sum dim", lambda: a.sum(2), r"^sum: dim 2 is out of range for a tensor with 2 dims$"),
    ("max dim", lambda: a.max(-3), r"^max: dim -3 is out of range"),
    ("amax dim", lambda: a.amax((0, 2)), r"^amax: dim 2 is out of range"),
    ("softmax dim", lambda: a.softmax(2), r"^softmax: dim 2 is out of range"),
    ("transpose dim", lambda: a.transpose(0, 2), r"^transpose: dim 2 is out of range"),
    ("permute repeat", lambda: a.permute(1, 1),
     r"^permute: \(1, 1\) is not a permutation of the 2 dims of shape \(3, 4\)$"),
    ("permute out of range", lambda: a.permute(0, 3), r"^permute: dim 3 is out of range"),
    ("getitem int", lambda: a[3], r"^getitem: \(3, 4\)\[3\]: index 3 is out of bounds"),
    ("getitem array", lambda: a[:, [0, 7]], r"^getitem: \(3, 4\).*index 7 is out of bounds"),
    ("getitem too many", lambda: a[0, 0, 0], r"^getitem: \(3, 4\).*too many indices"),
    ("cat shapes", lambda: tg.cat([a, Tensor(np.ones((2, 3)))], 1),
     r"^cat: \(3, 4\), \(2, 3\): .*must match"),
    ("cat dim", lambda: tg.cat([a, a], 2), r"^cat: dim 2 is out of range"),
    ("stack shapes", lambda: tg.stack([a, Tensor(np.ones((3, 5)))]),
     r"^stack: \(3, 4\), \(3, 5\): .*same shape"),
    ("split sizes", lambda: a.split([1, 1]), r"^split: sizes \[1, 1\] do not add up.*\(3, 4\)"),
    ("chunk count", lambda: a.chunk(0), r"^chunk: chunks must be >= 1, got 0$"),
    ("cross_entropy targets", lambda: F.CrossEntropy.apply(a, target=np.array([0, 1])),
     r"^cross_entropy: logits \(3, 4\) need targets of shape \(3,\), got \(2,\)$"),
    ("cross_entropy range", lambda: F.CrossEntropy.apply(a, target=np.array([0, 1, 9])),
     r"^cross_entropy: logits \(3, 4\): targets must lie in \[0, 4\)"),
    ("cross_entropy 1-D", lambda: F.CrossEntropy.apply(Tensor(np.ones(3)), target=np.array([0])),
     r"^cross_entropy: logits must be \(N, C\) or \(N, C, d1, \.\.\.\), got \(3,\)$"),
    ("cross_entropy reduction", lambda: F.CrossEntropy.apply(a, target=np.zeros(3, np.int64),
                                                             reduction="avg"),
     r"^cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'$"),
    ("embedding range", lambda: F.Embedding.apply(a, indices=np.array([3])),
     r"^embedding: weight \(3, 4\): indices must lie in \[0, 3\)"),
    ("embedding float indices", lambda: F.Embedding.apply(a, indices=np.array([0.5])),
     r"^embedding: indices must be integers, got dtype float64$"),
    ("item", lambda: a.item(), r"^item: only a one-element tensor.*\(3, 4\)$"),
    ("negative factory shape", lambda: tg.zeros(-1, 2), r"^factory: negative dimension"),
]


@pytest.mark.parametrize("call, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_names_op_and_shapes(call: Callable[[], object], pattern: str) -> None:
    with pytest.raises(ShapeError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, "an error is one line"
    assert re.search(pattern, message), message


def test_shape_error_is_a_value_error() -> None:
    """Code that catches ValueError (as for numpy) also catches ShapeError."""
    with pytest.raises(ValueError):
        a @ a


def test_errors_keep_the_graph_usable() -> None:
    """A failed op leaves its inputs as they were: the next op and backward still work."""
    x = Tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(ShapeError):
        x @ x
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((3, 4), 2.0))


def test_cat_needs_a_list() -> None:
    with pytest.raises(TypeError, match="^cat: expects a list or tuple of tensors$"):
        tg.cat(a)
