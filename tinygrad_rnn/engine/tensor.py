"""Tensor, the computation graph, and reverse-mode differentiation.

A Tensor wraps a numpy array. Every op applied to tensors that require grad records a node: the
`Function` that made it, with its inputs (`parents`, in order) and the arrays it saved for the
backward pass. `backward()` walks the graph from the output in reverse topological order and applies
the chain rule at each node, accumulating gradients into leaves with `+=`, as PyTorch does.

Version counters (PyTorch's `_version`): an in-place change of a tensor's array made through the
engine (a write to `.data`, an optimizer step, an `nn.init` fill) stamps the tensor with the
engine's change count. Each node remembers the count when it was made; if, at `backward()`, an
array its backward relies on carries a later stamp, backward raises instead of using new values.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, Union

import numpy as np

__all__ = ["Tensor", "Function", "SliceGrad", "no_grad", "enable_grad", "is_grad_enabled",
           "ShapeError", "watch", "MaxMin", "increment_version"]


class ShapeError(ValueError):
    """An op was given shapes it cannot combine; the message names the op and the shapes."""


class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _GradMode.enabled


@contextlib.contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    previous, _GradMode.enabled = _GradMode.enabled, enabled
    try:
        yield
    finally:
        _GradMode.enabled = previous


def no_grad() -> contextlib.AbstractContextManager:
    """Context (or decorator) in which ops record no graph: for evaluation and sampling."""
    return _grad_mode(False)


def enable_grad() -> contextlib.AbstractContextManager:
    """Context (or decorator) that turns graph recording back on inside `no_grad()`."""
    return _grad_mode(True)


class _Anomaly:
    """The checker `detect_anomaly()` (anomaly.py) plugs in; None when off: one check per op."""

    checker: Any = None


class _Backward:
    """Whether the backward pass running now keeps the graph (retain_graph=True): a node that
    holds many steps' arrays (scan.Scan) may release each step's as soon as it is done."""

    retain_graph = True


class _Versions:
    """How many in-place changes of tensors' arrays the engine has seen: each change stamps the
    tensor with the new count, each node is made with the count of its time (`Function.version`)."""

    now = 0


class _Recording:
    """While `scan` (scan.py) traces a step, the list each applied op is appended to, as
    (op, options, inputs, output); None otherwise. A tensor made directly is noted as
    (Tensor, {}, (), tensor), a value made without an op as (None, {}, (), None)."""

    ops: list[tuple[Any, dict[str, Any], tuple[Tensor, ...], Any]] | None = None

    @staticmethod
    def value_outside_ops() -> None:
        """Note that a value was made without an op (detach, a comparison, argmax, random
        numbers): a trace would keep it as a constant, so the step cannot be replayed."""
        if _Recording.ops is not None:
            _Recording.ops.append((None, {}, (), None))


class _Watch:
    """Whether `watch()` is on: then every node keeps its output tensor and that tensor's
    gradient (for drawings); off, it costs one check per op."""

    on = False


class _Kept:
    """A node's output kept alive by `watch()` (where retain_grad keeps only a weak reference)."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: Tensor) -> None:
        self.tensor = tensor

    def __call__(self) -> Tensor:
        return self.tensor


@contextlib.contextmanager
def watch() -> Iterator[None]:
    """Context in which every op's output keeps its value and, after backward(), its gradient,
    so `tg.draw(loss)` can show both at every node (memory grows with the graph: for pictures)."""
    previous, _Watch.on = _Watch.on, True
    try:
        yield
    finally:
        _Watch.on = previous


