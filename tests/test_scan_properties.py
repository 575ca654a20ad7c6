"""scan's replay against the eager loop on random step functions.

Hypothesis draws a small *program* over the engine's ops (matmuls by parameters, arithmetic with
the input, the state, a bias, constants or earlier results, tanh / sigmoid / relu / exp(tanh) /
softmax, cat then chunk or split, slices and fancy indexing, reshape and transpose round trips,
reductions broadcast back, where with a fixed mask) and runs it as a step, once through
`scan` (traced once, replayed as one Scan node) and once through the plain per-step loop
(`scan._eager`). Outputs, last state and the gradients of every leaf must agree to rounding.

A program is a tuple of ops, each `(name, *arguments)`, and a final op that makes the new state;
a register argument is the index of an earlier value (x, h, [c], then one per op). Failing
programs shrink to a few ops and are shown as Python by `render` (hypothesis' `note`).

Every test runs under each of scan's three paths (MODE: compiled, replay, eager): compiled, a
replayable program must also have been compiled (every op of the grammar has a rule).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from tinygrad_rnn import Tensor, cat, no_grad, stack, where
from tinygrad_rnn.engine import scan as scan_module
from tinygrad_rnn.engine import scan_compile
from tinygrad_rnn.engine.functions import Tanh
from tinygrad_rnn.engine.scan import Scan, scan

RTOL, ATOL = 1e-10, 1e-10  # atol is scaled by the largest finite magnitude of the reference


@pytest.fixture(autouse=True, scope="module", params=scan_module.MODES)
def mode(request):
    """Run every test of this file under MODE = compiled, replay and eager (module-scoped, so
    hypothesis runs each test's examples under one MODE)."""
    previous, scan_module.MODE = scan_module.MODE, request.param
    yield request.param
    scan_module.MODE = previous


def scanned() -> bool:
    """Whether scan makes a Scan node under this MODE (not in the eager loop)."""
    return scan_module.MODE != "eager"


def path_of(out: Tensor) -> str:
    """"compiled" or "replay" (a Scan node, before its backward ran), or "eager"."""
    seen, todo = set(), [out._ctx]
    while todo:
        node = todo.pop()
        if node is None or isinstance(node, Tensor) or id(node) in seen:
            continue
        if isinstance(node, Scan):
            return "replay" if node.saved[-1] is None else "compiled"
        seen.add(id(node))
        todo.extend(node.parents)
    return "eager"


# ---- the grammar -----------------------------------------------------------------------------
def _mask(r: Tensor) -> np.ndarray:
    """A fixed checkerboard of r's shape: where's condition may not depend on values (a traced
    step freezes it), so it depends on the shape only."""
    return np.indices(r.shape).sum(0) % 2 == 0


# name -> (argument kinds, template, function(params, *arguments)); kinds: r a register,
# o an operand (a register, a parameter expression or a constant), k a small int (a cut)
OPS: dict[str, tuple[str, str, Callable[..., Tensor]]] = {
    "mm_W": ("r", "{0} @ W", lambda p, r: r @ p.W),
    "mm_WT": ("r", "{0} @ W.T", lambda p, r: r @ p.W.T),
    "mm_T": ("r", "(W @ {0}.T).T", lambda p, r: (p.W @ r.T).T),
    "mm_cat": ("rr", "cat([{0}, {1}], 1) @ V", lambda p, r, s: cat([r, s], dim=1) @ p.V),
    "gram": ("rrr", "({0} @ {1}.T) @ {2} * 0.25", lambda p, r, s, u: (r @ s.T) @ u * 0.25),
    "add": ("ro", "{0} + {1}", lambda p, r, o: r + o),
    "sub": ("ro", "{0} - {1}", lambda p, r, o: r - o),
    "rsub": ("ro", "{1} - {0}", lambda p, r, o: o - r),
    "mul": ("ro", "{0} * {1}", lambda p, r, o: r * o),
    "div": ("ro", "{0} / ({1} * {1} + 1.0)", lambda p, r, o: r / (o * o + 1.0)),
    "tanh": ("r", "{0}.tanh()", lambda p, r: r.tanh()),
    "sigmoid": ("r", "{0}.sigmoid()", lambda p, r: r.sigmoid()),
    "relu": ("r", "{0}.relu()", lambda p, r: r.relu()),
    "exp_tanh": ("r", "{0}.tanh().exp()", lambda p, r: r.tanh().exp()),
    "neg": ("r", "-{0}", lambda p, r: -r),
    "clip": ("r", "{0}.clip(-1.0, 1.0)", lambda p, r: r.clip(-1.0, 1.0)),
    "softmax": ("r", "{0}.softmax(-1)", lambda p, r: r.softmax(-1)),
    "chunk_add": ("rr", "add(*cat([{0}, {1}], 1).chunk(2, 1))",
                  lambda p, r, s: operator.add(*cat([r, s], dim=1).chunk(2, dim=1))),
    "split_mul": ("rr", "mul(*cat([{0}, {1}], 1).split(D, 1))",
                  lambda p, r, s: operator.mul(*cat([r, s], dim=1).split(r.shape[1], dim=1))),
    "stack_sum": ("rr", "stack([{0}, {1}]).sum(0)", lambda p, r, s: stack([r, s]).sum(0)),
    "where": ("rr", "where(checkerboard, {0}, {1})", lambda p, r, s: where(_mask(r), r, s)),
    "flip_cols": ("r", "{0}[:, ::-1]", lambda p, r: r[:, ::-1]),
    "flip_rows": ("r", "{0}[::-1]", lambda p, r: r[::-1]),
    "split_cat": ("rk", "cat([{0}[:, :{1}], {0}[:, {1}:]], 1)",
                  lambda p, r, k: cat([r[:, :k], r[:, k:]], dim=1)),
    "row": ("rr", "{1} + {0}[0]", lambda p, r, s: s + r[0]),
    "col": ("rr", "{1} * {0}[:, :1]", lambda p, r, s: s * r[:, :1]),
    "fancy_cols": ("r", "{0}[:, arange(D)[::-1]]",
                   lambda p, r: r[:, np.arange(r.shape[1])[::-1]]),
    "fancy_rows": ("r", "{0}[zeros(B, int)]", lambda p, r: r[np.zeros(r.shape[0], int)]),
    "expand": ("r", "{0}[:, :1].expand(B, D)", lambda p, r: r[:, :1].expand(*r.shape)),
    "flat": ("r", "{0}.reshape(-1).reshape(B, D)", lambda p, r: r.reshape(-1).reshape(r.shape)),
    "swap": ("r", "{0}.reshape(D, B).reshape(B, D)",
             lambda p, r: r.reshape(r.shape[::-1]).reshape(r.shape)),
    "TT": ("r", "{0}.T.T", lambda p, r: r.T.T),
    "unsqueeze": ("r", "{0}.unsqueeze(0).squeeze(0)", lambda p, r: r.unsqueeze(0).squeeze(0)),
    "sum0": ("rr", "{1} + {0}.sum(0, keepdim=True)", lambda p, r, s: s + r.sum(0, keepdim=True)),
    "sum1": ("rr", "{1} - {0}.sum(1, keepdim=True)", lambda p, r, s: s - r.sum(1, keepdim=True)),
    "mean1": ("rr", "{1} * {0}.mean(1, keepdim=True)",
              lambda p, r, s: s * r.mean(1, keepdim=True)),
    "lse": ("rr", "{1} - {0}.logsumexp(1, keepdim=True)",
            lambda p, r, s: s - r.logsumexp(1, keepdim=True)),
    "max1": ("rr", "{1} + {0}.amax(1, keepdim=True)", lambda p, r, s: s + r.amax(1, keepdim=True)),
    "sum_all": ("rr", "{1} + {0}.sum() * 0.1", lambda p, r, s: s + r.sum() * 0.1),
}

# operands that are not registers: expressions of the parameters only (scan hoists them out of
# the loop: they run once, as ordinary nodes of the graph), and constants
PARAMETER_OPERANDS: dict[str, Callable[[Any], Tensor]] = {
    "b": lambda p: p.b,
    "(b * 0.5).tanh()": lambda p: (p.b * 0.5).tanh(),
    "W.sum(0)": lambda p: p.W.sum(0),
}
CONSTANTS = (0.5, -1.5, 2.0)

# which parameter each op or operand reads: directly (the leaf is an input of the Scan node), or
# through an op that scan hoists (that op's result is the input; one per read)
DIRECT_READS = {"mm_W": "W", "mm_T": "W", "mm_cat": "V"}
HOISTED_READS = {"mm_WT": "W"}
PARAMETER_OF = {"b": "b", "(b * 0.5).tanh()": "b", "W.sum(0)": "W"}  # b * b + 1 in div: hoisted

# the new state: h' from register k (or h itself, which scan runs eagerly); in a two-part state
# also c' ("lstm": from two registers; "raw": register k itself; "same": h' again)
H_FINALS = ("tanh", "residual", "keep")
C_FINALS = ("lstm", "raw", "same")


@dataclass(frozen=True)
class Program:
    ops: tuple[tuple[Any, ...], ...]
    final_h: tuple[Any, ...]             # ("tanh", k), ("residual", k) or ("keep",)
    final_c: tuple[Any, ...] | None = None  # ("lstm", k, j), ("raw", k), ("same",); None: h only

    @property
    def parts(self) -> int:
        return 1 if self.final_c is None else 2

    def replayable(self) -> bool:
        """Whether scan can replay the step: every new state part made by an op of the step
        (not passed through: h itself, or c' = x, h or c) and the parts different tensors."""
        if self.final_h[0] == "keep":
            return False
        if self.final_c is None or self.final_c[0] == "lstm":
            return True
        return self.final_c[0] == "raw" and self.final_c[1] > self.parts

    def live(self, wanted: set[int]) -> set[int]:
        """The registers that the `wanted` new state parts (0: h', 1: c') depend on in one
        step; an op whose register is not among them is dead code for that step."""
        live = set()
        if 0 in wanted or (1 in wanted and self.final_c == ("same",)):
            live |= set(self.final_h[1:]) | ({1} if self.final_h[0] != "tanh" else set())
        if 1 in wanted and self.final_c is not None:
            live |= set(self.final_c[1:]) | ({2} if self.final_c[0] == "lstm" else set())
        for i in reversed(range(len(self.ops))):
            if 1 + self.parts + i in live:
                name, *args = self.ops[i]
                live |= {a for k, a in zip(OPS[name][0], args, strict=True)
                         if k == "r" or (k == "o" and isinstance(a, int))}
        return live

    def live_over(self, steps: int) -> tuple[set[int], set[int]]:
        """The registers live at some step of a scan over `steps` steps (every h' is an output,
        the last state is one, and a state part matters if a later step reads it while live),
        and those live at the first step (which say whether h0 and c0 matter)."""
        wanted, anywhere = set(range(self.parts)), set()
        for _ in range(steps):  # from the last step back to the first
            live = self.live(wanted)
            anywhere |= live
            wanted = {0} | {r - 1 for r in live if 1 <= r <= self.parts}
        return anywhere, live

    def parameter_reads(self, steps: int) -> list[tuple[bool, str, bool]]:
        """(op live at some step?, parameter, read directly?) for every read of W, V or b by an
        op; not directly: through an expression of the parameter that scan hoists (W.T,
        b * b + 1, …), made anew for each read."""
        live, reads = self.live_over(steps)[0], []
        for i, (name, *args) in enumerate(self.ops):
            is_live = 1 + self.parts + i in live
            if name in DIRECT_READS:
                reads.append((is_live, DIRECT_READS[name], True))
            if name in HOISTED_READS:
                reads.append((is_live, HOISTED_READS[name], False))
            for k, a in zip(OPS[name][0], args, strict=True):
                if k == "o" and isinstance(a, str):
                    reads.append((is_live, PARAMETER_OF[a], a == "b" and name != "div"))
        return reads

    def unused(self, steps: int) -> set[str]:
        """The leaves the results do not depend on (the eager loop leaves their grad None)."""
        anywhere, first = self.live_over(steps)
        unused = {"xs"} - ({"xs"} if 0 in anywhere else set())
        unused |= {("h0", "c0")[r - 1] for r in range(1, 1 + self.parts) if r not in first}
        return unused | ({"W", "V", "b"} - {p for is_live, p, _ in self.parameter_reads(steps)
                                             if is_live})


def register_names(parts: int, count: int) -> list[str]:
    return ["x", "h", "c"][:1 + parts] + [f"v{i}" for i in range(1 + parts, count)]


def render(program: Program) -> str:
    """The program as Python source, for a failing example's report."""
    names = register_names(program.parts, 1 + program.parts + len(program.ops))

    def show(kind: str, value: Any) -> str:
        register = kind == "r" or (kind == "o" and isinstance(value, int))
        return names[value] if register else str(value)

    state = "h" if program.parts == 1 else "(h, c)"
    lines = [f"def step(x, {state}):"]
    for i, (name, *args) in enumerate(program.ops):
        kinds, template, _ = OPS[name]
        text = template.format(*(show(k, a) for k, a in zip(kinds, args, strict=True)))
        lines.append(f"    {names[1 + program.parts + i]} = {text}")
    kind, *args = program.final_h
    h = {"tanh": "tanh({0})", "residual": "h + 0.5 * tanh({0})", "keep": "h"}[kind]
    h = h.format(*(names[a] for a in args))
    if program.final_c is None:
        lines.append(f"    return {h}")
    else:
        kind, *args = program.final_c
        c = {"lstm": "c * sigmoid({0}) + tanh({1})", "raw": "{0}", "same": "h'"}[kind]
        lines.append(f"    h' = {h}")
        lines.append(f"    return h', {c.format(*(names[a] for a in args))}")
    return "\n".join(lines)


def _operand(params: Any, registers: list[Tensor], value: Any) -> Any:
    if isinstance(value, str):
        return PARAMETER_OPERANDS[value](params)
    return registers[value] if isinstance(value, int) else value


def run_program(program: Program, params: Any, x: Tensor, state: Any) -> Any:
    """One step: the program's ops on x and the state, then its new state."""
    registers = [x, *(state if program.parts == 2 else (state,))]
    for name, *args in program.ops:
        kinds, _, fn = OPS[name]
        values = [_operand(params, registers, a) if k == "o" else registers[a] if k == "r" else a
                  for k, a in zip(kinds, args, strict=True)]
        registers.append(fn(params, *values))
    kind, *args = program.final_h
    h = registers[1]
    if kind == "tanh":
        h = registers[args[0]].tanh()
    elif kind == "residual":
        h = h + registers[args[0]].tanh() * 0.5
    if program.final_c is None:
        return h
    kind, *args = program.final_c
    if kind == "lstm":
        c = registers[2] * registers[args[0]].sigmoid() + registers[args[1]].tanh()
    else:
        c = registers[args[0]] if kind == "raw" else h
    return h, c


class ProgramCell:
    """The parameters of a program and its step as a method (scan keeps a method's tape)."""

    def __init__(self, program: Program, seed: int, size: int,
                 requires_grad: tuple[bool, bool, bool] = (True, True, True)) -> None:
        rng = np.random.default_rng(seed)
        self.program = program
        self.W = Tensor(rng.standard_normal((size, size)) / np.sqrt(size),
                        requires_grad=requires_grad[0])
        self.V = Tensor(rng.standard_normal((2 * size, size)) / np.sqrt(2 * size),
                        requires_grad=requires_grad[1])
        self.b = Tensor(rng.standard_normal(size) * 0.5, requires_grad=requires_grad[2])

    def parameters(self) -> list[Tensor]:
        return [self.W, self.V, self.b]

    def step(self, x: Tensor, state: Any) -> Any:
        return run_program(self.program, self, x, state)


# ---- strategies ------------------------------------------------------------------------------
def registers(count: int) -> st.SearchStrategy[int]:
    """An earlier value, counted back from the most recent (so examples shrink to chains)."""
    return st.integers(0, count - 1).map(lambda back: count - 1 - back)


def arguments(kind: str, count: int) -> st.SearchStrategy[Any]:
    if kind == "r":
        return registers(count)
    if kind == "k":
        return st.integers(0, 4)
    return st.one_of(registers(count), st.sampled_from(sorted(PARAMETER_OPERANDS)),
                     st.sampled_from(CONSTANTS))


@st.composite
def programs(draw: st.DrawFn, parts: int = 1, max_ops: int = 8) -> Program:
    ops = []
    for i in range(draw(st.integers(1, max_ops))):
        name = draw(st.sampled_from(sorted(OPS)))
        count = 1 + parts + i
        ops.append((name, *(draw(arguments(k, count)) for k in OPS[name][0])))
    count = 1 + parts + len(ops)
    kind = draw(st.sampled_from(H_FINALS + H_FINALS[:2]))  # h handed back: 1 in 5
    final_h = (kind,) if kind == "keep" else (kind, draw(registers(count)))
    final_c = None
    if parts == 2:
        kind = draw(st.sampled_from(C_FINALS))
        final_c = {"lstm": lambda: (kind, draw(registers(count)), draw(registers(count))),
                   "raw": lambda: (kind, draw(registers(count))),
                   "same": lambda: (kind,)}[kind]()
    program = Program(tuple(ops), final_h, final_c)
    note(render(program))
    return program


@dataclass
class Case:
    program: Program
    steps: int
    batch: int
    size: int
    reverse: bool
    seed: int


def cases(parts: int = 1) -> st.SearchStrategy[Case]:
    return st.builds(Case, programs(parts), st.integers(2, 5), st.integers(1, 3),
                     st.integers(1, 4), st.booleans(), st.integers(0, 2**16))


# ---- running and comparing -------------------------------------------------------------------
def as_parts(state: Any) -> tuple[Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def graph_ops(tensor: Tensor) -> list[type]:
    """The type of every node reachable from tensor (leaves left out), each once."""
    seen, todo, ops = set(), [tensor._ctx], []
    while todo:
        node = todo.pop()
        if node is not None and not isinstance(node, Tensor) and id(node) not in seen:
            seen.add(id(node))
            ops.append(type(node))
            todo.extend(node.parents)
    return ops


def make_inputs(case: Case, requires_grad: tuple[bool, bool] = (True, True),
                seed_offset: int = 0) -> tuple[Tensor, Any]:
    """xs (T, B, D) and the initial state (h, or (h, c)), from the case's seed."""
    rng = np.random.default_rng(case.seed + 1 + seed_offset)
    xs = Tensor(rng.standard_normal((case.steps, case.batch, case.size)),
                requires_grad=requires_grad[0])
    parts = tuple(Tensor(rng.standard_normal((case.batch, case.size)) * 0.5,
                         requires_grad=requires_grad[1]) for _ in range(case.program.parts))
    return xs, (parts if len(parts) == 2 else parts[0])


Runner = Callable[[Callable[..., Any], Tensor, Any, bool], tuple[Tensor, Any]]


def results(run: Runner, step: Callable[..., Any], xs: Tensor, state: Any, reverse: bool,
            leaves: list[Tensor], seed: int) -> tuple[list[np.ndarray], list[Any], Tensor]:
    """run's outputs and last state, and the gradients of the leaves for a random weighting of
    all of them (the same weights for every run with the same seed)."""
    for t in leaves:
        t.grad = None
    with np.errstate(all="ignore"):
        out, final = run(step, xs, state, reverse)
        path = path_of(out)
        values = [out.data.copy(), *(f.data.copy() for f in as_parts(final))]
        rng = np.random.default_rng(seed)
        loss = (out * Tensor(rng.standard_normal(out.shape))).sum()
        for f in as_parts(final):
            loss = loss + (f * Tensor(rng.standard_normal(f.shape))).sum()
        if loss.requires_grad:
            loss.backward()
    return values, [None if t.grad is None else t.grad.copy() for t in leaves], out, path


def assert_matches(got: list[Any], want: list[Any], names: list[str]) -> None:
    """Each array of `got` equals the one of `want` to rounding (None only where want's is)."""
    __tracebackhide__ = True
    for name, g, w in zip(names, got, want, strict=True):
        assert (g is None) == (w is None), f"{name}: replay {g!r}, eager {w!r}"
        if w is None:
            continue
        assert g.shape == w.shape and g.dtype == w.dtype, f"{name}: {g.shape} {w.shape}"
        finite = np.abs(w[np.isfinite(w)])
        scale = max(1.0, float(finite.max(initial=0.0)))
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL * scale, err_msg=name)


def replay(step, xs, state, reverse):
    return scan(step, xs, state, reverse)


EAGER = scan_module._eager  # kept: some tests replace the module's to see whether it runs


def eager(step, xs, state, reverse):
    return EAGER(step, xs, state, reverse)


def compare(case: Case, cell: ProgramCell, xs: Tensor, state: Any,
            step: Callable[..., Any] | None = None, reference: Runner = eager) -> Tensor:
    """Replay against the reference (the eager loop) on these inputs: values and gradients,
    and None exactly where the eager loop's gradient is None (a leaf the results do not use).
    The path scan took is MODE's whenever the program is replayable (so compiled really is)."""
    program = case.program
    step = cell.step if step is None else step
    leaves = [xs, *as_parts(state), *cell.parameters()]
    names = ["xs", "h0", "c0"][:1 + program.parts] + ["W", "V", "b"]
    got_values, got_grads, out, path = results(replay, step, xs, state, case.reverse, leaves,
                                               case.seed)
    want_values, want_grads, _, _ = results(reference, step, xs, state, case.reverse, leaves,
                                            case.seed)
    if program.replayable() and out.requires_grad:
        assert path == scan_module.MODE, path
    assert_matches(got_values, want_values, ["outputs", "last h", "last c"][:1 + program.parts])
    unused = program.unused(case.steps)
    for name, leaf, w in zip(names, leaves, want_grads, strict=True):  # the analysis is right
        assert (w is None) == (name in unused or not leaf.requires_grad), name
    assert_matches(got_grads, want_grads, [f"{n}.grad" for n in names])
    return out


# ---- the properties --------------------------------------------------------------------------
@settings(deadline=None)
@given(cases(parts=1))
def test_replay_equals_the_eager_loop_on_random_programs(case):
    """Property 1: outputs, last state and the gradients of xs, h0, W, V and b agree."""
    cell = ProgramCell(case.program, case.seed, case.size)
    xs, h0 = make_inputs(case)
    compare(case, cell, xs, h0)


@settings(deadline=None)
@given(cases(parts=1), st.booleans())
def test_scan_replays_exactly_when_the_state_is_made_by_the_step(case, as_method):
    """Property 2: scan replays (one Scan node, no eager loop) whenever the new state is made
    by an op of the step, and runs the eager loop when the step hands h back; either way the
    results are the eager loop's. A bound method and a plain function replay alike."""
    cell = ProgramCell(case.program, case.seed, case.size)
    xs, h0 = make_inputs(case)
    step = cell.step if as_method else (lambda x, h: cell.step(x, h))
    ran_eagerly = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan_module, "_eager",
                      lambda *args: ran_eagerly.append(1) or eager(*args[:3], args[3]))
        out = compare(case, cell, xs, h0, step=step)
    event("replayed" if case.program.replayable() else "eager loop (h handed back)")
    assert bool(ran_eagerly) != (case.program.replayable() and scanned())
    assert (Scan in graph_ops(out)) == (case.program.replayable() and scanned())


