"""scan: the compiled and the replayed recurrence (one Scan node) against the eager loop and
central differences; the graph it leaves, the deferred weight gradient, the fallbacks to the
eager loop, and limits. Every test runs under each of scan's three paths (MODE: compiled,
replay, eager); where the path changes what a test sees (a Scan node or not), it says so."""

import io

import numpy as np
import pytest

from tinygrad_rnn import Function, ShapeError, Tensor, cat, gradcheck, manual_seed, nn, no_grad
from tinygrad_rnn.engine import scan as scan_module
from tinygrad_rnn.engine import scan_compile
from tinygrad_rnn.engine.functions import Permute, Sigmoid, Tanh
from tinygrad_rnn.engine.scan import Scan, scan
from tinygrad_rnn.testing.anomaly import AnomalyError, detect_anomaly
from tinygrad_rnn.testing.trace import trace

I, H, B = 3, 4, 2
KINDS = ["rnn_tanh", "rnn_relu", "gru", "lstm"]
TIGHT = {"rtol": 1e-12, "atol": 1e-12}


@pytest.fixture(autouse=True, scope="module", params=scan_module.MODES)
def mode(request):
    """Run every test of this file under MODE = compiled, replay and eager."""
    previous, scan_module.MODE = scan_module.MODE, request.param
    yield request.param
    scan_module.MODE = previous


def scanned():
    """Whether scan makes a Scan node under this MODE (not in the eager loop)."""
    return scan_module.MODE != "eager"


def path_of(out):
    """The path that made out: "compiled" or "replay" (a Scan node, before its backward ran),
    or "eager" (no Scan node)."""
    nodes = [n for n in graph_nodes(out) if isinstance(n, Scan)] if out._ctx else []
    if not nodes:
        return "eager"
    return "replay" if nodes[-1].saved[-1] is None else "compiled"


def make_cell(kind, seed=0, dtype=np.float64):
    manual_seed(seed)
    if kind in ("gru", "lstm"):
        cell = nn.GRUCell(I, H) if kind == "gru" else nn.LSTMCell(I, H)
    else:
        cell = nn.RNNCell(I, H, nonlinearity=kind[4:])
    return cell.to_dtype(dtype)


def randn(seed, *shape, grad=True, dtype=np.float64):
    data = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return Tensor(data, requires_grad=grad)


def inputs(kind, cell, steps, dtype=np.float64):
    """x_proj (T, B, G·H) and the initial state (h, or (h, c)), leaves that require grad."""
    xs = randn(1, steps, B, cell.gates * H, dtype=dtype)
    if kind == "lstm":
        return xs, (randn(2, B, H, dtype=dtype), randn(3, B, H, dtype=dtype))
    return xs, randn(2, B, H, dtype=dtype)


def parts(state):
    return state if isinstance(state, tuple) else (state,)


def replayed(reverse=False):
    return lambda step, xs, state: scan(step, xs, state, reverse)


def eager(reverse=False):
    return lambda step, xs, state: scan_module._eager(step, xs, state, reverse)


def graph_nodes(tensor):
    """Every node reachable from tensor, each once (leaves left out)."""
    seen, stack, nodes = set(), [tensor._ctx], []
    while stack:
        node = stack.pop()
        if node is not None and not isinstance(node, Tensor) and id(node) not in seen:
            seen.add(id(node))
            nodes.append(node)
            stack.extend(node.parents)
    return nodes


def graph_ops(tensor):
    return [type(node) for node in graph_nodes(tensor)]


def results(run, cell, xs, state, step=None):
    """run's outputs and last state, and the gradients of a random weighting of all of them
    (so every output matters) with respect to the parameters, xs and the initial state.
    `step` defaults to the cell's; without a cell only xs and the state count as leaves."""
    leaves = [*(cell.parameters() if cell is not None else []), xs, *parts(state)]
    for t in leaves:
        t.grad = None
    out, final = run(step or cell.step, xs, state)
    path = path_of(out)
    rng = np.random.default_rng(7)
    loss = (out * Tensor(rng.standard_normal(out.shape))).sum()
    for f in parts(final):
        loss = loss + (f * Tensor(rng.standard_normal(f.shape))).sum()
    loss.backward()
    grads = [None if t.grad is None else t.grad.copy() for t in leaves]
    return [out.data, *(f.data for f in parts(final))], grads, out, path


