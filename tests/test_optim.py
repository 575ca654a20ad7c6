"""Optimizers against their update rules, written out again here in plain numpy (float64)."""

import json

import numpy as np
import pytest

from tinygrad_rnn import Tensor
from tinygrad_rnn.optim import SGD, Adagrad, Adam, AdamW, RMSprop

STEPS = 25
SHAPE = (3, 4)


def make_problem(seed: int = 0):
    """theta0 and a gradient g(θ, t) = w ⊙ (θ − c) + noise_t that depends on the parameter."""
    rng = np.random.default_rng(seed)
    theta0, c, w = rng.normal(size=SHAPE), rng.normal(size=SHAPE), rng.uniform(0.5, 2, SHAPE)
    noise = rng.normal(size=(STEPS, *SHAPE))
    return theta0, lambda theta, t: w * (theta - c) + noise[t]


def run_ours(make_opt, seed: int = 0) -> np.ndarray:
    theta0, grad = make_problem(seed)
    p = Tensor(theta0.copy(), requires_grad=True)
    opt, data, path = make_opt([p]), p.data, []
    for t in range(STEPS):
        p.grad = grad(p.data, t)
        opt.step()
        path.append(p.data.copy())
    assert p.data is data  # updated in place: modules keep their arrays
    return np.array(path)


# ---- the reference update rules, one plain loop each ------------------------------------------
def ref_sgd(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False):
    theta, grad = make_problem()
    buf, path = None, []
    for t in range(STEPS):
        g = (-1 if maximize else 1) * grad(theta, t) + weight_decay * theta
        if momentum:
            buf = g if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        theta = theta - lr * g
        path.append(theta)
    return np.array(path)


def ref_adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled=False):
    theta, grad = make_problem()
    b1, b2 = betas
    m = v = v_max = np.zeros(SHAPE)
    path = []
    for t in range(1, STEPS + 1):
        g = (-1 if maximize else 1) * grad(theta, t - 1)
        if decoupled:
            theta = theta - lr * weight_decay * theta
        else:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1**t)
        v_hat = (v_max if amsgrad else v) / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        path.append(theta)
    return np.array(path)


def ref_rmsprop(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                maximize=False):
    theta, grad = make_problem()
    s = g_mean = buf = np.zeros(SHAPE)
    path = []
    for t in range(STEPS):
        g = (-1 if maximize else 1) * grad(theta, t) + weight_decay * theta
        s = alpha * s + (1 - alpha) * g**2
        g_mean = alpha * g_mean + (1 - alpha) * g
        rms = np.sqrt(s - g_mean**2 if centered else s) + eps
        buf = momentum * buf + g / rms
        theta = theta - lr * (buf if momentum else g / rms)
        path.append(theta)
    return np.array(path)


def ref_adagrad(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10, maximize=False):
    theta, grad = make_problem()
    total = np.full(SHAPE, initial_accumulator_value)
    path = []
    for t in range(STEPS):
        g = (-1 if maximize else 1) * grad(theta, t) + weight_decay * theta
        total = total + g**2
        theta = theta - lr / (1 + t * lr_decay) * g / (np.sqrt(total) + eps)
        path.append(theta)
    return np.array(path)


