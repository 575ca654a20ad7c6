"""Exercises 5-7 and 10: the course's RNN cell forward, its backward, BPTT and the LSTM cell's
backward, in the course's layout (column vectors (n, m), parameter dicts). The truth is the
course bridge (teach/course/): the same functions on the engine, differentiated by autograd."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from tinygrad_rnn.teach.course import check as course_check
from tinygrad_rnn.teach.course import functions as C
from tinygrad_rnn.teach.grading import Wrong, compare, copied
from tinygrad_rnn.teach.learn.exercise import Case, Exercise, function

__all__ = ["RNN_CELL_FORWARD", "RNN_CELL_BACKWARD", "RNN_BACKWARD", "LSTM_CELL_BACKWARD"]

LAYOUT = '''In the course's layout every vector is a column and the m examples sit side by side:
    xt (n_x, m), a_prev (n_a, m); Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a),
    ba (n_a, 1), by (n_y, 1) in the dict `parameters`.'''


def _sizes_cases(steps: bool = False) -> Any:
    from hypothesis import strategies as st
    side = st.integers(1, 4)
    sizes = st.builds(course_check.Sizes, side, side, side, side,
                      st.integers(1, 4) if steps else st.just(1))
    return st.fixed_dictionaries({"sizes": sizes, "_seed": st.integers(0, 2**16)})


def _fixed(kind: str = "rnn_cell") -> list[Case]:
    return [{"sizes": s, "_seed": k} for k, s in enumerate(course_check.standard(kind), start=1)]


# ---- 5. rnn_cell_forward ----------------------------------------------------------------------
RNN_CELL_FORWARD_STUB = f'''"""Exercise 5: one step of the course's RNN, forward.

{LAYOUT}
    a_next  = tanh(Waa @ a_prev + Wax @ xt + ba)        (n_a, m)
    yt_pred = softmax(Wya @ a_next + by)                (n_y, m), over the rows (axis 0)
    cache   = (a_next, a_prev, xt, parameters)          what the backward will need
Check: tinygrad-rnn learn check 5
"""

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax of each column of z (over axis 0), stable for large z."""
    raise NotImplementedError


def rnn_cell_forward(xt: np.ndarray, a_prev: np.ndarray, parameters: dict
                     ) -> tuple[np.ndarray, np.ndarray, tuple]:
    """(a_next, yt_pred, cache) for one time step."""
    raise NotImplementedError
'''


def _forward_fixed() -> list[Case]:
    cases = _fixed()
    big = {"sizes": course_check.Sizes(3, 3, 3, 2), "_seed": 9, "_scale_wya": 1000.0}
    return [cases[0], big, *cases[1:]]


def _forward_check(module: ModuleType, case: Case) -> None:
    inputs = course_check.make_case("rnn_cell", case["sizes"], case["_seed"])
    p = inputs["parameters"]
    p["Wya"] = p["Wya"] * case.get("_scale_wya", 1.0)    # logits in the thousands: overflow?
    a_next, yt_pred, _ = C.rnn_cell_forward(inputs["xt"], inputs["a_prev"], p)
    got = function(module, "rnn_cell_forward")(*copied((inputs["xt"], inputs["a_prev"], p)))
    if not isinstance(got, tuple) or len(got) != 3:
        raise Wrong(f"rnn_cell_forward returned {type(got).__name__}; return the tuple "
                    f"(a_next, yt_pred, cache)")
    z = p["Wya"] @ a_next + p["by"]
    over_examples = np.exp(z - z.max(axis=1, keepdims=True))
    over_examples /= over_examples.sum(axis=1, keepdims=True)
    compare("a_next", got[0], a_next, others={"yt_pred": yt_pred}, what="value")
    compare("yt_pred", got[1], yt_pred, others={"a_next": a_next}, what="value", mistakes={
        "softmax_axis": (over_examples, "it is a softmax over the examples (axis 1); each "
                                        "column is one example's distribution: axis 0")})
    cache = got[2]
    if not isinstance(cache, tuple) or len(cache) != 4:
        raise Wrong("cache must be the tuple (a_next, a_prev, xt, parameters)")
    compare("cache[0] (a_next)", cache[0], a_next, what="value")


RNN_CELL_FORWARD = Exercise(
    "rnn_cell_forward", "rnn_cell_forward (course layout)", ("softmax", "rnn_cell_forward"),
    RNN_CELL_FORWARD_STUB,
    ("Shapes: Waa @ a_prev is (n_a, m) and Wax @ xt is (n_a, m); ba (n_a, 1) broadcasts "
     "over the m columns.",
     "softmax: e = np.exp(z - z.max(axis=0, keepdims=True)); return e / e.sum(axis=0, "
     "keepdims=True).",
     "Return three things in order: a_next, yt_pred, and the cache tuple."),
    _forward_fixed, _sizes_cases, _forward_check)


# ---- 6, 7, 10: the course's backward passes, graded by course.check_backward's checker -------
def _backward_check(kind: str, name: str) -> Any:
    def check(module: ModuleType, case: Case) -> None:
        inputs = course_check.make_case(kind, case["sizes"], case["_seed"])
        course_check.check_case(kind, function(module, name), inputs)
    return check


RNN_CELL_BACKWARD_STUB = f'''"""Exercise 6: one step of the course's RNN, backward.

{LAYOUT}
cache = (a_next, a_prev, xt, parameters) from rnn_cell_forward; da_next = dL/da_next (n_a, m).
    dz      = da_next * (1 - a_next²)                   through the tanh
    dxt     = Waxᵀ @ dz           dWax = dz @ xtᵀ
    da_prev = Waaᵀ @ dz           dWaa = dz @ a_prevᵀ
    dba     = Σ over the m columns of dz  (keep the shape (n_a, 1))
Check: tinygrad-rnn learn check 6   (from Python: course.check_backward(fn, "rnn_cell"))
"""

