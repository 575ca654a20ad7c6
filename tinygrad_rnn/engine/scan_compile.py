"""scan_compile: a traced step (a tape of scan.py) as generated Python source, compiled once.

Replay (scan.py) runs each recorded op through its Function: a context object, a call to
`forward`, a call to `backward`, per op per step. Here the tape becomes two plain functions,

    forward(x, *state, *externals)        -> (*new_state, saved)      one step
    backward(*dstate, saved, *externals)  -> (dx, *dstate_prev, *dexternals, *deferred)

one line per op, numpy calls on local variables, with the names the step's own code gave its
values (`i, f, g, o, c, h`) where the trace saw them bound. Each backward line is the chain rule
of one op (the RULES below, the same formulas as the ops' `backward` in functions.py), with the
forward line it differentiates as its comment. Shapes are known when the tape is traced, so a
broadcast's gradient sum is written out only where broadcasting happened. `source(tape)` is the
text a learner reads (`tinygrad_rnn.scan_source(cell)`); it is exactly the code that runs.

An op without a rule here (a user's own Function, a batched matmul, an embedding) raises
`Unsupported` naming it, and scan replays that tape instead.
"""

from __future__ import annotations

import keyword
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_rnn.engine import functions as F
from tinygrad_rnn.engine.tensor import Tensor

__all__ = ["CompiledStep", "Unsupported", "compile_tape", "names_seen", "RULES"]


class Unsupported(Exception):
    """The compiler has no rule for an op of the tape; the message names the op. `lasting`:
    False when the op's forward or backward is replaced only for now (a test, the tour's
    broken op), so the tape may compile once it is back."""

    def __init__(self, message: str, lasting: bool = True) -> None:
        super().__init__(message)
        self.lasting = lasting


# ---- the rules: forward and backward of each elementwise op, side by side -------------------
# {a}, {b}: the inputs; {y}: the output; {g}: the output's gradient. A binary op's input
# gradients are then summed over the dims broadcasting stretched (written out per shape).
RULES: dict[type, tuple[str, tuple[str, ...]]] = {
    F.Add: ("{a} + {b}", ("{g}", "{g}")),
    F.Sub: ("{a} - {b}", ("{g}", "-{g}")),
    F.Mul: ("{a} * {b}", ("{g} * {b}", "{g} * {a}")),
    F.Div: ("{a} / {b}", ("{g} / {b}", "-{g} * {a} / ({b} * {b})")),
    F.Pow: ("{a} ** {b}", ("{g} * {b} * {a} ** ({b} - 1)", "{g} * {y} * np.log({a})")),
    F.Neg: ("-{a}", ("-{g}",)),
    F.Exp: ("np.exp({a})", ("{g} * {y}",)),
    F.Log: ("np.log({a})", ("{g} / {a}",)),
    F.Sqrt: ("np.sqrt({a})", ("{g} / (2.0 * {y})",)),
    F.Abs: ("np.abs({a})", ("{g} * np.sign({a})",)),
    F.Tanh: ("np.tanh({a})", ("{g} * (1.0 - {y} * {y})",)),
    F.Sigmoid: ("sigmoid({a})", ("{g} * {y} * (1.0 - {y})",)),
    F.Relu: ("np.maximum({a}, 0)", ("{g} * ({y} > 0)",)),
    F.MatMul: ("{a} @ {b}", ("{g} @ {b}.T", "{a}.T @ {g}")),
}
BROADCASTING = (F.Add, F.Sub, F.Mul, F.Div, F.Pow)


# ---- helpers the generated code calls (the ops' own formulas, without a context) ------------
def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e⁻ˣ), computed as functions.Sigmoid does (the same digits)."""
    y = np.empty(x.shape, np.result_type(x.dtype, np.float16))
    np.negative(x, out=y)
    with np.errstate(over="ignore"):
        np.exp(y, out=y)
    y += 1.0
    np.reciprocal(y, out=y)
    return y


def softmax(x: np.ndarray, dim: int) -> np.ndarray:
    """eˣ / Σ eˣ along dim, shifted by the max."""
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def log_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    """x − log Σ eˣ along dim, shifted by the max."""
    z = x - np.max(x, axis=dim, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=dim, keepdims=True))


def logsumexp(x: np.ndarray, dim: int) -> np.ndarray:
    """log Σ eˣ along dim (kept as a size-1 dim), shifted by a finite max."""
    m = np.max(x, axis=dim, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return m + np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True))


def max_share(x: np.ndarray, dim: Any) -> np.ndarray:
    """1 at the maximum along dim (shared equally among ties), else 0: max's derivative."""
    is_max = x == np.max(x, axis=dim, keepdims=True)
    return is_max / is_max.sum(axis=dim, keepdims=True)