def assert_same(got, want, **tolerance):
    for g, w in zip(got, want, strict=True):
        assert (g is None) == (w is None)
        if w is not None:
            assert g.dtype == w.dtype
            np.testing.assert_allclose(g, w, **(tolerance or TIGHT))


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_replay_equals_the_eager_loop(kind, reverse):
    """Outputs, last state and every gradient (parameters, xs, initial state) of the replayed
    scan are those of the eager loop, to rounding (W_hh's gradient is summed in another order)."""
    cell = make_cell(kind)
    xs, state = inputs(kind, cell, 6)
    got_values, got_grads, out, path = results(replayed(reverse), cell, xs, state)
    assert path == scan_module.MODE                            # it really took that path
    assert graph_ops(out).count(Scan) == scanned()
    want_values, want_grads, want_out, _ = results(eager(reverse), cell, xs, state)
    assert Scan not in graph_ops(want_out)
    assert_same(got_values, want_values)
    assert_same(got_grads, want_grads)
    assert cell.weight_hh.grad is not None and xs.grad is not None


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_scan_gradients_match_central_differences(kind, reverse):
    """The Scan node's backward against central differences, every input requiring grad."""
    cell = make_cell(kind, seed=1)
    xs, state = inputs(kind, cell, 4)
    count = len(parts(state))

    def fn(xs, *rest):
        out, final = scan(cell.step, xs, rest[:2] if count == 2 else rest[0], reverse)
        assert path_of(out) == scan_module.MODE or not out.requires_grad
        return cat([out.reshape(-1), *(f.reshape(-1) for f in parts(final))])

    gradcheck(fn, [xs, *parts(state), *cell.parameters()])


def test_replay_is_one_node_and_the_eager_mode_turns_it_off():
    """Compiled or replayed, five GRU steps are one Scan node (no tanh or sigmoid in the
    graph); with MODE "eager" every step's ops are nodes (1 tanh and 2 sigmoids a step)."""
    cell = make_cell("gru")
    xs, h0 = inputs("gru", cell, 5)
    out, _ = scan(cell.step, xs, h0)
    ops = graph_ops(out)
    if scanned():
        assert ops.count(Scan) == 1 and Tanh not in ops and Sigmoid not in ops
    else:
        assert Scan not in ops and ops.count(Tanh) == 5 and ops.count(Sigmoid) == 10


