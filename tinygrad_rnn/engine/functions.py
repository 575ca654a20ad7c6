"""The primitive ops: one `Function` each, forward and backward side by side on ndarrays.

Rules every op follows:
- `forward(ctx, *arrays, **options)` returns an ndarray; it saves what backward needs.
- `backward(ctx, grad)` returns one gradient (or None) per input, each of that input's shape.
  It never writes into `grad` (the engine may share that array).
- Every binary op sends its gradients through `unbroadcast`, which sums over the dims that
  broadcasting stretched.
Derived ops (mean, min, var, chunk, ...) are plain Tensor methods built from these.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Function, ShapeError, SliceGrad, Tensor, _Backward

__all__ = [
    "unbroadcast", "Add", "Sub", "Mul", "Div", "Neg", "Pow", "MatMul", "Exp", "Log", "Sqrt", "Abs",
    "Tanh", "Sigmoid", "Relu", "Clip", "Sum", "Max", "Reshape", "Permute", "GetItem", "Cat",
    "Stack", "Where", "Softmax", "LogSoftmax", "LogSumExp", "Embedding", "Cast", "CrossEntropy",
]

Grads = tuple[Any, ...]


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` down to `shape`: over the leading dims broadcasting added, and over the dims
    where `shape` has size 1 but `grad` does not."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    stretched = tuple(i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1)
    return grad.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)


# ---- binary ---------------------------------------------------------------------------------
class Add(Function):
    """z = a + b      dz/da = 1, dz/db = 1"""
    uses_inputs = uses_output = False  # backward needs only the shapes

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a.shape, b.shape)
        return a + b

    @staticmethod
    def backward(ctx, grad) -> Grads:
        a_shape, b_shape = ctx.saved
        da, db = ctx.needs_input_grad
        return (unbroadcast(grad, a_shape) if da else None,
                unbroadcast(grad, b_shape) if db else None)


class Sub(Function):
    """z = a - b      dz/da = 1, dz/db = -1"""
    uses_inputs = uses_output = False

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a.shape, b.shape)
        return a - b

    @staticmethod
    def backward(ctx, grad) -> Grads:
        a_shape, b_shape = ctx.saved
        da, db = ctx.needs_input_grad
        return (unbroadcast(grad, a_shape) if da else None,
                unbroadcast(-grad, b_shape) if db else None)


class Mul(Function):
    """z = a * b      dz/da = b, dz/db = a"""
    uses_output = False

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad) -> Grads:
        a, b = ctx.saved
        da, db = ctx.needs_input_grad
        return (unbroadcast(grad * b, a.shape) if da else None,
                unbroadcast(grad * a, b.shape) if db else None)


class Div(Function):
    """z = a / b      dz/da = 1/b, dz/db = -a/b²"""
    uses_output = False

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad) -> Grads:
        a, b = ctx.saved
        da, db = ctx.needs_input_grad
        return (unbroadcast(grad / b, a.shape) if da else None,
                unbroadcast(-grad * a / (b * b), b.shape) if db else None)


class Pow(Function):
    """z = a ** b     dz/da = b a^(b-1), dz/db = a^b ln a  (the ln a term only when b needs it)"""

    @staticmethod
    def forward(ctx, a, b):
        z = a**b
        ctx.save_for_backward(a, b, z)
        return z

    @staticmethod
    def backward(ctx, grad) -> Grads:
        a, b, z = ctx.saved
        da, db = ctx.needs_input_grad
        return (unbroadcast(grad * b * a ** (b - 1), a.shape) if da else None,
                unbroadcast(grad * z * np.log(a), b.shape) if db else None)


class MatMul(Function):
    """z = a @ b      dz/da = g @ bᵀ, dz/db = aᵀ @ g  (batch dims broadcast; 1-D as numpy)

    Against a matrix b (K, N), an a (..., K) of any rank is one 2-D product of its rows,
    (M, K) @ (K, N): a Linear on a whole sequence is one GEMM forward and one per gradient,
    and b's gradient sums over the rows inside its GEMM, not in a (batch, K, N) temporary."""
    uses_output = False

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: {a.shape} @ {b.shape}: both operands need at least 1 dim")
        inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if a.shape[-1] != inner_b:
            raise ShapeError(f"matmul: {a.shape} @ {b.shape}: inner dimensions "
                             f"{a.shape[-1]} != {inner_b}")
        ctx.save_for_backward(a, b)
        if a.ndim > 2 and b.ndim == 2:
            return (_rows(a) @ b).reshape(a.shape[:-1] + b.shape[1:])   # (M, K) @ (K, N)
        return a @ b

    @staticmethod
    def backward(ctx, grad) -> Grads:
        a, b = ctx.saved
        da, db = ctx.needs_input_grad
        if b.ndim == 2:  # against a matrix: (M, K) @ (K, N), M = every row of a (1 for a vector)
            a2, g2 = _rows(a), _rows(grad)                                # (M, K), (M, N)
            ga = (g2 @ b.T).reshape(a.shape) if da else None
            if not db:
                return ga, None
            if b.flags.c_contiguous:
                gb = a2.T * g2 if len(a2) == 1 else a2.T @ g2           # one row: an outer product
            else:  # b is a transposed view (W.T in x @ W.T): build (gᵀ a)ᵀ, laid out like W, so
                gb = (g2.T * a2 if len(a2) == 1 else g2.T @ a2).T      # W's gradient adds in order
            return ga, gb
        a2 = a[None, :] if a.ndim == 1 else a  # treat vectors as a row / a column
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            grad = np.expand_dims(grad, -1)
        if a.ndim == 1:
            grad = np.expand_dims(grad, -2)
        ga = unbroadcast(grad @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape) if da else None
        gb = unbroadcast(np.swapaxes(a2, -1, -2) @ grad, b2.shape).reshape(b.shape) if db else None
        return ga, gb