@settings(deadline=None)
@given(cases(parts=2))
def test_replay_equals_the_eager_loop_with_a_two_part_state(case):
    """Property 3: a (h, c) state, both parts made new at every step (or c' passed through, or
    the same tensor as h': those run eagerly): the same agreement, c0 and the last c included."""
    cell = ProgramCell(case.program, case.seed, case.size)
    xs, state = make_inputs(case)
    out = compare(case, cell, xs, state)
    assert (Scan in graph_ops(out)) == (case.program.replayable() and scanned())


@settings(deadline=None)
@given(st.sampled_from([1, 2]).flatmap(cases), st.tuples(*[st.booleans()] * 5),
       st.sampled_from([1, 2, 64]))
def test_replay_equals_the_eager_loop_when_only_some_leaves_want_gradients(case, flags, block):
    """Frozen parameters, xs or the state without grad: scan decides per op which gradients
    to make (and defers a weight's, flushed every `block` steps); the gradients that exist,
    and which are None, are the eager loop's."""
    cell = ProgramCell(case.program, case.seed, case.size, requires_grad=flags[2:])
    xs, state = make_inputs(case, requires_grad=flags[:2])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan_module, "WEIGHT_GRAD_STEPS", block)
        compare(case, cell, xs, state)


@settings(deadline=None)
@given(st.sampled_from([1, 2]).flatmap(cases))
def test_no_grad_replays_to_the_eager_loop_values(case):
    """Under no_grad() the replay (no graph) gives the eager loop's outputs and last state."""
    cell = ProgramCell(case.program, case.seed, case.size)
    xs, state = make_inputs(case)
    with no_grad(), np.errstate(all="ignore"):
        out, final = scan(cell.step, xs, state, case.reverse)
        want, want_final = eager(cell.step, xs, state, case.reverse)
    assert out._ctx is None and not out.requires_grad
    assert_matches([out.data, *(f.data for f in as_parts(final))],
                   [want.data, *(f.data for f in as_parts(want_final))],
                   ["outputs", "last h", "last c"][:1 + case.program.parts])


