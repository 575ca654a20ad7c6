"""Hand-derived backpropagation through time in plain numpy: the speed of light for numpy.

No autograd: every gradient below is derived by hand from the forward equations, and every buffer
is allocated once per sequence. The parameters use PyTorch's names and shapes (`weight_ih` is
(G·H, V), gate order i, f, g, o), so the same arrays load into `nn.RNN`/`nn.LSTM` plus a `Linear`
head and the gradients can be compared one to one (tests/test_benchmarks.py does).

Model, for a one-hot input sequence x (T, B, V) and integer targets y (T, B):
    h_t = cell(x_t, h_{t-1})                  the recurrence (tanh RNN or LSTM)
    logits_t = h_t W_headᵀ + b_head           a linear head on every step
    loss = mean over the T·B positions of -log softmax(logits_t)[y_t]

Try it:
    python -m benchmarks.numpy_bptt            # train the min-char-rnn and LSTM set-ups briefly
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Params", "GATES", "init_params", "rnn_loss_and_grads", "lstm_loss_and_grads",
    "clip_by_value_", "clip_by_norm_", "Adagrad", "Adam", "RNNTrainer", "LSTMTrainer",
]

Params = dict[str, np.ndarray]


# ---- initialisation (PyTorch's: every weight and bias U(-1/√H, 1/√H)) ---------------------------
GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # H-sized blocks stacked in weight_ih / weight_hh


def init_params(cell: str, vocab: int, hidden: int, dtype: np.dtype | str,
                rng: np.random.Generator) -> Params:
    """Parameters of a recurrent layer (vocab → hidden) with a linear head (hidden → vocab),
    under PyTorch's names; `cell` is "rnn", "gru" or "lstm"."""
    rows = GATES[cell] * hidden
    shapes = {"weight_ih": (rows, vocab), "weight_hh": (rows, hidden),
              "bias_ih": (rows,), "bias_hh": (rows,),
              "head_weight": (vocab, hidden), "head_bias": (vocab,)}
    bound = 1.0 / math.sqrt(hidden)
    return {name: rng.uniform(-bound, bound, shape).astype(dtype) for name, shape in shapes.items()}


# ---- shared pieces ------------------------------------------------------------------------------
def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """σ(a) in place, as (1 + tanh(a/2)) / 2: no overflow for any a, no temporaries."""
    a *= 0.5
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


def _head_loss_and_grads(params: Params, hs: np.ndarray, targets: np.ndarray, grads: Params
                         ) -> tuple[float, np.ndarray]:
    """Linear head and mean softmax cross-entropy over all positions of hs (T, B, H).

    dloss/dlogits = (softmax(logits) - onehot(y)) / N; fills the head's gradients and returns the
    loss and dloss/dhs (T, B, H)."""
    steps, batch, hidden = hs.shape
    n = steps * batch
    flat_h = hs.reshape(n, hidden)                                               # (N, H)
    logits = flat_h @ params["head_weight"].T                                    # (N, V)
    logits += params["head_bias"]
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    probs = logits
    probs /= probs.sum(axis=1, keepdims=True)
    rows, flat_y = np.arange(n), targets.reshape(n)
    loss = float(-np.log(probs[rows, flat_y]).sum() / n)
    dlogits = probs                                                              # reuse: (N, V)
    dlogits[rows, flat_y] -= 1.0
    dlogits /= n
    grads["head_weight"] = dlogits.T @ flat_h                                    # (V, H)
    grads["head_bias"] = dlogits.sum(axis=0)
    dhs = (dlogits @ params["head_weight"]).reshape(steps, batch, hidden)        # (T, B, H)
    return loss, dhs


def _input_grads(params: Params, dz: np.ndarray, inputs: np.ndarray, h_prev: np.ndarray,
                 grads: Params) -> None:
    """Gradients of z_t = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh, summed over all steps at once
    from dz (T, B, G·H): one matrix product per weight instead of one per step."""
    steps, batch, width = dz.shape
    flat_dz = dz.reshape(steps * batch, width)                                   # (N, G·H)
    grads["weight_ih"] = flat_dz.T @ inputs.reshape(steps * batch, -1)           # (G·H, V)
    grads["weight_hh"] = flat_dz.T @ h_prev.reshape(steps * batch, -1)           # (G·H, H)
    grads["bias_ih"] = flat_dz.sum(axis=0)
    grads["bias_hh"] = grads["bias_ih"].copy()


