"""Version counters: an array a node relies on, changed in place between forward and backward
(an optimizer step, a write to `.data`, an nn.init fill), makes backward() raise, naming the op,
the shape and what changed it; in eager mode, under scan's replay and its compiled step (the
check is the Scan node's, on the tensors it reads), and for views."""

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import Tensor, nn, no_grad, optim
from tinygrad_rnn.engine import scan as scan_module

CHANGED = "changed in place"


def issue_case_1():
    """The issue's reproduction: an SGD step on w2 between forward and backward."""
    R = np.random.default_rng(0)
    x = Tensor(R.standard_normal((3, 4)))
    w1 = Tensor(R.standard_normal((4, 5)), requires_grad=True)
    w2 = Tensor(R.standard_normal((5, 2)), requires_grad=True)
    loss = ((x @ w1).tanh() @ w2).sum()
    w2.grad = np.ones((5, 2))
    optim.SGD([w2], lr=1.0).step()
    return loss, w1


def test_optimizer_step_between_forward_and_backward_raises_naming_op_shape_and_step():
    loss, w1 = issue_case_1()
    with pytest.raises(RuntimeError) as error:
        loss.backward()
    message = str(error.value)
    assert "matmul" in message and "(5, 2)" in message and "SGD.step()" in message
    assert CHANGED in message and "\n" not in message
    assert w1.grad is None  # raised before the gradient reached w1


@pytest.mark.parametrize("optimizer", [optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad])
def test_every_optimizer_step_counts_as_a_change(optimizer):
    w = Tensor(np.ones((2, 2)), requires_grad=True)
    loss = (w * w).sum()
    w.grad = np.ones((2, 2))
    optimizer([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match=f"{optimizer.__name__}.step"):
        loss.backward()


def make_lstm():
    R = np.random.default_rng(1)
    lstm = nn.LSTM(3, 4).double()
    return lstm, Tensor(R.standard_normal((5, 2, 3)))


@pytest.mark.parametrize("mode", scan_module.MODES)
@pytest.mark.parametrize("change", ["param .data +=", "input .data *=", "no_grad .data[...]",
                                    "init"])
def test_issue_changes_to_lstm_weights_and_inputs_raise(monkeypatch, mode, change):
    monkeypatch.setattr(scan_module, "MODE", mode)
    lstm, xs = make_lstm()
    out, _ = lstm(xs)
    if change == "param .data +=":
        lstm.weight_hh_l0.data += 0.5
    elif change == "input .data *=":
        xs.data *= 2
    elif change == "no_grad .data[...]":
        with no_grad():
            lstm.weight_ih_l0.data[...] = 0.25
    else:
        nn.init.constant_(lstm.weight_hh_l0, 0.1)
    with pytest.raises(RuntimeError, match=CHANGED):
        out.sum().backward()


@pytest.mark.parametrize("mode", scan_module.MODES)
def test_a_frozen_weight_changed_under_the_scan_node_is_found(monkeypatch, mode):
    """W_hh needs no grad: its W.T is made without a graph, so the Scan node itself (or, in
    eager mode, each matmul) holds the view of W and checks it."""
    monkeypatch.setattr(scan_module, "MODE", mode)
    lstm, xs = make_lstm()
    lstm.weight_hh_l0.requires_grad_(False)
    out, _ = lstm(xs)
    lstm.weight_hh_l0.data *= 0.5
    with pytest.raises(RuntimeError, match=CHANGED):
        out.sum().backward()


@pytest.mark.parametrize("mode", scan_module.MODES)
def test_a_clean_step_after_the_change_has_the_true_gradient(monkeypatch, mode):
    monkeypatch.setattr(scan_module, "MODE", mode)
    lstm, xs = make_lstm()
    lstm(xs)[0].sum()             # a graph that is dropped, never backwarded
    lstm.weight_hh_l0.data += 0.5
    out, _ = lstm(xs)             # forward again after the change: fine
    out.sum().backward()
    fresh, _ = make_lstm()
    fresh.load_state_dict(lstm.state_dict())
    fresh(xs)[0].sum().backward()
    assert np.allclose(lstm.weight_hh_l0.grad, fresh.weight_hh_l0.grad, rtol=1e-12)


def test_change_after_backward_or_before_forward_is_fine():
    w = Tensor(np.ones((2, 2)), requires_grad=True)
    w.data += 1.0                           # before the forward
    loss = (w * w).sum()
    loss.backward()
    w.data += 1.0                           # after the backward
    assert np.allclose(w.grad, 4.0)


def test_a_change_backward_does_not_rely_on_is_allowed_as_in_pytorch():
    """Add keeps only shapes: its gradient does not depend on its inputs' values."""
    w = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)
    loss = ((w + b) * 2.0).sum()
    b.data += 5.0
    loss.backward()
    assert np.allclose(w.grad, 2.0) and np.allclose(b.grad, 2.0)


def test_a_changed_output_that_backward_reads_raises():
    """tanh keeps its output y; writing into y breaks tanh's backward."""
    x = Tensor(np.linspace(-1, 1, 4), requires_grad=True)
    y = x.tanh()
    loss = y.sum()
    y.data *= 2
    with pytest.raises(RuntimeError, match="the output of tanh, of shape \\(4,\\)"):
        loss.backward()