HELPERS = {"np": np, "sigmoid": sigmoid, "softmax": softmax, "log_softmax": log_softmax,
           "logsumexp": logsumexp, "max_share": max_share}


# ---- the names the step's code gave its values -----------------------------------------------
ENGINE = str(Path(__file__).resolve().parent)


@contextmanager
def names_seen() -> Iterator[dict[int, tuple[str, Tensor]]]:
    """While active, note the first local name (or `self.` attribute) each Tensor is bound to
    in code outside the engine: id(tensor) -> (name, tensor). Off under a debugger or a
    coverage tool (sys.settrace in use): the values are then numbered instead."""
    seen: dict[int, tuple[str, Tensor]] = {}
    if sys.gettrace() is not None:
        yield seen
        return

    def note(frame: Any) -> None:
        holder = frame.f_locals.get("self")
        for name, value in [*frame.f_locals.items(),
                            *(vars(holder).items() if hasattr(holder, "__dict__") else ())]:
            if isinstance(value, Tensor) and id(value) not in seen:
                seen[id(value)] = (name, value)

    def local(frame: Any, event: str, arg: Any) -> Any:
        note(frame)
        return local

    def call(frame: Any, event: str, arg: Any) -> Any:
        return None if frame.f_code.co_filename.startswith(ENGINE) else local

    sys.settrace(call)
    try:
        yield seen
    finally:
        sys.settrace(None)


# ---- the compiled step -----------------------------------------------------------------------
@dataclass
class Backward:
    """One compiled backward: which state parts' gradients it expects (the others are None),
    and what it returns after dx and the state's: the externals (by position in tape.reads)
    that get a gradient, and the deferred matmuls (weight slot, index of a in saved)."""

    source: str
    function: Callable[..., tuple]
    present: tuple[bool, ...]
    externals: tuple[int, ...]
    deferred: tuple[tuple[int, int], ...]


@dataclass
class CompiledStep:
    """A tape as two functions; `uses` are the positions in tape.reads that forward and
    backward take (a constant written into the code as a literal is not passed)."""

    tape: Any
    names: list[str]
    literals: dict[int, str]
    constants: dict[str, Any]
    uses: tuple[int, ...]
    forward_source: str
    forward: Callable[..., tuple]
    saved: tuple[int, ...]
    lines: dict[int, int]                     # line of forward's source -> op index
    backwards: dict[tuple[bool, ...], Backward] = field(default_factory=dict)

    def backward_for(self, present: tuple[bool, ...]) -> Backward:
        """The backward for steps where state parts 1 … P−1 have a gradient as `present` says
        (part 0, h, always has one); made on first use."""
        if present not in self.backwards:
            self.backwards[present] = _compile_backward(self, present)
        return self.backwards[present]

    def source(self) -> str:
        """forward and backward (every state part with a gradient), as the code that runs."""
        full = self.backward_for((True,) * (len(self.tape.state_out) - 1))
        return self.forward_source + "\n\n" + full.source

    def current(self) -> bool:
        """Whether every op still has the forward and backward its rule was written for."""
        return all(_functions(op.fn) == ORIGINAL[op.fn] for op in self.tape.ops)

    def op_at(self, line: int) -> int | None:
        """The op whose forward line this is (for an error raised inside forward)."""
        return self.lines.get(line)


