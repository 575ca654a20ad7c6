"""The gradient-check tour: ops, cells and layers pass; a broken backward is caught."""

import numpy as np
import pytest

from tinygrad_rnn.engine import functions as F
from tinygrad_rnn.teach.tour import (
    all_checks,
    broken,
    module_checks,
    op_checks,
    run_check,
    run_checks,
)


def test_every_cell_and_layer_is_in_the_tour():
    names = {c.name for c in module_checks()}
    for expected in ("RNNCell (tanh)", "RNNCell (relu)", "GRUCell", "LSTMCell"):
        assert expected in names
    assert {n.split()[0] for n in names if "layers" in n} == {"RNN", "GRU", "LSTM"}
    assert [c.kind for c in all_checks()] == (["op"] * len(op_checks()) + ["cell"] * 4
                                              + ["layer"] * 3)


@pytest.mark.parametrize("check", module_checks(), ids=lambda c: c.name)
def test_cells_and_layers_pass(check):
    result = run_check(check)
    assert result.passed and result.max_abs_error < 1e-6 and result.kind == check.kind


def test_module_checks_cover_every_parameter_element():
    """The numerical gradient of a module check runs over x, the state and all parameters."""
    import tinygrad_rnn.teach.tour as tour
    check = next(c for c in module_checks() if c.name == "GRUCell")
    fn, inputs = tour._prepare(check, np.random.default_rng(0))
    assert len(inputs) == 2 + 4                         # x, h, weight_ih/hh, bias_ih/hh
    assert sum(t.numel() for t in inputs) == 2 * 2 + 2 * 3 + 9 * 2 + 9 * 3 + 9 + 9
    assert all(t.dtype == np.float64 and t.requires_grad for t in inputs)


def test_a_broken_op_fails_inside_a_cell():
    """Negative test: with tanh's backward wrong, the tanh RNN cell's check must fail."""
    check = next(c for c in module_checks() if c.name == "RNNCell (tanh)")
    with broken(F.Tanh):
        assert not run_check(check).passed
    assert run_check(check).passed                      # restored on exit


def test_break_option_fails_only_that_op_check():
    results = run_checks(op_checks(), break_op="matmul")
    failed = {r.name for r in results if not r.passed}
    assert failed == {"matmul", "matmul (batched)"}


def test_a_broken_op_poisons_every_check_built_on_it():
    """With tanh broken for the whole tour, its row and every tanh-using cell/layer fail; the
    relu RNN cell and the other ops, which never call tanh, still pass."""
    results = {r.name: r.passed for r in run_checks(all_checks(), break_op="tanh")}
    uses_tanh = {"tanh", "RNNCell (tanh)", "GRUCell", "LSTMCell", "RNN (2 layers, bidirectional)",
                 "GRU (2 layers, bidirectional)", "LSTM (2 layers, bidirectional)"}
    assert {name for name, passed in results.items() if not passed} == uses_tanh
    assert run_check(next(c for c in module_checks() if c.name == "GRUCell")).passed  # restored


def test_break_of_an_unknown_op_is_refused():
    with pytest.raises(ValueError, match="no op named"):
        run_checks(op_checks(), break_op="tahn")