CASES = [
    (SGD, ref_sgd, {"lr": 0.1}),
    (SGD, ref_sgd, {"lr": 0.05, "momentum": 0.9}),
    (SGD, ref_sgd, {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
    (SGD, ref_sgd, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    (SGD, ref_sgd, {"lr": 0.01, "maximize": True}),
    (Adam, ref_adam, {}),
    (Adam, ref_adam, {"lr": 0.05, "weight_decay": 0.1}),
    (Adam, ref_adam, {"lr": 0.05, "amsgrad": True}),
    (Adam, ref_adam, {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3, "maximize": True}),
    (RMSprop, ref_rmsprop, {}),
    (RMSprop, ref_rmsprop, {"lr": 0.01, "alpha": 0.9, "centered": True}),
    (RMSprop, ref_rmsprop, {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.05}),
    (RMSprop, ref_rmsprop, {"lr": 0.005, "momentum": 0.5, "centered": True, "eps": 1e-4}),
    (Adagrad, ref_adagrad, {}),
    (Adagrad, ref_adagrad, {"lr": 0.1, "lr_decay": 0.05}),
    (Adagrad, ref_adagrad, {"lr": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.1}),
    (Adagrad, ref_adagrad, {"lr": 0.1, "eps": 1e-3, "maximize": True}),
]


@pytest.mark.parametrize("cls, ref, hyper", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_update_rule(cls, ref, hyper):
    np.testing.assert_allclose(run_ours(lambda ps: cls(ps, **hyper)), ref(**hyper),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("hyper", [{}, {"lr": 0.05, "weight_decay": 0.1},
                                   {"lr": 0.05, "amsgrad": True, "weight_decay": 0.3}])
def test_adamw_decouples_weight_decay(hyper):
    hyper = {"weight_decay": 1e-2, **hyper}
    ours = run_ours(lambda ps: AdamW(ps, **hyper))
    np.testing.assert_allclose(ours, ref_adam(**hyper, decoupled=True), rtol=1e-10, atol=1e-12)
    assert not np.allclose(ours, ref_adam(**hyper), rtol=1e-6)  # Adam's L2 decay is different


def test_reference_comparison_can_fail():
    ours = run_ours(lambda ps: Adam(ps, lr=0.05, eps=1e-6))
    assert not np.allclose(ours, ref_adam(lr=0.05, eps=1e-8), rtol=1e-9, atol=1e-12)
    ours = run_ours(lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True))
    assert not np.allclose(ours, ref_sgd(lr=0.05, momentum=0.9), rtol=1e-9, atol=1e-12)


def test_defaults_match_pytorch():
    p = [Tensor(np.zeros(2), requires_grad=True)]
    assert Adam(p).defaults == {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                                "weight_decay": 0.0, "amsgrad": False, "maximize": False}
    assert AdamW(p).defaults["weight_decay"] == 1e-2
    assert {k: RMSprop(p).defaults[k] for k in ("lr", "alpha", "eps", "momentum", "centered")} \
        == {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False}
    assert {k: Adagrad(p).defaults[k] for k in ("lr", "lr_decay", "eps",
                                                "initial_accumulator_value")} \
        == {"lr": 1e-2, "lr_decay": 0.0, "eps": 1e-10, "initial_accumulator_value": 0.0}


ALL = [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.1, amsgrad=True),
       lambda ps: AdamW(ps, lr=0.1), lambda ps: RMSprop(ps, momentum=0.5, centered=True),
       lambda ps: Adagrad(ps, weight_decay=0.1)]


@pytest.mark.parametrize("make_opt", ALL)
def test_param_without_grad_is_untouched(make_opt):
    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    opt = make_opt([a, b])
    a.grad = np.array([1.0, -2.0, 3.0])
    grad_before = a.grad.copy()
    for _ in range(3):
        opt.step()
    np.testing.assert_array_equal(b.data, np.ones(2))
    assert b not in opt.state
    assert not np.allclose(a.data, 1.0)
    np.testing.assert_array_equal(a.grad, grad_before)  # step never writes into .grad


@pytest.mark.parametrize("make_opt", ALL)
def test_float32_stays_float32(make_opt):
    p = Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    opt = make_opt([p])
    for _ in range(3):
        p.grad = np.linspace(-1, 1, 4)  # a float64 gradient does not promote the parameter
        opt.step()
    assert p.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, np.ndarray))


def test_zero_grad():
    p = Tensor(np.ones(3), requires_grad=True)
    opt = SGD([p], lr=0.1)
    p.grad = np.ones(3)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, np.zeros(3))
    opt.zero_grad()
    assert p.grad is None


def test_param_groups_use_their_own_hyperparameters():
    theta0, grad = make_problem()
    a, b = Tensor(theta0.copy(), requires_grad=True), Tensor(theta0.copy(), requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": b, "lr": 0.01, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    for t in range(STEPS):
        a.grad, b.grad = grad(a.data, t), grad(b.data, t)
        opt.step()
    np.testing.assert_allclose(a.data, ref_sgd(lr=0.1)[-1], rtol=1e-10)
    np.testing.assert_allclose(b.data, ref_sgd(lr=0.01, momentum=0.9)[-1], rtol=1e-10)


def to_npz_and_json(state_dict):
    """Split a state dict as a checkpoint would: arrays to an .npz-like dict, the rest to JSON."""
    arrays = {}

    def strip(x):
        if isinstance(x, np.ndarray):
            arrays[f"a{len(arrays)}"] = x
            return {"__array__": f"a{len(arrays) - 1}"}
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items()}
        return [strip(v) for v in x] if isinstance(x, list) else x

    def restore(x):
        if isinstance(x, dict):
            return arrays[x["__array__"]] if "__array__" in x else {k: restore(v)
                                                                   for k, v in x.items()}
        return [restore(v) for v in x] if isinstance(x, list) else x

    text = json.dumps(strip(state_dict))  # raises if anything is not JSON-able
    return restore(json.loads(text))


@pytest.mark.parametrize("make_opt", ALL)
def test_state_dict_round_trip_continues_identically(make_opt):
    theta0, grad = make_problem()
    p = Tensor(theta0.copy(), requires_grad=True)
    opt = make_opt([p])
    for t in range(10):
        p.grad = grad(p.data, t)
        opt.step()
    saved = to_npz_and_json(opt.state_dict())
    q = Tensor(p.data.copy(), requires_grad=True)
    resumed = make_opt([q])
    resumed.load_state_dict(saved)
    for t in range(10, STEPS):
        p.grad, q.grad = grad(p.data, t), grad(q.data, t)
        opt.step()
        resumed.step()
    np.testing.assert_array_equal(q.data, p.data)
    assert resumed.param_groups[0].keys() == opt.param_groups[0].keys()


