"""Exercises 8, 9, 11 and 12: clipping, sampling with a temperature, a GRU cell built from Tensor
ops, and one Adam step. The truth is the library: nn.utils's clipping, the engine's softmax,
nn.GRUCell and optim.Adam."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor
from tinygrad_rnn.nn.cells import GRUCell
from tinygrad_rnn.nn.utils import clip_grad_norm_, clip_grad_value_
from tinygrad_rnn.optim.adam import Adam
from tinygrad_rnn.teach.grading import Wrong, compare, copied
from tinygrad_rnn.teach.learn.exercise import Case, Exercise, function
from tinygrad_rnn.testing.diagnose import Diagnosis

__all__ = ["CLIP", "SAMPLING", "GRU_CELL", "ADAM"]

SEED = 160


# ---- 8. clipping ------------------------------------------------------------------------------
CLIP_STUB = '''"""Exercise 8: gradient clipping, by value and by norm (each returns a new dict).

gradients maps a name ("dWaa", "dba", ...) to an array.
    by value:  every element clamped into [-maxValue, maxValue]      (the course's clip)
    by norm:   total = sqrt(Σ over all arrays of Σ g²)               (one norm for them all)
               if total > max_norm: every array *= max_norm / (total + 1e-6)
               (torch.nn.utils.clip_grad_norm_; the 1e-6 keeps an all-zero gradient finite)
Check: tinygrad-rnn learn check 8
"""

import numpy as np


def clip(gradients: dict, maxValue: float) -> dict:
    """Clip every gradient's elements to [-maxValue, maxValue]."""
    raise NotImplementedError


def clip_by_norm(gradients: dict, max_norm: float) -> dict:
    """Scale all gradients together so their total L2 norm is at most max_norm."""
    raise NotImplementedError
'''


def _clip_fixed() -> list[Case]:
    rng = np.random.default_rng(SEED)
    grads = {"dWaa": 4 * rng.standard_normal((3, 3)), "dWax": 0.5 * rng.standard_normal((3, 2)),
             "dba": 2 * rng.standard_normal((3, 1))}
    return [{"gradients": grads, "limit": 2.5},                             # norm clipped
            {"gradients": {k: v * 0.01 for k, v in grads.items()}, "limit": 5.0},  # untouched
            {"gradients": {k: np.zeros_like(v) for k, v in grads.items()}, "limit": 1.0}]


def _clip_cases() -> Any:
    from hypothesis import strategies as st

    from tinygrad_rnn.testing.strategies import arrays, shapes
    names = st.lists(st.sampled_from(["dWaa", "dWax", "dWya", "db", "dby"]), min_size=1,
                     max_size=4, unique=True)
    grads = names.flatmap(lambda ks: st.fixed_dictionaries(
        {k: arrays(shapes(1, 2)).map(lambda a: 3 * a) for k in ks}))
    return st.fixed_dictionaries({"gradients": grads, "limit": st.floats(0.1, 10.0)})


def _holders(gradients: dict[str, np.ndarray]) -> dict[str, Tensor]:
    holders = {}
    for name, g in gradients.items():
        holders[name] = Tensor(np.zeros_like(g))
        holders[name].grad = g.copy()
    return holders


def _clip_check(module: ModuleType, case: Case) -> None:
    grads, limit = case["gradients"], case["limit"]
    by_value, by_norm = _holders(grads), _holders(grads)
    clip_grad_value_(list(by_value.values()), limit)
    clip_grad_norm_(list(by_norm.values()), limit)
    for fn, truth in (("clip", by_value), ("clip_by_norm", by_norm)):
        got = function(module, fn)(copied(grads), limit)
        if not isinstance(got, dict) or sorted(got) != sorted(grads):
            raise Wrong(f"{fn} must return a dict with the same keys: {', '.join(grads)}")
        for name, g in grads.items():
            own = g * min(1.0, limit / (float(np.linalg.norm(g)) + 1e-6))
            mistakes = {"upper_only": (np.minimum(g, limit), "it clips only from above: clamp "
                                                             "into [-maxValue, maxValue]")}
            if fn == "clip_by_norm":
                mistakes = {"own_norm": (own, "it clips each gradient by its own norm: scale "
                                              "all of them by one factor from their total "
                                              "norm")} if len(grads) > 1 else {}
            compare(f"{fn}(...)[{name!r}]", got[name], truth[name].grad, mistakes=mistakes)


CLIP = Exercise(
    "clip", "clip by value and by norm", ("clip", "clip_by_norm"), CLIP_STUB,
    ("By value: np.clip(g, -maxValue, maxValue) for each array.",
     "By norm: one total over every array, total = np.sqrt(sum((g ** 2).sum() for g in "
     "gradients.values())).",
     "Scale only when total > max_norm, and divide by total + 1e-6: all-zero gradients must "
     "stay zeros, not NaN."),
    _clip_fixed, _clip_cases, _clip_check)


# ---- 9. sampling with a temperature -----------------------------------------------------------
SAMPLING_STUB = '''"""Exercise 9: sampling the next character, with a temperature.

logits z (C,) are a model's scores for C characters.
    p = softmax(z / T)           T < 1 sharpens (T → 0 is argmax), T > 1 flattens
    sample: an index drawn with probabilities p, e.g. rng.choice(C, p=p)
Subtract the max before exp: the logits can be large, and z / T larger still.
Check: tinygrad-rnn learn check 9
"""

import numpy as np


def softmax_with_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """The probabilities softmax(logits / temperature), shape (C,)."""
    raise NotImplementedError


def sample(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """One index in range(C), drawn with softmax(logits / temperature)."""
    raise NotImplementedError
'''

DRAWS = 2000


def _sampling_fixed() -> list[Case]:
    return [{"logits": np.array([2.0, 0.5, -1.0, 1.0]), "temperature": 0.5, "_draws": True},
            {"logits": np.array([0.3, 0.1, -0.2]), "temperature": 2.0, "_draws": True},
            {"logits": np.array([900.0, 899.0, 850.0]), "temperature": 0.5}]


def _sampling_cases() -> Any:
    from hypothesis import strategies as st

    from tinygrad_rnn.testing.strategies import arrays
    return st.fixed_dictionaries({"logits": st.integers(2, 6).flatmap(lambda c: arrays((c,))),
                                  "temperature": st.floats(0.2, 3.0)})


def _probs(logits: np.ndarray, temperature: float) -> np.ndarray:
    return (Tensor(logits) / temperature).softmax(0).numpy()


def _sampling_check(module: ModuleType, case: Case) -> None:
    z, t = case["logits"], case["temperature"]
    p = _probs(z, t)
    got = function(module, "softmax_with_temperature")(z.copy(), t)
    compare("softmax_with_temperature", got, p, what="value", mistakes={
        "times_t": (_probs(z * t * t, t), "it multiplies the logits by T; divide: "
                                          "softmax(z / T)")})
    if not case.get("_draws"):
        return
    draw, rng = function(module, "sample"), np.random.default_rng(SEED)
    picks = [draw(z.copy(), t, rng) for _ in range(DRAWS)]
    if not all(isinstance(k, (int, np.integer)) and 0 <= k < len(z) for k in picks):
        bad = next(k for k in picks if not (isinstance(k, (int, np.integer)) and 0 <= k < len(z)))
        raise Wrong(f"sample returned {bad!r}; return an int index in range({len(z)})")
    freq = np.bincount(np.asarray(picks, dtype=int), minlength=len(z)) / DRAWS
    if len(set(picks)) == 1 and p.max() < 0.95:
        raise Wrong(f"sample always returns {picks[0]}, the most likely index: that is greedy "
                    f"decoding (argmax), not sampling; draw with rng.choice(len(p), p=p)",
                    Diagnosis("greedy", "argmax instead of a draw"))
    distance = 0.5 * float(np.abs(freq - p).sum())
    if distance > 0.06:
        raise Wrong(f"sample's frequencies over {DRAWS} draws are {np.round(freq, 2).tolist()}, "
                    f"the probabilities {np.round(p, 2).tolist()} (total variation "
                    f"{distance:.2f}): draw with p = softmax_with_temperature(...)")


SAMPLING = Exercise(
    "sampling", "sampling with a temperature", ("softmax_with_temperature", "sample"),
    SAMPLING_STUB,
    ("softmax_with_temperature: z = logits / temperature, then a stable softmax over z.",
     "sample: p = softmax_with_temperature(logits, temperature); return int(rng.choice(len(p), "
     "p=p)).",
     "Use the rng you are given, so a seed makes the samples repeat."),
    _sampling_fixed, _sampling_cases, _sampling_check)


# ---- 11. a GRU cell from Tensor ops -----------------------------------------------------------
GRU_STUB = '''"""Exercise 11: a GRU cell from Tensor ops (forward only: autograd does the backward).

PyTorch's GRU, rows = examples: x (B, I), h (B, H); weight_ih (3H, I), weight_hh (3H, H),
bias_ih, bias_hh (3H,), each stacking the gates in the order r, z, n.
    r  = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)
    z  = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
    n  = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))     (r after the matrix: PyTorch's way)
    h' = (1 − z) ⊙ n + z ⊙ h
Only Tensor ops (@, +, *, .sigmoid(), .tanh(), .chunk(3, dim=1), .T): no numpy, no .data,
or no gradient reaches the weights. It is checked against nn.GRUCell, forward and backward.
Check: tinygrad-rnn learn check 11
"""

from tinygrad_rnn import Tensor


def gru_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor,
             bias_hh: Tensor) -> Tensor:
    """The next hidden state h' (B, H)."""
    raise NotImplementedError
'''

GRU_NAMES = ("x", "h", "weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _gru_fixed() -> list[Case]:
    return [{"B": 2, "I": 3, "H": 3, "_seed": 1}, {"B": 1, "I": 2, "H": 4, "_seed": 2}]


def _gru_cases() -> Any:
    from hypothesis import strategies as st
    side = st.integers(1, 4)
    return st.fixed_dictionaries({"B": side, "I": side, "H": side,
                                  "_seed": st.integers(0, 2**16)})


def _gru_variant(v: dict[str, np.ndarray], reset_first: bool, swap_z: bool) -> np.ndarray:
    """A GRU in numpy: PyTorch's, or with the course's reset before W_hn, or z's roles swapped."""
    def sig(a: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-a))
    gx = v["x"] @ v["weight_ih"].T + v["bias_ih"]
    xr, xz, xn = np.split(gx, 3, axis=1)
    w_r, w_z, w_n = np.split(v["weight_hh"], 3, axis=0)
    b_r, b_z, b_n = np.split(v["bias_hh"], 3)
    h = v["h"]
    r, z = sig(xr + h @ w_r.T + b_r), sig(xz + h @ w_z.T + b_z)
    n = np.tanh(xn + ((r * h) @ w_n.T + b_n if reset_first else r * (h @ w_n.T + b_n)))
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


def _gru_check(module: ModuleType, case: Case) -> None:
    rng = np.random.default_rng(case["_seed"])
    cell = GRUCell(case["I"], case["H"]).double()
    values = {"x": rng.standard_normal((case["B"], case["I"])),
              "h": rng.standard_normal((case["B"], case["H"])),
              **{k: getattr(cell, k).numpy().copy() for k in GRU_NAMES[2:]}}
    upstream = rng.standard_normal((case["B"], case["H"]))
    truth = {k: Tensor(v.copy(), requires_grad=True) for k, v in values.items()}
    for k in GRU_NAMES[2:]:
        setattr(cell, k, truth[k])
    expected = cell(truth["x"], truth["h"])
    expected.backward(upstream)
    leaves = {k: Tensor(v.copy(), requires_grad=True) for k, v in values.items()}
    out = function(module, "gru_cell")(*(leaves[k] for k in GRU_NAMES))
    if not isinstance(out, Tensor):
        raise Wrong(f"gru_cell returned a {type(out).__name__}; return a Tensor built from "
                    f"Tensor ops, so autograd can differentiate it")
    compare("h'", out.numpy(), expected.numpy(), what="value", mistakes={
        "reset_before": (_gru_variant(values, True, False),
                         "it resets h before the matrix, as the course's GRU does (W_hn (r ⊙ h)); "
                         "PyTorch's is r ⊙ (h W_hnᵀ + b_hn): a different model"),
        "z_roles": (_gru_variant(values, False, True),
                    "it swaps the roles of z and 1 − z: PyTorch's h' = (1 − z) ⊙ n + z ⊙ h "
                    "(z keeps the old state)")})
    if not out.requires_grad:
        raise Wrong("h' has no graph: it was computed outside Tensor ops (numpy or .data), so "
                    "autograd cannot reach the weights", Diagnosis("detached", "no graph"))
    out.backward(upstream)
    for k in GRU_NAMES:
        if leaves[k].grad is None:
            raise Wrong(f"no gradient reached {k}: part of the path left the graph (numpy or "
                        f".data?)", Diagnosis("detached", "no gradient"))
        compare(f"the gradient of {k}", leaves[k].grad, truth[k].grad)


GRU_CELL = Exercise(
    "gru_cell", "a GRU cell from primitives (forward)", ("gru_cell",), GRU_STUB,
    ("gx = x @ weight_ih.T + bias_ih and gh = h @ weight_hh.T + bias_hh, each (B, 3H); "
     "then x_r, x_z, x_n = gx.chunk(3, dim=1), the same for gh.",
     "The reset gate multiplies the whole hidden part of n, bias included: r * h_n.",
     "z keeps the old state: h' = (1 - z) * n + z * h."),
    _gru_fixed, _gru_cases, _gru_check)


# ---- 12. one Adam step -----------------------------------------------------------------------
ADAM_STUB = '''"""Exercise 12: one step of Adam (PyTorch's rule), on numpy arrays.

t counts the steps from 1; m and v start as zeros.
    m ← β₁ m + (1 − β₁) g            v ← β₂ v + (1 − β₂) g²
    m̂ = m / (1 − β₁ᵗ)                v̂ = v / (1 − β₂ᵗ)            (the bias corrections)
    param ← param − lr · m̂ / (√v̂ + ε)
Check: tinygrad-rnn learn check 12
"""

import numpy as np


def adam_step(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
              lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the new param, the new m, the new v)."""
    raise NotImplementedError
'''


def _adam_fixed() -> list[Case]:
    rng = np.random.default_rng(SEED + 12)
    grads = rng.choice([-1, 1], (3, 2, 3)) * rng.uniform(0.5, 2.0, (3, 2, 3))
    return [{"param": rng.standard_normal((2, 3)), "grads": grads, "lr": 0.01, "beta1": 0.9,
             "beta2": 0.999}]


def _adam_cases() -> Any:
    from hypothesis import strategies as st

    from tinygrad_rnn.testing.strategies import arrays, shapes

    def build(shape: tuple[int, ...]) -> Any:
        return st.fixed_dictionaries({
            "param": arrays(shape), "grads": st.integers(1, 4).flatmap(
                lambda n: arrays((n, *shape))),
            "lr": st.floats(1e-4, 0.1), "beta1": st.floats(0.5, 0.95),
            "beta2": st.floats(0.9, 0.9999)})
    return shapes(1, 2).flatmap(build)


def _adam_check(module: ModuleType, case: Case) -> None:
    lr, b1, b2 = case["lr"], case["beta1"], case["beta2"]
    theta = Tensor(case["param"].copy(), requires_grad=True)
    opt = Adam([theta], lr=lr, betas=(b1, b2))
    param, m, v = case["param"].copy(), np.zeros_like(case["param"]), np.zeros_like(case["param"])
    step = function(module, "adam_step")
    for t, g in enumerate(case["grads"], start=1):
        before = theta.numpy().copy()
        theta.grad = g.copy()
        opt.step()
        state = opt.state[theta]
        got = step(param.copy(), g.copy(), m.copy(), v.copy(), t, lr=lr, beta1=b1, beta2=b2,
                   eps=1e-8)
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise Wrong(f"adam_step returned {type(got).__name__}; return (param, m, v)")
        compare(f"m after step {t}", got[1], state["exp_avg"], what="value")
        compare(f"v after step {t}", got[2], state["exp_avg_sq"], what="value")
        update = np.asarray(got[0], dtype=np.float64) - param
        compare(f"the update at step {t} (new param − old)", update, theta.numpy() - before,
                what="update")
        param = theta.numpy().copy()                     # the next step starts from the truth
        m, v = state["exp_avg"].copy(), state["exp_avg_sq"].copy()


ADAM = Exercise(
    "adam", "one Adam step", ("adam_step",), ADAM_STUB,
    ("Update m and v first, with the raw gradient g.",
     "The bias corrections divide by (1 - beta1 ** t) and (1 - beta2 ** t): without them the "
     "first steps are far too small or too large.",
     "Subtract the step: param - lr * m_hat / (np.sqrt(v_hat) + eps)."),
    _adam_fixed, _adam_cases, _adam_check)