class Function:
    """One node of the graph. Subclasses define `forward(ctx, *arrays)` and `backward(ctx, grad)`.

    An instance is the node's context: `parents` (one per input, in order: the node that made the
    input, or the input tensor itself when nothing made it, a leaf), `saved` (arrays kept for
    backward), `needs_input_grad` (one bool per input, so backward can skip work), `shape` (of
    the output) and `version` (the engine's change count when it was made). The graph holds nodes,
    not the tensors between them: an intermediate result's array is freed as soon as nothing uses
    it, unless an op saved it for backward; so the node keeps its output's version stamp.
    """

    __slots__ = ("parents", "saved", "needs_input_grad", "shape", "version")
    retained: Callable[[], Tensor | None] | None = None  # set by Tensor.retain_grad (a weakref)
    label: str | None = None  # the model's name for this node's output (chunk(names=...))
    # What backward relies on staying unchanged (checked by _check_versions): the inputs' arrays
    # (saved, or seen through a view the output is) and the output's. An op of yours: both.
    uses_inputs = True
    uses_output = True
    view = False          # the output is a view of the first input's array (reshape, slice, …)
    _version, _changed_by = 0, ""  # the output's stamp, once changed in place (see _Versions)

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved = arrays

    @staticmethod
    def forward(ctx: Function, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **kwargs: Any) -> Tensor:
        """Run forward on the inputs' arrays; record a node when any input requires grad."""
        ctx = cls()
        ctx.saved = ()
        try:
            data = cls.forward(ctx, *[t._data for t in inputs], **kwargs)
        except ShapeError:
            raise
        except (ValueError, IndexError, TypeError) as error:
            shapes = ", ".join(str(t.shape) for t in inputs)
            raise ShapeError(f"{cls.op_name()}: {shapes}: {str(error).strip()}") from None
        if _Anomaly.checker is not None:
            _Anomaly.checker.forward(cls, ctx, inputs, data)
        out = Tensor.__new__(Tensor)
        out._data, out.grad = data, None
        needs = tuple([t.requires_grad for t in inputs])
        if _GradMode.enabled and True in needs:
            ctx.parents = tuple([t if t._ctx is None else t._ctx for t in inputs])
            ctx.needs_input_grad, ctx.shape, ctx.version = needs, data.shape, _Versions.now
            out.requires_grad, out._ctx = True, ctx
            if _Watch.on:
                ctx.retained = _Kept(out)
        else:
            out.requires_grad, out._ctx = False, None
            if cls.view and inputs[0]._ctx is None:  # no node links this view to its base:
                out._base = _holder(inputs[0])         # it shares the base's version stamp
        if _Recording.ops is not None:
            _Recording.ops.append((cls, kwargs, inputs, out))
        return out

    @classmethod
    def op_name(cls) -> str:
        return cls.__name__.lower()


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    """An array keeps its dtype; Python data as torch.tensor: floats float32, ints int64, bools
    bool (numpy alone would make the floats float64)."""
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None or isinstance(data, (np.ndarray, np.generic)):
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    return array if array.dtype.kind == "b" else array.astype(np.float32)


class MaxMin(NamedTuple):
    """What `t.max(dim)` and `t.min(dim)` return, as torch.return_types.max: the values and
    the int64 index of each (the first, among ties); the gradient reaches that element only."""

    values: Tensor
    indices: Tensor