def _input_projection(params: Params, inputs: np.ndarray) -> np.ndarray:
    """x_t W_ihᵀ + b_ih + b_hh for every step in one product: (T, B, V) → (T, B, G·H)."""
    steps, batch, vocab = inputs.shape
    z = inputs.reshape(steps * batch, vocab) @ params["weight_ih"].T             # (N, G·H)
    z += params["bias_ih"]
    z += params["bias_hh"]
    return z.reshape(steps, batch, -1)


# ---- vanilla RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) ---------------------------
def rnn_loss_and_grads(params: Params, inputs: np.ndarray, targets: np.ndarray, h0: np.ndarray
                       ) -> tuple[float, Params, np.ndarray]:
    """Loss, gradients of every parameter, and the last hidden state (B, H).

    Backward, from the top:  dh_t = dloss/dh_t (from the head) + da_{t+1} W_hh
                             da_t = dh_t ⊙ (1 - h_t²)          (a_t: the pre-activation)"""
    steps, batch, _ = inputs.shape
    w_hh = params["weight_hh"]
    a = _input_projection(params, inputs)                                        # (T, B, H)
    hs = np.empty((steps + 1,) + h0.shape, dtype=a.dtype)                        # h_0 … h_T
    hs[0] = h0
    for t in range(steps):
        np.tanh(a[t] + hs[t] @ w_hh.T, out=hs[t + 1])

    grads: Params = {}
    loss, dhs = _head_loss_and_grads(params, hs[1:], targets, grads)
    da = a                                          # a_t is not needed any more: reuse its buffer
    dh_next = np.zeros_like(h0)
    for t in reversed(range(steps)):
        h = hs[t + 1]
        dh = dhs[t] + dh_next
        np.multiply(dh, 1.0 - h * h, out=da[t])
        dh_next = da[t] @ w_hh                                                   # (B, H)
    _input_grads(params, da, inputs, hs[:-1], grads)
    return loss, grads, hs[-1].copy()


# ---- LSTM (gate order i, f, g, o) ---------------------------------------------------------------
def lstm_loss_and_grads(params: Params, inputs: np.ndarray, targets: np.ndarray,
                        state: tuple[np.ndarray, np.ndarray]
                        ) -> tuple[float, Params, tuple[np.ndarray, np.ndarray]]:
    """Loss, gradients of every parameter, and the last state (h_T, c_T).

    Forward:  i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g)
              c_t = f ⊙ c_{t-1} + i ⊙ g;          h_t = o ⊙ tanh(c_t)
    Backward: dc_t = dc_{t+1} ⊙ f_{t+1} + dh_t ⊙ o ⊙ (1 - tanh²c_t)
              dz_i = dc_t ⊙ g ⊙ i(1-i),  dz_f = dc_t ⊙ c_{t-1} ⊙ f(1-f)
              dz_g = dc_t ⊙ i ⊙ (1-g²),  dz_o = dh_t ⊙ tanh c_t ⊙ o(1-o)
              dh_{t-1} gets dz_t W_hh"""
    h0, c0 = state
    steps = inputs.shape[0]
    hidden = h0.shape[1]
    w_hh = params["weight_hh"]
    gates = _input_projection(params, inputs)                                    # (T, B, 4H)
    hs = np.empty((steps + 1,) + h0.shape, dtype=gates.dtype)                    # h_0 … h_T
    cs = np.empty_like(hs)                                                       # c_0 … c_T
    tanh_cs = np.empty_like(hs[1:])                                              # tanh c_1 … c_T
    hs[0], cs[0] = h0, c0
    for t in range(steps):
        z = gates[t]
        z += hs[t] @ w_hh.T                                                      # (B, 4H)
        _sigmoid_(z[:, :2 * hidden])                                             # i, f
        np.tanh(z[:, 2 * hidden:3 * hidden], out=z[:, 2 * hidden:3 * hidden])    # g
        _sigmoid_(z[:, 3 * hidden:])                                             # o
        i, f, g, o = np.split(z, 4, axis=1)
        np.multiply(f, cs[t], out=cs[t + 1])
        cs[t + 1] += i * g
        np.tanh(cs[t + 1], out=tanh_cs[t])
        np.multiply(o, tanh_cs[t], out=hs[t + 1])

    grads: Params = {}
    loss, dhs = _head_loss_and_grads(params, hs[1:], targets, grads)
    dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(steps)):
        i, f, g, o = np.split(gates[t], 4, axis=1)
        tanh_c = tanh_cs[t]
        dh = dhs[t] + dh_next
        dc = dc_next + dh * o * (1.0 - tanh_c * tanh_c)
        dz_i = dc * g * i * (1.0 - i)
        dz_f = dc * cs[t] * f * (1.0 - f)
        dz_g = dc * i * (1.0 - g * g)
        dz_o = dh * tanh_c * o * (1.0 - o)
        dc_next = dc * f
        i[...], f[...], g[...], o[...] = dz_i, dz_f, dz_g, dz_o   # the gates become their dz
        dh_next = gates[t] @ w_hh                                                # (B, H)
    _input_grads(params, gates, inputs, hs[:-1], grads)
    return loss, grads, (hs[-1].copy(), cs[-1].copy())