def test_state_dict_is_a_copy_and_keyed_by_index():
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    opt = Adam([{"params": [a]}, {"params": [b], "lr": 0.5}])
    b.grad = np.ones(3)
    opt.step()
    sd = opt.state_dict()
    assert list(sd["state"]) == [1] and [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == [0.9, 0.999]
    opt.step()
    assert sd["state"][1]["step"] == 1 and not np.shares_memory(sd["state"][1]["exp_avg"],
                                                                 opt.state[b]["exp_avg"])


@pytest.mark.parametrize("make, match", [
    (lambda: SGD([Tensor(np.ones(2))], lr=-0.1), "SGD: lr must be non-negative, got -0.1"),
    (lambda: SGD([Tensor(np.ones(2))], lr="0.1"), "SGD: lr must be a number"),
    (lambda: SGD([Tensor(np.ones(2))], lr=0.1, momentum=-1), "SGD: momentum must be non-neg"),
    (lambda: SGD([Tensor(np.ones(2))], lr=0.1, nesterov=True), "nesterov=True needs momentum"),
    (lambda: SGD([Tensor(np.ones(2))], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "dampening = 0"),
    (lambda: SGD([Tensor(np.ones(2))], lr=float("nan")), "lr must be non-negative, got nan"),
    (lambda: Adam([Tensor(np.ones(2))], betas=(1.0, 0.999)), r"Adam: betas\[0\] must be in"),
    (lambda: Adam([Tensor(np.ones(2))], betas=0.9), "betas must be a pair"),
    (lambda: Adam([Tensor(np.ones(2))], eps=-1e-8), "Adam: eps must be non-negative"),
    (lambda: AdamW([Tensor(np.ones(2))], weight_decay=-1), "AdamW: weight_decay must be"),
    (lambda: Adam([Tensor(np.ones(2))], amsgrad=1), "amsgrad must be True or False"),
    (lambda: RMSprop([Tensor(np.ones(2))], alpha=1.5), r"RMSprop: alpha must be in \[0, 1\)"),
    (lambda: Adagrad([Tensor(np.ones(2))], lr_decay=-1), "Adagrad: lr_decay must be non-neg"),
    (lambda: Adagrad([Tensor(np.ones(2))], initial_accumulator_value=-1),
     "initial_accumulator_value must be non-negative"),
    (lambda: SGD([], lr=0.1), "SGD: got an empty parameter list"),
    (lambda: SGD([np.ones(2)], lr=0.1), "SGD: params must be Tensors, got ndarray at position 0"),
    (lambda: SGD([Tensor(np.ones(2))] * 2, lr=0.1), "appears more than once"),
    (lambda: SGD([{"params": [Tensor(np.ones(2))]}, Tensor(np.ones(2))], lr=0.1),
     "all Tensors or all param-group dicts"),
    (lambda: SGD([{"params": [Tensor(np.ones(2))], "lr": -1}], lr=0.1), "lr must be non-neg"),
])
def test_bad_hyperparameters_raise_clear_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_step_rejects_a_gradient_of_the_wrong_shape():
    p = Tensor(np.ones((2, 3)), requires_grad=True)
    p.grad = np.ones(3)
    with pytest.raises(ValueError, match=r"Adam.step: a parameter of shape \(2, 3\) has a grad"):
        Adam([p]).step()


def test_load_state_dict_checks_structure():
    def adam(*shapes):
        return Adam([Tensor(np.ones(s), requires_grad=True) for s in shapes])

    source = adam((2,), (3,))
    for p in source._indexed_params():
        p.grad = np.ones(p.shape)
    source.step()
    sd = source.state_dict()
    with pytest.raises(ValueError, match="param group 0 has 2 parameters in the state dict, 1"):
        adam((2,)).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 1 has shape \(3,\), the par"):
        adam((2,), (4,)).load_state_dict(sd)
    two_groups = Adam([{"params": [Tensor(np.ones(2))]}, {"params": [Tensor(np.ones(3))]}])
    with pytest.raises(ValueError, match="has 1 param groups, this optimizer has 2"):
        two_groups.load_state_dict(sd)
    with pytest.raises(ValueError, match="state for parameter 5"):
        adam((2,), (3,)).load_state_dict({**sd, "state": {"5": sd["state"][0]}})
    with pytest.raises(ValueError, match="lr must be non-negative"):
        bad = {**sd, "param_groups": [{**sd["param_groups"][0], "lr": -1.0}]}
        adam((2,), (3,)).load_state_dict(bad)