class Tensor:
    """An n-dimensional array that remembers how it was computed, so it can be differentiated."""

    # _version, _changed_by: its stamp once changed in place; _base: the leaf it is a view of
    # (a detach(), or a slice made without a graph), whose stamp it shares
    __slots__ = ("_data", "grad", "requires_grad", "_ctx", "_version", "_changed_by", "_base",
                 "__weakref__")
    __array_priority__ = 1000  # so `ndarray + Tensor` defers to Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data: np.ndarray = _as_array(data, dtype)

        self.grad: np.ndarray | None = None
        self._ctx: Function | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)
        if _Recording.ops is not None:  # a constant made inside a traced step
            _Recording.ops.append((Tensor, {}, (), self))

    # ---- basic properties -------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The array. Inside `no_grad()`, taking `.data` counts as changing it (that is how
        `p.data[...] = v` writes it): a graph made before, relying on it, can no longer backward."""
        if not _GradMode.enabled:
            increment_version(self, ".data taken inside no_grad() (to only read it there, use "
                                    ".numpy())")
        return self._data

    @data.setter
    def data(self, array: np.ndarray) -> None:
        """`t.data = array` and `t.data += x` (which sets it again) change t in place."""
        self._data = array
        increment_version(self, "a write to .data")

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"bool: the truth value of a tensor of shape {self.shape} is "
                               f"ambiguous; use t.data.any() or t.data.all()")
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    # ---- PyTorch's shape methods (`.shape` and `.ndim` are the numpy-style properties) ------
    def size(self, dim: int | None = None) -> Any:
        """The shape as a tuple (torch.Size is one), or the length of dim `dim`."""
        if dim is None:
            return self._data.shape
        (d,) = _dims(dim, self.ndim, "size")
        return self._data.shape[d]

    def dim(self) -> int:
        """The number of dims (as `.ndim`)."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements."""
        return self._data.size

    def numpy(self) -> np.ndarray:
        return self._data

    def item(self) -> float:
        if self._data.size != 1:
            raise ShapeError(f"item: only a one-element tensor has an item, got shape {self.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self._data, precision=4)}, dtype={self.dtype}{grad})"

    # ---- graph control ----------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf as a parameter (or not). Only floating-point tensors can require grad."""
        if requires_grad and not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"requires_grad: only floating-point tensors can require grad, "
                            f"got dtype {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_: cannot turn off grad of a non-leaf; use detach()")
        self.requires_grad = requires_grad
        return self

    def detach(self) -> Tensor:
        """The same data, cut from the graph (truncated BPTT detaches the hidden state)."""
        _Recording.value_outside_ops()
        out = Tensor(self._data)
        if self._ctx is None:  # the same array: a change to either is seen by both (a computed
            out._base = _holder(self)  # tensor's node is not linked: it would keep its graph)
        return out

    def retain_grad(self) -> Tensor:
        """Keep `.grad` on this intermediate tensor after backward (e.g. dL/dh at each step)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        if self._ctx is not None:
            self._ctx.retained = weakref.ref(self)
        return self

    def astype(self, dtype: Any) -> Tensor:
        """This tensor in another dtype; a cast to an integer or bool dtype leaves the graph."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            _Recording.value_outside_ops()
            return Tensor(self._data.astype(dtype))
        return F.Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    # ---- backward ---------------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate from here: `loss.backward()`, or `t.backward(grad)` if not a scalar."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad (no parameter led to "
                               "it, or it was computed under no_grad())")
        if grad is None:
            if self._data.size != 1:
                raise RuntimeError(f"backward: output of shape {self.shape} is not a scalar; pass "
                                   f"the gradient of the loss with respect to it: t.backward(grad)")
            grad = np.ones_like(self._data)
        else:
            grad = np.asarray(grad._data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ShapeError(f"backward: gradient of shape {grad.shape} for a tensor of "
                                 f"shape {self.shape}")
        if self._ctx is None:  # a leaf: d self / d self = 1
            _accumulate(self, grad)
            return
        previous, _Backward.retain_graph = _Backward.retain_graph, retain_graph
        try:
            _walk(self._ctx, grad, retain_graph)
        finally:
            _Backward.retain_graph = previous

    # ---- operators (each a primitive Function, or a few of them) ----------------------------
    def _lift(self, other: Any) -> Tensor:
        """A Python number or array on the other side of an operator, in this tensor's dtype."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, np.ndarray):
            return Tensor(other)
        if isinstance(other, float) and self.dtype.kind != "f":
            return Tensor(np.float64(other))  # int tensor * 0.5 is a float (not truncated to 0)
        return Tensor(np.asarray(other, dtype=self.dtype))

    def __add__(self, other: Any) -> Tensor:
        return F.Add.apply(self, self._lift(other))

    def __radd__(self, other: Any) -> Tensor:
        return F.Add.apply(self._lift(other), self)

    def __sub__(self, other: Any) -> Tensor:
        return F.Sub.apply(self, self._lift(other))

    def __rsub__(self, other: Any) -> Tensor:
        return F.Sub.apply(self._lift(other), self)

    def __mul__(self, other: Any) -> Tensor:
        return F.Mul.apply(self, self._lift(other))

    def __rmul__(self, other: Any) -> Tensor:
        return F.Mul.apply(self._lift(other), self)

    def __truediv__(self, other: Any) -> Tensor:
        return F.Div.apply(self, self._lift(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        return F.Div.apply(self._lift(other), self)

    def __pow__(self, other: Any) -> Tensor:
        return F.Pow.apply(self, self._lift(other))

    def __rpow__(self, other: Any) -> Tensor:
        return F.Pow.apply(self._lift(other), self)

    def __matmul__(self, other: Any) -> Tensor:
        return F.MatMul.apply(self, self._lift(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return F.MatMul.apply(self._lift(other), self)

    def __neg__(self) -> Tensor:
        return F.Neg.apply(self)

    def __getitem__(self, index: Any) -> Tensor:
        return F.GetItem.apply(self, index=_plain_index(index))

    # comparisons give plain boolean tensors with no gradient
    def _compare(self, other: Any, op: Any) -> Tensor:
        other = other._data if isinstance(other, Tensor) else other
        _Recording.value_outside_ops()
        try:
            return Tensor(op(self._data, other))
        except ValueError as error:
            raise ShapeError(f"{op.__name__}: {self.shape} and {np.shape(other)}: "
                             f"{error}") from None

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    __hash__ = object.__hash__

    # ---- elementwise math -------------------------------------------------------------------
    def exp(self) -> Tensor:
        return F.Exp.apply(self)

    def log(self) -> Tensor:
        return F.Log.apply(self)

    def sqrt(self) -> Tensor:
        return F.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return F.Abs.apply(self)

    def tanh(self) -> Tensor:
        return F.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return F.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return F.Relu.apply(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        return F.Clip.apply(self, low=min, high=max)

    clamp = clip

    def square(self) -> Tensor:
        return self * self

    # ---- reductions -------------------------------------------------------------------------
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return F.Sum.apply(self, dim=_dims(dim, self.ndim, "sum"), keepdim=keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        dims = _dims(dim, self.ndim, "mean")
        count = int(np.prod([self.shape[d] for d in dims])) if dims is not None else self.numel()
        return self.sum(dims, keepdim) * (1.0 / count if count else float("nan"))

    def amax(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """The maximum over one or more dims (all when None); ties share the gradient equally."""
        return F.Max.apply(self, dim=_dims(dim, self.ndim, "amax"), keepdim=keepdim)

    def amin(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """The minimum over one or more dims (all when None), as amax of -x."""
        return -((-self).amax(dim, keepdim))

    def max(self, dim: int | None = None, keepdim: bool = False) -> Tensor | MaxMin:
        """The maximum of all elements (a scalar, as amax); with dim: (values, indices)."""
        return self.amax() if dim is None else self._pick(np.argmax, dim, keepdim, "max")

    def min(self, dim: int | None = None, keepdim: bool = False) -> Tensor | MaxMin:
        """The minimum of all elements (a scalar, as amin); with dim: (values, indices)."""
        return self.amin() if dim is None else self._pick(np.argmin, dim, keepdim, "min")

    def _pick(self, arg: Callable[..., np.ndarray], dim: int, keepdim: bool, op: str) -> MaxMin:
        """The elements `arg` (argmax/argmin) points to along dim, gathered by indexing."""
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(f"{op}: dim must be one int, got {dim!r}; for several dims use "
                            f"a{op}(dims), as in PyTorch")
        (d,) = _dims(dim, self.ndim, op)
        if self.ndim == 0:  # a scalar is its own maximum, at index 0
            return MaxMin(self[()], Tensor(np.int64(0)))
        if self.shape[d] == 0:
            raise ShapeError(f"{op}: dim {dim} of shape {self.shape} is empty")
        _Recording.value_outside_ops()  # the indices come from the data: a trace cannot replay
        picked = np.expand_dims(arg(self._data, axis=d), d).astype(np.int64)    # keepdim shape
        grid = list(np.indices(picked.shape, sparse=True))
        grid[d] = picked
        values, indices = self[tuple(grid)], picked
        if not keepdim:
            values, indices = values.squeeze(d), np.squeeze(indices, d)
        return MaxMin(values, Tensor(indices))

    def var(self, dim: int | Sequence[int] | None = None, keepdim: bool = False,
            unbiased: bool = True) -> Tensor:
        dims = _dims(dim, self.ndim, "var")
        count = int(np.prod([self.shape[d] for d in dims])) if dims is not None else self.numel()
        centered = self - self.mean(dims, keepdim=True)
        dof = count - int(unbiased)  # a single sample has no unbiased variance: nan, as torch
        return (centered * centered).sum(dims, keepdim) * (1.0 / dof if dof > 0 else float("nan"))

    def argmax(self, dim: int | None = None) -> Tensor:
        _Recording.value_outside_ops()
        return Tensor(np.argmax(self._data, axis=dim))

    def logsumexp(self, dim: int = -1, keepdim: bool = False) -> Tensor:
        return F.LogSumExp.apply(self, dim=_dims(dim, self.ndim, "logsumexp")[0], keepdim=keepdim)

    def softmax(self, dim: int = -1) -> Tensor:
        return F.Softmax.apply(self, dim=_dims(dim, self.ndim, "softmax")[0])

    def log_softmax(self, dim: int = -1) -> Tensor:
        return F.LogSoftmax.apply(self, dim=_dims(dim, self.ndim, "log_softmax")[0])

    # ---- shape ------------------------------------------------------------------------------
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return F.Reshape.apply(self, shape=tuple(int(s) for s in shape))

    view = reshape

    def flatten(self) -> Tensor:
        return self.reshape(-1)

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if len(dims) != self.ndim or _dims(dims, self.ndim, "permute") != tuple(range(self.ndim)):
            raise ShapeError(f"permute: {dims} is not a permutation of the {self.ndim} dims "
                             f"of shape {self.shape}")
        return F.Permute.apply(self, dims=tuple(d % self.ndim for d in dims))

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two dims (the last two by default, so `x.transpose()` is the matrix transpose)."""
        d0, d1 = _dims((dim0, dim1), self.ndim, "transpose")
        dims = list(range(self.ndim))
        dims[d0], dims[d1] = dims[d1], dims[d0]
        return self.permute(dims)

    @property
    def T(self) -> Tensor:
        """All dims reversed, as numpy's `.T` (for a matrix: the transpose)."""
        return F.Permute.apply(self, dims=tuple(range(self.ndim))[::-1])  # always a valid order

    def unsqueeze(self, dim: int) -> Tensor:
        dim = dim if dim >= 0 else dim + self.ndim + 1
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        (d,) = _dims(dim, self.ndim, "squeeze")
        if self.shape[d] != 1:
            return self
        return self.reshape(self.shape[:d] + self.shape[d + 1:])

    def expand(self, *shape: int) -> Tensor:
        """Broadcast to `shape` (as `x + zeros(shape)`, whose gradient sums back)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return self + np.zeros(shape, dtype=self.dtype)

    def split(self, size: int | Sequence[int], dim: int = 0,
              names: Sequence[str] | None = None) -> list[Tensor]:
        """Pieces of `size` along `dim` (the last may be smaller), or of the listed sizes;
        `names` (one per piece) label the pieces' graph nodes, e.g. a cell's gates in a drawing."""
        (d,) = _dims(dim, self.ndim, "split")
        length = self.shape[d]
        if isinstance(size, int):
            if size < 1:
                raise ShapeError(f"split: size must be >= 1, got {size}")
            sizes = [min(size, length - start) for start in range(0, length, size)]
        else:
            sizes = [int(s) for s in size]
            if sum(sizes) != length:
                raise ShapeError(f"split: sizes {sizes} do not add up to dim {d} of "
                                 f"shape {self.shape}")
        pieces, start = [], 0
        for n in sizes:
            index = (slice(None),) * d + (slice(start, start + n),)
            pieces.append(self[index])
            start += n
        if names is not None:
            if len(names) != len(pieces):
                raise ShapeError(f"split: {len(names)} names for {len(pieces)} pieces")
            for piece, name in zip(pieces, names, strict=True):
                if piece._ctx is not None:
                    piece._ctx.label = name
        return pieces

    def chunk(self, chunks: int, dim: int = 0, names: Sequence[str] | None = None
              ) -> list[Tensor]:
        """`chunks` pieces along `dim` of size ceil(n / chunks) (the last may be smaller);
        `names` label them in the graph (`gates.chunk(4, 1, names="ifgo")`)."""
        (d,) = _dims(dim, self.ndim, "chunk")
        if chunks < 1:
            raise ShapeError(f"chunk: chunks must be >= 1, got {chunks}")
        return self.split(max(-(-self.shape[d] // chunks), 1), d, names)


def _plain_index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index


def _dims(dim: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...] | None:
    """Normalise dims (negative allowed) to a sorted tuple; None means all dims."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    rank = max(ndim, 1)
    for d in dims:
        if not -rank <= d < rank:
            raise ShapeError(f"{op}: dim {d} is out of range for a tensor with {ndim} dims")
    return tuple(sorted(int(d) % rank for d in dims))


Node = Union[Function, "Tensor"]  # a graph node: an op, or a leaf tensor


class SliceGrad(NamedTuple):
    """A gradient that is zero except at `index` (what slicing's backward returns): the engine adds
    `values` into that part of the parent's gradient in place, instead of building a mostly-zero
    array per slice (which would make T slices of a length-T sequence cost O(T²))."""

    index: Any
    values: np.ndarray


def _add_gradient(grads: dict[int, np.ndarray], owned: set[int], parent: Node,
                  grad: np.ndarray | SliceGrad) -> None:
    """Add a contribution to the gradient already collected for `parent` (or a slice's, which
    may be the first). Arrays the engine made itself (`owned`) are added to in place; others are
    never written to (they may be shared), so the first sum makes a new, owned array."""
    key = id(parent)
    if isinstance(grad, SliceGrad):
        if key not in owned:
            dense = np.zeros(parent.shape, grad.values.dtype)
            if key in grads:
                dense += grads[key]
            grads[key] = dense
            owned.add(key)
        grads[key][grad.index] += grad.values
    elif key in owned:
        grads[key] += grad
    else:
        grads[key] = grads[key] + grad
        owned.add(key)


def _accumulate(tensor: Tensor, grad: np.ndarray) -> None:
    """`tensor.grad += grad`, creating it (a fresh array of the tensor's dtype) the first time."""
    if grad.shape != tensor._data.shape:
        raise RuntimeError(f"backward: a gradient of shape {grad.shape} reached a tensor of shape "
                           f"{tensor._data.shape}; some backward returned the wrong shape")
    if tensor.grad is None:
        tensor.grad = np.array(grad, dtype=tensor.dtype)  # a copy: grad may be shared
    else:
        tensor.grad += grad


def _walk(root: Function, grad: np.ndarray, retain_graph: bool) -> None:
    """The backward pass from root (whose output's gradient is `grad`): each node, in reverse
    topological order, passes its gradient on to its inputs; leaves accumulate theirs."""
    grads: dict[int, np.ndarray] = {id(root): grad}
    owned: set[int] = set()  # ids of gradient arrays made here, safe to add into in place
    now = _Versions.now
    for ctx in reversed(_topological_order(root)):
        g = grads.pop(id(ctx), None)
        if g is None:  # no gradient reached it (an op may pass None for an input it ignores)
            continue
        if isinstance(ctx, Tensor):  # a leaf that requires grad: its gradient is complete
            _accumulate(ctx, g)
            continue
        retained = ctx.retained() if ctx.retained is not None else None
        if retained is not None:
            _accumulate(retained, g)
        if not hasattr(ctx, "saved"):
            raise RuntimeError(f"backward: the graph through {type(ctx).op_name()} was freed "
                               f"by an earlier backward; pass retain_graph=True the first time")
        if ctx.version != now:  # some array was changed in place since this node was made
            _check_versions(ctx)
        parent_grads = ctx.backward(ctx, g)
        if _Anomaly.checker is not None:
            _Anomaly.checker.backward(ctx, parent_grads)
        if not retain_graph:
            del ctx.saved
        try:
            for parent, needs, pg in zip(ctx.parents, ctx.needs_input_grad, parent_grads,
                                         strict=True):
                if not needs or pg is None:
                    continue
                if id(parent) in grads or type(pg) is SliceGrad:
                    _add_gradient(grads, owned, parent, pg)
                else:  # the first dense contribution is kept as it is (no copy)
                    grads[id(parent)] = pg
        except (ValueError, TypeError):
            raise RuntimeError(f"backward: {type(ctx).op_name()}.backward must return a tuple "
                               f"of {len(ctx.parents)} gradients (or None), one per input, "
                               f"each of its input's shape") from None


def increment_version(tensor: Tensor, by: str) -> None:
    """Note that `tensor`'s array was changed in place, by `by` (say "SGD.step()"): backward()
    through a node made before, that relies on the array, raises instead of using the new values.
    A change through a view (a slice, a reshape) is a change of the tensor it views, too."""
    _Versions.now += 1
    node: Node = _holder(tensor)
    while True:
        node._version, node._changed_by = _Versions.now, by
        if not (isinstance(node, Function) and node.view):
            break
        node = node.parents[0]


def _holder(tensor: Tensor) -> Node:
    """Where a tensor's version stamp is kept: on the node that made it (the graph keeps nodes,
    not the tensors between them), on the leaf it is a view of, or on itself."""
    if tensor._ctx is not None:
        return tensor._ctx
    base = getattr(tensor, "_base", None)
    return tensor if base is None else base


def _check_versions(ctx: Function) -> None:
    """Raise if an array ctx's backward relies on was changed in place after ctx was made."""
    watched = [(ctx, "the output")] if ctx.uses_output else []
    if ctx.uses_inputs:
        inputs = [p if isinstance(p, Function) else _holder(p) for p in ctx.parents]
        watched += [(p, f"input {k}") for k, p in enumerate(inputs)]
    for node, what in watched:
        if getattr(node, "_version", 0) > ctx.version:
            raise RuntimeError(
                f"backward: {what} of {type(ctx).op_name()}, of shape {node.shape}, was changed "
                f"in place by {node._changed_by} after the forward pass; compute the forward "
                f"again after the change, or make the change after backward()")


def _topological_order(root: Function) -> list[Node]:
    """The nodes that lead to root through inputs that need grad (ops, and leaves that require
    grad), each after all its inputs. An explicit stack, not recursion, so a graph of any depth
    works: an unrolled sequence is far deeper than Python's recursion limit."""
    order: list[Node] = []
    visited = {id(root)}
    stack: list[tuple[Node, list[Node]]] = [(root, _inputs_to_visit(root))]
    while stack:
        node, inputs = stack[-1]  # a node stays on the stack until all its inputs are in order
        if inputs:
            parent = inputs.pop()
            if id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, _inputs_to_visit(parent)))
        else:
            stack.pop()
            order.append(node)
    return order


def _inputs_to_visit(node: Node) -> list[Node]:
    """A node's parents that need grad, last first (so `pop()` visits them in order)."""
    if isinstance(node, Tensor):
        return []
    return [p for p, needs in zip(node.parents[::-1], node.needs_input_grad[::-1], strict=True)
            if needs]


# Tensor and the Functions are one layer that meet in both directions: each operator method
# above is one line calling a Function from functions.py, and every Function makes Tensors.
# Each side needs the other only when an op runs, so this import comes last, once Tensor
# exists. It is the simplest form: binding the methods from outside instead would hide what
# `x + y` does from a reader of this class.
from tinygrad_rnn.engine import functions as F  # noqa: E402