# ---- clipping and optimizers (PyTorch's formulas) -----------------------------------------------
def clip_by_value_(grads: Params, clip: float) -> None:
    """Clamp every gradient element to [-clip, clip], in place (as clip_grad_value_)."""
    for g in grads.values():
        np.clip(g, -clip, clip, out=g)


def clip_by_norm_(grads: Params, max_norm: float) -> float:
    """Scale all gradients by max_norm / (‖g‖ + 1e-6) when that is below 1 (as clip_grad_norm_);
    return the total 2-norm before clipping."""
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for g in grads.values():
            g *= scale
    return total


@dataclass
class Adagrad:
    """sum += g²;  p -= lr · g / (√sum + eps)   (torch.optim.Adagrad with its defaults)."""

    lr: float = 0.01
    eps: float = 1e-10
    sums: Params = field(default_factory=dict)

    def step(self, params: Params, grads: Params) -> None:
        for name, p in params.items():
            g = grads[name]
            total = self.sums.setdefault(name, np.zeros_like(p))
            total += g * g
            p -= self.lr * g / (np.sqrt(total) + self.eps)


@dataclass
class Adam:
    """m, v = moving averages of g and g²;  p -= lr · m̂ / (√v̂ + eps)   (torch.optim.Adam)."""

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    steps: int = 0
    moments: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def step(self, params: Params, grads: Params) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        correction1 = 1.0 - beta1 ** self.steps
        root_correction2 = math.sqrt(1.0 - beta2 ** self.steps)
        for name, p in params.items():
            g = grads[name]
            m, v = self.moments.setdefault(name, (np.zeros_like(p), np.zeros_like(p)))
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * g * g
            p -= (self.lr / correction1) * m / (np.sqrt(v) / root_correction2 + self.eps)


# ---- a whole training step: forward, backward, clip, update -------------------------------------
@dataclass
class RNNTrainer:
    """min-char-rnn style: tanh RNN, Adagrad, gradients clipped by value; state starts at zero."""

    params: Params
    optimizer: Adagrad
    clip_value: float

    def step(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        hidden = self.params["weight_hh"].shape[0]
        h0 = np.zeros((inputs.shape[1], hidden), dtype=inputs.dtype)
        loss, grads, _ = rnn_loss_and_grads(self.params, inputs, targets, h0)
        clip_by_value_(grads, self.clip_value)
        self.optimizer.step(self.params, grads)
        return loss


@dataclass
class LSTMTrainer:
    """LSTM with Adam and gradients clipped by their total norm; state starts at zero."""

    params: Params
    optimizer: Adam
    max_norm: float

    def step(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        hidden = self.params["weight_hh"].shape[1]
        zeros = np.zeros((inputs.shape[1], hidden), dtype=inputs.dtype)
        loss, grads, _ = lstm_loss_and_grads(self.params, inputs, targets, (zeros, zeros))
        clip_by_norm_(grads, self.max_norm)
        self.optimizer.step(self.params, grads)
        return loss


def _demo() -> None:
    """Fit a fixed random batch for a few steps with each trainer: the loss must fall."""
    rng = np.random.default_rng(0)
    vocab = 65
    rnn = RNNTrainer(init_params("rnn", vocab, 100, np.float64, rng), Adagrad(lr=0.1), 5.0)
    lstm = LSTMTrainer(init_params("lstm", vocab, 256, np.float32, rng), Adam(), 5.0)
    for name, trainer, steps, batch, dtype in [("rnn (min-char-rnn)", rnn, 25, 1, np.float64),
                                               ("lstm", lstm, 50, 32, np.float32)]:
        symbols = rng.integers(0, vocab, (steps + 1, batch))
        inputs = np.eye(vocab, dtype=dtype)[symbols[:-1]]                       # (T, B, V)
        losses = [trainer.step(inputs, symbols[1:]) for _ in range(20)]
        print(f"{name}: loss {losses[0]:.3f} -> {losses[-1]:.3f} in {len(losses)} steps")


if __name__ == "__main__":
    _demo()