def _rows(x: np.ndarray) -> np.ndarray:
    """x (..., K) as the matrix of its rows (M, K); a vector is one row (a view when it can be)."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


# ---- unary ----------------------------------------------------------------------------------
class Neg(Function):
    """y = -x         dy/dx = -1"""
    uses_inputs = uses_output = False

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad) -> Grads:
        return (-grad,)


class Exp(Function):
    """y = eˣ         dy/dx = y"""
    uses_inputs = False  # backward needs only y

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad) -> Grads:
        (y,) = ctx.saved
        return (grad * y,)


class Log(Function):
    """y = ln x       dy/dx = 1/x"""
    uses_output = False

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, grad) -> Grads:
        (x,) = ctx.saved
        return (grad / x,)


class Sqrt(Function):
    """y = √x         dy/dx = 1 / (2y)"""
    uses_inputs = False

    @staticmethod
    def forward(ctx, x):
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad) -> Grads:
        (y,) = ctx.saved
        return (grad / (2.0 * y),)


class Abs(Function):
    """y = |x|        dy/dx = sign(x)  (0 at 0, as PyTorch)"""
    uses_output = False

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad) -> Grads:
        (x,) = ctx.saved
        return (grad * np.sign(x),)


class Tanh(Function):
    """y = tanh(x)    dy/dx = 1 - y²"""
    uses_inputs = False

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)  # keep the output: the derivative needs only y
        return y

    @staticmethod
    def backward(ctx, grad) -> Grads:
        (y,) = ctx.saved
        return (grad * (1.0 - y * y),)


class Sigmoid(Function):
    """y = 1 / (1 + e⁻ˣ)    dy/dx = y (1 - y)

    Accurate for any x, computed in place: for x ≪ 0, 1 + e⁻ˣ is e⁻ˣ to full precision, so tiny
    outputs keep their digits; below x ≈ −88 (float32) or −709 (float64) e⁻ˣ overflows to inf
    and y is 0, where the true value is below the smallest normal number anyway."""
    uses_inputs = False

    @staticmethod
    def forward(ctx, x):
        y = np.empty(x.shape, np.result_type(x.dtype, np.float16))  # float, even for int x
        np.negative(x, out=y)
        with np.errstate(over="ignore"):
            np.exp(y, out=y)
        y += 1.0
        np.reciprocal(y, out=y)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad) -> Grads:
        (y,) = ctx.saved
        return (grad * y * (1.0 - y),)


class Relu(Function):
    """y = max(x, 0)  dy/dx = 1 where x > 0 else 0"""
    uses_inputs = uses_output = False  # backward needs a mask made in forward

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x > 0)
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx, grad) -> Grads:
        (positive,) = ctx.saved
        return (grad * positive,)


class Clip(Function):
    """y = min(max(x, low), high)    dy/dx = 1 where low ≤ x ≤ high else 0 (as torch.clamp)"""
    uses_inputs = uses_output = False

    @staticmethod
    def forward(ctx, x, low=None, high=None):
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.save_for_backward(inside)
        return np.clip(x, low, high) if (low is not None or high is not None) else x.copy()

    @staticmethod
    def backward(ctx, grad) -> Grads:
        (inside,) = ctx.saved
        return (grad * inside,)


class Cast(Function):
    """y = x as another dtype    dy/dx = 1 (the gradient goes back in x's dtype)"""
    uses_inputs = uses_output = False

    @staticmethod
    def forward(ctx, x, dtype=None):
        ctx.save_for_backward(x.dtype)
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad) -> Grads:
        (dtype,) = ctx.saved
        return (grad.astype(dtype),)


