"""The diagnosis names each kind of wrong gradient, and names no bug as a kind it is not.

Every planted bug below is a transformation of a true gradient; the table is checked as a matrix:
each bug is named as its own kind, so no bug of another kind is named as it, and a right gradient
or an unrelated wrong one gets no name at all."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_rnn import Function, GradcheckError, Tensor, gradcheck
from tinygrad_rnn.testing import KINDS, assert_gradients_match, broadcast_parts, diagnose

RNG = np.random.default_rng(7)
TRUE = RNG.standard_normal((4, 4))              # the true gradient of a (4, 4) input
OTHER = RNG.standard_normal((4, 4))             # the true gradient of another input
UNREDUCED = RNG.standard_normal((3, 4, 4))      # a (4, 4) input broadcast over 3 rows
STEPS = RNG.standard_normal((5, 4, 4))          # five time steps' contributions to a weight
SERIES = RNG.standard_normal((4, 3, 6))         # (n, m, T) gradient of a sequence (time last)


def nan_at_one(g: np.ndarray) -> np.ndarray:
    g = g.copy()
    g[1, 2] = np.nan
    return g


# kind -> [(description, got, expected, hints)]
PLANTED = {
    "transposed": [("gradient transposed", TRUE.T, TRUE, {}),
                   ("(k, n) for (n, k)", TRUE[:, :3].T, TRUE[:, :3], {})],
    "scaled": [("doubled", 2 * TRUE, TRUE, {}), ("halved", 0.5 * TRUE, TRUE, {}),
               ("mean instead of sum", UNREDUCED.mean(0), UNREDUCED.sum(0), {})],
    "sign": [("minus the gradient", -TRUE, TRUE, {})],
    "swapped": [("the other input's", OTHER, TRUE, {"others": {"b": OTHER}}),
                ("the other input's, other shape", OTHER[:2], TRUE,
                 {"others": {"b": OTHER[:2]}})],
    "broadcast": [("not summed", UNREDUCED, UNREDUCED.sum(0, keepdims=True)[0], {}),
                  ("one slice", UNREDUCED[0], UNREDUCED.sum(0),
                   {"parts": broadcast_parts(UNREDUCED, (4, 4))})],
    "accumulation": [("last step only", STEPS[-1], STEPS.sum(0), {"steps": STEPS}),
                     ("first step only", STEPS[0], STEPS.sum(0), {"steps": STEPS})],
    "time_shift": [("stored one step early", np.roll(SERIES, -1, axis=2), SERIES,
                    {"time_axes": [2]}),
                   ("stored one step late", np.roll(SERIES, 1, axis=2), SERIES,
                    {"time_axes": [2]}),
                   ("loop misses a step", STEPS[1:].sum(0), STEPS.sum(0), {"steps": STEPS})],
    "nonfinite": [("a NaN", nan_at_one(TRUE), TRUE, {}),
                  ("overflow", np.full((4, 4), np.inf), TRUE, {})],
    "zero": [("never reached", np.zeros((4, 4)), TRUE, {})],
    "shape": [("no keepdims", TRUE[:, 0], TRUE[:, :1], {}),
              ("unrelated shape", TRUE[:3, :2], TRUE, {})],
}
CASES = [(kind, *case) for kind, cases in PLANTED.items() for case in cases]


@pytest.mark.parametrize(("kind", "what", "got", "expected", "hints"), CASES,
                         ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_a_planted_bug_is_named_as_its_kind_and_no_other(kind, what, got, expected, hints):
    found = diagnose(got, expected, **hints)
    assert found is not None, what
    assert found.kind == kind, f"{what}: named {found.kind} ({found.text})"


def test_every_kind_has_a_planted_bug():
    assert set(PLANTED) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_other_kinds_bugs_are_not_named_as_this_one(kind):
    named = [what for other, what, got, expected, hints in CASES
             if other != kind and (d := diagnose(got, expected, **hints)) and d.kind == kind]
    assert not named


def test_a_right_gradient_gets_no_diagnosis_even_with_every_hint():
    hints = {"others": {"b": OTHER}, "parts": broadcast_parts(UNREDUCED, (4, 4)),
             "steps": STEPS, "time_axes": [0, 1]}
    assert diagnose(TRUE + 1e-9, TRUE, **hints) is None


def test_an_unrelated_wrong_gradient_gets_no_name():
    hints = {"others": {"b": OTHER}, "steps": STEPS, "time_axes": [0, 1]}
    assert diagnose(RNG.standard_normal((4, 4)), TRUE, **hints) is None
    assert diagnose(TRUE + 0.1 * np.eye(4), TRUE) is None        # right but for the diagonal


def test_a_symmetric_truth_is_not_called_transposed_nor_a_repeating_one_shifted():
    symmetric = TRUE + TRUE.T
    assert diagnose(symmetric * 3, symmetric).kind == "scaled"
    constant_in_time = np.repeat(SERIES[..., :1], 6, axis=2)
    wrong = constant_in_time.copy()
    wrong[..., 0] = 0.0
    assert diagnose(wrong, constant_in_time, time_axes=[2]) is None


def test_factors_read_as_fractions():
    assert "×1/3" in diagnose(TRUE / 3, TRUE).text
    assert "×-2" in diagnose(-2 * TRUE, TRUE).text
    assert "×0.37" in diagnose(0.37 * TRUE, TRUE).text


def test_broadcast_parts_sum_to_the_reduced_gradient():
    unreduced = RNG.standard_normal((2, 3, 4))
    for shape in [(4,), (3, 1), (1, 4), (1, 1, 4), ()]:
        parts = broadcast_parts(unreduced, shape)
        reduced = Tensor(np.zeros(shape), requires_grad=True)
        (reduced + Tensor(np.zeros(unreduced.shape))).backward(unreduced)
        np.testing.assert_allclose(parts.sum(0), reduced.grad, atol=1e-12)


# ---- in gradcheck and assert_gradients_match -------------------------------------------------
class AddForgetsTheSum(Function):
    """z = a + b (b broadcast over rows); backward gives b the first row's gradient only."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad[0]


