"""vanishing.py: per-step gradient norms (checked by hand), the relations the demo shows on the
adding problem, clipping, and `tinygrad-rnn vanishing`."""

import numpy as np
import pytest

from tinygrad_rnn import cli
from tinygrad_rnn.teach.vanishing import (
    AddingTask,
    FirstTokenTask,
    hidden_grad_norms,
    make_probe,
    mean_squared_error,
    train_probe,
)
from tinygrad_rnn.teach.vanishing_view import Settings


def test_the_task_is_decided_by_the_first_token():
    task = FirstTokenTask(steps=7, classes=3, distractors=4)
    x, labels = task.batch(20, np.random.default_rng(1))
    assert x.shape == (7, 20, 7) and np.all(x.sum(axis=2) == 1)
    np.testing.assert_array_equal(x[0].argmax(axis=1), labels)
    assert np.all(x[1:].argmax(axis=2) >= 3)                        # distractors only after t=0


def test_the_adding_task_marks_one_early_and_one_late_number():
    task = AddingTask(steps=30)
    x, targets = task.batch(200, np.random.default_rng(1))
    numbers, markers = x[..., 0], x[..., 1]                         # (T, B) each
    assert x.shape == (30, 200, 2) and np.all(markers.sum(axis=0) == 2)
    assert np.all(markers[:3].sum(axis=0) == 1) and np.all(markers[15:].sum(axis=0) == 1)
    np.testing.assert_allclose(targets, (numbers * markers).sum(axis=0))
    assert np.all((numbers >= 0) & (numbers < 1))


def test_norms_match_a_hand_computed_product_of_jacobians():
    """g⟨T−1⟩ = W_yᵀ(softmax − onehot)/B, then g⟨t−1⟩ = (g⟨t⟩ ⊙ (1 − h⟨t⟩²)) W_hh."""
    task = FirstTokenTask(steps=6, classes=2, distractors=3)
    rng = np.random.default_rng(3)
    probe = make_probe("rnn", task, hidden=4, rng=rng)
    x, labels = task.batch(5, rng)
    cell, head = probe.cell, probe.head
    h, hs = np.zeros((5, 4)), []
    for t in range(task.steps):
        h = np.tanh(x[t] @ cell.weight_ih.data.T + cell.bias_ih.data + h @ cell.weight_hh.data.T
                    + cell.bias_hh.data)
        hs.append(h)
    logits = hs[-1] @ head.weight.data.T + head.bias.data
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    g = (p - np.eye(2)[labels]) / 5 @ head.weight.data
    expected = [np.linalg.norm(g)]
    for t in range(task.steps - 1, 0, -1):
        g = (g * (1 - hs[t] ** 2)) @ cell.weight_hh.data
        expected.append(np.linalg.norm(g))
    np.testing.assert_allclose(hidden_grad_norms(probe, task, x, labels), expected[::-1],
                               rtol=1e-10)


@pytest.fixture(scope="module")
def untrained_norms():
    task = FirstTokenTask(steps=50)
    norms = {}
    for kind in ("rnn", "gru", "lstm"):
        rng = np.random.default_rng(0)
        probe = make_probe(kind, task, hidden=16, rng=rng)
        norms[kind] = hidden_grad_norms(probe, task, *task.batch(32, rng))
    return norms


def test_an_untrained_tanh_rnn_vanishes_by_orders_of_magnitude(untrained_norms):
    rnn = untrained_norms["rnn"]
    assert rnn[0] < 1e-6 * rnn[-1]                      # measured ≈ 1e-9 at seed 0; margin 1e3
    assert np.all(rnn > 0) and np.all(np.isfinite(rnn))


def test_lstm_with_forget_bias_one_decays_less(untrained_norms):
    ratio = {kind: n[0] / n[-1] for kind, n in untrained_norms.items()}
    assert ratio["lstm"] > 1e3 * ratio["rnn"]           # measured ≈ 1e6 times; margin 1e3


def test_forget_bias_is_what_keeps_the_lstm_gradient():
    """Negative control: the same LSTM with forget bias −3 (f ≈ 0.05) loses it much faster."""
    task = FirstTokenTask(steps=30)
    ratios = []
    for bias in (1.0, -3.0):
        rng = np.random.default_rng(0)
        n = hidden_grad_norms(make_probe("lstm", task, 16, rng, forget_bias=bias), task,
                              *task.batch(32, rng))
        ratios.append(n[0] / n[-1])
    assert ratios[0] > 1e3 * ratios[1]


def test_clipping_bounds_each_step_but_logs_the_norm_before():
    task = FirstTokenTask(steps=20)
    for clip in (None, 1e-3):
        rng = np.random.default_rng(0)
        probe = make_probe("rnn", task, 8, rng, recurrent_gain=2.0)
        before = [p.data.copy() for p in probe.parameters()]
        log = train_probe(probe, task, 1, rng, lr=0.5, optimizer="sgd", clip=clip)
        moved = np.sqrt(sum(np.sum((p.data - b) ** 2) for p, b in zip(probe.parameters(), before,
                                                                      strict=True)))
        assert log.grad_norms[0] > 1e-2                 # what it would have been
        if clip is None:
            assert moved == pytest.approx(0.5 * log.grad_norms[0], rel=1e-9)
        else:
            assert moved <= 0.5 * clip * (1 + 1e-6)