# ---- reductions -----------------------------------------------------------------------------
def _keepdim_shape(shape: tuple[int, ...], dim: tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape a reduction over `dim` has with keepdim=True."""
    if dim is None:
        return (1,) * len(shape)
    return tuple(1 if i in dim else n for i, n in enumerate(shape))


class Sum(Function):
    """y = Σ x over dim          dy/dx = 1 (the gradient is copied back along the summed dims)"""
    uses_inputs = uses_output = False

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        ctx.save_for_backward(x.shape, dim)
        axis = dim if x.ndim else None  # dim 0 of a 0-d tensor: the tensor itself (as torch)
        return np.asarray(np.sum(x, axis=axis, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad) -> Grads:
        shape, dim = ctx.saved
        dx = np.empty(shape, grad.dtype)
        dx[...] = grad.reshape(_keepdim_shape(shape, dim))   # copied back along the summed dims
        return (dx,)


class Max(Function):
    """y = max x over dim        dy/dx = 1 at the maximum (shared equally among ties), else 0"""
    uses_inputs = uses_output = False

    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        if x.size == 0:
            raise ShapeError(f"max: {x.shape}: the maximum of an empty tensor is undefined")
        y = np.max(x, axis=dim, keepdims=True)
        is_max = x == y
        ctx.save_for_backward(is_max / is_max.sum(axis=dim, keepdims=True), dim)
        return y if keepdim else np.asarray(np.squeeze(y, axis=dim))

    @staticmethod
    def backward(ctx, grad) -> Grads:
        share, dim = ctx.saved
        return (share * grad.reshape(_keepdim_shape(share.shape, dim)),)


class LogSumExp(Function):
    """y = log Σ eˣ over dim     dy/dx = softmax(x)   (shifted by the max: never overflows)"""

    @classmethod
    def op_name(cls) -> str:
        return "logsumexp"

    @staticmethod
    def forward(ctx, x, dim=-1, keepdim=False):
        m = np.max(x, axis=dim, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        y = m + np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True))
        ctx.save_for_backward(x, y, dim)
        return y if keepdim else np.squeeze(y, axis=dim)

    @staticmethod
    def backward(ctx, grad) -> Grads:
        x, y, dim = ctx.saved
        return (np.exp(x - y) * grad.reshape(y.shape),)


class Softmax(Function):
    """y = eˣ / Σ eˣ             dy/dx · g = y ⊙ (g - Σ g ⊙ y)"""
    uses_inputs = False

    @staticmethod
    def forward(ctx, x, dim=-1):
        e = np.exp(x - np.max(x, axis=dim, keepdims=True))
        y = e / np.sum(e, axis=dim, keepdims=True)
        ctx.save_for_backward(y, dim)
        return y

    @staticmethod
    def backward(ctx, grad) -> Grads:
        y, dim = ctx.saved
        return (y * (grad - np.sum(grad * y, axis=dim, keepdims=True)),)


class LogSoftmax(Function):
    """y = x - log Σ eˣ          dy/dx · g = g - softmax(x) Σ g"""
    uses_inputs = False

    @classmethod
    def op_name(cls) -> str:
        return "log_softmax"

    @staticmethod
    def forward(ctx, x, dim=-1):
        z = x - np.max(x, axis=dim, keepdims=True)
        y = z - np.log(np.sum(np.exp(z), axis=dim, keepdims=True))
        ctx.save_for_backward(y, dim)
        return y

    @staticmethod
    def backward(ctx, grad) -> Grads:
        y, dim = ctx.saved
        return (grad - np.exp(y) * np.sum(grad, axis=dim, keepdims=True),)


# ---- shape ----------------------------------------------------------------------------------
class Reshape(Function):
    """y = x viewed with a new shape      the gradient is reshaped back"""
    uses_output, view = False, True

    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.save_for_backward(x.shape)
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad) -> Grads:
        (shape,) = ctx.saved
        return (grad.reshape(shape),)


class Permute(Function):
    """y = x with its dims reordered      the gradient is permuted back by the inverse order"""
    uses_output, view = False, True

    @staticmethod
    def forward(ctx, x, dims=()):
        inverse = [0] * len(dims)
        for position, d in enumerate(dims):
            inverse[d] = position         # the inverse permutation puts each dim back
        ctx.save_for_backward(tuple(inverse))
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad) -> Grads:
        (inverse,) = ctx.saved
        return (grad.transpose(inverse),)


def _is_basic(index: Any) -> bool:
    """True for an index of ints, slices, None and Ellipsis only (each element picked once)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis
               for p in parts)


