"""One time step of a vanilla RNN, a GRU and an LSTM, written from primitive Tensor ops.

Each cell is split in two so a layer can batch the part that does not depend on time:
    project_input(x)  = x W_ihᵀ + b_ih (+ b_hh)      (one matmul for all time steps at once)
    step(x_proj, state)                              (the recurrence: the cell's equations)
    forward(x, state) = step(project_input(x), state)
In the RNN's and the LSTM's equations b_hh only ever adds to W_ih x + b_ih, so it joins the input's
part (added once for all steps, not once per step); in the GRU's, b_hn sits inside r ⊙ (…), so
b_hh stays with W_hh h.
Parameter names, shapes, gate order and initialisation U(-1/√H, 1/√H) are PyTorch's, so a state
dict loads into torch.nn.RNNCell / GRUCell / LSTMCell unchanged. In the notes below, "course"
notation is the classic sequence-models course one: a⟨t⟩ hidden state, x⟨t⟩ input, Γ gates,
[a, x] a concatenation (so its W_u [a, x] is our W_hi h + W_ii x).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import ShapeError, Tensor
from tinygrad_rnn.nn import init
from tinygrad_rnn.nn.module import Module, Parameter

__all__ = ["RNNCell", "GRUCell", "LSTMCell", "check_dtype", "check_size"]


class _Cell(Module):
    """Parameters, input projection and shape handling shared by the three cells."""

    gates = 1  # G: how many H-sized blocks the weights stack (RNN 1, GRU 3, LSTM 4)
    state_parts = 1  # tensors in the state: h, or (h, c) for the LSTM
    bias_hh_with_input = True  # b_hh is added in project_input (RNN, LSTM), not in the step

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        check_size(type(self).__name__, "input_size", input_size)
        check_size(type(self).__name__, "hidden_size", hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = self.gates * hidden_size
        self.weight_ih = Parameter(np.zeros((rows, input_size), dtype=np.float32))
        self.weight_hh = Parameter(np.zeros((rows, hidden_size), dtype=np.float32))
        self.bias_ih = Parameter(np.zeros(rows, dtype=np.float32)) if bias else None
        self.bias_hh = Parameter(np.zeros(rows, dtype=np.float32)) if bias else None
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def project_input(self, x: Tensor) -> Tensor:
        """x W_ihᵀ + b_ih (+ b_hh): (B, I) → (B, G·H); the part of every gate that does not
        depend on the hidden state."""
        z = x @ self.weight_ih.T                                      # (B, I) @ (I, G·H)
        biases = [self.bias_ih] + ([self.bias_hh] if self.bias_hh_with_input else [])
        biases = [b for b in biases if b is not None]
        if not biases:
            return z
        return z + (biases[0] if len(biases) == 1 else biases[0] + biases[1])

    def _project_hidden(self, h: Tensor) -> Tensor:
        """h W_hhᵀ (+ b_hh): (B, H) → (B, G·H); the part of every gate that comes from the past."""
        h_proj = h @ self.weight_hh.T                                 # (B, H) @ (H, G·H)
        if self.bias_hh is None or self.bias_hh_with_input:
            return h_proj
        return h_proj + self.bias_hh

    def _batched(self, x: Tensor) -> tuple[Tensor, bool]:
        """(B, I) as it is, or (I,) as (1, I); and whether it was unbatched."""
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(f"{type(self).__name__}: input must be (B, {self.input_size}) or "
                             f"({self.input_size},), got {x.shape}")
        check_dtype(type(self).__name__, "input", x, self.weight_ih.dtype)
        return (x.unsqueeze(0), True) if x.ndim == 1 else (x, False)

    def _initial(self, state: Tensor | None, x: Tensor, unbatched: bool, name: str) -> Tensor:
        """A state tensor as (B, H): zeros when None, else checked against the input."""
        batch = x.shape[0]
        if state is None:
            return Tensor(np.zeros((batch, self.hidden_size), dtype=x.dtype))
        expected = (self.hidden_size,) if unbatched else (batch, self.hidden_size)
        if state.shape != expected:
            raise ShapeError(f"{type(self).__name__}: {name} must have shape {expected} for "
                             f"input {x.shape[1:] if unbatched else x.shape}, got {state.shape}")
        check_dtype(type(self).__name__, name, state, self.weight_ih.dtype)
        return state.unsqueeze(0) if unbatched else state

    def extra_repr(self) -> str:
        bias = "" if self.bias_ih is not None else ", bias=False"
        return f"{self.input_size}, {self.hidden_size}{bias}"


class RNNCell(_Cell):
    """Elman RNN step.

    PyTorch:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)          (or relu)
    Course:   a⟨t⟩ = tanh(W_aa a⟨t−1⟩ + W_ax x⟨t⟩ + b_a)
              ŷ⟨t⟩ = softmax(W_ya a⟨t⟩ + b_y)                    (a separate Linear + softmax)
    Mapping:  a = h, W_aa = weight_hh, W_ax = weight_ih, b_a = bias_ih + bias_hh.
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', "
                             f"got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def step(self, x_proj: Tensor, h: Tensor) -> Tensor:
        """h' from the projected input (B, H) and the previous hidden state h (B, H)."""
        a = x_proj + self._project_hidden(h)        # (W_ih x + b_ih + b_hh) + W_hh h   (B, H)
        return a.tanh() if self.nonlinearity == "tanh" else a.relu()

    def forward(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """x (B, I) or (I,), h (B, H) or (H,) or None (zeros) → h' of h's shape."""
        x, unbatched = self._batched(x)
        h = self.step(self.project_input(x), self._initial(state, x, unbatched, "hx"))
        return h.squeeze(0) if unbatched else h

    def extra_repr(self) -> str:
        relu = ", nonlinearity='relu'" if self.nonlinearity == "relu" else ""
        return super().extra_repr() + relu


class GRUCell(_Cell):
    """Gated recurrent unit step (PyTorch gate order r, z, n; b_hn stays inside r ⊙ (…)).

    PyTorch:  r  = σ(W_ir x + b_ir + W_hr h + b_hr)
              z  = σ(W_iz x + b_iz + W_hz h + b_hz)
              n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
              h' = (1 − z) ⊙ n + z ⊙ h
    Course:   Γ_r  = σ(W_r [c⟨t−1⟩, x⟨t⟩] + b_r)
              Γ_u  = σ(W_u [c⟨t−1⟩, x⟨t⟩] + b_u)
              c̃⟨t⟩ = tanh(W_c [Γ_r ⊙ c⟨t−1⟩, x⟨t⟩] + b_c)
              c⟨t⟩ = Γ_u ⊙ c̃⟨t⟩ + (1 − Γ_u) ⊙ c⟨t−1⟩,   a⟨t⟩ = c⟨t⟩
    Mapping:  c = a = h, Γ_r = r, c̃ = n, Γ_u = 1 − z (PyTorch's z is the "keep the old state"
              gate). One real difference: the course resets h before its matrix (W_c [Γ_r ⊙ c, x]),
              PyTorch (and cuDNN) after it (r ⊙ (W_hn h + b_hn)); they are different models.
    """

    gates = 3
    bias_hh_with_input = False

    def step(self, x_proj: Tensor, h: Tensor) -> Tensor:
        """h' from the projected input (B, 3H) and the previous hidden state h (B, H)."""
        xs, hs = ("x_r", "x_z", "x_n"), ("h_r", "h_z", "h_n")      # the names drawings show
        x_r, x_z, x_n = x_proj.chunk(3, 1, names=xs)                # W_i· x + b_i·   (B, H) each
        h_r, h_z, h_n = self._project_hidden(h).chunk(3, 1, names=hs)  # W_h· h + b_h·  (B, H)
        r = (x_r + h_r).sigmoid()
        z = (x_z + h_z).sigmoid()
        n = (x_n + r * h_n).tanh()
        return (1.0 - z) * n + z * h

    def forward(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """x (B, I) or (I,), h (B, H) or (H,) or None (zeros) → h' of h's shape."""
        x, unbatched = self._batched(x)
        h = self.step(self.project_input(x), self._initial(state, x, unbatched, "hx"))
        return h.squeeze(0) if unbatched else h


class LSTMCell(_Cell):
    """Long short-term memory step (PyTorch gate order i, f, g, o).

    PyTorch:  i  = σ(W_ii x + b_ii + W_hi h + b_hi)
              f  = σ(W_if x + b_if + W_hf h + b_hf)
              g  = tanh(W_ig x + b_ig + W_hg h + b_hg)
              o  = σ(W_io x + b_io + W_ho h + b_ho)
              c' = f ⊙ c + i ⊙ g
              h' = o ⊙ tanh(c')
    Course:   Γ_f = σ(W_f [a⟨t−1⟩, x⟨t⟩] + b_f),   Γ_u = σ(W_u [a⟨t−1⟩, x⟨t⟩] + b_u)
              c̃⟨t⟩ = tanh(W_c [a⟨t−1⟩, x⟨t⟩] + b_c),   Γ_o = σ(W_o [a⟨t−1⟩, x⟨t⟩] + b_o)
              c⟨t⟩ = Γ_f ⊙ c⟨t−1⟩ + Γ_u ⊙ c̃⟨t⟩
              a⟨t⟩ = Γ_o ⊙ tanh(c⟨t⟩)
    Mapping:  i = Γ_u, f = Γ_f, g = c̃, o = Γ_o, h = a; each course W_· is [W_h· | W_i·] side
              by side and each b_· = b_i· + b_h·.
    """

    gates = 4
    state_parts = 2

    def step(self, x_proj: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """(h', c') from the projected input (B, 4H) and the previous (h, c), each (B, H)."""
        h, c = state
        gates = x_proj + self._project_hidden(h)   # (W_i· x + b_i· + b_h·) + W_h· h   (B, 4H)
        i, f, g, o = gates.chunk(4, 1, names="ifgo")  # (B, H) each
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        return h, c

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, Tensor]:
        """x (B, I) or (I,), (h, c) each (B, H) or (H,), or None (zeros) → (h', c')."""
        x, unbatched = self._batched(x)
        h0, c0 = _pair(state, "LSTMCell")
        h, c = self.step(self.project_input(x), (self._initial(h0, x, unbatched, "h"),
                                                 self._initial(c0, x, unbatched, "c")))
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


def check_dtype(owner: str, name: str, x: Tensor, weights: np.dtype,
                error: type[Exception] = RuntimeError) -> None:
    """PyTorch's dtype check: a float32 layer refuses float64 input (or state), and the other way
    round, rather than silently computing in a dtype other than its weights'."""
    if x.dtype != weights:
        cast = _CAST.get(str(weights), f"astype('{weights}')")
        model = f" or the model (model.{_CAST[str(x.dtype)]})" if str(x.dtype) in _CAST else ""
        raise error(f"{owner}: {name} dtype {x.dtype} does not match the weights' dtype "
                    f"{weights}: convert the {name} ({name}.{cast}){model}")


_CAST = {"float32": "float()", "float64": "double()"}  # Tensor's and Module's conversions


def check_size(owner: str, name: str, value: Any) -> None:
    """A clear error unless `value` is a whole number >= 1 (a layer's size or count)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be a whole number, got {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be >= 1, got {value}")


def _pair(state: Any, owner: str) -> tuple[Tensor | None, Tensor | None]:
    """An LSTM state: None, or a (h, c) pair."""
    if state is None:
        return None, None
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise TypeError(f"{owner}: state must be a (h, c) pair of tensors or None, "
                        f"got {type(state).__name__}")
    return state[0], state[1]