def compile_tape(tape: Any, title: str = "step") -> CompiledStep:
    """Generate and compile the forward of a tape (its backward is made on first use); raise
    Unsupported, naming the op, if some op has no rule."""
    for op in tape.ops:
        _check(op, tape)
    names = _names(tape)
    literals = _literals(tape)
    constants: dict[str, Any] = {}
    step = CompiledStep(tape, names, literals, constants, (), "", None, (), {})  # type: ignore
    saved = _saved_slots(step)
    step.uses = tuple(i for i, k in enumerate(tape.reads) if k not in literals)
    step.saved = saved
    source, lines = _forward_source(step, title)
    step.forward_source, step.lines = source, lines
    step.forward = _build(source, "forward", constants, title)
    return step


def _build(source: str, name: str, constants: dict[str, Any], title: str) -> Callable:
    namespace = dict(HELPERS, **constants)
    exec(compile(source, f"<scan {title}>", "exec"), namespace)  # noqa: S102 (our own source)
    return namespace[name]


# ---- what the compiler accepts ---------------------------------------------------------------
STRUCTURAL = (F.Reshape, F.Permute, F.GetItem, F.Cat, F.Stack, F.Where, F.Sum, F.Max, F.Clip,
              F.Cast, F.Softmax, F.LogSoftmax, F.LogSumExp)


def _functions(fn: type) -> tuple[Any, Any]:
    return fn.__dict__.get("forward"), fn.__dict__.get("backward")


def _check(op: Any, tape: Any) -> None:
    if op.fn not in RULES and op.fn not in STRUCTURAL:
        raise Unsupported(f"{op.fn.op_name()} (no rule for it in scan_compile.RULES)")
    if _functions(op.fn) != ORIGINAL[op.fn]:
        raise Unsupported(f"{op.fn.op_name()} (its forward or backward is not the one of "
                          f"functions.py, which its rule follows)", lasting=False)
    if op.fn is F.MatMul and any(len(tape.shapes[k]) != 2 for k in op.inputs):
        shapes = " @ ".join(str(tape.shapes[k]) for k in op.inputs)
        raise Unsupported(f"matmul {shapes} (only 2-D products are compiled)")


ORIGINAL = {fn: _functions(fn) for fn in (*RULES, *STRUCTURAL)}


# ---- names -----------------------------------------------------------------------------------
def _identifier(name: str) -> str:
    name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "v"
    return name + "_" if keyword.iskeyword(name) or name[0].isdigit() else name


def _names(tape: Any) -> list[str]:
    """A distinct identifier per slot: x and the state take the step's argument names (the
    state before the step `h_prev`, after it `h`); a value the step bound to a local keeps
    that name (an earlier value under a name used again gets `_pre`); hoisted W.T is
    `W_T`; the rest are numbered t1, t2, …"""
    seen = getattr(tape, "seen_names", {})
    parts = len(tape.state_out)
    base = [_identifier(seen.get(k, "")) if k in seen else "" for k in range(len(tape.shapes))]
    names = [""] * len(tape.shapes)
    taken = set(HELPERS)

    def fresh(stem: str) -> str:
        name = stem
        while name in taken:
            name += "_"
        taken.add(name)
        return name

    names[0] = fresh(base[0] or "x")
    defaults = ("h", "c") if parts == 2 else ("h",)
    for p in range(parts):
        stem = base[1 + p] or (defaults[p] if p < len(defaults) else f"s{p}")
        while stem in taken or f"{stem}_prev" in taken:
            stem += "_"
        names[1 + p] = fresh(stem + "_prev")
        names[tape.state_out[p]] = fresh(stem)
    for op in tape.hoisted:                  # W.T of a named leaf: W_T
        (a,) = op.inputs if op.fn is F.Permute and len(op.inputs) == 1 else (None,)
        if a is not None and not base[op.out] and (base[a] or a in tape.leaves):
            base[op.out] = f"{base[a] or 'w'}_T"
    order = sorted(range(len(tape.shapes)), key=lambda k: -k)   # later values keep the name
    for k in order:
        if names[k] or not base[k]:
            continue
        name = base[k]
        while name in taken:
            name += "_pre"
        names[k] = name
        taken.add(name)
    unary = {F.Tanh: "tanh", F.Sigmoid: "sigmoid", F.Exp: "exp", F.Relu: "relu", F.Log: "log",
             F.Sqrt: "sqrt", F.Abs: "abs"}
    for op in tape.ops:                      # tanh(c), unnamed: tanh_c
        if not names[op.out] and op.fn in unary and names[op.inputs[0]]:
            names[op.out] = fresh(f"{unary[op.fn]}_{names[op.inputs[0]]}")
    count = 0
    literals = _literals(tape)
    for k in range(len(tape.shapes)):
        if not names[k] and k in literals:
            names[k] = f"k{k}"                      # written as its literal: never shown
        elif not names[k]:
            count += 1
            while f"t{count}" in taken:
                count += 1
            names[k] = f"t{count}"
            taken.add(names[k])
    return names