def test_views_share_their_base_version():
    """A slice of an input made without a graph (xs[t] in an eager loop), and a detach()."""
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    xs = Tensor(np.ones((4, 3)))
    loss = (xs[1:3] @ w).sum()
    xs.data += 1.0
    with pytest.raises(RuntimeError, match=CHANGED):
        loss.backward()
    h = Tensor(np.ones((2, 3)), requires_grad=True)
    loss = (h * h).sum()
    h.detach().data += 1.0
    with pytest.raises(RuntimeError, match=CHANGED):
        loss.backward()


def test_a_detached_state_keeps_no_graph_alive():
    """Truncated BPTT detaches the state every window: the detached tensor must not hold the
    node that made it (a chain of graphs, one per window, would never be freed)."""
    w = Tensor(np.ones(2), requires_grad=True)
    h = (w * 2.0).tanh()
    node = weakref.ref(h._ctx)
    kept = h.detach()
    del h
    gc.collect()
    assert node() is None and kept.shape == (2,)


def test_a_write_through_a_view_with_a_graph_reaches_its_base():
    w = Tensor(np.ones((2, 2)), requires_grad=True)
    loss = (w * w).sum()
    w.T.data += 1.0
    with pytest.raises(RuntimeError, match="mul"):
        loss.backward()


def test_what_cannot_be_detected_a_raw_numpy_write():
    """The documented limit: a write into the array itself (`.numpy()`, or an ndarray the tensor
    wraps) bypasses the engine; the gradient then uses the new values. The check is silent."""
    w = Tensor(np.ones(3), requires_grad=True)
    loss = (w * w).sum()
    w.numpy()[...] = 3.0
    loss.backward()
    assert np.allclose(w.grad, 6.0)  # 2·3, not the 2·1 of the forward pass


# ---- property: no silent wrong gradient after any change between forward and backward -------
OPS = {
    "mul": lambda a, b: a * b, "add": lambda a, b: a + b, "sub": lambda a, b: a - b,
    "matmul": lambda a, b: a @ b, "div": lambda a, b: a / (b * b + 1.0),
    "tanh": lambda a, b: a.tanh(), "sigmoid": lambda a, b: a.sigmoid(),
    "exp": lambda a, b: (a * 0.1).exp(), "T": lambda a, b: a.T, "flip": lambda a, b: a[::-1],
    "reshape": lambda a, b: a.reshape(9).reshape(3, 3), "relu": lambda a, b: a.relu(),
}
CHANGES = ["setter", "no_grad", "sgd", "init"]

programs = st.lists(st.tuples(st.sampled_from(sorted(OPS)), st.integers(0, 99),
                              st.integers(0, 99)), min_size=1, max_size=7)


def run_program(program, leaves):
    pool = list(leaves)
    for name, i, j in program:
        pool.append(OPS[name](pool[i % len(pool)], pool[j % len(pool)]))
    weights = np.random.default_rng(7).standard_normal((3, 3))
    return pool, (pool[-1] * weights).sum()


def fresh_leaves(values):
    return [Tensor(values[0].copy(), requires_grad=True), Tensor(values[1].copy()),
            Tensor(values[2].copy(), requires_grad=True)]


@given(programs, st.integers(0, 99), st.sampled_from(CHANGES))
def test_property_backward_raises_or_gives_the_forward_pass_gradient(program, target, change):
    R = np.random.default_rng(3)
    values = [R.uniform(-1, 1, (3, 3)) for _ in range(3)]
    leaves = fresh_leaves(values)
    pool, loss = run_program(program, leaves)
    if not loss.requires_grad:
        return
    tensor = pool[target % len(pool)]
    if change == "setter":
        tensor.data += 0.75
    elif change == "no_grad":
        with no_grad():
            tensor.data[...] = tensor.data * 1.5 + 0.25
    elif change == "sgd" and tensor.requires_grad and tensor.is_leaf:
        tensor.grad = np.ones((3, 3))
        optim.SGD([tensor], lr=0.5).step()
        tensor.grad = None
    else:
        nn.init.constant_(tensor, 0.3)
    try:
        loss.backward()
    except RuntimeError as error:
        assert CHANGED in str(error)
        return
    expected = fresh_leaves(values)
    run_program(program, expected)[1].backward()
    for got, want in zip((leaves[0], leaves[2]), (expected[0], expected[2]), strict=True):
        assert (got.grad is None) == (want.grad is None)
        if got.grad is not None:
            np.testing.assert_allclose(got.grad, want.grad, rtol=1e-10, atol=1e-12)


# ---- the bench row: "without" is the engine minus exactly the version lines -------------------
def test_the_bench_baseline_computes_the_same_step_without_stamps():
    from benchmarks import versions as bench
    from tinygrad_rnn.engine import tensor as tensor_module

    apply = bench._rebuilt(tensor_module.Function.apply.__func__, bench._APPLY_EDITS)
    walk = bench._rebuilt(tensor_module._walk, bench._WALK_EDITS)
    w = Tensor(np.ones((2, 2)), requires_grad=True)
    with bench._without_versions(apply, walk):
        loss = (w * w).sum()
        assert not hasattr(loss._ctx, "version")            # the stamp is gone
        w.data += 1.0                                       # and so is the check: no error
        loss.backward()
    assert hasattr((w * w)._ctx, "version")                 # restored on the way out
    assert np.allclose(w.grad, 4.0)                         # the new values, silently
    with pytest.raises(KeyError):
        bench._rebuilt(tensor_module._walk, {"a line the engine does not have": ""})