class MulSwapsGradients(Function):
    """z = a ⊙ b; backward hands each input the other's gradient."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return grad * a, grad * b


class ShiftsInTime(Function):
    """y[t] = 2 x[t] over the rows; backward puts row t's gradient at row t - 1."""

    @staticmethod
    def forward(ctx, x):
        return 2.0 * x

    @staticmethod
    def backward(ctx, grad):
        return (np.roll(2.0 * grad, -1, axis=0),)


class LogDividesByZero(Function):
    """y = log x; backward divides by x - x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        with np.errstate(all="ignore"):
            return (grad / (x - x),)


def leaf(*shape: int, low: float = -1.0) -> Tensor:
    return Tensor(RNG.uniform(low, 1.0, shape), requires_grad=True)


@pytest.mark.parametrize(("fn", "inputs", "says"), [
    (AddForgetsTheSum.apply, lambda: [leaf(3, 4), leaf(4)], "one slice .* not their sum"),
    (MulSwapsGradients.apply, lambda: [leaf(2, 3), leaf(2, 3)], "gradient of input 1"),
    (ShiftsInTime.apply, lambda: [leaf(5, 2)], "off by one time step along axis 0"),
    (LogDividesByZero.apply, lambda: [leaf(2, 2, low=0.5)], "NaN or Inf"),
], ids=["broadcast", "swapped", "time_shift", "nonfinite"])
def test_gradcheck_appends_the_diagnosis(fn, inputs, says):
    with pytest.raises(GradcheckError, match=r"input \d .* elements fail; diagnosis: .*" + says):
        gradcheck(fn, inputs())


def test_assert_gradients_match_carries_the_diagnosis():
    with pytest.raises(AssertionError,
                       match="diagnosis: it is the true gradient of input 1, not of this one"):
        assert_gradients_match(MulSwapsGradients.apply, leaf(3), leaf(3))


def test_gradcheck_says_nothing_extra_when_no_pattern_fits():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved
            return (grad * np.cos(x),)

    with pytest.raises(GradcheckError) as info:
        gradcheck(Wrong.apply, [leaf(2, 2)])
    assert "diagnosis" not in str(info.value)


def test_the_text_names_what_is_compared():
    assert diagnose(2 * TRUE, TRUE).text.endswith("×2 the true gradient")
    assert diagnose(2 * TRUE, TRUE, what="value").text.endswith("×2 the true value")
    assert diagnose(-TRUE, TRUE, what="update").text.endswith("minus the true update")