def _literals(tape: Any) -> dict[int, str]:
    """Constants made in the step (the 1 in 1 − z) that can be written as a Python literal:
    0-d floats read only by elementwise ops next to an array of their dtype, whose literal
    gives back the same value in that dtype (so numpy computes exactly the same)."""
    literals = {}
    for k in tape.made:
        value = tape.leaves[k].data
        if value.ndim or value.dtype.kind != "f":
            continue
        text = str(value.dtype.type(value))
        if not _is_number(text) or value.dtype.type(float(text)) != value:
            continue
        readers = [op for op in tape.ops if k in op.inputs]
        if all(op.fn in BROADCASTING and len(op.inputs) == 2
               and all(j == k or (tape.dtypes[j] == value.dtype and len(tape.shapes[j]))
                       for j in op.inputs) for op in readers):
            literals[k] = f"({text})" if text.startswith("-") else text
    return literals


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text not in ("nan", "inf", "-inf")


# ---- forward ---------------------------------------------------------------------------------
def _ref(step: CompiledStep, k: int) -> str:
    """How the code reads slot k: its name, or the literal of a constant."""
    return step.literals.get(k, step.names[k])


def _constant(step: CompiledStep, stem: str, value: Any) -> str:
    """A name for an array in an op's options (an index, a mask): a global of the code."""
    name = f"{stem}{len(step.constants) + 1}"
    step.constants[name] = value
    return name


def _forward_expression(step: CompiledStep, op: Any) -> str:
    tape, o = step.tape, op.options
    a, *rest = [_ref(step, k) for k in op.inputs]
    shape = tape.shapes[op.inputs[0]]
    if op.fn in RULES:
        return RULES[op.fn][0].format(a=a, b=rest[0] if rest else "", y="")
    if op.fn is F.Reshape:
        return f"{a}.reshape({tape.shapes[op.out]})"
    if op.fn is F.Permute:
        dims = tuple(o["dims"])
        return f"{a}.T" if dims == (1, 0) else f"{a}.transpose({dims})"
    if op.fn is F.GetItem:
        return f"{a}[{_index(step, o['index'])}]"
    if op.fn is F.Cat:
        return f"np.concatenate([{', '.join([a, *rest])}], axis={o.get('dim', 0)})"
    if op.fn is F.Stack:
        return f"np.stack([{', '.join([a, *rest])}], axis={o.get('dim', 0)})"
    if op.fn is F.Where:
        return f"np.where({_constant(step, 'mask', o['cond'])}, {a}, {rest[0]})"
    if op.fn in (F.Sum, F.Max):
        dim, keep = o.get("dim"), o.get("keepdim", False)
        axis = dim if len(shape) else None
        call = f"np.{'sum' if op.fn is F.Sum else 'max'}({a}, axis={axis}, keepdims={keep})"
        return f"np.asarray({call})" if not len(tape.shapes[op.out]) else call
    if op.fn is F.Clip:
        low, high = o.get("low"), o.get("high")
        return f"np.clip({a}, {low!r}, {high!r})" if (low, high) != (None, None) else f"{a}.copy()"
    if op.fn is F.Cast:
        return f"{a}.astype(np.{np.dtype(o['dtype']).name})"
    if op.fn in (F.Softmax, F.LogSoftmax):
        return f"{op.fn.op_name()}({a}, {o.get('dim', -1)})"
    kept = f"logsumexp({a}, {o.get('dim', -1)})"                       # LogSumExp
    return kept if o.get("keepdim", False) else f"{kept}.reshape({tape.shapes[op.out]})"


