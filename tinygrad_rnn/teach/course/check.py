"""check_backward: a learner's hand-written course backward against the engine's autograd.

    report = course.check_backward(my_rnn_cell_backward, "rnn_cell")
    print(report)          # right on all 4 cases, or the first wrong gradient and its kind

The truth is autograd on the course's forward (functions.py). To name a bug the check also asks
autograd for the pieces a gradient is a sum of: each time step's share (a copy of the weights per
step), each example's share of a bias (the bias spread to (n_a, m)), and the gradients BPTT gives
when nothing is carried back from step t + 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.teach.course import functions as C
from tinygrad_rnn.teach.grading import Wrong, compare, copied
from tinygrad_rnn.testing.diagnose import broadcast_parts

__all__ = ["BACKWARDS", "Sizes", "Report", "make_case", "check_case", "check_backward",
           "standard"]

BACKWARDS = ("rnn_cell", "rnn", "lstm_cell")


@dataclass(frozen=True)
class Sizes:
    """One case's dimensions: inputs n_x, hidden n_a, outputs n_y, examples m, steps T_x."""

    n_x: int
    n_a: int
    n_y: int
    m: int
    T_x: int = 1

    def __str__(self) -> str:
        steps = f", T_x={self.T_x}" if self.T_x > 1 else ""
        return f"n_x={self.n_x}, n_a={self.n_a}, n_y={self.n_y}, m={self.m}{steps}"


# the first is square (n_x = n_a = n_y), so a swap or a transpose shows up as one
STANDARD = (Sizes(3, 3, 3, 2, 4), Sizes(2, 4, 3, 3, 3), Sizes(4, 2, 2, 1, 2),
            Sizes(1, 3, 2, 4, 5))


@dataclass(frozen=True)
class Report:
    """The verdict: passed, how many cases ran, and the message (str(report))."""

    name: str
    passed: bool
    cases: int
    message: str
    kind: str | None = None     # the diagnosis' kind when a gradient was wrong

    def __str__(self) -> str:
        return self.message


def _parameters(kind: str, s: Sizes, rng: np.random.Generator) -> dict[str, np.ndarray]:
    def draw(*shape: int) -> np.ndarray:
        return 0.7 * rng.standard_normal(shape)
    if kind == "lstm_cell":
        return {**{w: draw(s.n_a, s.n_a + s.n_x) for w in ("Wf", "Wi", "Wc", "Wo")},
                **{b: draw(s.n_a, 1) for b in ("bf", "bi", "bc", "bo")},
                "Wy": draw(s.n_y, s.n_a), "by": draw(s.n_y, 1)}
    return {"Wax": draw(s.n_a, s.n_x), "Waa": draw(s.n_a, s.n_a), "Wya": draw(s.n_y, s.n_a),
            "ba": draw(s.n_a, 1), "by": draw(s.n_y, 1)}


def make_case(kind: str, sizes: Sizes, seed: int) -> dict[str, Any]:
    """Random inputs, parameters and upstream gradients for one call of the backward."""
    rng = np.random.default_rng(seed)
    params = _parameters(kind, sizes, rng)
    n_x, n_a, m, T_x = sizes.n_x, sizes.n_a, sizes.m, sizes.T_x
    if kind == "rnn":
        return {"x": rng.standard_normal((n_x, m, T_x)), "a0": rng.standard_normal((n_a, m)),
                "da": rng.standard_normal((n_a, m, T_x)), "parameters": params}
    case = {"xt": rng.standard_normal((n_x, m)), "a_prev": rng.standard_normal((n_a, m)),
            "da_next": rng.standard_normal((n_a, m)), "parameters": params}
    if kind == "lstm_cell":
        case.update(c_prev=rng.standard_normal((n_a, m)), dc_next=rng.standard_normal((n_a, m)))
    return case


def _spread(params: dict[str, np.ndarray], m: int) -> dict[str, np.ndarray]:
    """The parameters with each bias spread to (n_a, m): autograd gives each example's share."""
    return {k: np.repeat(v, m, axis=1) if k.startswith("b") and k != "by" else v
            for k, v in params.items()}


def _bias_parts(spread_grads: dict[str, np.ndarray], truth: dict[str, np.ndarray]
                ) -> dict[str, np.ndarray]:
    return {k: broadcast_parts(g, truth[k].shape) for k, g in spread_grads.items()
            if k.startswith("db") and g.shape != truth[k].shape}


