"""The course bridge: the course's functions in its layout agree with nn cells, the converters
go both ways, and check_backward accepts the hand-written reference backward passes and names
each planted bug's kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn import Tensor, course, nn

SOLUTIONS = Path(__file__).parent / "learn" / "solutions"
FILES = {"rnn_cell": "06_rnn_cell_backward.py", "rnn": "07_rnn_backward.py",
         "lstm_cell": "10_lstm_cell_backward.py"}


def solution(kind: str, edit: tuple[str, str] | None = None):
    """The reference backward of `kind` (the exercises' answers), optionally with one planted
    edit (which must apply exactly once)."""
    path = SOLUTIONS / FILES[kind]
    source = path.read_text()
    if edit is not None:
        old, new = edit
        assert source.count(old) == 1, f"the planted edit {old!r} does not apply exactly once"
        source = source.replace(old, new)
    namespace: dict = {}
    exec(compile(source, str(path), "exec"), namespace)
    return namespace[f"{kind}_backward"]


@pytest.mark.parametrize("kind", course.BACKWARDS)
def test_the_reference_backward_passes(kind):
    report = course.check_backward(solution(kind), kind)
    assert report.passed and report.cases == 4, report.message


PLANTED = [
    ("rnn_cell", "dWax = dz @ xt.T", "dWax = xt @ dz.T", "transposed"),
    ("rnn_cell", "dba = np.sum(dz, axis=1, keepdims=True)", "dba = dz", "broadcast"),
    ("rnn_cell", "dba = np.sum(dz, axis=1, keepdims=True)", "dba = dz[:, :1]", "broadcast"),
    ("rnn_cell", '"da_prev": da_prev, "dWax": dWax, "dWaa": dWaa',
     '"da_prev": da_prev, "dWax": dWaa, "dWaa": dWax', "swapped"),
    ("rnn_cell", "dz = da_next * (1 - a_next ** 2)", "dz = -da_next * (1 - a_next ** 2)",
     "sign"),
    ("rnn", "dWax += gradients[\"dWax\"]", "dWax = gradients[\"dWax\"]", "accumulation"),
    ("rnn", "dx[:, :, t] = gradients[\"dxt\"]", "dx[:, :, t - 1] = gradients[\"dxt\"]",
     "time_shift"),
    ("rnn", "da[:, :, t] + da_prevt", "da[:, :, t]", "no_carry"),
    ("rnn", "dba += gradients[\"dba\"]", "dba += 2 * gradients[\"dba\"]", "scaled"),
    ("lstm_cell", '"dWf": dWf, "dWi": dWi', '"dWf": dWi, "dWi": dWf', "swapped"),
    ("lstm_cell", "(np.sum(d, axis=1, keepdims=True) for", "(d for", "broadcast"),
    ("lstm_cell", "(d @ concat.T for", "(concat @ d.T for", "transposed"),
]


@pytest.mark.parametrize(("kind", "old", "new", "named"), PLANTED,
                         ids=[f"{p[0]}: {p[3]}: {p[2]}" for p in PLANTED])
def test_a_planted_bug_fails_with_its_diagnosis(kind, old, new, named):
    report = course.check_backward(solution(kind, (old, new)), kind)
    assert not report.passed
    assert report.kind == named, report.message


def test_check_backward_reports_one_line_for_each_kind_of_bad_return():
    def not_a_dict(da_next, cache):
        return da_next

    def missing_key(da_next, cache):
        return {k: v for k, v in solution("rnn_cell")(da_next, cache).items()
                if k != "dba"}

    assert "returned a ndarray; return a dict" in course.check_backward(not_a_dict,
                                                                         "rnn_cell").message
    assert "has no 'dba'" in course.check_backward(missing_key, "rnn_cell").message
    with pytest.raises(ValueError, match="unknown kind 'gru'"):
        course.check_backward(not_a_dict, "gru")


def test_a_learner_changing_the_cache_cannot_change_the_truth():
    reference = solution("rnn_cell")

    def vandal(da_next, cache):
        gradients = reference(da_next, cache)
        cache[3]["Wax"][:] = 0.0
        cache[0][:] = 0.0
        return gradients

    assert course.check_backward(vandal, "rnn_cell").passed


# ---- the course's forward functions and the converters ----------------------------------------
RNG = np.random.default_rng(3)


def rnn_parameters(n_x=3, n_a=4, n_y=2):
    return {"Wax": RNG.standard_normal((n_a, n_x)), "Waa": RNG.standard_normal((n_a, n_a)),
            "Wya": RNG.standard_normal((n_y, n_a)), "ba": RNG.standard_normal((n_a, 1)),
            "by": RNG.standard_normal((n_y, 1))}


def lstm_parameters(n_x=3, n_a=4, n_y=2):
    params = {w: RNG.standard_normal((n_a, n_a + n_x)) for w in ("Wf", "Wi", "Wc", "Wo")}
    params.update({b: RNG.standard_normal((n_a, 1)) for b in ("bf", "bi", "bc", "bo")})
    return {**params, "Wy": RNG.standard_normal((n_y, n_a)), "by": RNG.standard_normal((n_y, 1))}


def test_rnn_cell_forward_is_the_course_equations_in_numpy():
    p, xt, a_prev = rnn_parameters(), RNG.standard_normal((3, 5)), RNG.standard_normal((4, 5))
    a_next, yt_pred, cache = course.rnn_cell_forward(xt, a_prev, p)
    expected_a = np.tanh(p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"])
    z = p["Wya"] @ expected_a + p["by"]
    np.testing.assert_allclose(a_next, expected_a, atol=1e-12)
    np.testing.assert_allclose(yt_pred, np.exp(z) / np.exp(z).sum(0), atol=1e-12)
    assert a_next.shape == (4, 5) and yt_pred.shape == (2, 5) and cache[1] is a_prev


def test_rnn_cell_round_trip_and_the_cell_agrees_on_transposed_batches():
    p, xt, a_prev = rnn_parameters(), RNG.standard_normal((3, 5)), RNG.standard_normal((4, 5))
    cell, head = course.to_rnn_cell(p)
    assert isinstance(cell, nn.RNNCell) and cell.weight_ih.shape == (4, 3)
    h = cell(Tensor(xt.T), Tensor(a_prev.T))
    a_next, yt_pred, _ = course.rnn_cell_forward(xt, a_prev, p)
    np.testing.assert_allclose(h.numpy().T, a_next, atol=1e-12)
    np.testing.assert_allclose(head(h).softmax(1).numpy().T, yt_pred, atol=1e-12)
    back = course.from_rnn_cell(cell, head)
    assert sorted(back) == sorted(course.RNN_KEYS)
    for k in p:
        np.testing.assert_allclose(back[k], p[k], atol=1e-12)


def test_from_rnn_cell_folds_both_biases():
    cell = nn.RNNCell(2, 3).double()
    expected = (cell.bias_ih.numpy() + cell.bias_hh.numpy()).reshape(3, 1)
    np.testing.assert_allclose(course.from_rnn_cell(cell)["ba"], expected)


def test_lstm_round_trip_and_the_cell_agrees():
    p = lstm_parameters()
    xt, a_prev, c_prev = (RNG.standard_normal(s) for s in ((3, 2), (4, 2), (4, 2)))
    a_next, c_next, yt_pred, _ = course.lstm_cell_forward(xt, a_prev, c_prev, p)
    cell, head = course.to_lstm_cell(p)
    h, c = cell(Tensor(xt.T), (Tensor(a_prev.T), Tensor(c_prev.T)))
    np.testing.assert_allclose(h.numpy().T, a_next, atol=1e-12)
    np.testing.assert_allclose(c.numpy().T, c_next, atol=1e-12)
    np.testing.assert_allclose(head(h).softmax(1).numpy().T, yt_pred, atol=1e-12)
    concat = np.concatenate([a_prev, xt])                         # the course's own equations
    forget = 1 / (1 + np.exp(-(p["Wf"] @ concat + p["bf"])))
    update = 1 / (1 + np.exp(-(p["Wi"] @ concat + p["bi"])))
    np.testing.assert_allclose(c_next, forget * c_prev + update * np.tanh(p["Wc"] @ concat
                                                                          + p["bc"]),
                               atol=1e-12)
    back = course.from_lstm_cell(cell, head)
    for k in p:
        np.testing.assert_allclose(back[k], p[k], atol=1e-12)


def test_sequence_forwards_stack_time_last_and_rnn_backward_matches_cell_steps():
    p, x, a0 = rnn_parameters(), RNG.standard_normal((3, 2, 4)), RNG.standard_normal((4, 2))
    a, y_pred, (caches, x_back) = course.rnn_forward(x, a0, p)
    assert a.shape == (4, 2, 4) and y_pred.shape == (2, 2, 4) and len(caches) == 4
    np.testing.assert_allclose(a[:, :, 1], course.rnn_cell_forward(x[:, :, 1], a[:, :, 0],
                                                                   p)[0], atol=1e-12)
    lp = lstm_parameters()
    a, y, c, caches = course.lstm_forward(x, a0, lp)
    assert a.shape == c.shape == (4, 2, 4) and y.shape == (2, 2, 4)


def test_clip_clamps_every_gradient_and_leaves_the_input_alone():
    gradients = {"dWaa": np.array([[10.0, -10.0], [0.5, -7.0]]), "dby": np.array([[3.0]])}
    clipped = course.clip(gradients, 5.0)
    np.testing.assert_array_equal(clipped["dWaa"], [[5.0, -5.0], [0.5, -5.0]])
    np.testing.assert_array_equal(clipped["dby"], [[3.0]])
    assert gradients["dWaa"][0, 0] == 10.0


def test_importing_the_package_does_not_import_teach():
    import subprocess
    import sys
    code = ("import sys, tinygrad_rnn; assert not [m for m in sys.modules if '.teach' in m]; "
            "from tinygrad_rnn import course; assert course.check_backward")
    subprocess.run([sys.executable, "-c", code], check=True)