def _forward_source(step: CompiledStep, title: str) -> tuple[str, dict[int, int]]:
    tape, names = step.tape, step.names
    parts = len(tape.state_out)
    arguments = [names[k] for k in range(1 + parts)] + [names[tape.reads[i]] for i in step.uses]
    lines = [f"def forward({', '.join(arguments)}):",
             f'    """{title}: one step, one line per op the trace recorded."""']
    where: dict[int, int] = {}
    reusable = _reusable(step)
    for index, op in enumerate(tape.ops):
        text = f"    {names[op.out]} = {_forward_expression(step, op)}"
        if op.out in reusable:
            a, b = (_ref(step, k) for k in op.inputs)
            ufunc = IN_PLACE[op.fn]
            into = names[reusable[op.out]]
            text = _comment(f"    {names[op.out]} = np.{ufunc}({a}, {b}, out={into})",
                            f"{RULES[op.fn][0].format(a=a, b=b)}, in {into}'s memory")
        elif op.fn in (F.MatMul, F.Reshape) and len(text) < 60:
            text = _comment(text, str(tape.shapes[op.out]))
        lines.extend(text.split("\n"))
        where[len(lines)] = index                    # (1-based: the op's own, last line)
    state = ", ".join(names[k] for k in tape.state_out)
    saved = ", ".join(names[k] for k in step.saved)
    lines.append(f"    return {state}, ({saved}{',' if len(step.saved) == 1 else ''})")
    header = _hoisted_comment(step)
    return "\n".join(header + lines) + "\n", {n + len(header): i for n, i in where.items()}


IN_PLACE = {F.Add: "add", F.Sub: "subtract", F.Mul: "multiply", F.Div: "divide"}
FRESH = (*RULES, F.Cat, F.Stack, F.Where, F.Clip, F.Cast, F.Softmax, F.LogSoftmax)


def _reusable(step: CompiledStep) -> dict[int, int]:
    """Elementwise ops that can write their result into an input's memory: an array made in
    this step (not a view, not an argument) that nothing else reads, backward does not keep,
    and that has the result's shape and dtype. out slot -> the slot whose memory it takes."""
    tape = step.tape
    made = {op.out for op in tape.ops if op.fn in FRESH}
    reads: dict[int, int] = {}
    for op in tape.ops:
        for k in op.inputs:
            reads[k] = reads.get(k, 0) + 1
    keep = set(step.saved) | set(tape.state_out)
    reusable = {}
    for op in tape.ops:
        if op.fn not in IN_PLACE:
            continue
        for k in op.inputs:
            if (k in made and reads[k] == 1 and k not in keep
                    and tape.shapes[k] == tape.shapes[op.out]
                    and tape.dtypes[k] == tape.dtypes[op.out]):
                reusable[op.out] = k
                break
    return reusable


def _hoisted_comment(step: CompiledStep) -> list[str]:
    """What ran once before the loop, as comments (it is in the graph, not in this code)."""
    tape, names = step.tape, step.names
    lines = []
    for op in tape.hoisted:
        inputs = [names[k] for k in op.inputs]
        if op.fn is F.Permute and tuple(op.options.get("dims", ())) == (1, 0):
            text = f"{inputs[0]}.T"
        else:
            text = f"{op.fn.op_name()}({', '.join(inputs)})"
        lines.append(f"# before the loop, once: {names[op.out]} = {text}")
    return lines


def _comment(text: str, comment: str, column: int = 44, width: int = 79) -> str:
    """text with a comment at `column`, or, if that would pass `width`, on the line above."""
    line = f"{text.ljust(column - 2)}  # {comment}"
    if len(line) <= width or "\n" in text:
        return line
    return f"{' ' * (len(text) - len(text.lstrip()))}# {comment}\n{text}"


def _index(step: CompiledStep, index: Any) -> str:
    """An index as Python source: slices and ints as written; an array as a named constant."""
    if not F._is_basic(index):
        return _constant(step, "index", index)
    parts = index if isinstance(index, tuple) else (index,)
    if not parts:
        return "()"
    return ", ".join(_index_part(p) for p in parts)


def _index_part(part: Any) -> str:
    if part is None:
        return "None"
    if part is Ellipsis:
        return "..."
    if isinstance(part, slice):
        start = "" if part.start is None else str(part.start)
        stop = "" if part.stop is None else str(part.stop)
        return f"{start}:{stop}" + ("" if part.step is None else f":{part.step}")
    return str(int(part))


