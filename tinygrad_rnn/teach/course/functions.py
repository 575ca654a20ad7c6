"""The course's week-1 functions, in its layout and names, computed by the engine.

Column vectors: an input x⟨t⟩ is (n_x, m), a state a⟨t⟩ is (n_a, m), m examples side by side;
a sequence adds time last, (n_x, m, T_x). Parameters come in a dict:
    RNN   Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), ba (n_a, 1), by (n_y, 1)
    LSTM  Wf, Wi, Wc, Wo (n_a, n_a + n_x) over the concatenation [a⟨t−1⟩; x⟨t⟩], bf, bi, bc,
          bo (n_a, 1), Wy (n_y, n_a), by (n_y, 1)
Every function takes and returns numpy arrays, as the course's do; the backward functions are the
engine's autograd, so they are the answer a hand-written backward is checked against.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tinygrad_rnn.engine.creation import cat
from tinygrad_rnn.engine.tensor import Tensor, no_grad
from tinygrad_rnn.nn.utils import clip_grad_value_

__all__ = ["RNN_KEYS", "LSTM_KEYS", "rnn_cell_forward", "rnn_forward", "rnn_cell_backward",
           "rnn_backward", "lstm_cell_forward", "lstm_forward", "lstm_cell_backward", "clip",
           "rnn_step", "lstm_step", "rnn_unrolled", "as_tensors", "gradients_of"]

RNN_KEYS = ("Wax", "Waa", "Wya", "ba", "by")
LSTM_KEYS = ("Wf", "Wi", "Wc", "Wo", "Wy", "bf", "bi", "bc", "bo", "by")
Params = dict[str, np.ndarray]
Tensors = dict[str, Tensor]


def as_tensors(arrays: dict[str, np.ndarray], names: tuple[str, ...],
               grad: bool = False) -> Tensors:
    """The named arrays as float64 Tensors (leaves that require grad when `grad`)."""
    return {k: Tensor(np.array(arrays[k], dtype=np.float64), requires_grad=grad) for k in names}


def rnn_step(xt: Tensor, a_prev: Tensor, p: Tensors) -> tuple[Tensor, Tensor]:
    """a⟨t⟩ = tanh(Waa a⟨t−1⟩ + Wax x⟨t⟩ + ba),  ŷ⟨t⟩ = softmax(Wya a⟨t⟩ + by) over rows."""
    a_next = (p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"]).tanh()   # (n_a, n_a)@(n_a, m) → (n_a, m)
    yt_pred = (p["Wya"] @ a_next + p["by"]).softmax(0)              # (n_y, n_a)@(n_a, m) → (n_y, m)
    return a_next, yt_pred


def lstm_step(xt: Tensor, a_prev: Tensor, c_prev: Tensor, p: Tensors
              ) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, ...]]:
    """Γf, Γu, Γo = σ(W· [a⟨t−1⟩; x⟨t⟩] + b·),  c̃ = tanh(Wc [a⟨t−1⟩; x⟨t⟩] + bc),
    c⟨t⟩ = Γf ⊙ c⟨t−1⟩ + Γu ⊙ c̃,  a⟨t⟩ = Γo ⊙ tanh(c⟨t⟩),  ŷ⟨t⟩ = softmax(Wy a⟨t⟩ + by)."""
    concat = cat([a_prev, xt], dim=0)                               # (n_a + n_x, m)
    ft = (p["Wf"] @ concat + p["bf"]).sigmoid()                     # (n_a, m) each
    it = (p["Wi"] @ concat + p["bi"]).sigmoid()
    cct = (p["Wc"] @ concat + p["bc"]).tanh()
    ot = (p["Wo"] @ concat + p["bo"]).sigmoid()
    c_next = ft * c_prev + it * cct
    a_next = ot * c_next.tanh()
    yt_pred = (p["Wy"] @ a_next + p["by"]).softmax(0)               # (n_y, m)
    return a_next, c_next, yt_pred, (ft, it, cct, ot)


def rnn_cell_forward(xt: np.ndarray, a_prev: np.ndarray, parameters: Params
                     ) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One RNN step: (a_next, yt_pred, cache) with cache = (a_next, a_prev, xt, parameters)."""
    with no_grad():
        a_next, yt_pred = rnn_step(Tensor(xt), Tensor(a_prev), as_tensors(parameters, RNN_KEYS))
    return a_next.numpy(), yt_pred.numpy(), (a_next.numpy(), a_prev, xt, parameters)


def rnn_forward(x: np.ndarray, a0: np.ndarray, parameters: Params
                ) -> tuple[np.ndarray, np.ndarray, tuple[list, np.ndarray]]:
    """T_x steps: a (n_a, m, T_x), y_pred (n_y, m, T_x) and caches = (one cache a step, x)."""
    a, y_pred, caches, a_next = [], [], [], a0
    for t in range(x.shape[2]):
        a_next, yt_pred, cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a.append(a_next)
        y_pred.append(yt_pred)
        caches.append(cache)
    return np.stack(a, axis=2), np.stack(y_pred, axis=2), (caches, x)


def gradients_of(leaves: dict[str, Tensor]) -> dict[str, np.ndarray]:
    """{"d" + name: its .grad} in the course's naming (zeros where no gradient arrived)."""
    return {"d" + k: t.grad if t.grad is not None else np.zeros_like(t.data)
            for k, t in leaves.items()}