def test_cli_vanishing_quick_saves_an_svg(tmp_path, capsys):
    svg = tmp_path / "v.svg"
    assert cli.main(["vanishing", "--quick", "--svg", str(svg)]) == 0
    out = capsys.readouterr().out
    assert "RNN" in out and "LSTM" in out and "norm ≤ 1" in out
    assert svg.read_text().lstrip().startswith("<svg")


def test_cli_vanishing_refuses_a_missing_directory(capsys):
    assert cli.main(["vanishing", "--quick", "--svg", "/no/such/dir/v.svg"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--svg" in err


@pytest.fixture(scope="module")
def adding_demo():
    """The full demo's run (adding problem, T = 30, seed 0), drawn in the demo's order: norms and
    mse before and after 800 Adam steps, on fresh sequences each time."""
    s = Settings()
    task = AddingTask(s.steps)
    rng = np.random.default_rng(s.seed)
    x, targets = task.batch(s.batch, rng)
    probes = {kind: make_probe(kind, task, s.hidden, rng) for kind in ("rnn", "gru", "lstm")}
    before = {k: hidden_grad_norms(p, task, x, targets) for k, p in probes.items()}
    for p in probes.values():
        train_probe(p, task, s.train_steps, rng, batch=s.train_batch, lr=s.lr)
    x, targets = task.batch(s.batch, rng)
    after = {k: hidden_grad_norms(p, task, x, targets) for k, p in probes.items()}
    return before, after, {k: mean_squared_error(p, x, targets) for k, p in probes.items()}


@pytest.mark.slow
def test_after_training_the_gated_cells_solve_the_adding_problem_and_the_rnn_does_not(adding_demo):
    """Measured mse: RNN 0.25 (guessing 1 scores 1/6), GRU 0.0003, LSTM 0.005."""
    _, _, mse = adding_demo
    assert mse["gru"] < 0.02 and mse["lstm"] < 0.02             # margin ≥ 4× on the measured
    assert mse["rnn"] > 0.1                                     # no better than a constant guess
    assert mse["rnn"] > 10 * max(mse["gru"], mse["lstm"])       # measured ≈ 50×


@pytest.mark.slow
def test_after_training_the_gradient_reaches_the_first_steps_only_through_gates(adding_demo):
    """‖∂L/∂h⟨0⟩‖ relative to ‖∂L/∂h⟨T−1⟩‖: measured RNN 7e-5, GRU 0.37, LSTM 0.26. The RNN's
    figure moves a lot with rounding and seed (3e-9 … 2e-3 over seeds 0-2), the gated cells'
    stay at 0.2-0.6: the test asks for a gap of 100× at least."""
    before, after, _ = adding_demo
    ratio = {k: n[0] / n[-1] for k, n in after.items()}
    gated = min(ratio["gru"], ratio["lstm"])
    assert gated > 1e-2 and ratio["rnn"] < gated / 100
    assert all(after[k][0] / after[k][-1] > 30 * before[k][0] / before[k][-1]
               for k in ("gru", "lstm"))    # measured ≥ 300×: training opened the gates


def test_the_caption_names_who_solved_it_and_who_did_not():
    from tinygrad_rnn.teach.vanishing_view import _verdict
    assert _verdict({"rnn": 0.25, "gru": 0.0003, "lstm": 0.005}) == (
        "Solved it (mse < 0.02): GRU, LSTM; did not: RNN.")
    assert _verdict({"rnn": 0.02}) == "Did not: RNN."


def test_cli_vanishing_quick_trains_and_says_what_it_shows(capsys):
    assert cli.main(["vanishing", "--quick"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "adding problem" in out and "After 60 Adam steps" in out and "Guessing the mean" in out


def test_at_its_defaults_the_clipping_lesson_shows_what_it_says():
    """The default clipping comparison (the one `tinygrad-rnn vanishing` prints): without
    clipping the RNN ends above chance, clipped it learns (it used to end at 0.68 both ways,
    under a caption saying clipping helps). Measured at seeds 0-3: 1.1-1.8 against 0.00."""
    from tinygrad_rnn.teach.vanishing_view import (
        CHANCE,
        _clipping_verdict,
        exploding_logs,
        last_loss,
    )
    logs = exploding_logs(Settings())
    assert last_loss(logs[None]) > CHANCE and last_loss(logs[1.0]) < 0.1
    assert max(logs[None].grad_norms) > 5                 # an explosion to clip
    assert _clipping_verdict(logs).startswith("Without clipping")


def test_the_clipping_caption_says_so_when_clipping_did_not_help():
    from tinygrad_rnn.teach.vanishing import TrainLog
    from tinygrad_rnn.teach.vanishing_view import _clipping_verdict
    same = TrainLog(losses=[0.68] * 5, grad_norms=[1.0] * 5)
    assert _clipping_verdict({None: same, 1.0: same}).startswith("At this seed clipping did not")


def test_a_heat_strip_reads_without_its_colours():
    from tinygrad_rnn.viz.charts import heat_strip, legend
    strip = heat_strip([1e-8, 1e-5, 1e-3, 1e-1], -8, -1)
    assert strip.plain == "▁▄▆█"                      # the levels are glyphs, not only colours
    assert "▁▂▃▄▅▆▇█" in legend(-8, -1).plain
