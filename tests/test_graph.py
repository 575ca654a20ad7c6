"""The graph and the backward pass: accumulation, deep graphs, no_grad/detach, freeing, memory,
dtype rules. Expected gradients are derived by hand in each test's comment."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

from tinygrad_rnn import Tensor, enable_grad, is_grad_enabled, no_grad


def leaf(*values: float) -> Tensor:
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_diamond_accumulates_both_paths() -> None:
    # y = x·x; z = 3y + y² → dz/dx = (3 + 2y)·2x; at x = 2: y = 4, (3 + 8)·4 = 44
    x = leaf(2.0)
    y = x * x
    z = y * 3.0 + y * y
    z.sum().backward()
    np.testing.assert_allclose(x.grad, [44.0])


def test_x_used_twice_in_one_op() -> None:
    # z = x + x → dz/dx = 2; z = x·x → 2x
    x = leaf(1.5, -2.0)
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, -4.0])


def test_node_reused_across_branches() -> None:
    # h = tanh(x); out = h·a + h·b + h → dout/dx = (a + b + 1)(1 - h²)
    x, a, b = leaf(0.3), leaf(2.0), leaf(-0.5)
    h = x.tanh()
    out = h * a + h * b + h
    out.sum().backward()
    t = np.tanh(0.3)
    np.testing.assert_allclose(x.grad, [(2.0 - 0.5 + 1.0) * (1 - t * t)])
    np.testing.assert_allclose(a.grad, [t])
    np.testing.assert_allclose(b.grad, [t])


def test_gradients_accumulate_over_two_backward_calls() -> None:
    x = leaf(1.0, 2.0)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()                       # adds 2x
    np.testing.assert_array_equal(x.grad, [3.0 + 2.0, 3.0 + 4.0])


def test_deep_chain_has_no_recursion_limit() -> None:
    # 100,000 nodes of y ← y · 1.0 + 0: dy/dx stays 1; deleting the chain must not crash either
    x = leaf(1.0)
    y = x
    for _ in range(50_000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0])
    del y
    gc.collect()


def test_no_grad_records_nothing() -> None:
    x = leaf(1.0)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2.0
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_as_decorator_and_enable_grad_inside() -> None:
    x = leaf(1.0)

    @no_grad()
    def evaluate(t: Tensor) -> tuple[Tensor, Tensor]:
        with enable_grad():
            inner = t * 2.0
        return t * 2.0, inner

    outer, inner = evaluate(x)
    assert not outer.requires_grad and inner.requires_grad
    assert is_grad_enabled()


def test_no_grad_restores_state_after_an_exception() -> None:
    with pytest.raises(ZeroDivisionError), no_grad():
        raise ZeroDivisionError
    assert is_grad_enabled()


def test_detach_cuts_the_graph() -> None:
    # z = x·detach(x): only the first factor carries gradient → dz/dx = x
    x = leaf(3.0)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    (x * d).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0])


def test_backward_twice_through_a_freed_graph_errors() -> None:
    x = leaf(1.0)
    y = (x.exp() * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="freed.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = leaf(0.0)
    y = (x.exp() * 2.0).sum()                      # dy/dx = 2eˣ = 2 at 0
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0])


def test_retain_grad_on_an_intermediate() -> None:
    # h = 2x; L = Σ h² → dL/dh = 2h = 4x; intermediates without retain_grad keep no grad
    x = leaf(1.0, -1.0)
    h = (x * 2.0).retain_grad()
    g = h * h
    g.sum().backward()
    np.testing.assert_array_equal(h.grad, [4.0, -4.0])
    np.testing.assert_array_equal(x.grad, [8.0, -8.0])
    assert g.grad is None


def test_saved_arrays_are_released_after_backward() -> None:
    x = leaf(-1.0, 2.0)
    y = x.relu()                                    # relu saves a fresh mask array
    mask = weakref.ref(y._ctx.saved[0])
    y.sum().backward()
    gc.collect()
    assert mask() is None


def test_saved_arrays_are_kept_with_retain_graph() -> None:
    x = leaf(-1.0, 2.0)
    y = x.relu()
    mask = weakref.ref(y._ctx.saved[0])
    y.sum().backward(retain_graph=True)
    gc.collect()
    assert mask() is not None


def test_training_loop_does_not_grow_memory() -> None:
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((8, 8)), requires_grad=True)
    x = Tensor(rng.standard_normal((4, 8)))

    def step() -> None:
        loss = ((x @ w).tanh() * (x @ w).sigmoid()).mean()
        loss.backward()
        w.data -= 0.01 * w.grad
        w.grad = None

    for _ in range(100):                            # warm up caches and allocator
        step()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(1000):
        step()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert after - before < 50_000, f"memory grew by {after - before} bytes over 1000 steps"


def test_backward_of_a_non_scalar_needs_a_gradient() -> None:
    y = leaf(1.0, 2.0) * 2.0
    with pytest.raises(RuntimeError, match=r"shape \(2,\) is not a scalar.*backward\(grad\)"):
        y.backward()


def test_backward_with_an_explicit_gradient() -> None:
    x = leaf(1.0, 2.0)
    (x * 3.0).backward(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [3.0, -3.0])


def test_backward_gradient_of_the_wrong_shape_errors() -> None:
    y = leaf(1.0, 2.0) * 2.0
    with pytest.raises(ValueError, match=r"backward: gradient of shape \(3,\).*\(2,\)"):
        y.backward(np.ones(3))


def test_requires_grad_on_an_integer_tensor_errors() -> None:
    with pytest.raises(TypeError, match="only floating-point"):
        Tensor(np.array([1, 2]), requires_grad=True)


def test_dtype_rules() -> None:
    assert Tensor(1.5).dtype == np.float32             # Python floats -> float32, as torch
    assert Tensor([1.0, 2]).dtype == np.float32        # lists too (one float makes it float)
    assert Tensor([1, 2]).dtype == np.int64            # Python ints -> int64, as torch
    assert Tensor(3).dtype == np.int64
    assert Tensor([True, False]).dtype == np.bool_     # bools stay bool
    assert Tensor(np.arange(3)).dtype == np.int64      # an ndarray keeps its dtype
    assert Tensor(np.ones(2)).dtype == np.float64
    assert Tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64


def test_leaf_grad_keeps_the_leaf_dtype() -> None:
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    (x * np.ones(2)).sum().backward()                 # the op runs in float64
    assert x.grad.dtype == np.float32


def test_backward_does_not_alias_gradients_between_leaves() -> None:
    # a + b hands the same upstream array to both; a later += into one must not change the other
    a, b = leaf(1.0), leaf(1.0)
    (a + b).sum().backward()
    a.grad += 10.0
    np.testing.assert_array_equal(b.grad, [1.0])


def test_a_custom_backward_with_the_wrong_number_of_gradients_errors() -> None:
    from tinygrad_rnn import Function

    class Twice(Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, grad):
            return 2 * grad                         # forgot the tuple: (2 * grad,)

    with pytest.raises(RuntimeError, match="twice.backward must return a tuple of 1"):
        Twice.apply(leaf(1.0, 2.0)).sum().backward()


def test_iterating_and_truth_values() -> None:
    t = Tensor(np.arange(6.0).reshape(3, 2))
    assert [row.tolist() for row in t] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert bool(Tensor(np.array([2.0])) > 1.0)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t > 1.0)


def test_a_custom_backward_with_the_wrong_gradient_shape_errors() -> None:
    from tinygrad_rnn import Function

    class Total(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, grad):
            return (grad,)                          # forgot to broadcast back to x's shape

    with pytest.raises(RuntimeError, match=r"gradient of shape \(\) reached a tensor of shape"):
        Total.apply(leaf(1.0, 2.0)).backward()


@pytest.mark.parametrize("order", ["slices first", "dense first", "dense between"])
def test_slice_gradients_add_into_dense_ones_in_any_order(order):
    # the engine adds slicing's gradient in place into the parent's gradient (SliceGrad);
    # mixed with ordinary dense contributions in any order, the sum must be the same
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    r = np.random.default_rng(0).standard_normal((3, 4))
    parts = {"slice0": lambda: (x[0] * r[0]).sum(), "slice12": lambda: (x[1:] * r[1:] * 2).sum(),
             "dense": lambda: (x * r * 3).sum()}
    names = {"slices first": ["slice0", "slice12", "dense"],
             "dense first": ["dense", "slice0", "slice12"],
             "dense between": ["slice0", "dense", "slice12"]}[order]
    total = parts[names[0]]()
    for name in names[1:]:
        total = total + parts[name]()
    total.backward()
    expected = 3 * r + np.vstack([r[:1], 2 * r[1:]])
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_slice_gradient_keeps_float32_parent_float32():
    x = Tensor(np.ones((4, 3), dtype=np.float32), requires_grad=True)
    (x[1] * 2.0 + x[2:].sum(0)).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [[0, 0, 0], [2, 2, 2], [1, 1, 1], [1, 1, 1]])


def test_graph_keeps_nodes_not_intermediate_arrays() -> None:
    # add saves no array for backward, tanh saves its output: once `a` is dropped, a's array
    # must be freed although the graph through it is still alive (as in PyTorch)
    x = Tensor(np.ones((50, 40)), requires_grad=True)
    a = x + 1.0
    freed = weakref.ref(a.data)
    y = a.tanh()
    kept = weakref.ref(y.data)
    del a
    gc.collect()
    assert freed() is None
    assert kept() is not None
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1.0 - np.tanh(2.0) ** 2)
