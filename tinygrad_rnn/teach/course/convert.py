"""Between the course's parameter dicts and nn cells (PyTorch's layout), both ways.

    RNN:   weight_ih = Wax, weight_hh = Waa, bias_ih = ba, bias_hh = 0; head Linear(Wya, by)
    LSTM:  PyTorch stacks the gates i, f, g, o; the course's W· act on [a⟨t−1⟩; x⟨t⟩], so
           W· = [W_h· | W_i·] side by side: weight_hh = [Wi; Wf; Wc; Wo][:, :n_a],
           weight_ih = the same rows [:, n_a:], bias_ih = [bi; bf; bc; bo], bias_hh = 0
A cell works on rows (m, n), the course on columns (n, m): cell(xt.T, a_prev.T).T is the course's
a_next. There is no GRU converter on purpose: the course's GRU resets the state before its matrix,
c̃ = tanh(Wc [Γr ⊙ c⟨t−1⟩; x⟨t⟩] + bc), PyTorch's after it, n = tanh(W_in x + b_in + r ⊙ (W_hn h +
b_hn)); no choice of weights makes one the other, they are different models.
"""

from __future__ import annotations

import numpy as np

from tinygrad_rnn.nn.cells import LSTMCell, RNNCell
from tinygrad_rnn.nn.layers import Linear

__all__ = ["to_rnn_cell", "from_rnn_cell", "to_lstm_cell", "from_lstm_cell"]

Params = dict[str, np.ndarray]
GATES = ("i", "f", "c", "o")         # PyTorch's order i, f, g, o in the course's letters


def _head(weight: np.ndarray, bias: np.ndarray) -> Linear:
    head = Linear(weight.shape[1], weight.shape[0]).double()
    head.load_state_dict({"weight": weight, "bias": bias.reshape(-1)})
    return head


def _from_head(head: Linear | None, weight: str) -> Params:
    if head is None:
        return {}
    bias = head.bias.numpy() if head.bias is not None else np.zeros(head.out_features)
    return {weight: head.weight.numpy().astype(np.float64), "by": bias.reshape(-1, 1)}


def _bias(cell: RNNCell | LSTMCell) -> np.ndarray:
    rows = cell.weight_ih.shape[0]
    parts = [b.numpy() for b in (cell.bias_ih, cell.bias_hh) if b is not None]
    return sum(parts, np.zeros(rows)).astype(np.float64).reshape(-1, 1)


def to_rnn_cell(parameters: Params) -> tuple[RNNCell, Linear]:
    """An nn.RNNCell (float64) with the course's Wax, Waa, ba, and the head Linear(Wya, by)."""
    n_a, n_x = parameters["Wax"].shape
    cell = RNNCell(n_x, n_a).double()
    cell.load_state_dict({"weight_ih": parameters["Wax"], "weight_hh": parameters["Waa"],
                          "bias_ih": parameters["ba"].reshape(-1), "bias_hh": np.zeros(n_a)})
    return cell, _head(parameters["Wya"], parameters["by"])


def from_rnn_cell(cell: RNNCell, head: Linear | None = None) -> Params:
    """The course's dict: Wax, Waa, ba = bias_ih + bias_hh (and Wya, by from `head`)."""
    return {"Wax": cell.weight_ih.numpy().astype(np.float64),
            "Waa": cell.weight_hh.numpy().astype(np.float64), "ba": _bias(cell),
            **_from_head(head, "Wya")}


def to_lstm_cell(parameters: Params) -> tuple[LSTMCell, Linear]:
    """An nn.LSTMCell (float64) from the course's Wf, Wi, Wc, Wo, bf, bi, bc, bo, and the head
    Linear(Wy, by)."""
    n_a = parameters["Wf"].shape[0]
    n_x = parameters["Wf"].shape[1] - n_a
    stacked = np.concatenate([parameters["W" + g] for g in GATES])    # (4 n_a, n_a + n_x)
    cell = LSTMCell(n_x, n_a).double()
    cell.load_state_dict({"weight_hh": stacked[:, :n_a], "weight_ih": stacked[:, n_a:],
                          "bias_ih": np.concatenate([parameters["b" + g] for g in GATES])
                          .reshape(-1), "bias_hh": np.zeros(4 * n_a)})
    return cell, _head(parameters["Wy"], parameters["by"])


def from_lstm_cell(cell: LSTMCell, head: Linear | None = None) -> Params:
    """The course's dict from an nn.LSTMCell (each W· = [W_h· | W_i·], b· = b_i· + b_h·)."""
    n_a = cell.hidden_size
    stacked = np.concatenate([cell.weight_hh.numpy(), cell.weight_ih.numpy()], axis=1)
    bias = _bias(cell)
    params = {}
    for k, g in enumerate(GATES):
        params["W" + g] = stacked[k * n_a:(k + 1) * n_a].astype(np.float64)
        params["b" + g] = bias[k * n_a:(k + 1) * n_a]
    return {**params, **_from_head(head, "Wy")}