@settings(deadline=None)
@given(cases(parts=2))
def test_a_kept_tape_replays_new_inputs_like_the_eager_loop(case):
    """A method's tape is traced once and used again: a second scan of the same cell on other
    inputs (same shapes) uses the kept tape and still equals the eager loop. (A step that
    cannot be replayed is traced at every call.)"""
    cell = ProgramCell(case.program, case.seed, case.size)
    xs, state = make_inputs(case)
    traced = []
    original = scan_module._trace
    once, calls = case.program.replayable(), int(scanned())   # the eager loop traces nothing
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan_module, "_trace", lambda *args: traced.append(1) or original(*args))
        compare(case, cell, xs, state)
        assert len(traced) == calls
        xs, state = make_inputs(case, seed_offset=100)
        scan(cell.step, xs, state, case.reverse)
        assert len(traced) == calls * (1 if once else 2)
        compare(case, cell, xs, state)
    assert len(traced) == calls * (1 if once else 3)


# ---- fixed examples: replay really happens, and the comparison can fail ---------------------
RNN = Program(ops=(("mm_WT", 1), ("add", 2, 0), ("add", 3, "b")), final_h=("tanh", 4))
LSTM_LIKE = Program(ops=(("mm_cat", 0, 1), ("chunk_add", 3, 1), ("mul", 4, "b")),
                    final_h=("tanh", 5), final_c=("lstm", 3, 4))