# ---- backward --------------------------------------------------------------------------------
def _saved_slots(step: CompiledStep) -> tuple[int, ...]:
    """The forward values the backward reads (found by generating it once, every part present),
    in slot order."""
    probe = _backward_body(step, (True,) * (len(step.tape.state_out) - 1))
    return tuple(sorted(probe.reads - set(step.tape.reads)))   # externals are arguments


@dataclass
class _Body:
    lines: list[str]
    reads: set[int]                     # forward slots referenced
    present: list[bool]                 # which slots got a gradient
    deferred: list[tuple[int, int, int]]  # (weight slot, a slot, the matmul's output slot)


def _keep_shape(shape: tuple[int, ...], dims: Any) -> tuple[int, ...]:
    return F._keepdim_shape(shape, dims)


def _unbroadcast(expr: str, grad_shape: tuple[int, ...], shape: tuple[int, ...]) -> str:
    """expr summed down to shape, written for these shapes (as functions.unbroadcast does)."""
    if grad_shape == shape:
        return expr
    lead = len(grad_shape) - len(shape)
    stretched = tuple(i + lead for i, n in enumerate(shape)
                      if n == 1 and grad_shape[i + lead] != 1)
    axes = tuple(range(lead)) + stretched
    inner = expr if expr.isidentifier() else f"({expr})"
    if not stretched:
        return f"{inner}.sum(axis={axes[0] if len(axes) == 1 else axes})"
    if not lead:
        return f"{inner}.sum(axis={axes}, keepdims=True)"
    return f"{inner}.sum(axis={axes}, keepdims=True).reshape({shape})"


def _contributions(step: CompiledStep, op: Any, g: str, reads: set[int]
                   ) -> list[tuple[int, str, Any]]:
    """(input slot, expression, slice index or None) for each input of op that wants a
    gradient: the chain rule of op, from its output's gradient g."""
    tape, o = step.tape, op.options
    refs = [_ref(step, k) for k in op.inputs]
    shapes = [tape.shapes[k] for k in op.inputs]
    out_shape = tape.shapes[op.out]
    used: set[str] = set()

    def name(k: int) -> str:               # a forward value the backward reads
        if k not in step.literals:
            reads.add(k)
        return _ref(step, k)

    result = []
    for i, (k, needs) in enumerate(zip(op.inputs, op.needs_input_grad, strict=True)):
        if not needs:
            continue
        index = None
        if op.fn in RULES:
            template = RULES[op.fn][1][i]
            fields = {"g": g}
            for key, slot in (("a", op.inputs[0]), ("b", op.inputs[-1]), ("y", op.out)):
                if "{" + key + "}" in template:
                    fields[key] = name(slot)
            expr = template.format(**fields)
            if op.fn in BROADCASTING:
                expr = _unbroadcast(expr, out_shape, shapes[i])
        elif op.fn is F.Reshape:
            expr = f"{g}.reshape({shapes[0]})"
        elif op.fn is F.Permute:
            dims = tuple(o["dims"])
            inverse = tuple(int(d) for d in np.argsort(dims))
            expr = f"{g}.T" if dims == (1, 0) else f"{g}.transpose({inverse})"
        elif op.fn is F.GetItem:
            if F._is_basic(o["index"]):
                expr, index = g, o["index"]
            else:
                zeros = f"np.zeros({shapes[0]}, np.{tape.dtypes[k].name})"
                expr = f"scatter_add({zeros}, {_index(step, o['index'])}, {g})"
                step.constants.setdefault("scatter_add", _scatter_add)
        elif op.fn is F.Cat:
            dim = o.get("dim", 0) % len(out_shape)
            start = sum(s[dim] for s in shapes[:i])
            cut = (slice(None),) * dim + (slice(start, start + shapes[i][dim]),)
            expr = f"{g}[{_index(step, cut)}]"
        elif op.fn is F.Stack:
            dim = o.get("dim", 0) % len(out_shape)
            expr = f"{g}[{_index(step, (slice(None),) * dim + (i,))}]"
        elif op.fn is F.Where:
            mask = _constant(step, "mask", o["cond"])
            picked = f"np.where({mask}, {g}, 0.0)" if i == 0 else f"np.where({mask}, 0.0, {g})"
            expr = _unbroadcast(picked, out_shape, shapes[i])
        elif op.fn is F.Sum:
            dim = o.get("dim") if len(shapes[0]) else None
            expr = f"np.broadcast_to({g}.reshape({_keep_shape(shapes[0], dim)}), {shapes[0]})"
        elif op.fn is F.Max:
            dim = o.get("dim")
            expr = f"max_share({name(k)}, {dim}) * {g}.reshape({_keep_shape(shapes[0], dim)})"
        elif op.fn is F.Clip:
            low, high = o.get("low"), o.get("high")
            tests = ([f"({name(k)} >= {low!r})"] if low is not None else []) + (
                [f"({name(k)} <= {high!r})"] if high is not None else [])
            mask = tests[0] if len(tests) == 1 else f"({' & '.join(tests)})"
            expr = f"{g} * {mask}" if tests else g
        elif op.fn is F.Cast:
            expr = f"{g}.astype(np.{tape.dtypes[k].name})"
        elif op.fn is F.Softmax:
            y = name(op.out)
            expr = f"{y} * ({g} - np.sum({g} * {y}, axis={o.get('dim', -1)}, keepdims=True))"
        elif op.fn is F.LogSoftmax:
            expr = (f"{g} - np.exp({name(op.out)}) * np.sum({g}, axis={o.get('dim', -1)}, "
                    f"keepdims=True)")
        else:                                                           # LogSumExp
            dim = o.get("dim", -1) % max(len(shapes[0]), 1)
            kept = _keep_shape(shapes[0], (dim,))
            y = name(op.out)
            y = y if out_shape == kept else f"{y}.reshape({kept})"
            expr = f"np.exp({name(k)} - {y}) * {g}.reshape({kept})"
        used.add(refs[i])
        result.append((k, expr, index))
    return result


