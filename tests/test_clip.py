"""Gradient clipping: norms against numpy, clipped norm, direction, bounds, non-finite errors."""

import math

import numpy as np
import pytest

from tinygrad_rnn import Tensor
from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_, grad_norms

SHAPES = [(3, 4), (5,), (2, 2, 2)]


def params_with_grads(scale: float = 1.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    params = [Tensor(np.zeros(s), requires_grad=True) for s in SHAPES]
    for p in params:
        p.grad = scale * rng.normal(size=p.shape)
    return params


def flat(params):
    return np.concatenate([p.grad.ravel() for p in params if p.grad is not None])


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
def test_total_norm_is_the_norm_of_all_gradients_together(norm_type):
    params = params_with_grads()
    before = flat(params).copy()
    total = clip_grad_norm_(params, max_norm=1e9, norm_type=norm_type)
    assert isinstance(total, float)
    np.testing.assert_allclose(total, np.linalg.norm(before, ord=norm_type), rtol=1e-12)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, math.inf])
def test_clipped_norm_equals_max_norm_and_keeps_direction(norm_type):
    params = params_with_grads(scale=10.0)
    before = flat(params).copy()
    total = clip_grad_norm_(params, max_norm=0.5, norm_type=norm_type)
    after = flat(params)
    assert total == pytest.approx(np.linalg.norm(before, ord=norm_type), rel=1e-12)
    assert np.linalg.norm(after, ord=norm_type) == pytest.approx(0.5, rel=1e-6)
    np.testing.assert_allclose(after, before * (0.5 / (total + 1e-6)), rtol=1e-12)


def test_below_the_threshold_nothing_changes():
    params = params_with_grads()
    arrays, before = [p.grad for p in params], [p.grad.copy() for p in params]
    clip_grad_norm_(params, max_norm=1e3)
    for p, array, old in zip(params, arrays, before, strict=True):
        assert p.grad is array  # clipping is in place
        np.testing.assert_array_equal(p.grad, old)


def test_clipping_is_in_place_and_skips_missing_grads():
    params = params_with_grads(scale=10.0)
    params[1].grad = None
    arrays = [params[0].grad, params[2].grad]
    expected = np.linalg.norm(flat(params))
    assert clip_grad_norm_(iter(params), max_norm=1.0) == pytest.approx(expected, rel=1e-12)
    assert params[0].grad is arrays[0] and params[2].grad is arrays[1] and params[1].grad is None
    assert clip_grad_norm_([Tensor(np.ones(2))], max_norm=1.0) == 0.0


def test_a_single_tensor_is_accepted():
    p = Tensor(np.zeros(2), requires_grad=True)
    p.grad = np.array([3.0, 4.0])
    assert clip_grad_norm_(p, max_norm=1.0) == 5.0
    np.testing.assert_allclose(p.grad, [0.6, 0.8], rtol=1e-6)


def test_value_clipping_bounds_every_element():
    params = params_with_grads(scale=3.0)
    before = flat(params).copy()
    arrays = [p.grad for p in params]
    clip_grad_value_(params, clip_value=1.5)
    after = flat(params)
    assert np.abs(after).max() <= 1.5 and np.abs(before).max() > 1.5
    inside = np.abs(before) <= 1.5
    np.testing.assert_array_equal(after[inside], before[inside])
    np.testing.assert_array_equal(after[~inside], 1.5 * np.sign(before[~inside]))
    assert all(p.grad is a for p, a in zip(params, arrays, strict=True))


def test_nonfinite_norm_raises_naming_the_parameters():
    params = params_with_grads()
    params[2].grad[0, 1, 1] = np.nan
    with pytest.raises(RuntimeError, match=r"is nan; non-finite gradients in: parameter 2$"):
        clip_grad_norm_(params, max_norm=1.0, error_if_nonfinite=True)
    named = [("rnn.weight_hh_l0", params[0]), ("head.bias", params[2])]
    params[0].grad[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="in: rnn.weight_hh_l0, head.bias"):
        clip_grad_norm_(named, max_norm=1.0, error_if_nonfinite=True)


def test_finite_norm_does_not_raise():
    assert clip_grad_norm_(params_with_grads(), max_norm=1.0, error_if_nonfinite=True) > 0


def test_nonfinite_without_the_flag_spreads_nan_as_torch_does():
    params = params_with_grads()
    params[0].grad[0, 0] = np.nan
    assert math.isnan(clip_grad_norm_(params, max_norm=1.0))
    assert np.isnan(flat(params)).all()


def test_grad_norms_per_parameter():
    params = params_with_grads()
    params[1].grad = None
    norms = grad_norms({"a": params[0], "b": params[1], "c": params[2]})
    assert list(norms) == ["a", "c"]
    assert norms["a"] == pytest.approx(np.sqrt((params[0].grad ** 2).sum()), rel=1e-12)
    assert grad_norms([("c", params[2])]) == {"c": norms["c"]}


@pytest.mark.parametrize("call, match", [
    (lambda ps: clip_grad_norm_(ps, max_norm=-1.0), "max_norm must be non-negative, got -1.0"),
    (lambda ps: clip_grad_norm_(ps, max_norm=1.0, norm_type=0), "norm_type must be positive"),
    (lambda ps: clip_grad_norm_(ps, max_norm="1"), "max_norm must be a number"),
    (lambda ps: clip_grad_norm_([np.ones(2)], max_norm=1.0), "got ndarray at position 0"),
    (lambda ps: clip_grad_value_(ps, clip_value=-0.5), "clip_value must be non-negative"),
])
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(params_with_grads())
