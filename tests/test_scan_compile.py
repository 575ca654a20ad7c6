"""scan's compiler (engine/scan_compile.py): the source it prints is the code that runs and is
the cell's BPTT; it names the op that makes it fall back; a planted wrong line is caught."""

import re
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_rnn
from tinygrad_rnn import Function, Tensor, manual_seed, nn, scan_report, scan_source
from tinygrad_rnn.engine import scan as scan_module
from tinygrad_rnn.engine import scan_compile
from tinygrad_rnn.engine.functions import Sigmoid, Tanh

B, H = 2, 4


def lstm(seed=0):
    manual_seed(seed)
    return nn.LSTM(3, H).double()


def run_layer(layer, mode, seed=1):
    """The layer's output and the gradients of a random weighting of it, under MODE."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((6, B, 3)), requires_grad=True)
    layer.zero_grad()
    previous, scan_module.MODE = scan_module.MODE, mode
    try:
        out, _ = layer(x)
    finally:
        scan_module.MODE = previous
    (out * Tensor(rng.standard_normal(out.shape))).sum().backward()
    return [out.data, x.grad, *(p.grad for p in layer.parameters())]


def same(got, want):
    return all(np.allclose(g, w, rtol=1e-12, atol=1e-12) for g, w in zip(got, want, strict=True))


def test_the_lstm_step_reads_as_the_cells_equations():
    source = scan_source(nn.LSTMCell(3, H).double())
    for line in ["i = sigmoid(i_pre)", "f = sigmoid(f_pre)", "g = np.tanh(g_pre)",
                 "o = sigmoid(o_pre)", "c = t1 + t2", "h = o * tanh_c",
                 "def backward(dh, dc, saved, weight_hh_T):",
                 "dc = dc + dtanh_c * (1.0 - tanh_c * tanh_c)  # tanh_c = np.tanh(c)",
                 "dgates = np.concatenate([di_pre, df_pre, dg_pre, do_pre], axis=1)",
                 "dh_prev = dh_proj @ weight_hh_T.T", "dc_prev = dt1 * f",
                 "return dx_proj, dh_prev, dc_prev, dh_proj"]:
        assert line in source, line
    assert max(len(line) for line in source.splitlines()) <= 80


def test_the_gru_step_keeps_its_names_and_a_layer_gives_its_first_cells():
    source = scan_source(nn.GRU(3, H).double())
    for line in ["r = sigmoid(", "z = sigmoid(", "n = np.tanh(", "x_r = x_proj[:, 0:4]",
                 "dbias_hh = dt1.sum(axis=0)"]:
        assert line in source, line
    assert "h = np.tanh(" in scan_source(nn.RNN(3, H))


def test_the_printed_source_is_the_code_that_runs():
    """Exec the printed text on its own and run one LSTM step with it: forward and backward
    equal the eager step's values and autograd gradients (W_hh's from h_prevᵀ dh_proj)."""
    cell = nn.LSTMCell(3, H).double()
    namespace = dict(scan_compile.HELPERS)
    exec(scan_source(cell), namespace)                                 # noqa: S102
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((B, 4 * H)), requires_grad=True)
    h0 = Tensor(rng.standard_normal((B, H)), requires_grad=True)
    c0 = Tensor(rng.standard_normal((B, H)), requires_grad=True)
    dh, dc = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    h, c = cell.step(x, (h0, c0))
    ((h * Tensor(dh)).sum() + (c * Tensor(dc)).sum()).backward()
    w_t = cell.weight_hh.data.T
    h_new, c_new, saved = namespace["forward"](x.data, h0.data, c0.data, w_t)
    dx, dh0, dc0, dz = namespace["backward"](dh, dc, saved, w_t)
    for got, want in [(h_new, h.data), (c_new, c.data), (dx, x.grad), (dh0, h0.grad),
                      (dc0, c0.grad), ((h0.data.T @ dz).T, cell.weight_hh.grad)]:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


class Doubler(Function):
    """y = 2x, a user's own op (the compiler has no rule for it)."""

    @staticmethod
    def forward(ctx, x):
        return 2.0 * x

    @staticmethod
    def backward(ctx, grad):
        return (2.0 * grad,)


class Cells:
    lstm = nn.LSTMCell(3, H).double()

    @staticmethod
    def own_op(x, h):
        return (Doubler.apply(x) + h).tanh()

    @staticmethod
    def detached(x, h):
        return (x + h.detach()).tanh()

    @staticmethod
    def batched(x, h):
        return (x + (h.reshape(1, B, H) @ Tensor(np.ones((1, H, H)))).reshape(B, H)).tanh()