def _scatter_add(zeros: np.ndarray, index: Any, values: np.ndarray) -> np.ndarray:
    """zeros with values added at index, repeated indices adding up (fancy indexing's
    gradient, as functions.GetItem)."""
    np.add.at(zeros, index, values)
    return zeros


def _tiles(contributions: list[tuple[str, Any]], shape: tuple[int, ...]) -> tuple[int, list]:
    """If these slice gradients are slices along one dim that tile the whole of it (chunk,
    split), that dim and the pieces in order; else (-1, [])."""
    cuts = []
    for expr, index in contributions:
        parts = index if isinstance(index, tuple) else (index,)
        if index is None or not parts or not all(isinstance(p, slice) for p in parts):
            return -1, []
        dim = len(parts) - 1
        if any(p != slice(None) for p in parts[:-1]) or dim >= len(shape):
            return -1, []
        start, stop, stride = parts[-1].indices(shape[dim])
        if stride != 1:
            return -1, []
        cuts.append((dim, start, stop, expr))
    if not cuts or len({c[0] for c in cuts}) != 1:
        return -1, []
    cuts.sort(key=lambda c: c[1])
    edge = 0
    for _, start, stop, _ in cuts:
        if start != edge or stop <= start:
            return -1, []
        edge = stop
    return (cuts[0][0], [c[3] for c in cuts]) if edge == shape[cuts[0][0]] else (-1, [])