def fixed_case(program: Program, reverse: bool = False) -> Case:
    return Case(program, steps=4, batch=2, size=3, reverse=reverse, seed=11)


def test_render_shows_the_program_as_python():
    assert render(RNN) == "\n".join([
        "def step(x, h):", "    v2 = h @ W.T", "    v3 = v2 + x", "    v4 = v3 + b",
        "    return tanh(v4)"])


@pytest.mark.parametrize("program", [RNN, LSTM_LIKE], ids=["rnn", "lstm_like"])
@pytest.mark.parametrize("reverse", [False, True])
def test_known_good_programs_are_replayed(program, reverse):
    """An RNN step and an LSTM-like two-part step: one Scan node, no Tanh node (every step's
    ops are inside it), and the eager loop's results."""
    case = fixed_case(program, reverse)
    cell = ProgramCell(program, case.seed, case.size)
    xs, state = make_inputs(case)
    out = compare(case, cell, xs, state)
    ops = graph_ops(out)
    assert ops.count(Scan) == scanned() and (Tanh in ops) == (not scanned())


def test_the_comparison_fails_against_a_wrong_reference():
    """assert_matches can fail: the eager loop run the other way round differs."""
    case = fixed_case(LSTM_LIKE)
    cell = ProgramCell(LSTM_LIKE, case.seed, case.size)
    xs, state = make_inputs(case)

    def flipped(step, xs, state, reverse):
        return scan_module._eager(step, xs, state, not reverse)

    with pytest.raises(AssertionError):
        compare(case, cell, xs, state, reference=flipped)


