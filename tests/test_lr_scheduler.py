"""Learning-rate schedules against their closed forms, composition, and state_dict round trips."""

import json
import math

import numpy as np
import pytest

from tinygrad_rnn import Tensor
from tinygrad_rnn.optim import SGD, CosineAnnealingLR, ExponentialLR, LinearWarmup, StepLR


def sgd(*lrs):
    """An SGD optimizer with one param group per lr."""
    return SGD([{"params": [Tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in lrs],
               lr=1.0)


def lrs(opt, scheduler, steps):
    """The lr of every group at steps 0..steps, read from the optimizer and from get_last_lr."""
    seen = []
    for n in range(steps + 1):
        if n:
            scheduler.step()
        current = [g["lr"] for g in opt.param_groups]
        assert scheduler.get_last_lr() == current
        seen.append(current)
    return np.array(seen)


def test_step_lr():
    opt = sgd(0.1, 1.0)
    got = lrs(opt, StepLR(opt, step_size=3, gamma=0.5), 20)
    want = [[0.1 * 0.5 ** (n // 3), 0.5 ** (n // 3)] for n in range(21)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[2, 1] == 1.0 and got[3, 1] == 0.5  # the first decay comes after step_size steps


def test_exponential_lr():
    opt = sgd(0.1)
    np.testing.assert_allclose(lrs(opt, ExponentialLR(opt, gamma=0.9), 20)[:, 0],
                               [0.1 * 0.9**n for n in range(21)], rtol=1e-12)


def test_cosine_annealing_lr():
    opt = sgd(1.0, 0.5)
    got = lrs(opt, CosineAnnealingLR(opt, T_max=10, eta_min=0.1), 25)
    want = [[0.1 + (base - 0.1) * (1 + math.cos(math.pi * n / 10)) / 2 for base in (1.0, 0.5)]
            for n in range(26)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got[[0, 5, 10, 20], 0], [1.0, 0.55, 0.1, 1.0], rtol=1e-12)


def test_linear_warmup_alone_ramps_then_holds():
    opt = sgd(1.0)
    got = lrs(opt, LinearWarmup(opt, warmup_steps=4, start_factor=0.2), 6)[:, 0]
    np.testing.assert_allclose(got, [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0], rtol=1e-12)


def test_linear_warmup_then_cosine():
    opt = sgd(1.0)
    cosine = CosineAnnealingLR(opt, T_max=4)
    warmup = LinearWarmup(opt, warmup_steps=2, start_factor=0.5, then=cosine)
    got = lrs(opt, warmup, 7)[:, 0]
    half = (1 + math.cos(math.pi / 4)) / 2
    np.testing.assert_allclose(got, [0.5, 0.75, 1.0, half, 0.5, 1 - half, 0.0, 1 - half],
                               rtol=1e-12, atol=1e-15)
    assert cosine.last_epoch == 5 and cosine.get_last_lr() == [opt.param_groups[0]["lr"]]


def test_optimizer_uses_the_scheduled_lr():
    p = Tensor(np.zeros(1), requires_grad=True)
    opt = SGD([p], lr=1.0)
    scheduler = StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = np.ones(1)
        opt.step()
        scheduler.step()
    np.testing.assert_allclose(p.data, [-(1.0 + 0.5 + 0.25)], rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda opt: StepLR(opt, step_size=3, gamma=0.5),
    lambda opt: ExponentialLR(opt, gamma=0.9),
    lambda opt: CosineAnnealingLR(opt, T_max=10, eta_min=0.01),
    lambda opt: LinearWarmup(opt, 3, then=CosineAnnealingLR(opt, T_max=10)),
])
def test_state_dict_round_trip(make):
    opt = sgd(0.1, 0.3)
    scheduler = make(opt)
    for _ in range(7):
        scheduler.step()
    saved = json.loads(json.dumps(scheduler.state_dict()))
    opt_sd = opt.state_dict()
    fresh = sgd(0.1, 0.3)
    resumed = make(fresh)
    fresh.load_state_dict(opt_sd)
    resumed.load_state_dict(saved)
    assert resumed.get_last_lr() == scheduler.get_last_lr()
    np.testing.assert_allclose(lrs(fresh, resumed, 10), lrs(opt, scheduler, 10), rtol=0)


def test_reference_comparison_can_fail():
    opt = sgd(1.0)
    got = lrs(opt, StepLR(opt, step_size=3, gamma=0.5), 10)[:, 0]
    assert not np.allclose(got, [0.5 ** (n // 2) for n in range(11)])


@pytest.mark.parametrize("make, match", [
    (lambda opt: StepLR(opt, step_size=0), "StepLR: step_size must be a positive integer"),
    (lambda opt: StepLR(opt, step_size=2.5), "step_size must be a positive integer, got 2.5"),
    (lambda opt: StepLR(opt, step_size=2, gamma=-0.1), "StepLR: gamma must be a positive"),
    (lambda opt: ExponentialLR(opt, gamma=0), "ExponentialLR: gamma must be a positive"),
    (lambda opt: CosineAnnealingLR(opt, T_max=-3), "T_max must be a positive integer"),
    (lambda opt: CosineAnnealingLR(opt, T_max=3, eta_min=-1), "eta_min must be a non-negative"),
    (lambda opt: LinearWarmup(opt, warmup_steps=0), "warmup_steps must be a positive integer"),
    (lambda opt: LinearWarmup(opt, 3, start_factor=0), r"start_factor must be in \(0, 1\]"),
    (lambda opt: LinearWarmup(opt, 3, then=StepLR(sgd(1.0), 2)), "the same optimizer"),
    (lambda opt: StepLR("adam", 3), "StepLR: expected an Optimizer, got str"),
])
def test_bad_arguments_raise_clear_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(sgd(1.0))


def test_load_state_dict_checks_group_count():
    scheduler = StepLR(sgd(1.0), step_size=2)
    with pytest.raises(ValueError, match="expected base_lrs for 1 param groups"):
        scheduler.load_state_dict({"last_epoch": 3, "base_lrs": [1.0, 2.0]})
    with pytest.raises(ValueError, match="last_epoch must be a non-negative integer"):
        scheduler.load_state_dict({"last_epoch": -1, "base_lrs": [1.0]})