class GetItem(Function):
    """y = x[index]   the gradient is scattered back; repeated indices add up (np.add.at).
    A basic index (ints, slices) returns a SliceGrad, added in place into the parent's gradient."""
    uses_output, view = False, True

    @staticmethod
    def forward(ctx, x, index=None):
        try:
            y = x[index]
        except IndexError as error:
            raise ShapeError(f"getitem: {x.shape}[{index!r}]: {error}") from None
        ctx.save_for_backward(x.shape, x.dtype, index)
        return y

    @staticmethod
    def backward(ctx, grad) -> Grads:
        shape, dtype, index = ctx.saved
        if _is_basic(index):  # each element picked once: the engine adds grad into that slice
            return (SliceGrad(index, grad),)
        dx = np.zeros(shape, dtype=np.result_type(dtype, grad.dtype))
        np.add.at(dx, index, grad)
        return (dx,)


class Cat(Function):
    """y = [x₁; x₂; …] along dim          each input gets its slice of the gradient"""
    uses_inputs = uses_output = False

    @staticmethod
    def forward(ctx, *xs, dim=0):
        if not xs:
            raise ShapeError("cat: needs at least one tensor")
        ctx.save_for_backward(np.cumsum([x.shape[dim] for x in xs])[:-1], dim)
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, grad) -> Grads:
        boundaries, dim = ctx.saved
        return tuple(np.split(grad, boundaries, axis=dim))


class Stack(Function):
    """y = stack(x₁, x₂, …) on a new dim  each input gets its index of the gradient"""
    uses_inputs = uses_output = False

    @staticmethod
    def forward(ctx, *xs, dim=0):
        if not xs:
            raise ShapeError("stack: needs at least one tensor")
        y = np.stack(xs, axis=dim)
        ctx.save_for_backward(dim % y.ndim, len(xs))
        return y

    @staticmethod
    def backward(ctx, grad) -> Grads:
        dim, count = ctx.saved
        lead = (slice(None),) * dim
        return tuple(grad[lead + (i,)] for i in range(count))


class Where(Function):
    """y = a where cond else b            the gradient goes to whichever was picked"""
    uses_inputs = uses_output = False

    @staticmethod
    def forward(ctx, a, b, cond=None):
        ctx.save_for_backward(cond, a.shape, b.shape)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad) -> Grads:
        cond, a_shape, b_shape = ctx.saved
        da, db = ctx.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        return (unbroadcast(np.where(cond, grad, zero), a_shape) if da else None,
                unbroadcast(np.where(cond, zero, grad), b_shape) if db else None)


def _index_array(indices: Any) -> np.ndarray:
    """Indices given as a Tensor, an ndarray or a list, as an ndarray."""
    return np.asarray(indices.data if isinstance(indices, Tensor) else indices)