def _rnn_steps(case: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each step's share of dWax, dWaa, dba (T_x, ...), and BPTT's gradients with no carry."""
    x, a0, da, params = (Tensor(case["x"]), Tensor(case["a0"]), case["da"], case["parameters"])
    T_x = case["x"].shape[2]
    copies = [C.as_tensors(params, C.RNN_KEYS, grad=True) for _ in range(T_x)]
    a = C.rnn_unrolled(x, a0, lambda t: copies[t])
    sum((a_t * Tensor(da[:, :, t])).sum() for t, a_t in enumerate(a)).backward()
    steps = {"d" + k: np.stack([c[k].grad for c in copies]) for k in ("Wax", "Waa", "ba")}
    p = C.as_tensors(params, C.RNN_KEYS, grad=True)
    leaves = {"x": Tensor(case["x"], requires_grad=True),
              "a0": Tensor(case["a0"], requires_grad=True),
              "Wax": p["Wax"], "Waa": p["Waa"], "ba": p["ba"]}
    a = C.rnn_unrolled(leaves["x"], leaves["a0"], lambda t: p, detach_state=True)
    sum((a_t * Tensor(da[:, :, t])).sum() for t, a_t in enumerate(a)).backward()
    return steps, C.gradients_of(leaves)


def _call(kind: str, fn: Callable[..., Any], case: dict[str, Any]
          ) -> tuple[Any, dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """The learner's result, the truth, and per-gradient hints for the diagnosis."""
    p, hints = case["parameters"], {}
    if kind == "rnn_cell":
        _, _, cache = C.rnn_cell_forward(case["xt"], case["a_prev"], p)
        truth = C.rnn_cell_backward(case["da_next"], cache)
        spread = C.rnn_cell_backward(case["da_next"], (None, case["a_prev"], case["xt"],
                                                       _spread(p, case["xt"].shape[1])))
        hints = {k: {"parts": v} for k, v in _bias_parts(spread, truth).items()}
        return fn(case["da_next"], copied(cache)), truth, hints
    if kind == "lstm_cell":
        *_, cache = C.lstm_cell_forward(case["xt"], case["a_prev"], case["c_prev"], p)
        truth = C.lstm_cell_backward(case["da_next"], case["dc_next"], cache)
        spread_cache = (*cache[:9], _spread(p, case["xt"].shape[1]))
        spread = C.lstm_cell_backward(case["da_next"], case["dc_next"], spread_cache)
        hints = {k: {"parts": v} for k, v in _bias_parts(spread, truth).items()}
        return fn(case["da_next"], case["dc_next"], copied(cache)), truth, hints
    _, _, caches = C.rnn_forward(case["x"], case["a0"], p)
    truth = C.rnn_backward(case["da"], caches)
    steps, no_carry = _rnn_steps(case)
    text = ("it leaves out the gradient carried back from step t + 1: at each step use "
            "da[:, :, t] + da_prevt, not da[:, :, t] alone")
    hints = {k: {"mistakes": {"no_carry": (no_carry[k], text)}} for k in truth}
    for k, v in steps.items():
        hints[k]["steps"] = v
    hints["dx"]["time_axes"] = (2,)
    return fn(case["da"], copied(caches)), truth, hints



def check_case(kind: str, fn: Callable[..., Any], case: dict[str, Any]) -> None:
    """Raise Wrong (one line, with the diagnosis) unless fn's gradients all match autograd."""
    if kind not in BACKWARDS:
        raise ValueError(f"check_backward: unknown kind {kind!r}; choose from {list(BACKWARDS)}")
    got, truth, hints = _call(kind, fn, case)
    if not isinstance(got, dict):
        raise Wrong(f"it returned a {type(got).__name__}; return a dict of gradients with the "
                    f"keys {', '.join(truth)}")
    missing = [k for k in truth if k not in got]
    if missing:
        raise Wrong(f"the gradients dict has no {', '.join(repr(k) for k in missing)}")
    for name, want in truth.items():
        others = {k: v for k, v in truth.items() if k != name}
        compare(name, got[name], want, others=others, **hints.get(name, {}))


def standard(kind: str) -> list[Sizes]:
    """The fixed cases' sizes; one step (T_x = 1) for a cell."""
    return [s if kind == "rnn" else replace(s, T_x=1) for s in STANDARD]


def check_backward(fn: Callable[..., Any], kind: str, seed: int = 0) -> Report:
    """Grade a hand-written course backward ("rnn_cell", "rnn" or "lstm_cell") on four cases of
    different sizes against autograd; the report names the first wrong gradient and its kind."""
    name = f"{kind}_backward"
    for k, sizes in enumerate(standard(kind), start=1):
        try:
            check_case(kind, fn, make_case(kind, sizes, seed + k))
        except Wrong as wrong:
            return Report(name, False, k, f"{name}: wrong on case {k} of {len(STANDARD)} "
                                          f"({sizes}): {wrong}", wrong.kind)
    return Report(name, True, len(STANDARD), f"{name}: right on all {len(STANDARD)} cases "
                                             f"(every gradient matches autograd)")