import numpy as np


def rnn_cell_backward(da_next: np.ndarray, cache: tuple) -> dict:
    """The gradients dict with keys dxt, da_prev, dWax, dWaa, dba."""
    raise NotImplementedError
'''

RNN_CELL_BACKWARD = Exercise(
    "rnn_cell_backward", "rnn_cell_backward", ("rnn_cell_backward",), RNN_CELL_BACKWARD_STUB,
    ("Unpack first: a_next, a_prev, xt, parameters = cache.",
     "Every gradient has the shape of its variable: dWax is (n_a, n_x), so dz (n_a, m) "
     "meets xtᵀ (m, n_x).",
     "ba was broadcast over the m columns: np.sum(dz, axis=1, keepdims=True)."),
    _fixed, _sizes_cases, _backward_check("rnn_cell", "rnn_cell_backward"))

RNN_BACKWARD_STUB = f'''"""Exercise 7: backpropagation through time over a whole sequence.

{LAYOUT}
da (n_a, m, T_x) is dL/da⟨t⟩ from the outputs at every step; caches = (list of the T_x cell
caches, x) from rnn_forward. Walk backwards in time, carrying the gradient into the past:
    da_prevt = 0
    for t = T_x - 1 … 0:
        g = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])
        dx[:, :, t] = g["dxt"];  da_prevt = g["da_prev"]
        dWax += g["dWax"];  dWaa += g["dWaa"];  dba += g["dba"]     (every step adds)
    da0 = da_prevt
Check: tinygrad-rnn learn check 7   (from Python: course.check_backward(fn, "rnn"))
"""

import numpy as np


def rnn_cell_backward(da_next: np.ndarray, cache: tuple) -> dict:
    """Your answer to exercise 6 (copy it here)."""
    raise NotImplementedError


def rnn_backward(da: np.ndarray, caches: tuple) -> dict:
    """The gradients dict with keys dx (n_x, m, T_x), da0, dWax, dWaa, dba."""
    raise NotImplementedError
'''

RNN_BACKWARD = Exercise(
    "rnn_backward", "rnn_backward (BPTT, carried da_prev)", ("rnn_backward",),
    RNN_BACKWARD_STUB,
    ("caches, x = caches; a1, a0, x1, parameters = caches[0] gives you the sizes.",
     "The weights are shared by every step: start dWax, dWaa, dba at zeros and add (+=) each "
     "step's share.",
     "A step's hidden state feeds both its output and the next step: the gradient into "
     "rnn_cell_backward is da[:, :, t] + da_prevt, the carry from step t + 1."),
    lambda: _fixed("rnn"), lambda: _sizes_cases(steps=True),
    _backward_check("rnn", "rnn_backward"))

LSTM_CELL_BACKWARD_STUB = '''"""Exercise 10: one step of the course's LSTM, backward.

Layout: columns (n, m). The gates act on concat = [a_prev; xt] (n_a + n_x, m):
    ft = σ(Wf concat + bf)   it = σ(Wi concat + bi)   ot = σ(Wo concat + bo)
    cct = tanh(Wc concat + bc)      c_next = ft * c_prev + it * cct      a_next = ot * tanh(c_next)
cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters);
da_next, dc_next = dL/da_next, dL/dc_next, each (n_a, m).
    dot  = da_next * tanh(c_next) * ot * (1 - ot)
    dc   = dc_next + da_next * ot * (1 - tanh(c_next)²)       (both paths into c_next)
    dcct = dc * it * (1 - cct²)     dit = dc * cct * it * (1 - it)
    dft  = dc * c_prev * ft * (1 - ft)
    dW· = d· @ concatᵀ      db· = Σ over the m columns of d· (keep (n_a, 1))
    dconcat = Wfᵀ dft + Wiᵀ dit + Wcᵀ dcct + Woᵀ dot:  da_prev = dconcat[:n_a], dxt = dconcat[n_a:]
    dc_prev = dc * ft
Check: tinygrad-rnn learn check 10   (from Python: course.check_backward(fn, "lstm_cell"))
"""

import numpy as np


def lstm_cell_backward(da_next: np.ndarray, dc_next: np.ndarray, cache: tuple) -> dict:
    """The gradients dict: dxt, da_prev, dc_prev, dWf, dWi, dWc, dWo, dbf, dbi, dbc, dbo."""
    raise NotImplementedError
'''

LSTM_CELL_BACKWARD = Exercise(
    "lstm_cell_backward", "lstm_cell_backward", ("lstm_cell_backward",),
    LSTM_CELL_BACKWARD_STUB,
    ("Unpack the cache in its order: a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, "
     "parameters.",
     "c_next reaches the loss twice: directly (dc_next) and through a_next = ot * "
     "tanh(c_next). Add both before going further back.",
     "All four gates read the same concat, so da_prev and dxt sum the four Wᵀ d· terms; "
     "split the rows at n_a."),
    _fixed, _sizes_cases, _backward_check("lstm_cell", "lstm_cell_backward"))
