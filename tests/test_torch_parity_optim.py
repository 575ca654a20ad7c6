"""Optimizers, schedulers and clipping against torch (float64, 1e-9); skipped without torch."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from tinygrad_rnn import Tensor, optim  # noqa: E402
from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_  # noqa: E402

STEPS = 30
SHAPES = [(4, 3), (5,)]


def trajectories(ours_cls, torch_cls, hyper, torch_hyper=None, groups=None, seed=0):
    """Run both optimizers on the same gradient field; return both paths (steps, n_params)."""
    rng = np.random.default_rng(seed)
    theta0 = [rng.normal(size=s) for s in SHAPES]
    centre = [rng.normal(size=s) for s in SHAPES]
    noise = [rng.normal(size=(STEPS, *s)) for s in SHAPES]
    ours = [Tensor(t.copy(), requires_grad=True) for t in theta0]
    theirs = [torch.tensor(t.copy(), requires_grad=True) for t in theta0]
    frozen = (Tensor(np.ones(2), requires_grad=True), torch.ones(2, dtype=torch.float64,
                                                                 requires_grad=True))
    if groups is None:
        opt = ours_cls([*ours, frozen[0]], **hyper)
        ref = torch_cls([*theirs, frozen[1]], **(torch_hyper or hyper))
    else:
        opt = ours_cls([{"params": [p], **g} for p, g in zip(ours, groups, strict=True)], **hyper)
        ref = torch_cls([{"params": [p], **g} for p, g in zip(theirs, groups, strict=True)],
                        **(torch_hyper or hyper))
    path_ours, path_torch = [], []
    for t in range(STEPS):
        for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            a.grad = 1.5 * (a.data - centre[k]) + noise[k][t]
            b.grad = torch.from_numpy(1.5 * (b.detach().numpy() - centre[k]) + noise[k][t])
        opt.step()
        ref.step()
        path_ours.append(np.concatenate([p.data.ravel() for p in ours]))
        path_torch.append(np.concatenate([p.detach().numpy().ravel() for p in theirs]))
    np.testing.assert_array_equal(frozen[0].data, np.ones(2))
    return np.array(path_ours), np.array(path_torch)


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.01, "momentum": 0.5, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3, "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "betas": (0.8, 0.99)}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.05}),
    ("RMSprop", {"lr": 0.005, "momentum": 0.5, "centered": True, "eps": 1e-4, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-3, "maximize": True}),
]


@pytest.mark.parametrize("name, hyper", CASES, ids=[f"{n}-{h}" for n, h in CASES])
def test_optimizer_trajectory_matches_torch(name, hyper):
    ours, theirs = trajectories(getattr(optim, name), getattr(torch.optim, name), hyper)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_param_groups_match_torch(name):
    groups = [{"lr": 0.02, "weight_decay": 0.1}, {"lr": 0.005}]
    ours, theirs = trajectories(getattr(optim, name), getattr(torch.optim, name), {"lr": 0.01},
                                groups=groups)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_parity_check_can_fail():
    ours, theirs = trajectories(optim.Adam, torch.optim.Adam, {"lr": 0.05},
                                torch_hyper={"lr": 0.05, "eps": 1e-6})
    assert not np.allclose(ours, theirs, rtol=1e-9, atol=1e-12)


# ---- schedulers ------------------------------------------------------------------------------
def lr_sequences(make_ours, make_torch, steps=40):
    ours_opt = optim.SGD([{"params": [Tensor(np.zeros(1))], "lr": lr} for lr in (0.1, 0.7)],
                         lr=1.0)
    torch_opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr}
                                 for lr in (0.1, 0.7)], lr=1.0)
    ours, theirs = make_ours(ours_opt), make_torch(torch_opt)
    got, want = [ours.get_last_lr()], [theirs.get_last_lr()]
    for _ in range(steps):
        torch_opt.step()
        ours.step()
        theirs.step()
        got.append(ours.get_last_lr())
        want.append(theirs.get_last_lr())
        assert [g["lr"] for g in ours_opt.param_groups] == got[-1]
    return np.array(got), np.array(want)


SCHEDULES = {
    "step": (lambda o: optim.StepLR(o, step_size=4, gamma=0.3),
             lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.3)),
    "exponential": (lambda o: optim.ExponentialLR(o, gamma=0.93),
                    lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.93)),
    "cosine": (lambda o: optim.CosineAnnealingLR(o, T_max=15, eta_min=0.01),
               lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=15, eta_min=0.01)),
    "warmup": (lambda o: optim.LinearWarmup(o, warmup_steps=6, start_factor=0.1),
               lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=6)),
    "warmup-cosine": (
        lambda o: optim.LinearWarmup(o, 5, start_factor=0.2,
                                     then=optim.CosineAnnealingLR(o, T_max=20, eta_min=0.001)),
        lambda o: torch.optim.lr_scheduler.SequentialLR(
            o, [torch.optim.lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=5),
                torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.001)],
            milestones=[5])),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduler_matches_torch(name):
    got, want = lr_sequences(*SCHEDULES[name])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)


def test_scheduler_parity_check_can_fail():
    got, want = lr_sequences(SCHEDULES["step"][0], SCHEDULES["exponential"][1])
    assert not np.allclose(got, want, rtol=1e-9)


# ---- clipping --------------------------------------------------------------------------------
def grad_pairs(scale, seed=0):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for shape in [(3, 4), (6,), (2, 2, 2)]:
        g = scale * rng.normal(size=shape)
        a, b = Tensor(np.zeros(shape), requires_grad=True), torch.zeros(shape, dtype=torch.float64,
                                                                         requires_grad=True)
        a.grad, b.grad = g.copy(), torch.from_numpy(g.copy())
        ours.append(a)
        theirs.append(b)
    return ours, theirs


def assert_same_grads(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_clip_grad_norm_matches_torch(norm_type, scale):
    ours, theirs = grad_pairs(scale)
    total = clip_grad_norm_(ours, max_norm=1.0, norm_type=norm_type)
    want = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.0, norm_type=norm_type)
    assert total == pytest.approx(want.item(), rel=1e-9)
    assert_same_grads(ours, theirs)


def test_clip_grad_norm_nonfinite_matches_torch():
    ours, theirs = grad_pairs(1.0)
    ours[1].grad[2], theirs[1].grad[2] = np.inf, math.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite gradients in: parameter 1"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert math.isinf(clip_grad_norm_(ours, 1.0))
    assert math.isinf(torch.nn.utils.clip_grad_norm_(theirs, 1.0).item())
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.grad, b.grad.numpy())  # nan where inf·0, else 0


def test_clip_grad_value_matches_torch():
    ours, theirs = grad_pairs(2.0)
    clip_grad_value_(ours, clip_value=0.7)
    torch.nn.utils.clip_grad_value_(theirs, clip_value=0.7)
    assert_same_grads(ours, theirs)
