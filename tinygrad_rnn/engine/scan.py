"""scan: run a recurrence as one node of the graph, by tracing its step once and replaying it.

Unrolled, a recurrence over T steps is T copies of the same few ops: an RNN step is a matmul, two
adds and a tanh. Run eagerly, each copy makes Tensors and graph nodes, and `backward()` sorts and
walks them one by one; on small models that bookkeeping, not the arithmetic, is most of the time.
`scan` does the same arithmetic with less bookkeeping:

1. trace: run `step` once (no graph) and record the ops it applies, and which tensor each reads;
2. hoist: an op that reads only tensors from outside the step (`W_hh.T`) is the same at every
   step, so it runs once, as an ordinary op of the graph;
3. replay: the other ops run T times on plain arrays, each with the same `forward` and
   `backward` as in eager mode, as a single `Scan` node of the graph; its backward walks the
   steps in reverse, carrying the state's gradient from step to step (that is BPTT);
4. or compiled (the default, scan_compile.py): the tape becomes the Python source of one
   function for a step's forward and one for its backward, compiled once and kept with the
   tape; the same Scan node runs them. `scan_source(cell)` prints that code. A tape with an
   op the compiler has no rule for is replayed (`scan_report(cell)` names the op).

The results and gradients are those of the eager loop (tests/test_scan.py and
tests/test_scan_properties.py compare them). The price: `step` must apply the same ops at every
step, with no `if` on values and no side effects (its Python code runs once, at the trace), and
must not build tensors from `.data` itself. Where the engine can tell, `scan` runs the eager loop
instead: a step that makes a value without an op (detach, a comparison, argmax, random numbers),
fails on the trace, or changes its state's shape or dtype; under `trace()` or `detect_anomaly()`
(so every op is still seen); inside another scan's trace; and for a single step. A method's
tape is kept on its object while the object's attributes (and its sub-modules') are the same
objects; a step that reads tensors from elsewhere is traced at every call. `MODE` picks the
path: "compiled" (or replay, for a tape the compiler cannot write), "replay" or "eager" (to
compare, or to debug a step).

    out, h = scan(cell.step, x_proj, h0)          # out (T, B, H), h the state after the last step
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from tinygrad_rnn.engine import scan_compile
from tinygrad_rnn.engine.creation import stack
from tinygrad_rnn.engine.functions import MatMul
from tinygrad_rnn.engine.tensor import (
    Function,
    ShapeError,
    SliceGrad,
    Tensor,
    _Anomaly,
    _Backward,
    _Recording,
    _Watch,
    is_grad_enabled,
    no_grad,
)

__all__ = ["scan", "Scan", "MODE", "scan_source", "scan_report"]

MODES = ("compiled", "replay", "eager")
MODE = "compiled"  # "compiled" (a tape the compiler cannot write is replayed), "replay", "eager"
WEIGHT_GRAD_STEPS = 64  # steps whose h and g are kept to make W_hh's gradient in one matmul

State = Any  # a Tensor, or a tuple of Tensors (an LSTM's (h, c))


def scan(step: Callable[[Tensor, State], State], xs: Tensor, state: State,
         reverse: bool = False) -> tuple[Tensor, State]:
    """Run `state = step(xs[t], state)` for t = 0 … T−1 (T−1 … 0 if `reverse`). Return the
    first part of the state after every step, stacked in time order (T, …), and the last state."""
    tupled = isinstance(state, tuple)
    parts = tuple(state) if tupled else (state,)
    tape = _tape(step, xs, parts, tupled) if _replay_pays(xs) else None
    if tape is None:
        return _eager(step, xs, state, reverse)
    if MODE == "compiled" and not tape.why_not_compiled and not (
            tape.compiled is not None and tape.compiled.current()):
        _compile(tape, step)
    externals = tape.external_tensors()
    keep = is_grad_enabled() and any(t.requires_grad for t in (xs, *parts, *externals))
    out = Scan.apply(xs, *parts, *externals, tape=tape, reverse=reverse, keep=keep)
    steps = len(xs)                                         # out: (T + P − 1, …)
    final = (out[0 if reverse else steps - 1],) + tuple(out[steps:])
    return out[:steps], (final if isinstance(state, tuple) else final[0])


def _replay_pays(xs: Tensor) -> bool:
    """Replay unless it is off, the ops are being watched or traced (by an outer scan, which
    then records these ops too), or there is a single step."""
    watched = (_Anomaly.checker is not None or Function.__dict__["apply"] is not _APPLY
               or _Recording.ops is not None or _Watch.on)
    return MODE != "eager" and not watched and len(xs) > 1


def _eager(step: Callable[[Tensor, State], State], xs: Tensor, state: State,
           reverse: bool) -> tuple[Tensor, State]:
    """The plain loop: every op of every step is a node of the graph."""
    first_parts: list[Tensor] = [None] * len(xs)  # type: ignore[list-item]
    for t in (reversed(range(len(xs))) if reverse else range(len(xs))):
        state = step(xs[t], state)
        first_parts[t] = state[0] if isinstance(state, tuple) else state
    return stack(first_parts, dim=0), state


@dataclass
class _Op:
    """One recorded op: it reads `inputs` (slot numbers) and writes its output to slot `out`."""

    fn: type[Function]
    options: dict[str, Any]
    inputs: tuple[int, ...]
    out: int
    needs_input_grad: tuple[bool, ...] = ()
    weight_grad_later: bool = False  # a matmul by an external weight: see _mark_needs


@dataclass
class _Tape:
    """A traced step. Slot 0 holds x⟨t⟩, slots 1 … P the state parts, then come the slots of
    the tensors from outside the step (`leaves`: parameters, constants) and of each op's output.
    `hoisted` ops read only leaves and other hoisted ops; `reads` lists the slots, among the leaves
    and the hoisted ops' outputs, that the replayed ops read (Scan's inputs after the state)."""

    shapes: list[tuple[int, ...]]
    leaves: dict[int, Tensor] = field(default_factory=dict)
    hoisted: list[_Op] = field(default_factory=list)
    ops: list[_Op] = field(default_factory=list)
    reads: tuple[int, ...] = ()
    state_out: tuple[int, ...] = ()        # the slots holding the new state, part by part
    dtype: Any = None                      # of the new state (Scan's output)
    leaf_flags: tuple[Any, ...] = ()       # each leaf's dtype, shape, requires_grad when traced
    made: set[int] = field(default_factory=set)  # leaves made inside the step (constants)
    forward_plan: list[tuple] = field(default_factory=list)   # what Scan runs, per op (_plan)
    backward_plan: list[tuple] = field(default_factory=list)
    dtypes: list[Any] = field(default_factory=list)          # of each slot, as traced
    seen_names: dict[int, str] = field(default_factory=dict)  # slot -> the step's own name
    compiled: Any = None                   # a scan_compile.CompiledStep, made on first use
    why_not_compiled: str = ""             # or the reason it cannot be

    def external_tensors(self) -> list[Tensor]:
        """The tensors Scan reads from outside the step: leaves, and the hoisted ops' results,
        computed now (once per call, as ordinary nodes of the graph)."""
        values = dict(self.leaves)
        for op in self.hoisted:
            values[op.out] = op.fn.apply(*(values[k] for k in op.inputs), **op.options)
        return [values[k] for k in self.reads]


_CACHE = "_scan_tapes"  # the attribute of a step's owner that keeps its tapes


def _tape(step: Callable[[Tensor, State], State], xs: Tensor, parts: tuple[Tensor, ...],
          tupled: bool) -> _Tape | None:
    """The step's tape for inputs like these. A method's tape is kept on its object and used
    again while every attribute of the object (and of its sub-modules) is the same object as
    when traced and every leaf is as it was; any other step is traced at every call, and so is
    one that reads a tensor from outside its object (an attention memory, say)."""
    owner, function = getattr(step, "__self__", None), getattr(step, "__func__", None)
    if function is None or not hasattr(owner, "__dict__"):
        return _trace(step, xs, parts, tupled)
    key = (function, tupled, xs.shape[1:], xs.dtype, xs.requires_grad, is_grad_enabled(),
           tuple((p.shape, p.dtype, p.requires_grad) for p in parts))
    attributes = _attributes(owner)
    tapes = owner.__dict__.setdefault(_CACHE, {})
    if key in tapes:
        tape, then = tapes[key]
        if len(then) == len(attributes) and all(
                a is b for a, b in zip(then, attributes, strict=True)) and (
                tape.leaf_flags == _leaf_flags(tape)):
            return tape
        tapes.clear()  # something changed: no kept tape can be trusted
    tape = _trace(step, xs, parts, tupled)
    if tape is not None and _own_leaves(tape, attributes):  # (a step that cannot be replayed
        tapes[key] = (tape, attributes)                      # is traced again: it may change)
    return tape


def _attributes(owner: Any) -> tuple[Any, ...]:
    """Every attribute value of owner and, for a Module, of its sub-modules (the cache aside).
    A Module is known by its `modules()` method (the engine imports nothing from nn/)."""
    objects = list(owner.modules()) if callable(getattr(owner, "modules", None)) else [owner]
    return tuple(v for o in objects for k, v in vars(o).items() if k != _CACHE)


def _own_leaves(tape: _Tape, attributes: tuple[Any, ...]) -> bool:
    """Whether every leaf is one of the owner's attributes (a parameter) or a constant made in
    the step (the 1 in 1 − z): a tape that reads any other tensor (an attention memory, a
    global) must be traced again at every call."""
    own = {id(a) for a in attributes if isinstance(a, Tensor)}
    return all(id(t) in own or k in tape.made for k, t in tape.leaves.items())


def _leaf_flags(tape: _Tape) -> tuple[Any, ...]:
    """What a kept tape assumes of its leaves: dtype, shape and whether each wants a gradient."""
    return tuple((t.dtype, t.shape, t.requires_grad) for t in tape.leaves.values())


def _trace(step: Callable[[Tensor, State], State], xs: Tensor, parts: tuple[Tensor, ...],
           tupled: bool) -> _Tape | None:
    """Record one step on stand-in tensors; None if the step cannot be replayed: it failed on
    them, made a tensor outside the ops (detach, a comparison, argmax, random numbers), or its
    state changes shape or dtype, or comes out of it unchanged."""
    stand_ins = [Tensor(xs.data[0])] + [Tensor(p.data) for p in parts]
    recorded: list[Any] = []
    previous, _Recording.ops = _Recording.ops, recorded
    try:
        with no_grad(), scan_compile.names_seen() as seen:
            result = step(stand_ins[0], tuple(stand_ins[1:]) if tupled else stand_ins[1])
    except Exception as error:  # noqa: BLE001  (the eager loop will run it and raise that)
        return _not_replayable(f"the step failed on the trace ({type(error).__name__}: "
                               f"{error})")
    finally:
        _Recording.ops = previous
    if any(fn is None for fn, *_ in recorded):
        return _not_replayable("the step makes a value without an op (detach, a comparison, "
                               "argmax, random numbers)")
    made = {id(out) for fn, _, _, out in recorded if fn is Tensor}  # constants made in the step
    recorded = [entry for entry in recorded if entry[0] is not Tensor]
    slot_of = {id(t): k for k, t in enumerate(stand_ins)}
    tape = _Tape([t.shape for t in stand_ins], dtypes=[t.dtype for t in stand_ins])
    invariant: set[int] = set()             # slots that do not depend on x⟨t⟩ or the state
    for fn, options, inputs, out in recorded:
        slots = tuple(_slot(tape, slot_of, t, invariant) for t in inputs)
        slot_of[id(out)] = len(tape.shapes)
        tape.shapes.append(out.shape)
        tape.dtypes.append(out.dtype)
        op = _Op(fn, options, slots, slot_of[id(out)])
        if all(k in invariant for k in slots):  # the same at every step: once, in the graph
            tape.hoisted.append(op)
            invariant.add(op.out)
        else:
            tape.ops.append(op)
    new_parts = result if isinstance(result, tuple) else (result,)
    tape.state_out = tuple(slot_of.get(id(t), -1) for t in new_parts)
    tape.dtype = np.result_type(*(t.dtype for t in new_parts))
    if not _replayable(tape, new_parts, parts, invariant):
        return _not_replayable("the new state is not made by the step's ops, or its parts "
                               "differ in shape or dtype from the state that came in")
    tape.seen_names = {slot_of[key]: name for key, (name, _) in seen.items() if key in slot_of}
    tape.reads = tuple(sorted({k for op in tape.ops for k in op.inputs if k in invariant}))
    tape.leaf_flags = _leaf_flags(tape)
    tape.made = {k for k, t in tape.leaves.items() if id(t) in made}
    _mark_needs(tape, xs, parts)
    _plan(tape)
    return tape


class _Why:
    """Why the last trace gave no tape (for scan_report)."""

    last = ""


def _not_replayable(reason: str) -> None:
    _Why.last = reason
    return None


def _compile(tape: _Tape, step: Callable[..., Any]) -> str:
    """Compile the tape (once; it is kept with it), or say why the compiler cannot (noted on
    the tape unless the reason passes: an op's backward replaced for now)."""
    title = getattr(step, "__qualname__", "step")
    tape.compiled = None
    try:
        tape.compiled = scan_compile.compile_tape(tape, title)
    except scan_compile.Unsupported as error:
        if error.lasting:
            tape.why_not_compiled = f"op {error}"
        return f"op {error}"
    return ""


def _replayable(tape: _Tape, new_parts: tuple[Tensor, ...], parts: tuple[Tensor, ...],
                invariant: set[int]) -> bool:
    """Whether Scan can run this step: as many new state parts as old ones, each made by a
    replayed op (not passed through, not constant), each a different tensor, all of one shape
    (Scan's output stacks them): the shape and dtype of the state that came in."""
    slots = tape.state_out
    return (len(new_parts) == len(parts) and len(set(slots)) == len(slots)
            and all(k > len(parts) and k not in invariant for k in slots)
            and all(tape.shapes[k] == parts[0].shape == p.shape
                    and new.dtype == p.dtype == parts[0].dtype
                    for k, new, p in zip(slots, new_parts, parts, strict=True)))


def _slot(tape: _Tape, slot_of: dict[int, int], tensor: Tensor, invariant: set[int]) -> int:
    """The slot of a tensor an op reads; a tensor not made in the step becomes an external."""
    if id(tensor) not in slot_of:
        slot_of[id(tensor)] = len(tape.shapes)
        tape.shapes.append(tensor.shape)
        tape.dtypes.append(tensor.dtype)
        tape.leaves[slot_of[id(tensor)]] = tensor
        invariant.add(slot_of[id(tensor)])
    return slot_of[id(tensor)]


def _mark_needs(tape: _Tape, xs: Tensor, parts: tuple[Tensor, ...]) -> None:
    """Which slots carry a gradient: x⟨t⟩ if xs requires grad; the state if anything does (it is
    computed from the parameters after the first step); an op's output if any input does."""
    needs = [False] * len(tape.shapes)
    for k, t in tape.leaves.items():
        needs[k] = t.requires_grad
    for op in tape.hoisted:
        needs[op.out] = any(needs[k] for k in op.inputs)
    anything = (xs.requires_grad or any(p.requires_grad for p in parts)
                or any(needs[k] for k in tape.reads))
    needs[0] = xs.requires_grad
    needs[1:1 + len(parts)] = [anything] * len(parts)
    for op in tape.ops:
        op.needs_input_grad = tuple(needs[k] for k in op.inputs)
        needs[op.out] = True in op.needs_input_grad
        if op.fn is not MatMul:
            continue
        a, w = op.inputs
        if (needs[w] and w in tape.reads and a not in tape.reads
                and len(tape.shapes[a]) == len(tape.shapes[w]) == 2):
            # h @ W: rather than a small aᵀ g per step, backward keeps each step's a and g and
            # makes W's gradient in one matmul per WEIGHT_GRAD_STEPS steps (far faster)
            op.weight_grad_later, op.needs_input_grad = True, (needs[a], False)


class Scan(Function):
    """The replayed recurrence as one node: inputs xs (T, …), the state parts and the externals.
    Output (T + P − 1, …): the state's first part after every step (an LSTM's h), then the last
    value of each other part (an LSTM's c), so no other part is kept for every step."""

    @staticmethod
    def forward(ctx, xs, *arrays, tape=None, reverse=False, keep=True):
        """Run the tape's ops for every step; `keep` the steps' contexts (their saved arrays)
        only if a backward may follow."""
        if tape.compiled is not None and MODE == "compiled":
            return _forward_compiled(ctx, xs, arrays, tape, reverse, keep)
        parts = len(tape.state_out)
        slots: list[Any] = [None] * len(tape.shapes)
        for k, array in zip(tape.reads, arrays[parts:], strict=True):
            slots[k] = array
        state = [a.copy() for a in arrays[:parts]]  # not a view that would keep its base alive
        out = np.empty((len(xs) + parts - 1,) + state[0].shape, tape.dtype)
        steps: list[list[Function]] = [None] * len(xs)  # type: ignore[list-item]
        for t in (reversed(range(len(xs))) if reverse else range(len(xs))):
            slots[0] = xs[t]
            slots[1:1 + parts] = state
            contexts = []
            for fn, forward, read, options, out_slot, needs in tape.forward_plan:
                op_ctx = fn.__new__(fn)
                op_ctx.saved, op_ctx.needs_input_grad = (), needs
                inputs = read(slots)
                try:
                    slots[out_slot] = (forward(op_ctx, *inputs, **options) if options
                                       else forward(op_ctx, *inputs))
                except (ValueError, IndexError, TypeError) as error:  # ShapeError included
                    shapes = ", ".join(str(np.shape(a)) for a in inputs)
                    raise ShapeError(f"{fn.op_name()} at step {t} of a scan: {shapes}: "
                                     f"{str(error).strip()}") from None
                contexts.append(op_ctx)
            state = [slots[k] for k in tape.state_out]
            out[t] = state[0]
            steps[t] = contexts if keep else None
        for p in range(1, parts):
            out[len(xs) + p - 1] = state[p]
        ctx.save_for_backward(tape, steps, reverse, xs.shape, xs.dtype, None)
        return out

    @staticmethod
    def backward(ctx, grad):
        tape, steps, reverse, xs_shape, xs_dtype, externals = ctx.saved
        if externals is not None:
            return _backward_compiled(tape, steps, reverse, xs_shape, xs_dtype, externals, grad)
        parts = len(tape.state_out)
        gxs = None  # made at the first step that gives x⟨t⟩ a gradient
        without: list[int] = []  # steps walked before it was made: none gave x⟨t⟩ a gradient
        totals: dict[int, np.ndarray] = {}  # slot -> the external's gradient over all steps
        later: dict[int, tuple[np.ndarray, list]] = {}  # weight slot -> (W, [(a, g) per use])
        carried: list[Any] = [None, *grad[len(steps):]]  # the last state's other parts
        for t in (range(len(steps)) if reverse else reversed(range(len(steps)))):
            grads: list[Any] = [None] * len(tape.shapes)
            owned = [False] * len(tape.shapes)
            first = tape.state_out[0]
            grads[first] = grad[t] if carried[0] is None else grad[t] + carried[0]
            owned[first] = carried[0] is not None
            if parts > 1:
                for k, g in zip(tape.state_out[1:], carried[1:], strict=True):
                    grads[k] = g
            for (backward, out_slot, targets, weight), op_ctx in zip(
                    tape.backward_plan, reversed(steps[t]), strict=True):
                g = grads[out_slot]
                if g is None:
                    continue
                input_grads = backward(op_ctx, g)
                if len(input_grads) != len(op_ctx.needs_input_grad):
                    raise RuntimeError(f"backward: {type(op_ctx).op_name()}.backward must return "
                                       f"a tuple of {len(op_ctx.needs_input_grad)} gradients "
                                       f"(or None), one per input")
                if weight:
                    _later(later, totals, weight, op_ctx.saved, g)
                for position, k in targets:
                    ig = input_grads[position]
                    if ig is None:
                        continue
                    if grads[k] is None and type(ig) is not SliceGrad:
                        grads[k] = ig  # the first contribution, kept as it is
                    else:
                        _add(grads, owned, tape.shapes, k, ig)
            if grads[0] is not None:
                if gxs is None:  # empty, not zeros: each row is written once, here or below
                    gxs = np.empty(xs_shape, np.result_type(xs_dtype, grads[0]))
                    gxs[without] = 0.0
                gxs[t] = grads[0]
            elif gxs is None:
                without.append(t)
            else:
                gxs[t] = 0.0
            carried = grads[1:1 + parts]
            if not _Backward.retain_graph:
                steps[t] = None  # this step's saved arrays are no longer needed
            for k in tape.reads:
                if grads[k] is not None:
                    if k in totals:
                        totals[k] += grads[k]
                    else:
                        totals[k] = np.array(grads[k], copy=True)
        for k, (w, pairs) in later.items():
            if pairs:
                _add_weight_grad(totals, k, w, pairs)
        return (gxs, *carried, *(totals.get(k) for k in tape.reads))


def _forward_compiled(ctx: Scan, xs: np.ndarray, arrays: tuple[np.ndarray, ...], tape: _Tape,
                      reverse: bool, keep: bool) -> np.ndarray:
    """Scan.forward with the compiled step: one call per step; each step's `saved` (the
    values its backward reads) kept if a backward may follow."""
    compiled = tape.compiled
    parts = len(tape.state_out)
    externals = [arrays[parts + i] for i in compiled.uses]
    state = [a.copy() for a in arrays[:parts]]  # not a view that would keep its base alive
    out = np.empty((len(xs) + parts - 1,) + state[0].shape, tape.dtype)
    steps: list[Any] = [None] * len(xs)
    forward = compiled.forward
    t = 0
    try:
        for t in (reversed(range(len(xs))) if reverse else range(len(xs))):
            *state, saved = forward(xs[t], *state, *externals)
            out[t] = state[0]
            steps[t] = saved if keep else None
    except (ValueError, IndexError, TypeError, FloatingPointError) as error:
        raise _step_error(compiled, error, t) from None
    for p in range(1, parts):
        out[len(xs) + p - 1] = state[p]
    ctx.save_for_backward(tape, steps, reverse, xs.shape, xs.dtype, externals)
    return out


def _step_error(compiled: Any, error: Exception, t: int) -> ShapeError:
    """An error raised inside the compiled forward, naming its op and step (as replay does)."""
    trace, line = error.__traceback__, None
    while trace is not None:
        if trace.tb_frame.f_code is compiled.forward.__code__:
            line = trace.tb_lineno
        trace = trace.tb_next
    index = compiled.op_at(line) if line is not None else None
    if index is None:
        return ShapeError(f"scan: step {t}: {str(error).strip()}")
    op = compiled.tape.ops[index]
    shapes = ", ".join(str(compiled.tape.shapes[k]) for k in op.inputs)
    return ShapeError(f"{op.fn.op_name()} at step {t} of a scan: {shapes}: {str(error).strip()}")


def _backward_compiled(tape: _Tape, steps: list[Any], reverse: bool, xs_shape: tuple[int, ...],
                       xs_dtype: Any, externals: list[np.ndarray], grad: np.ndarray) -> tuple:
    """Scan.backward with the compiled step: the same walk over the steps in reverse as
    replay's (the state's gradient carried, externals' gradients summed, W's made later)."""
    compiled = tape.compiled
    parts = len(tape.state_out)
    at = {tape.reads[i]: array for i, array in zip(compiled.uses, externals, strict=True)}
    gxs = None
    without: list[int] = []
    totals: dict[int, np.ndarray] = {}
    later: dict[int, tuple[np.ndarray, list]] = {}
    carried: tuple[Any, ...] = (None, *grad[len(steps):])
    step = compiled.backward_for((True,) * (parts - 1))   # every part has a gradient: the
    for t in (range(len(steps)) if reverse else reversed(range(len(steps)))):  # usual case
        saved = steps[t]
        if parts > 1 and step.present != tuple(c is not None for c in carried[1:]):
            step = compiled.backward_for(tuple(c is not None for c in carried[1:]))
        dh = grad[t] if carried[0] is None else grad[t] + carried[0]
        results = step.function(dh, *carried[1:], saved, *externals)
        dx, carried = results[0], results[1:1 + parts]
        if dx is not None:
            if gxs is None:
                gxs = np.empty(xs_shape, np.result_type(xs_dtype, dx))
                gxs[without] = 0.0
            gxs[t] = dx
        elif gxs is None:
            without.append(t)
        else:
            gxs[t] = 0.0
        if step.externals:
            for i, g in zip(step.externals, results[1 + parts:], strict=False):
                k = tape.reads[i]
                if k in totals:
                    totals[k] += g
                else:
                    totals[k] = np.array(g, copy=True)
        for (w, a), g in zip(step.deferred, results[1 + parts + len(step.externals):],
                             strict=True):
            pairs = later.setdefault(w, (at[w], []))[1]         # as _later, inlined
            pairs.append((saved[a], g))
            if len(pairs) == WEIGHT_GRAD_STEPS:
                _add_weight_grad(totals, w, at[w], pairs)
                pairs.clear()
        if not _Backward.retain_graph:
            steps[t] = None
    for k, (w, pairs) in later.items():
        if pairs:
            _add_weight_grad(totals, k, w, pairs)
    return (gxs, *carried, *(totals.get(k) for k in tape.reads))


def _plan(tape: _Tape) -> None:
    """What Scan runs for each op, worked out once per tape: forward in step order (the op, how
    to read its inputs, its options, its output slot, which inputs want a gradient), backward in
    reverse (its backward, its output slot, the inputs to pass gradients to, the weight slot
    whose gradient is made later or 0)."""
    tape.forward_plan = [(op.fn, op.fn.forward, _reader(op.inputs), op.options, op.out,
                          op.needs_input_grad) for op in tape.ops]
    tape.backward_plan = [(op.fn.backward, op.out, _targets(op),
                           op.inputs[1] if op.weight_grad_later else 0)
                          for op in reversed(tape.ops)]


def _reader(slots: tuple[int, ...]) -> Callable[[list[Any]], Any]:
    """A function giving the arrays in these slots, as a sequence (itemgetter: fast in C)."""
    return itemgetter(*slots) if len(slots) > 1 else itemgetter(slice(slots[0], slots[0] + 1))


def _targets(op: _Op) -> tuple[tuple[int, int], ...]:
    """(position, slot) of each input of op whose gradient backward must pass on."""
    return tuple((i, k) for i, (k, needs) in enumerate(zip(op.inputs, op.needs_input_grad,
                                                           strict=True)) if needs)


def _later(later: dict[int, tuple[np.ndarray, list]], totals: dict[int, np.ndarray], k: int,
           saved: tuple[np.ndarray, np.ndarray], g: np.ndarray) -> None:
    """Keep a step's (a, g) for the weight in slot k; every WEIGHT_GRAD_STEPS steps, turn the
    pairs kept into W's gradient (which bounds the memory they hold)."""
    a, w = saved
    _, pairs = later.setdefault(k, (w, []))
    pairs.append((a, g))
    if len(pairs) == WEIGHT_GRAD_STEPS:
        _add_weight_grad(totals, k, w, pairs)
        pairs.clear()


def _add_weight_grad(totals: dict[int, np.ndarray], k: int, w: np.ndarray,
                     pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """W's gradient Σₜ aₜᵀ gₜ as one matmul [a₀; a₁; …]ᵀ [g₀; g₁; …], in W's memory layout."""
    a = np.concatenate([a for a, _ in pairs])                 # (T·B, K)
    g = np.concatenate([g for _, g in pairs])                 # (T·B, N)
    gw = a.T @ g if w.flags.c_contiguous else (g.T @ a).T     # W.T's gradient, laid out as W
    if k in totals:
        totals[k] += gw
    else:
        totals[k] = gw


def _add(grads: list[Any], owned: list[bool], shapes: list[tuple[int, ...]], k: int,
         g: np.ndarray | SliceGrad) -> None:
    """Add one gradient into slot k's: in place once the slot holds an array made here."""
    if type(g) is SliceGrad:
        if not owned[k]:
            dense = np.zeros(shapes[k], g.values.dtype)
            if grads[k] is not None:
                dense += grads[k]
            grads[k], owned[k] = dense, True
        grads[k][g.index] += g.values
    elif grads[k] is None:
        grads[k] = g
    elif owned[k]:
        grads[k] += g
    else:
        grads[k], owned[k] = grads[k] + g, True


def scan_source(cell: Any, xs: Tensor | None = None, state: State = None, batch: int = 2) -> str:
    """The compiled forward and backward of a cell's step (or of a layer's first cell), as
    generated, traced on a batch of `batch`; or of any `step` given with xs and a state."""
    step, xs, state = _stand_ins(cell, xs, state, batch)
    tape = _trace(step, xs, *_parts(state))
    if tape is None:
        raise ValueError(f"scan_source: {_Why.last}: scan runs this step eagerly")
    why = _compile(tape, step)
    if tape.compiled is None:
        raise ValueError(f"scan_source: the compiler cannot write {why}; scan replays this step")
    return tape.compiled.source()


def scan_report(cell: Any, xs: Tensor | None = None, state: State = None, batch: int = 2) -> str:
    """Which path scan takes for this step, in one line: compiled, replayed (and the op the
    compiler has no rule for) or the eager loop (and why)."""
    step, xs, state = _stand_ins(cell, xs, state, batch)
    name = getattr(step, "__qualname__", "step")
    tape = _trace(step, xs, *_parts(state))
    if tape is None:
        return f"{name}: the eager loop: {_Why.last}"
    why = _compile(tape, step)
    if tape.compiled is None:
        return f"{name}: replayed, not compiled: no rule for {why}"
    return (f"{name}: compiled: {len(tape.ops)} ops a step "
            f"({len(tape.hoisted)} hoisted out of the loop)")


def _parts(state: State) -> tuple[tuple[Tensor, ...], bool]:
    return (tuple(state), True) if isinstance(state, tuple) else ((state,), False)


def _stand_ins(cell: Any, xs: Tensor | None, state: State, batch: int
               ) -> tuple[Callable[..., State], Tensor, State]:
    """A step and inputs of the shapes it takes: a cell's (a layer's first cell's) x_proj
    (2, B, G·H), wanting a gradient as in a layer, and a zero state; or the ones given."""
    if xs is not None:
        return cell, xs, state
    cell = cell.cells[0] if hasattr(cell, "cells") else cell
    dtype, hidden = cell.weight_hh.dtype, cell.hidden_size
    xs = Tensor(np.zeros((2, batch, cell.gates * hidden), dtype), requires_grad=True)
    parts = tuple(Tensor(np.zeros((batch, hidden), dtype))
                  for _ in range(getattr(cell, "state_parts", 1)))
    return cell.step, xs, (parts if len(parts) > 1 else parts[0])


_APPLY = Function.__dict__["apply"]