def rnn_cell_backward(da_next: np.ndarray, cache: tuple) -> dict[str, np.ndarray]:
    """dxt, da_prev, dWax, dWaa, dba of Σ a_next ⊙ da_next, by autograd."""
    _, a_prev, xt, parameters = cache
    p = as_tensors(parameters, RNN_KEYS, grad=True)
    leaves = {"xt": Tensor(np.array(xt, dtype=np.float64), requires_grad=True),
              "a_prev": Tensor(np.array(a_prev, dtype=np.float64), requires_grad=True),
              "Wax": p["Wax"], "Waa": p["Waa"], "ba": p["ba"]}
    a_next, _ = rnn_step(leaves["xt"], leaves["a_prev"], p)
    a_next.backward(np.asarray(da_next, dtype=np.float64))
    return gradients_of(leaves)


def rnn_unrolled(x: Tensor, a0: Tensor, params_at: Callable[[int], Tensors],
                 detach_state: bool = False) -> list[Tensor]:
    """The hidden states a⟨1⟩ … a⟨T_x⟩, with step t's parameters params_at(t) (the same dict
    every step for the model; a copy per step to see each step's share of a gradient)."""
    a, a_next = [], a0
    for t in range(x.shape[2]):
        a_next, _ = rnn_step(x[:, :, t], a_next.detach() if detach_state and t else a_next,
                             params_at(t))
        a.append(a_next)
    return a


def rnn_backward(da: np.ndarray, caches: tuple[list, np.ndarray]) -> dict[str, np.ndarray]:
    """dx, da0, dWax, dWaa, dba of Σ_t a⟨t⟩ ⊙ da[:, :, t] (BPTT), by autograd."""
    steps, x = caches
    _, a0, _, parameters = steps[0]
    p = as_tensors(parameters, RNN_KEYS, grad=True)
    leaves = {"x": Tensor(np.array(x, dtype=np.float64), requires_grad=True),
              "a0": Tensor(np.array(a0, dtype=np.float64), requires_grad=True),
              "Wax": p["Wax"], "Waa": p["Waa"], "ba": p["ba"]}
    a = rnn_unrolled(leaves["x"], leaves["a0"], lambda t: p)
    sum((a_t * Tensor(da[:, :, t])).sum() for t, a_t in enumerate(a)).backward()
    return gradients_of(leaves)


def lstm_cell_forward(xt: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray, parameters: Params
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """One LSTM step: (a_next, c_next, yt_pred, cache), cache = (a_next, c_next, a_prev, c_prev,
    ft, it, cct, ot, xt, parameters) as in the course."""
    with no_grad():
        a_next, c_next, yt_pred, gates = lstm_step(Tensor(xt), Tensor(a_prev), Tensor(c_prev),
                                                   as_tensors(parameters, LSTM_KEYS))
    ft, it, cct, ot = (g.numpy() for g in gates)
    cache = (a_next.numpy(), c_next.numpy(), a_prev, c_prev, ft, it, cct, ot, xt, parameters)
    return a_next.numpy(), c_next.numpy(), yt_pred.numpy(), cache


def lstm_forward(x: np.ndarray, a0: np.ndarray, parameters: Params
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[list, np.ndarray]]:
    """T_x steps from a0 and c⟨0⟩ = 0: a, y, c stacked on a last time axis, and caches."""
    a, y, c, caches = [], [], [], []
    a_next, c_next = a0, np.zeros_like(a0)
    for t in range(x.shape[2]):
        a_next, c_next, yt, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)
        a.append(a_next)
        c.append(c_next)
        y.append(yt)
        caches.append(cache)
    return np.stack(a, axis=2), np.stack(y, axis=2), np.stack(c, axis=2), (caches, x)


def lstm_cell_backward(da_next: np.ndarray, dc_next: np.ndarray, cache: tuple
                       ) -> dict[str, np.ndarray]:
    """dxt, da_prev, dc_prev and dW·, db· (f, i, c, o) of Σ a_next ⊙ da_next + c_next ⊙ dc_next."""
    _, _, a_prev, c_prev, _, _, _, _, xt, parameters = cache
    p = as_tensors(parameters, LSTM_KEYS, grad=True)
    state = {k: Tensor(np.array(v, dtype=np.float64), requires_grad=True)
             for k, v in (("xt", xt), ("a_prev", a_prev), ("c_prev", c_prev))}
    a_next, c_next, _, _ = lstm_step(state["xt"], state["a_prev"], state["c_prev"], p)
    ((a_next * Tensor(da_next)).sum() + (c_next * Tensor(dc_next)).sum()).backward()
    weights = ("Wf", "Wi", "Wc", "Wo", "bf", "bi", "bc", "bo")
    return gradients_of({**state, **{k: p[k] for k in weights}})


def clip(gradients: dict[str, np.ndarray], maxValue: float) -> dict[str, np.ndarray]:  # noqa: N803
    """Every gradient clamped into [-maxValue, maxValue] (nn.utils.clip_grad_value_); a new dict."""
    holders = {}
    for name, g in gradients.items():
        holders[name] = Tensor(np.zeros_like(g, dtype=np.float64))
        holders[name].grad = np.array(g, dtype=np.float64)
    clip_grad_value_(list(holders.values()), maxValue)
    return {name: t.grad for name, t in holders.items()}