@pytest.mark.parametrize("step, expected", [
    (Cells.lstm, r"^LSTMCell\.step: compiled: 15 ops a step \(1 hoisted out of the loop\)$"),
    (Cells.own_op, r": replayed, not compiled: no rule for op doubler \(no rule for it"),
    (Cells.batched, r": replayed, not compiled: no rule for op matmul \(1, 2, 4\) @ \(1, 4, 4\)"),
    (Cells.detached, r": the eager loop: the step makes a value without an op \(detach"),
], ids=["lstm", "own_op", "batched_matmul", "detach"])
def test_scan_report_names_the_path_and_what_made_it_fall_back(step, expected):
    if isinstance(step, nn.Module):
        report = scan_report(step)
    else:
        report = scan_report(step, Tensor(np.ones((3, B, H))), Tensor(np.ones((B, H))))
    assert re.search(expected, report), report


def test_a_step_the_compiler_cannot_write_is_replayed_with_the_same_results():
    xs, h0 = Tensor(np.linspace(-1, 1, 24).reshape(3, B, H), requires_grad=True), \
        Tensor(np.ones((B, H)))
    out, _ = scan_module.scan(Cells.own_op, xs, h0)
    assert isinstance(out._ctx.parents[0], scan_module.Scan)
    assert out._ctx.parents[0].saved[-1] is None                      # replayed, not compiled
    want, _ = scan_module._eager(Cells.own_op, xs, h0, False)
    np.testing.assert_allclose(out.data, want.data, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="the compiler cannot write op doubler"):
        scan_source(Cells.own_op, xs, h0)


def test_the_compiled_path_is_the_default_for_the_layers():
    layer = lstm()
    assert scan_module.MODE == "compiled"
    assert same(run_layer(layer, "compiled"), run_layer(layer, "eager"))
    tapes = layer.cells[0].__dict__["_scan_tapes"]
    assert all(tape.compiled is not None for tape, _ in tapes.values())


@pytest.mark.parametrize("rule, planted", [
    (Tanh, ("np.tanh({a})", ("{g} * (1.0 - {y})",))),          # backward: 1 − y, not 1 − y²
    (Sigmoid, ("np.tanh({a})", ("{g} * {y} * (1.0 - {y})",))),  # forward: tanh for σ
], ids=["wrong_backward_line", "wrong_forward_line"])
def test_a_planted_wrong_generated_line_is_caught(monkeypatch, rule, planted):
    """With one rule of the compiler made wrong, the printed code shows the wrong line, and
    the comparison with the eager loop (as in test_scan) fails; with the rule right, it
    passes. So these comparisons can catch a wrong generated line."""
    layer = lstm()
    want = run_layer(layer, "eager")
    assert same(run_layer(lstm(), "compiled"), want)
    monkeypatch.setitem(scan_compile.RULES, rule, planted)
    wrong = lstm()
    line = {Tanh: "dc = dc + dtanh_c * (1.0 - tanh_c) ", Sigmoid: "i = np.tanh(i_pre)"}[rule]
    assert line in scan_source(wrong.cells[0])
    assert not same(run_layer(wrong, "compiled"), want)
    assert same(run_layer(wrong, "replay"), want)               # replay does not use the rules


def test_names_are_numbered_when_a_tracer_is_active():
    """Under a debugger or coverage tool (sys.settrace in use) the trace cannot watch names:
    the code numbers its values instead, and still runs right."""
    script = ("import sys; from tinygrad_rnn import nn, scan_source\n"
              "sys.settrace(lambda *a: None)\n"
              "print(scan_source(nn.LSTMCell(3, 4).double()))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert "i = sigmoid" not in out and "h = " in out and "def backward(dh, dc" in out


def test_graph_code_prints_the_source(capsys):
    from tinygrad_rnn.cli import main
    assert main(["graph", "--cell", "gru", "--code"]) == 0
    assert capsys.readouterr().out == tinygrad_rnn.scan_source(nn.GRUCell(3, 4).double())


def test_the_bptt_chapter_shows_what_scan_source_prints():
    """docs/bptt.md shows the LSTM step's code in a ```py block (highlighted, not run by
    test_docs); it must be what scan_source prints today."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "bptt.md").read_text("utf-8")
    shown = text.split("\n```py\n", 1)[1].split("\n```\n", 1)[0] + "\n"
    assert shown == scan_source(nn.LSTMCell(3, 4).double())


def test_an_op_whose_backward_is_replaced_is_replayed_until_it_is_back(monkeypatch):
    """The rules follow functions.py: while Tanh.backward is replaced (as the tour's broken
    op does), a step that uses tanh is not compiled but replayed, so the replaced backward
    runs; once it is back, the same tape compiles."""
    want = run_layer(lstm(), "compiled")
    real = Tanh.__dict__["backward"]
    monkeypatch.setattr(Tanh, "backward", staticmethod(lambda ctx, g: real.__func__(ctx, 0 * g)))
    layer = lstm()
    assert "its forward or backward is not the one of functions.py" in scan_report(layer)
    assert not same(run_layer(layer, "compiled"), want)
    monkeypatch.setattr(Tanh, "backward", real)
    assert same(run_layer(layer, "compiled"), want)
    assert all(t.compiled is not None for t, _ in layer.cells[0].__dict__["_scan_tapes"].values())