def _finish(step: CompiledStep, k: int, pending: list[tuple[str, Any, str]], initial: str | None,
            lines: list[str]) -> bool:
    """Write slot k's gradient `d<name>` from its contributions (in the order replay adds
    them): the first kept as it is, the second summed into a new array, the rest added in
    place; slices of a chunked value become one concatenate. Whether it has a gradient."""
    tape = step.tape
    d = "d" + step.names[k]
    dim, pieces = _tiles([(e, i) for e, i, _ in pending], tape.shapes[k]) if (
        initial is None and len(pending) > 1) else (-1, [])
    if pieces:
        parts = ", ".join(why.split(" = ")[0] for _, _, why in reversed(pending))  # in order
        lines.append(_comment(f"    {d} = np.concatenate([{', '.join(pieces)}], axis={dim})",
                              f"{parts} = pieces of {step.names[k]}"))
        return True
    current, owned = initial, False
    for expr, index, why in pending:
        if index is None:
            negated = expr.startswith("-") and expr[1:].isidentifier()
            sign, term = ("-", expr[1:]) if negated else ("+", expr)
            if current is None:
                lines.append(_comment(f"    {d} = {expr}", why))
            elif owned:
                lines.append(_comment(f"    {d} {sign}= {term}", why))
            else:
                lines.append(_comment(f"    {d} = {current} {sign} {term}", why))
                owned = True
            current = d
            continue
        if not owned:
            zeros = f"np.zeros({tape.shapes[k]}, np.{tape.dtypes[k].name})"
            lines.append(f"    {d} = {zeros}" + ("" if current is None else f" + {current}"))
            current, owned = d, True
        lines.append(_comment(f"    {d}[{_index(step, index)}] += {expr}", why))
    if current is not None and current != d:
        lines.append(f"    {d} = {current}")
    return current is not None


def _backward_body(step: CompiledStep, present: tuple[bool, ...]) -> _Body:
    tape, names = step.tape, step.names
    parts = len(tape.state_out)
    has = [False] * len(tape.shapes)
    initial: dict[int, str] = {}
    for p, k in enumerate(tape.state_out):
        if p == 0 or present[p - 1]:
            has[k], initial[k] = True, "d" + names[k]
    pending: dict[int, list[tuple[str, Any, str]]] = {}
    reads: set[int] = set()
    lines: list[str] = []
    deferred: list[tuple[int, int, int]] = []
    forward_text = {op.out: f"{names[op.out]} = {_forward_expression(step, op)}"
                    for op in tape.ops}
    for op in reversed(tape.ops):
        if op.out in pending or op.out in initial:
            has[op.out] = _finish(step, op.out, pending.pop(op.out, []), initial.get(op.out),
                                  lines)
        if not has[op.out]:
            continue
        g = "d" + names[op.out]
        if op.weight_grad_later:
            a, w = op.inputs
            reads.add(a)
            deferred.append((w, a, op.out))
        for k, expr, index in _contributions(step, op, g, reads):
            pending.setdefault(k, []).append((expr, index, forward_text[op.out]))
    for k in [0, *range(1, 1 + parts), *tape.reads]:
        has[k] = _finish(step, k, pending.pop(k, []), None, lines) if k in pending else False
    return _Body(lines, reads, has, deferred)


def _compile_backward(step: CompiledStep, present: tuple[bool, ...]) -> Backward:
    tape, names = step.tape, step.names
    parts = len(tape.state_out)
    body = _backward_body(step, present)
    incoming = ["d" + names[k] if p == 0 or present[p - 1] else "_" + names[k]
                for p, k in enumerate(tape.state_out)]
    externals = [names[tape.reads[i]] for i in step.uses]
    saved = [names[k] for k in step.saved]
    lines = [f"def backward({', '.join([*incoming, 'saved', *externals])}):",
             '    """BPTT through one step: from the gradient of the new state to those of',
             '    x, of the state before and of what the step read: the chain rule op by op',
             '    in reverse; each comment is the forward line that it differentiates."""']
    if saved:
        lines.append(f"    {', '.join(saved)}{',' if len(saved) == 1 else ''} = saved")
    lines += body.lines
    got = [i for i, k in enumerate(tape.reads) if body.present[k]]
    outputs = ["d" + names[k] if body.present[k] else "None" for k in range(1 + parts)]
    outputs += ["d" + names[tape.reads[i]] for i in got]
    outputs += ["d" + names[out] for _, _, out in body.deferred]
    lines.append(f"    return {', '.join(outputs)}")
    notes = [f"# {names[w]}'s gradient, Σₜ {names[a]}ᵀ d{names[out]}, is one matmul after the "
             f"loop" for w, a, out in body.deferred]
    source = "\n".join(notes + lines) + "\n"
    function = _build(source, "backward", step.constants, "backward")
    position = {k: saved_index for saved_index, k in enumerate(step.saved)}
    return Backward(source, function, present, tuple(got),
                    tuple((w, position[a]) for w, a, _ in body.deferred))