def test_the_comparison_fails_when_scan_backward_is_wrong(monkeypatch):
    """A Scan.backward that is off by one part in a million in the parameters' gradients is
    caught (the forward values still agree)."""
    real = Scan.backward

    def slightly_wrong(ctx, grad):
        grads = real(ctx, grad)
        parts = len(ctx.saved[0].state_out)
        return (*grads[:1 + parts], *(None if g is None else g * (1 + 1e-6)
                                     for g in grads[1 + parts:]))

    if not scanned():
        pytest.skip("the eager loop makes no Scan node")
    monkeypatch.setattr(Scan, "backward", staticmethod(slightly_wrong))
    case = fixed_case(RNN)
    cell = ProgramCell(RNN, case.seed, case.size)
    xs, h0 = make_inputs(case)
    with pytest.raises(AssertionError, match=r"W\.grad|b\.grad"):
        compare(case, cell, xs, h0)


def test_the_comparison_fails_when_a_generated_line_is_wrong(monkeypatch):
    """A planted wrong line in the compiled step (tanh's derivative written 1 − y, not
    1 − y²) is caught: the gradients differ, the values do not."""
    if scan_module.MODE != "compiled":
        pytest.skip("only the compiled path writes lines from the rules")
    monkeypatch.setitem(scan_compile.RULES, Tanh, ("np.tanh({a})", ("{g} * (1.0 - {y})",)))
    case = fixed_case(RNN)
    cell = ProgramCell(RNN, case.seed, case.size)
    xs, h0 = make_inputs(case)
    with pytest.raises(AssertionError, match=r"\.grad"):
        compare(case, cell, xs, h0)