class Embedding(Function):
    """y = weight[indices]  (rows looked up)  dweight = scatter-add of the gradient into the rows;
    the row `padding_idx`, if given, gets no gradient (as torch.nn.Embedding)."""
    uses_inputs = uses_output = False

    @staticmethod
    def forward(ctx, weight, indices=None, padding_idx=None):
        if weight.ndim != 2:
            raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, dim), "
                             f"got {weight.shape}")
        indices = _index_array(indices)
        if not np.issubdtype(indices.dtype, np.integer):
            raise ShapeError(f"embedding: indices must be integers, got dtype {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
            raise ShapeError(f"embedding: weight {weight.shape}: indices must lie in "
                             f"[0, {weight.shape[0]}), "
                             f"got {indices.min()}..{indices.max()}")
        ctx.save_for_backward(weight.shape, weight.dtype, indices, padding_idx)
        return weight[indices]

    @staticmethod
    def backward(ctx, grad) -> Grads:
        shape, dtype, indices, padding_idx = ctx.saved
        dweight = np.zeros(shape, dtype=np.result_type(dtype, grad.dtype))
        np.add.at(dweight, indices.ravel(), grad.reshape(-1, shape[1]))
        if padding_idx is not None:
            dweight[padding_idx] = 0
        return (dweight,)


class CrossEntropy(Function):
    """loss = -log softmax(logits)[target] over the classes (dim 1), averaged (or summed) over
    the targets ≠ ignore_index; logits (N, C) or (N, C, d1, …) with targets (N,) or (N, d1, …).

    Fused for speed and stability: dloss/dlogits = (softmax(logits) - onehot(target)) / count.
    One buffer the size of the logits holds softmax(logits) from forward to backward, which
    turns it into the gradient in place (a copy only when the graph is kept for another pass)."""
    uses_inputs = uses_output = False

    @classmethod
    def op_name(cls) -> str:
        return "cross_entropy"

    @staticmethod
    def forward(ctx, logits, target=None, ignore_index=-100, reduction="mean"):
        if logits.ndim < 2:
            raise ShapeError(f"cross_entropy: logits must be (N, C) or (N, C, d1, ...), "
                             f"got {logits.shape}")
        if reduction not in ("mean", "sum", "none"):
            raise ShapeError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', "
                             f"got {reduction!r}")
        classes = logits.shape[1]
        target = _index_array(target)
        if not np.issubdtype(target.dtype, np.integer):
            raise ShapeError(f"cross_entropy: targets must be integers, got dtype {target.dtype}")
        expected = logits.shape[:1] + logits.shape[2:]
        if target.shape != expected:
            raise ShapeError(f"cross_entropy: logits {logits.shape} need targets of shape "
                             f"{expected}, got {target.shape}")
        keep = target != ignore_index
        safe = np.where(keep, target, 0)[:, None]                          # (N, 1, d1, …)
        if keep.any() and (safe.min() < 0 or safe.max() >= classes):
            raise ShapeError(f"cross_entropy: logits {logits.shape}: targets must lie in "
                             f"[0, {classes}) (or equal ignore_index={ignore_index})")
        top = np.max(logits, axis=1, keepdims=True)                        # (N, 1, d1, …)
        p = np.subtract(logits, top)          # the one buffer: z - max, then e^(z - max), then
        np.exp(p, out=p)                      # softmax, kept for backward
        total = np.sum(p, axis=1, keepdims=True)
        p /= total
        picked = np.take_along_axis(logits, safe, axis=1) - top            # z[target] - max
        losses = np.where(keep, (np.log(total) - picked)[:, 0], 0)         # (N, d1, …)
        count = keep.sum()
        ctx.save_for_backward(p, safe, keep, count, reduction)
        if reduction == "none":
            return losses.astype(logits.dtype, copy=False)
        if reduction == "sum":
            return np.asarray(losses.sum(), dtype=logits.dtype)
        with np.errstate(invalid="ignore"):                  # count 0 gives nan, as torch
            return np.asarray(losses.sum() / count, dtype=logits.dtype)

    @staticmethod
    def backward(ctx, grad) -> Grads:
        p, safe, keep, count, reduction = ctx.saved
        dz = p.copy() if _Backward.retain_graph else p    # a kept graph needs p again
        np.put_along_axis(dz, safe, np.take_along_axis(dz, safe, axis=1) - 1, axis=1)
        if reduction == "none":
            dz *= np.expand_dims(grad * keep, 1).astype(dz.dtype, copy=False)
            return (dz,)
        dz *= (grad / count if reduction == "mean" and count else grad).astype(dz.dtype)
        if not keep.all():
            np.moveaxis(dz, 1, -1)[~keep] = 0                  # ignored targets: no gradient
        return (dz,)