def test_the_weight_transpose_is_hoisted_out_of_the_loop():
    """W_hh.T reads only a parameter: compiled or replayed, it is one Permute node feeding
    the Scan node (eager: one per step)."""
    cell = make_cell("rnn_tanh")
    xs, h0 = inputs("rnn_tanh", cell, 5)
    out, _ = scan(cell.step, xs, h0)
    assert graph_ops(out).count(Permute) == (1 if scanned() else 5)
    if scanned():
        (node,) = [n for n in graph_nodes(out) if isinstance(n, Scan)]
        (permute,) = [p for p in node.parents if isinstance(p, Permute)]
        assert len(permute.parents) == 1 and permute.parents[0] is cell.weight_hh


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm"])
def test_the_deferred_weight_gradient_is_flushed_in_blocks(monkeypatch, kind):
    """W_hh's gradient made in blocks of WEIGHT_GRAD_STEPS steps (7 steps: ⌈7 / n⌉ matmuls)
    equals the eager loop's, whatever the block size, including one that divides T."""
    real, flushes = scan_module._add_weight_grad, []
    monkeypatch.setattr(scan_module, "_add_weight_grad",
                        lambda *args: flushes.append(1) or real(*args))
    cell = make_cell(kind)
    xs, state = inputs(kind, cell, 7)
    _, want, _, _ = results(eager(), cell, xs, state)
    assert not flushes
    for block in (1, 2, 3, 7, 64):
        monkeypatch.setattr(scan_module, "WEIGHT_GRAD_STEPS", block)
        flushes.clear()
        _, got, _, _ = results(replayed(), cell, xs, state)
        assert len(flushes) == (-(-7 // block) if scanned() else 0)
        assert_same(got, want)


def test_a_step_that_keeps_its_state_or_changes_its_shape_runs_eagerly():
    """Not replayable: a state returned unchanged, or one whose shape changes; scan falls back
    to the eager loop, and the results are still right (checked against numpy by hand)."""
    xs, h0 = randn(1, 4, B, H), randn(2, B, H)
    out, h = scan(lambda x, h: h, xs, h0)
    assert Scan not in graph_ops(out)
    np.testing.assert_array_equal(out.data, np.stack([h0.data] * 4))
    weights = np.random.default_rng(3).standard_normal(out.shape)
    (out * Tensor(weights)).sum().backward()
    np.testing.assert_allclose(h0.grad, weights.sum(0), **TIGHT)

    g0 = randn(3, B, 1)                                       # (B, 1) → (B, H) after a step
    out, g = scan(lambda x, g: (x * g).tanh(), xs, g0)
    want, state = [], g0.data
    for x in xs.data:
        state = np.tanh(x * state)
        want.append(state)
    assert Scan not in graph_ops(out)
    np.testing.assert_allclose(out.data, np.stack(want), **TIGHT)


def test_one_step_and_trace_run_the_eager_loop():
    """T = 1 has nothing to replay, and trace() must see every op: both run eagerly."""
    cell = make_cell("rnn_tanh")
    xs, h0 = inputs("rnn_tanh", cell, 1)
    out, h = scan(cell.step, xs, h0)
    assert Scan not in graph_ops(out) and Tanh in graph_ops(out)
    want = np.tanh(xs.data[0] + h0.data @ cell.weight_hh.data.T)
    np.testing.assert_allclose(h.data, want, **TIGHT)
    xs, h0 = inputs("rnn_tanh", cell, 3)
    with trace(file=io.StringIO()) as tracer:
        out, _ = scan(cell.step, xs, h0)
    assert graph_ops(out).count(Tanh) == 3
    assert [e.op for e in tracer.events].count("tanh") == 3


def test_detect_anomaly_still_names_the_op_inside_the_step():
    """h ← log(h − x) goes NaN at the third step. Replayed, that passes silently into the
    outputs; under detect_anomaly() scan runs eagerly and the log op is named."""
    step = lambda x, h: (h - x).log()                          # noqa: E731
    xs, h0 = Tensor(np.ones((4, B, H)), requires_grad=True), Tensor(np.full((B, H), 10.0))
    with np.errstate(invalid="ignore"):
        out, _ = scan(step, xs, h0)
    assert (Scan in graph_ops(out)) == scanned() and np.isfinite(out.data[:2]).all()
    assert np.isnan(out.data[2:]).all()
    with detect_anomaly(), np.errstate(invalid="ignore"), \
            pytest.raises(AnomalyError, match=r"^detect_anomaly: log produced nan"):
        scan(step, xs, h0)


def test_retain_graph_backward_twice_doubles_and_without_it_raises():
    """Through a replayed scan, backward(retain_graph=True) can be repeated (the gradients add
    up exactly); the next backward without it frees the graph, and one more raises."""
    cell = make_cell("lstm")
    xs, state = inputs("lstm", cell, 5)
    out, (h, c) = scan(cell.step, xs, state)
    assert path_of(out) == scan_module.MODE
    loss = (out * Tensor(np.random.default_rng(4).standard_normal(out.shape))).sum() + c.sum()
    leaves = [cell.weight_hh, xs, *state]
    loss.backward(retain_graph=True)
    first = [t.grad.copy() for t in leaves]
    for times in (2, 3):
        loss.backward(retain_graph=times == 2)
        for t, g in zip(leaves, first, strict=True):
            np.testing.assert_array_equal(t.grad, times * g)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_no_grad_replays_without_a_graph(monkeypatch):
    """Under no_grad() the replay gives the eager loop's outputs and records nothing."""
    cell = make_cell("gru")
    xs, h0 = inputs("gru", cell, 5)
    want, want_h = scan_module._eager(cell.step, xs, h0, False)
    if scanned():
        monkeypatch.setattr(scan_module, "_eager", None)       # so the replay must run
    with no_grad():
        out, h = scan(cell.step, xs, h0)
    assert not out.requires_grad and out._ctx is None and not h.requires_grad
    np.testing.assert_allclose(out.data, want.data, **TIGHT)
    np.testing.assert_allclose(h.data, want_h.data, **TIGHT)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_float32_stays_float32(kind):
    """A float32 cell on float32 inputs: the replay's outputs, last state and gradients are
    float32 and agree with the eager loop to float32 rounding."""
    cell = make_cell(kind, dtype=np.float32)
    xs, state = inputs(kind, cell, 5, dtype=np.float32)
    values, grads, out, path = results(replayed(), cell, xs, state)
    assert path == scan_module.MODE
    assert all(v.dtype == np.float32 for v in values)
    assert all(g.dtype == np.float32 for g in grads if g is not None)
    want_values, want_grads, _, _ = results(eager(), cell, xs, state)
    assert_same(values, want_values, rtol=1e-5, atol=1e-6)
    assert_same(grads, want_grads, rtol=1e-4, atol=1e-5)


def test_a_value_dependent_branch_is_frozen_by_the_trace():
    """The documented limit, and proof the comparison can fail: a step that branches on its
    state's values is traced once, on the first step's branch; eager takes the other branch
    once the state turns negative, so the replay differs from the second step on."""
    def step(x, h):
        return (h + x).tanh() if h.data.sum() > 0 else (h - x).tanh()

    xs, h0 = Tensor(np.full((3, B, H), -2.0)), Tensor(np.full((B, H), 0.5), requires_grad=True)
    got, _ = scan(step, xs, h0)
    want, _ = scan_module._eager(step, xs, h0, False)
    assert (Scan in graph_ops(got)) == scanned()
    np.testing.assert_allclose(got.data[0], want.data[0], **TIGHT)   # the traced branch
    if not scanned():                              # the eager loop takes both branches
        np.testing.assert_allclose(got.data, want.data, **TIGHT)
        return
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(got.data, want.data, **TIGHT)
    np.testing.assert_allclose(want.data[1], np.tanh(want.data[0] + 2.0), **TIGHT)


# ---- three bugs found while writing these tests, now fixed ----------------------------------
def test_state_parts_of_different_shapes_run_eagerly():
    """A (h (B, H), s (H,)) state cannot be stacked into Scan's output: the eager loop runs (a
    replay used to return s as (B, H))."""
    w = randn(5, H, H)

    def step(x, state):
        h, s = state
        h = (x + h @ w.T + s).tanh()
        return h, s * 0.5 + h.sum(0)

    xs, state = randn(1, 4, B, H), (randn(2, B, H), randn(3, H))
    out, (_, s) = scan(step, xs, state)
    assert Scan not in graph_ops(out)
    _, (_, want_s) = scan_module._eager(step, xs, state, False)
    assert s.shape == want_s.shape


def test_a_step_returning_the_same_tensor_for_two_state_parts_runs_eagerly():
    """step returns (h, h): the eager loop runs, with the eager loop's gradients (a replay used
    to lose the first part's gradient)."""
    w = randn(5, H, H)

    def step(x, state):
        h = (x + state[0] @ w.T + state[1]).tanh()
        return h, h

    xs, state = randn(1, 4, B, H), (randn(2, B, H), randn(3, B, H))
    grads = []
    for replay in (True, False):
        for t in (w, xs, *state):
            t.grad = None
        out, (_, c) = (replayed() if replay else eager())(step, xs, state)
        assert Scan not in graph_ops(out)
        ((out * 2.0).sum() + (c * 3.0).sum()).backward()
        grads.append([w.grad, xs.grad, state[0].grad])
    assert_same(grads[0], grads[1])


def test_a_step_that_widens_the_dtype_runs_eagerly():
    """float32 xs and state, a float64 weight: the state becomes float64 after the first step,
    which a tape traced on float32 cannot replay exactly, so the eager loop runs (a replay used
    to cut the outputs to float32)."""
    w = randn(5, H, H)
    xs = randn(1, 4, B, H, grad=False, dtype=np.float32)
    h0 = randn(2, B, H, grad=False, dtype=np.float32)
    step = lambda x, h: (x + h @ w.T).tanh()                    # noqa: E731
    out, _ = scan(step, xs, h0)
    assert Scan not in graph_ops(out)
    want, _ = scan_module._eager(step, xs, h0, False)
    assert out.dtype == want.dtype == np.float64
    np.testing.assert_allclose(out.data, want.data, rtol=0, atol=1e-12)


# ---- the tape cache: a cell traces once per input description --------------------------------
def counting_traces(monkeypatch):
    calls = []
    original = scan_module._trace

    def counted(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(scan_module, "_trace", counted)
    return calls


def test_a_cell_is_traced_once_and_its_tape_reused(monkeypatch):
    calls = counting_traces(monkeypatch)
    cell = make_cell("lstm")
    xs, state = inputs("lstm", cell, 5)
    first, _ = scan(cell.step, xs, state)
    second, _ = scan(cell.step, xs, state)
    assert len(calls) == scanned()                               # the eager loop traces nothing
    np.testing.assert_array_equal(first.data, second.data)
    scan(cell.step, randn(4, 6, B + 1, 4 * H), (randn(5, B + 1, H), randn(6, B + 1, H)))
    assert len(calls) == 2 * scanned()                           # another batch size: a new tape


def switched_to_relu():
    """Scan a tanh RNN cell, switch it to relu, scan again: the cell, its inputs, the replay's
    outputs and the eager loop's."""
    cell = make_cell("rnn_tanh")
    xs, h0 = inputs("rnn_tanh", cell, 5)
    scan(cell.step, xs, h0)
    cell.nonlinearity = "relu"
    got, _ = scan(cell.step, xs, h0)
    want, _ = scan_module._eager(cell.step, xs, h0, False)
    return cell, xs, h0, got, want


def test_a_changed_attribute_or_frozen_weight_is_traced_again(monkeypatch):
    """Replacing an attribute (here the nonlinearity) or freezing a parameter must not reuse
    the old tape: the replay then equals the eager loop of the changed cell."""
    calls = counting_traces(monkeypatch)
    cell, xs, h0, got, want = switched_to_relu()
    np.testing.assert_allclose(got.data, want.data, **TIGHT)
    assert (got.data >= 0).all() and len(calls) == 2 * scanned()
    cell.weight_hh.requires_grad_(False)
    got, _ = scan(cell.step, xs, h0)
    got.sum().backward()
    assert len(calls) == 3 * scanned() and cell.weight_hh.grad is None and xs.grad is not None
    cell.weight_hh = nn.Parameter(cell.weight_hh.data * 0.0)     # a new object
    got, _ = scan(cell.step, xs, h0)
    assert len(calls) == 4 * scanned()
    np.testing.assert_allclose(got.data, np.maximum(xs.data, 0.0), **TIGHT)  # W_hh = 0


def test_the_reused_tape_would_be_wrong_if_the_cache_ignored_attributes(monkeypatch):
    """The check above can fail: with the attribute comparison defeated, a stale tape replays
    tanh for a cell switched to relu."""
    monkeypatch.setattr(scan_module, "_attributes", lambda owner: ())
    monkeypatch.setattr(scan_module, "_own_leaves", lambda tape, attributes: True)
    *_, got, want = switched_to_relu()
    assert np.allclose(got.data, want.data) == (not scanned())   # the eager loop keeps no tape


# ---- a review's findings: each once gave a wrong answer or kept memory ------------------------
def agrees_with_eager(step, xs, state, replays):
    """scan's outputs, last state and gradients (of xs and the state) equal the eager loop's,
    and scan replayed (or compiled) the step under MODE, or did not."""
    got, got_grads, out, path = results(replayed(), None, xs, state, step)
    want, want_grads, _, _ = results(eager(), None, xs, state, step)
    assert_same(got + got_grads, want + want_grads)
    assert path == (scan_module.MODE if replays else "eager")


class Leaky(nn.RNNCell):
    """A step that cuts the gradient through the state: detach() makes a tensor outside the
    ops, which a trace would keep as a constant."""

    def step(self, x_proj, h):
        return super().step(x_proj, h.detach())


@pytest.mark.parametrize("make_step", [
    lambda cell: Leaky(I, H).double().step,
    lambda cell: (lambda x, h: (x + (h @ cell.weight_hh.T) * (h > 0)).tanh()),
    lambda cell: (lambda x, h: (x + h[:, h.argmax(1).data[0]:] .sum(1, keepdim=True)).tanh()),
], ids=["detach", "comparison", "argmax"])
def test_a_value_made_outside_the_ops_runs_eagerly(make_step):
    cell = make_cell("rnn_tanh")
    xs, h0 = inputs("rnn_tanh", cell, 5)
    agrees_with_eager(make_step(cell), xs, h0, replays=False)


def test_random_numbers_inside_a_step_run_eagerly():
    """A dropout mask drawn in the step must differ at every step: a trace would freeze it."""
    cell = make_cell("rnn_tanh")
    xs, h0 = inputs("rnn_tanh", cell, 5)
    out, _ = scan(lambda x, h: (x + nn.functional.dropout(h, 0.5)).tanh(), xs, h0)
    assert Scan not in graph_ops(out)


class Wrapper(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = make_cell("rnn_tanh")

    def step(self, x, h):
        return self.cell.step(x, h)


def test_a_change_inside_a_sub_module_is_traced_again():
    wrapper = Wrapper()
    xs, h0 = inputs("rnn_tanh", wrapper.cell, 5)
    scan(wrapper.step, xs, h0)
    wrapper.cell.nonlinearity = "relu"
    agrees_with_eager(wrapper.step, xs, h0, replays=True)
    wrapper.cell.weight_hh = nn.Parameter(np.zeros((H, H)))
    agrees_with_eager(wrapper.step, xs, h0, replays=True)


def test_a_tensor_from_outside_the_owner_is_read_afresh_at_every_call():
    class Decoder(nn.Module):
        def __init__(self, source):
            super().__init__()
            self.source, self.cell = source, make_cell("rnn_tanh")

        def step(self, x, h):
            return self.cell.step(x + self.source.memory, h)

    class Source:
        memory = randn(7, B, H)

    decoder = Decoder(Source)
    xs, h0 = inputs("rnn_tanh", decoder.cell, 5)
    scan(decoder.step, xs, h0)
    Source.memory = randn(8, B, H)
    agrees_with_eager(decoder.step, xs, h0, replays=True)


def test_a_scan_inside_a_traced_step_keeps_every_gradient():
    inner, outer = make_cell("gru"), make_cell("rnn_tanh")
    xs = randn(1, 3, 4, B, 3 * H)                          # (T outer, T inner, B, 3H)

    def step(x, h):
        _, last = scan(inner.step, x, h)
        return (last @ outer.weight_hh.T + h).tanh()

    agrees_with_eager(step, xs, randn(2, B, H), replays=True)


def test_a_one_part_tuple_state_stays_a_tuple():
    cell = make_cell("rnn_tanh")
    xs, h0 = inputs("rnn_tanh", cell, 5)
    agrees_with_eager(lambda x, s: (cell.step(x, s[0]),), xs, (h0,), replays=True)


def test_a_step_that_fails_on_the_trace_runs_eagerly():
    """retain_grad() inside a step fails under the trace's no_grad; the eager loop runs it."""
    cell = make_cell("rnn_tanh")
    xs, h0 = inputs("rnn_tanh", cell, 4)
    agrees_with_eager(lambda x, h: cell.step(x, h).retain_grad(), xs, h0, replays=False)


def test_state_parts_of_different_dtypes_and_a_cast_cell_follow_the_eager_loop():
    cell = make_cell("lstm")
    xs, (h0, c0) = inputs("lstm", cell, 4)
    h0_32 = Tensor(h0.data.astype(np.float32), requires_grad=True)
    agrees_with_eager(cell.step, xs, (h0_32, c0), replays=False)
    xs32, state32 = inputs("lstm", cell, 4, dtype=np.float32)
    out, _ = scan(cell.step, xs32, state32)
    assert out.dtype == np.float64                   # float64 weights widen the state: eager
    cell.float()
    out, _ = scan(cell.step, xs32, state32)
    assert out.dtype == np.float32 and path_of(out) == scan_module.MODE


class SafeLog(Function):
    """log that refuses a non-positive input (as a user's op might)."""

    @staticmethod
    def forward(ctx, x):
        if (x <= 0).any():
            raise ValueError("log of a non-positive number")
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return (grad / x,)


def test_an_error_inside_a_replayed_op_names_the_op_and_the_step():
    """(A user's op has no rule in the compiler: compiled mode replays it.)"""
    xs, h0 = Tensor(np.ones((4, B, H))), randn(2, B, H)
    xs.data[2, 0, 0] = -1.0
    where = " at step 2 of a scan:" if scanned() else ":"
    with pytest.raises(ShapeError, match=rf"^safelog{where} \(2, 4\): log of a "
                                         r"non-positive number$"):
        scan(lambda x, h: (SafeLog.apply(x) + h).tanh(), xs, h0)


def test_an_error_inside_a_compiled_step_names_the_op_and_the_step(monkeypatch):
    """A compiled line that raises (here a planted tanh rule that reshapes badly) is reported
    as replay reports it: the op, the step, the shapes of its inputs."""
    monkeypatch.setitem(scan_compile.RULES, Tanh, ("np.tanh({a}).reshape(3, 5)",
                                                   scan_compile.RULES[Tanh][1]))
    cell = make_cell("rnn_tanh")
    xs, h0 = inputs("rnn_tanh", cell, 3)
    if scan_module.MODE != "compiled":
        scan(cell.step, xs, h0)                              # the rule is not used
        return
    with pytest.raises(ShapeError, match=r"^tanh at step 0 of a scan: \(2, 4\): "):
        scan(cell.step, xs, h0)


def test_a_cached_tape_does_not_keep_its_owner_alive():
    import gc
    import weakref

    cell = make_cell("rnn_tanh")
    cell.box = [cell]                                        # a cycle through an attribute
    xs, h0 = inputs("rnn_tanh", cell, 4)
    scan(cell.step, xs, h0)
    gone = weakref.ref(cell)
    del cell
    gc.collect()
    assert gone() is None


def test_no_grad_keeps_no_step_contexts():
    cell = make_cell("lstm")
    xs, state = inputs("lstm", cell, 6)
    tape = scan_module._tape(cell.step, xs, state, True)
    if scan_module.MODE == "compiled":
        scan_module._compile(tape, cell.step)
        assert tape.compiled is not None
    ctx = Scan.__new__(Scan)
    Scan.forward(ctx, xs.data, *(p.data for p in state),
                 *(t.data for t in tape.external_tensors()), tape=tape, keep=False)
    assert all(step is None for step in ctx.saved[1])


def test_a_cell_without_bias_ih_still_adds_bias_hh():
    cell = make_cell("rnn_tanh")
    cell.bias_ih = None
    x, h = randn(1, B, I), randn(2, B, H)
    want = np.tanh(x.data @ cell.weight_ih.data.T + h.data @ cell.weight_hh.data.T
                   + cell.bias_hh.data)
    np.testing.assert_allclose(cell(x, h).data, want, **TIGHT)