# ---- what these properties found (two bugs, now fixed) ----------------------------------------
def small_inputs(requires_grad: bool = True) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    rng = np.random.default_rng(0)
    xs = Tensor(rng.standard_normal((2, 1, 2)), requires_grad=requires_grad)
    h0 = Tensor(rng.standard_normal((1, 2)), requires_grad=requires_grad)
    W = Tensor(rng.standard_normal((2, 2)), requires_grad=requires_grad)
    b = Tensor(rng.standard_normal(2), requires_grad=requires_grad)
    return xs, h0, W, b


# the smallest programs hypothesis found (or reduced by hand) for each way to starve an input
STARVING_STEPS = {
    "the state is not read": lambda W, b: lambda x, h: x.tanh(),
    "a parameter read by dead code only": lambda W, b: lambda x, h: (h + b, (x + h).tanh())[1],
    "a hoisted W.T read by dead code only": lambda W, b: lambda x, h: (
        h @ W.T, (x + h @ W).tanh())[1],
}


@pytest.mark.parametrize("make_step", list(STARVING_STEPS.values()), ids=list(STARVING_STEPS))
def test_an_input_the_step_gives_no_gradient_gets_none_as_in_the_eager_loop(make_step):
    """Scan.backward returns None for an input that wants a gradient but gets none (a state part
    the step does not read; a parameter, or a hoisted op's result, read only by dead code): the
    engine's backward used to raise KeyError there; now that leaf's grad stays None."""
    xs, h0, W, b = small_inputs()
    step = make_step(W, b)
    grads = []
    for run in (eager, replay):
        for t in (xs, h0, W, b):
            t.grad = None
        out, h = run(step, xs, h0, False)
        assert (Scan in graph_ops(out)) == (run is replay and scanned())
        (out.sum() + h.sum()).backward()
        grads.append([t.grad for t in (xs, h0, W, b)])
    assert_matches(grads[1], grads[0], ["xs.grad", "h0.grad", "W.grad", "b.grad"])


def test_xs_the_step_does_not_read_gets_no_gradient():
    """A replayed step that does not read x leaves xs.grad None, as the eager loop does (it used
    to be zeros)."""
    xs, h0, W, _ = small_inputs()
    out, h = replay(lambda x, h: (h @ W).tanh(), xs, h0, False)
    assert path_of(out) == scan_module.MODE
    (out.sum() + h.sum()).backward()
    assert h0.grad is not None and W.grad is not None
    assert xs.grad is None, f"xs.grad is {xs.grad!r}, the eager loop's is None"
