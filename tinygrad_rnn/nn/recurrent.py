"""Multi-layer, optionally bidirectional RNN, GRU and LSTM layers built from the cells.

Each (layer, direction) is one cell. The layer registers the cell's parameters under PyTorch's
flat names (weight_ih_l0, bias_hh_l1_reverse, …), so `state_dict()` matches torch.nn.RNN/GRU/LSTM
key for key; `cells` is a tuple holding the same Parameter objects (a tuple is not searched for
parameters, so each is listed once). For speed, the input part of every gate is one matmul per
layer and direction over all time steps (in blocks of 256 steps on long sequences, which bounds
its memory), and `scan` runs the recurrent `cell.step` over the steps as one node of the graph
(traced once, replayed on arrays: see tinygrad_rnn/engine/scan.py).

    layer 1   h¹⟨1⟩ → h¹⟨2⟩ → h¹⟨3⟩        (each input: layer 0's outputs, after dropout)
                ↑       ↑       ↑
    layer 0   h⁰⟨1⟩ → h⁰⟨2⟩ → h⁰⟨3⟩
                ↑       ↑       ↑
              x⟨1⟩    x⟨2⟩    x⟨3⟩
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn.engine.creation import cat, stack
from tinygrad_rnn.engine.scan import scan
from tinygrad_rnn.engine.tensor import ShapeError, Tensor
from tinygrad_rnn.nn import functional
from tinygrad_rnn.nn.cells import GRUCell, LSTMCell, RNNCell, _pair, check_dtype, check_size
from tinygrad_rnn.nn.module import Module

__all__ = ["RNN", "GRU", "LSTM"]

PROJECTION_BLOCK = 256  # time steps whose input projection is computed by one matmul


class _Recurrent(Module):
    """The loop over layers, directions and time shared by RNN, GRU and LSTM."""

    cell_class: type = RNNCell
    state_parts = 1  # tensors in a cell's state: h (RNN, GRU) or (h, c) (LSTM)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 **cell_options: Any) -> None:
        super().__init__()
        name = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size),
                           ("num_layers", num_layers)):
            check_size(name, arg, value)
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        cells = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for direction in range(self.num_directions):
                cell = self.cell_class(layer_input, hidden_size, bias, **cell_options)
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                setattr(self, "weight_ih" + suffix, cell.weight_ih)    # PyTorch's flat names,
                setattr(self, "weight_hh" + suffix, cell.weight_hh)    # in PyTorch's order
                if bias:
                    setattr(self, "bias_ih" + suffix, cell.bias_ih)
                    setattr(self, "bias_hh" + suffix, cell.bias_hh)
                cells.append(cell)
        self.cells = tuple(cells)  # index layer * num_directions + direction

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """x (T, B, I), or (B, T, I) with batch_first, or unbatched (T, I) → (output, h_n):
        output (T, B, D·H) (batch_first: (B, T, D·H); unbatched (T, D·H)), h_n (L·D, B, H)."""
        seq, unbatched = self._time_major(x)                                    # (T, B, I)
        initial = self._initial_states(state, seq, unbatched)
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                out, final = self._run(self.cells[k], seq, initial[k], reverse=direction == 1)
                outputs.append(out)
                finals.append(final)
            seq = outputs[0] if len(outputs) == 1 else cat(outputs, dim=2)     # (T, B, D·H)
            if layer < self.num_layers - 1:
                seq = functional.dropout(seq, self.dropout, self.training)
        if unbatched:
            seq = seq.squeeze(1)                                                 # (T, D·H)
        elif self.batch_first:
            seq = seq.transpose(0, 1)                                            # (B, T, D·H)
        return seq, self._final_states(finals, unbatched)

    def _run(self, cell: Module, seq: Tensor, state: Any, reverse: bool) -> tuple[Tensor, Any]:
        """One direction of one layer: outputs (T, B, H) and the state after the last step.
        The input projection is one matmul per block of up to PROJECTION_BLOCK steps (a whole
        short sequence at once; on a long one, the block bounds the memory it takes); `scan`
        runs the cell's step over the block's time steps."""
        steps, batch, features = seq.shape
        blocks = [(start, min(start + PROJECTION_BLOCK, steps))
                  for start in range(0, steps, PROJECTION_BLOCK)]
        outputs: dict[int, Tensor] = {}
        for start, stop in (reversed(blocks) if reverse else blocks):
            rows = seq[start:stop].reshape((stop - start) * batch, features)      # (T'·B, I)
            x_proj = cell.project_input(rows).reshape(stop - start, batch, -1)    # (T', B, G·H)
            outputs[start], state = scan(cell.step, x_proj, state, reverse)       # (T', B, H)
        in_order = [outputs[start] for start, _ in blocks]
        return (in_order[0] if len(in_order) == 1 else cat(in_order, dim=0)), state

    def _time_major(self, x: Tensor) -> tuple[Tensor, bool]:
        """The input as (T, B, I), and whether it was unbatched (T, I)."""
        name = type(self).__name__
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ShapeError(f"{name}: input must be {layout} or (T, I) with I = "
                             f"{self.input_size}, got {x.shape}")
        if x.ndim == 2:
            seq, unbatched = x.unsqueeze(1), True                                # (T, 1, I)
        else:
            seq, unbatched = (x.transpose(0, 1) if self.batch_first else x), False  # (T, B, I)
        if seq.shape[0] == 0:
            raise ShapeError(f"{name}: input {x.shape} has no time steps")
        if seq.shape[1] == 0:
            raise ShapeError(f"{name}: input {x.shape} has batch size 0")
        check_dtype(name, "input", x, self.weight_ih_l0.dtype, ValueError)  # ValueError as torch
        return seq, unbatched

    def _initial_states(self, state: Any, seq: Tensor, unbatched: bool) -> list[Any]:
        """One initial state per cell: zeros, or slices of the given (L·D, B, H) tensors."""
        name = type(self).__name__
        if self.state_parts == 1 and isinstance(state, (tuple, list)):
            raise TypeError(f"{name}: the initial state is one tensor h0 of shape (num_layers * "
                            f"num_directions, batch, hidden_size); a pair (h0, c0) is for LSTM")
        parts = _pair(state, name) if self.state_parts == 2 else (state,)
        count, batch = self.num_layers * self.num_directions, seq.shape[1]
        per_cell: list[list[Tensor]] = [[] for _ in range(count)]
        for part_name, part in zip(("h0", "c0")[:len(parts)], parts, strict=True):
            if part is not None and not isinstance(part, Tensor):
                raise TypeError(f"{name}: {part_name} must be a Tensor or None, got "
                                f"{type(part).__name__}")
            if part is None:
                zeros = np.zeros((batch, self.hidden_size), dtype=seq.dtype)
                for cell_parts in per_cell:
                    cell_parts.append(Tensor(zeros))
                continue
            expected = (count, self.hidden_size) if unbatched else (count, batch, self.hidden_size)
            if part.shape != expected:
                raise ShapeError(f"{name}: {part_name} must have shape {expected} "
                                 f"(num_layers * num_directions, batch, hidden_size), "
                                 f"got {part.shape}")
            check_dtype(name, part_name, part, self.weight_ih_l0.dtype)
            if unbatched:
                part = part.unsqueeze(1)                                          # (L·D, 1, H)
            for k, cell_parts in enumerate(per_cell):
                cell_parts.append(part[k])                                        # (B, H)
        return [tuple(p) if self.state_parts == 2 else p[0] for p in per_cell]

    def _final_states(self, finals: list[Any], unbatched: bool) -> Any:
        """Stack each cell's last state into (L·D, B, H) (unbatched: (L·D, H))."""
        columns = zip(*finals, strict=True) if self.state_parts == 2 else [finals]
        stacked = [stack(list(column), dim=0) for column in columns]             # (L·D, B, H)
        if unbatched:
            stacked = [s.squeeze(1) for s in stacked]                            # (L·D, H)
        return tuple(stacked) if self.state_parts == 2 else stacked[0]

    def extra_repr(self) -> str:
        options = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            options.append(f"num_layers={self.num_layers}")
        if not self.bias:
            options.append("bias=False")
        if self.batch_first:
            options.append("batch_first=True")
        if self.dropout:
            options.append(f"dropout={self.dropout}")
        if self.bidirectional:
            options.append("bidirectional=True")
        return ", ".join(options)


class RNN(_Recurrent):
    """Elman RNN layers: h⟨t⟩ = tanh(W_ih x⟨t⟩ + b_ih + W_hh h⟨t−1⟩ + b_hh) (or relu), per layer.
    forward(x, h0=None) → (output, h_n). Arguments in PyTorch's order (nonlinearity 4th)."""

    cell_class = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, nonlinearity=nonlinearity)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        relu = ", nonlinearity='relu'" if self.nonlinearity == "relu" else ""
        return super().extra_repr() + relu


class GRU(_Recurrent):
    """GRU layers (GRUCell's equations per layer). forward(x, h0=None) → (output, h_n)."""

    cell_class = GRUCell


class LSTM(_Recurrent):
    """LSTM layers (LSTMCell's equations per layer).
    forward(x, (h0, c0)=None) → (output, (h_n, c_n)), h_n and c_n each (L·D, B, H)."""

    cell_class = LSTMCell
    state_parts = 2
