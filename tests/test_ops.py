"""One table of ops drives every op test: forward vs a numpy reference, backward vs gradcheck
(float64, every element, random upstream weighting), and float32 staying float32.

Each entry draws its inputs with a strategy that states the domain (positive for log, away from
the kink for relu, distinct elements for max). Inputs are float arrays; integer arguments
(indices, targets, dims, conditions) travel in the keyword dict, passed to both fn and ref.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg
from tinygrad_rnn import Function, Tensor, gradcheck
from tinygrad_rnn.engine import functions as F
from tinygrad_rnn.testing import arrays, broadcastable_shapes, shapes

Case = tuple[list[np.ndarray], dict[str, Any]]


@dataclass(frozen=True)
class Op:
    name: str
    fn: Callable[..., Tensor]             # on Tensors (and the keyword arguments)
    ref: Callable[..., Any]               # the same on ndarrays, written independently in numpy
    inputs: st.SearchStrategy[Case]
    grad: bool = True                     # differentiable: checked by gradcheck


# ---- input strategies -----------------------------------------------------------------------
def unary(domain: str = "real", unique: bool = False, min_dims: int = 0) -> st.SearchStrategy:
    """One array of any shape (0-3 dims, sides 1-4) in `domain`."""
    return arrays(shapes(min_dims=min_dims), domain=domain, unique=unique).map(lambda a: ([a], {}))


def binary(domain_a: str = "real", domain_b: str = "real") -> st.SearchStrategy:
    """Two arrays whose shapes broadcast together (size-1 dims, missing leading dims)."""
    return broadcastable_shapes(2).flatmap(
        lambda s: st.tuples(arrays(s[0], domain=domain_a), arrays(s[1], domain=domain_b))
    ).map(lambda ab: (list(ab), {}))


@st.composite
def ties(draw: st.DrawFn) -> Case:
    """Two broadcastable arrays of -1, 0, 1, so that equal elements are common."""
    sa, sb = draw(broadcastable_shapes(2))
    values = st.sampled_from([-1.0, 0.0, 1.0])
    return [draw(hnp.arrays(np.float64, sa, elements=values)),
            draw(hnp.arrays(np.float64, sb, elements=values))], {}


@st.composite
def dims_of(draw: st.DrawFn, ndim: int) -> int | tuple[int, ...] | None:
    """None (all dims), one dim (maybe negative), or a tuple of distinct dims."""
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["all", "one", "several"]))
    if kind == "all":
        return None
    if kind == "one":
        return draw(st.integers(-ndim, ndim - 1))
    return tuple(draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)))


@st.composite
def reduction(draw: st.DrawFn, unique: bool = False) -> Case:
    a = draw(arrays(shapes(), unique=unique))
    return [a], {"dim": draw(dims_of(a.ndim)), "keepdim": draw(st.booleans())}


@st.composite
def variance(draw: st.DrawFn) -> Case:
    [a], kw = draw(reduction())
    axes = range(a.ndim) if kw["dim"] is None else np.atleast_1d(kw["dim"])
    count = math.prod(a.shape[d] for d in axes)
    return [a], {**kw, "unbiased": draw(st.booleans()) and count > 1}


@st.composite
def along_dim(draw: st.DrawFn, keepdim: bool = False, unique: bool = False) -> Case:
    a = draw(arrays(shapes(min_dims=1), unique=unique))
    kw = {"dim": draw(st.integers(-a.ndim, a.ndim - 1))}
    if keepdim:
        kw["keepdim"] = draw(st.booleans())
    return [a], kw


@st.composite
def pow_scalar(draw: st.DrawFn) -> Case:
    """x ** c: integer c on any real x (negative c: x away from 0), fractional c on x > 0."""
    exponent = draw(st.sampled_from([2, 3, -1, -2, 0.5, 1.5, -2.5]))
    domain = ("real" if exponent > 0 else "away_from_zero") if isinstance(exponent, int) \
        else "positive"
    return [draw(arrays(shapes(), domain=domain))], {"exponent": exponent}


@st.composite
def rpow(draw: st.DrawFn) -> Case:
    return [draw(arrays(shapes()))], {"base": draw(st.sampled_from([0.5, 2.0, math.e, 3.7]))}


@st.composite
def matmul(draw: st.DrawFn) -> Case:
    """2-D @ 2-D, batched with broadcast batch dims, and vector (1-D) operands on either side."""
    batch_a, batch_b = draw(broadcastable_shapes(2, max_dims=2, max_side=3))
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    a_shape = (k,) if draw(st.booleans()) else batch_a + (n, k)
    b_shape = (k,) if draw(st.booleans()) else batch_b + (k, m)
    return [draw(arrays(a_shape)), draw(arrays(b_shape))], {}


@st.composite
def matrix_product(draw: st.DrawFn) -> Case:
    """a (..., K) of 1-4 dims against a matrix (K, N): W itself, or W (N, K) used as W.T (the
    transposed view every Linear multiplies by)."""
    k, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lead = draw(st.lists(st.integers(1, 3), max_size=3))
    transposed = draw(st.booleans())
    w_shape = (n, k) if transposed else (k, n)
    return [draw(arrays((*lead, k))), draw(arrays(w_shape))], {"transposed": transposed}


def as_matrix(w: Any, transposed: bool) -> Any:
    """The matrix a multiplies by: w, or the transposed view w.T."""
    return w.T if transposed else w


CLIP_BOUNDS = [(-1.0, 1.0), (None, 0.5), (-0.5, None), (0.0, 2.0)]


@st.composite
def clip(draw: st.DrawFn) -> Case:
    """Elements kept at least 0.01 away from the bounds (the kinks of clip)."""
    low, high = draw(st.sampled_from(CLIP_BOUNDS))
    a = draw(arrays(shapes()))
    for bound in (low, high):
        if bound is not None:
            a = np.where(np.abs(a - bound) < 0.01, a + 0.02, a)
    return [a], {"low": low, "high": high}


@st.composite
def reshape(draw: st.DrawFn) -> Case:
    a = draw(arrays(shapes()))
    shape = draw(st.sampled_from([(-1,), (a.size,), (1, a.size), a.shape + (1,),
                                  (a.size, 1, 1), tuple(reversed(a.shape)), (1, -1)]))
    return [a], {"shape": shape}


@st.composite
def transpose(draw: st.DrawFn) -> Case:
    a = draw(arrays(shapes(min_dims=2)))
    d = st.integers(-a.ndim, a.ndim - 1)
    return [a], {"dim0": draw(d), "dim1": draw(d)}


@st.composite
def permute(draw: st.DrawFn) -> Case:
    a = draw(arrays(shapes()))
    return [a], {"dims": tuple(draw(st.permutations(range(a.ndim))))}


@st.composite
def index(draw: st.DrawFn) -> Case:
    """ints, slices (negative steps too), integer arrays (each with a repeated index), masks,
    and tuples mixing them with None and Ellipsis."""
    a = draw(arrays(shapes(min_dims=1)))
    n = a.shape[0]
    ints = st.integers(-n, n - 1)
    bounds = st.none() | st.integers(-n - 1, n + 1)
    slices = st.builds(slice, bounds, bounds, st.none() | st.sampled_from([1, 2, -1, -2]))
    repeated = st.lists(ints, min_size=1, max_size=5).map(lambda i: np.array(i + i[:1]))
    pairs = st.integers(1, 5).flatmap(lambda k: st.tuples(
        hnp.arrays(np.int64, k, elements=ints),
        hnp.arrays(np.int64, k, elements=st.integers(-a.shape[-1], a.shape[-1] - 1))))
    pairs = pairs.map(lambda ij: (np.append(ij[0], ij[0][0]), np.append(ij[1], ij[1][0])))
    kinds = [ints, slices, repeated, hnp.arrays(np.bool_, a.shape)]
    if a.ndim >= 2:
        m = a.shape[1]
        kinds += [st.tuples(slices, st.lists(st.integers(-m, m - 1), min_size=1, max_size=4)),
                  pairs,
                  st.tuples(st.just(Ellipsis), st.integers(-a.shape[-1], a.shape[-1] - 1)),
                  st.tuples(ints, st.none(), slices)]
    return [a], {"index": draw(st.one_of(kinds))}


@st.composite
def pieces(draw: st.DrawFn, same_shape: bool) -> Case:
    """2-3 arrays to join along `dim`: equal shapes (stack) or equal but along dim (cat)."""
    shape = draw(shapes(min_dims=1))
    count = draw(st.integers(1, 3))
    if same_shape:
        dim = draw(st.integers(-len(shape) - 1, len(shape)))
        return [draw(arrays(shape)) for _ in range(count)], {"dim": dim}
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    sizes = [draw(st.integers(1, 3)) for _ in range(count)]
    return [draw(arrays(shape[:dim % len(shape)] + (size,) + shape[dim % len(shape) + 1:]))
            for size in sizes], {"dim": dim}


@st.composite
def split(draw: st.DrawFn, how: str) -> Case:
    [a], kw = draw(along_dim())
    n = a.shape[kw["dim"]]
    if how == "size":
        return [a], {**kw, "size": draw(st.integers(1, n + 1))}
    if how == "sizes":
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        return [a], {**kw, "size": [hi - lo for lo, hi in zip([0] + cuts, cuts + [n], strict=True)]}
    return [a], {**kw, "chunks": draw(st.integers(1, n + 1))}


@st.composite
def where(draw: st.DrawFn) -> Case:
    sc, sa, sb = draw(broadcastable_shapes(3))
    return [draw(arrays(sa)), draw(arrays(sb))], {"cond": draw(hnp.arrays(np.bool_, sc))}


@st.composite
def embedding(draw: st.DrawFn) -> Case:
    vocab, width = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    indices = draw(hnp.arrays(np.int64, shapes(max_dims=2), elements=st.integers(0, vocab - 1)))
    return [draw(arrays((vocab, width)))], {"indices": indices}


@st.composite
def cross_entropy(draw: st.DrawFn) -> Case:
    """Logits (N, C), targets in [0, C), some replaced by ignore_index (which may be a class)."""
    n, classes = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    ignore_index = draw(st.sampled_from([-100, -1, 0]))
    target = draw(hnp.arrays(np.int64, n, elements=st.integers(0, classes - 1)))
    target = np.where(draw(hnp.arrays(np.bool_, n)), ignore_index, target)
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    if reduction == "mean" and np.all(target == ignore_index):
        reduction = "sum"  # the mean over no targets is nan (as in torch): not a gradient test
    return [draw(arrays((n, classes)))], {"target": target, "ignore_index": ignore_index,
                                          "reduction": reduction}


# ---- numpy references -----------------------------------------------------------------------
def np_split_weights(a: np.ndarray, dim: int, size: int | list[int]) -> np.ndarray:
    """a ⊙ (k + 1) where k is the piece each position along dim falls in."""
    n = a.shape[dim]
    piece = (np.arange(n) // size if isinstance(size, int)
             else np.repeat(np.arange(len(size)), size))
    shape = [1] * a.ndim
    shape[dim] = n
    return a * (piece + 1.0).reshape(shape)


def weighted_cat(parts: list[Tensor], dim: int) -> Tensor:
    """Pieces joined back with piece k scaled by k + 1, so a misplaced piece shows."""
    return tg.cat([p * (k + 1.0) for k, p in enumerate(parts)], dim)


def np_cross_entropy(z: np.ndarray, target: np.ndarray, ignore_index: int,
                     reduction: str) -> np.ndarray:
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    keep = target != ignore_index
    losses = np.array([-log_p[i, t] if k else 0.0
                       for i, (t, k) in enumerate(zip(target, keep, strict=True))])
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.sum() / keep.sum()


def np_var(a: np.ndarray, dim: Any, keepdim: bool, unbiased: bool) -> np.ndarray:
    return np.var(a, axis=dim, keepdims=keepdim, ddof=int(unbiased))


# ---- the table ------------------------------------------------------------------------------
OPS = [
    Op("add", lambda a, b: a + b, np.add, binary()),
    Op("sub", lambda a, b: a - b, np.subtract, binary()),
    Op("mul", lambda a, b: a * b, np.multiply, binary()),
    Op("div", lambda a, b: a / b, np.divide, binary("real", "away_from_zero")),
    Op("neg", lambda x: -x, np.negative, unary()),
    Op("pow", lambda a, b: a**b, np.power, binary("positive", "real")),
    Op("pow_scalar", lambda x, exponent: x**exponent, lambda a, exponent: np.power(a, exponent),
       pow_scalar()),
    Op("rpow", lambda x, base: base**x, lambda a, base: np.power(base, a), rpow()),
    Op("matmul", lambda a, b: a @ b, np.matmul, matmul()),
    Op("matmul_matrix", lambda a, w, transposed: a @ as_matrix(w, transposed),
       lambda a, w, transposed: np.matmul(a, as_matrix(w, transposed)), matrix_product()),
    Op("exp", Tensor.exp, np.exp, unary()),
    Op("log", Tensor.log, np.log, unary("positive")),
    Op("sqrt", Tensor.sqrt, np.sqrt, unary("positive")),
    Op("abs", Tensor.abs, np.abs, unary("away_from_zero")),
    Op("tanh", Tensor.tanh, np.tanh, unary()),
    Op("sigmoid", Tensor.sigmoid, lambda a: 1.0 / (1.0 + np.exp(-a)), unary()),
    Op("relu", Tensor.relu, lambda a: np.where(a > 0, a, 0.0), unary("away_from_zero")),
    Op("clip", lambda x, low, high: x.clip(low, high),
       lambda a, low, high: np.minimum(np.maximum(a, -np.inf if low is None else low),
                                       np.inf if high is None else high), clip()),
    Op("sum", lambda x, dim, keepdim: x.sum(dim, keepdim),
       lambda a, dim, keepdim: np.sum(a, axis=dim, keepdims=keepdim), reduction()),
    Op("mean", lambda x, dim, keepdim: x.mean(dim, keepdim),
       lambda a, dim, keepdim: np.mean(a, axis=dim, keepdims=keepdim), reduction()),
    Op("amax", lambda x, dim, keepdim: x.amax(dim, keepdim),
       lambda a, dim, keepdim: np.max(a, axis=dim, keepdims=keepdim), reduction(unique=True)),
    Op("amin", lambda x, dim, keepdim: x.amin(dim, keepdim),
       lambda a, dim, keepdim: np.min(a, axis=dim, keepdims=keepdim), reduction(unique=True)),
    Op("max_dim", lambda x, dim, keepdim: x.max(dim, keepdim).values,
       lambda a, dim, keepdim: np.max(a, axis=dim, keepdims=keepdim), along_dim(True, True)),
    Op("min_dim", lambda x, dim, keepdim: x.min(dim, keepdim).values,
       lambda a, dim, keepdim: np.min(a, axis=dim, keepdims=keepdim), along_dim(True, True)),
    Op("var", lambda x, dim, keepdim, unbiased: x.var(dim, keepdim, unbiased), np_var,
       variance()),
    Op("reshape", lambda x, shape: x.reshape(shape), lambda a, shape: a.reshape(shape),
       reshape()),
    Op("transpose", lambda x, dim0, dim1: x.transpose(dim0, dim1),
       lambda a, dim0, dim1: np.swapaxes(a, dim0, dim1), transpose()),
    Op("permute", lambda x, dims: x.permute(dims), lambda a, dims: np.transpose(a, dims),
       permute()),
    Op("T", lambda x: x.T, lambda a: a.T, unary()),
    Op("getitem", lambda x, index: x[index], lambda a, index: a[index], index()),
    Op("cat", lambda *xs, dim: tg.cat(list(xs), dim),
       lambda *xs, dim: np.concatenate(xs, axis=dim), pieces(same_shape=False)),
    Op("stack", lambda *xs, dim: tg.stack(list(xs), dim),
       lambda *xs, dim: np.stack(xs, axis=dim), pieces(same_shape=True)),
    Op("split", lambda x, dim, size: weighted_cat(x.split(size, dim), dim), np_split_weights,
       split("size")),
    Op("split_sizes", lambda x, dim, size: weighted_cat(x.split(size, dim), dim),
       np_split_weights, split("sizes")),
    Op("chunk", lambda x, dim, chunks: weighted_cat(x.chunk(chunks, dim), dim),
       lambda a, dim, chunks: np_split_weights(a, dim, -(-a.shape[dim] // chunks)),
       split("chunks")),
    Op("where", lambda a, b, cond: tg.where(cond, a, b),
       lambda a, b, cond: np.where(cond, a, b), where()),
    Op("softmax", lambda x, dim: x.softmax(dim),
       lambda a, dim: np.exp(a) / np.exp(a).sum(axis=dim, keepdims=True), along_dim()),
    Op("log_softmax", lambda x, dim: x.log_softmax(dim),
       lambda a, dim: a - np.log(np.exp(a).sum(axis=dim, keepdims=True)), along_dim()),
    Op("logsumexp", lambda x, dim, keepdim: x.logsumexp(dim, keepdim),
       lambda a, dim, keepdim: np.log(np.exp(a).sum(axis=dim, keepdims=keepdim)),
       along_dim(keepdim=True)),
    Op("embedding", lambda w, indices: F.Embedding.apply(w, indices=indices),
       lambda w, indices: np.eye(w.shape[0])[indices] @ w, embedding()),
    Op("cross_entropy", lambda z, **kw: F.CrossEntropy.apply(z, **kw), np_cross_entropy,
       cross_entropy()),
    Op("cast", lambda x: x.astype(np.float32), lambda a: a.astype(np.float32), unary(),
       grad=False),
    Op("lt", lambda a, b: a < b, np.less, ties(), grad=False),
    Op("le", lambda a, b: a <= b, np.less_equal, ties(), grad=False),
    Op("gt", lambda a, b: a > b, np.greater, ties(), grad=False),
    Op("ge", lambda a, b: a >= b, np.greater_equal, ties(), grad=False),
    Op("eq", lambda a, b: a == b, np.equal, ties(), grad=False),
    Op("ne", lambda a, b: a != b, np.not_equal, ties(), grad=False),
]
GRAD_OPS = [op for op in OPS if op.grad]


def ids(op: Op) -> str:
    return op.name


# ---- the three table-driven tests -----------------------------------------------------------
@pytest.mark.parametrize("op", OPS, ids=ids)
@given(data=st.data())
def test_forward_matches_numpy(op: Op, data: st.DataObject) -> None:
    inputs, kw = data.draw(op.inputs)
    out = op.fn(*[Tensor(a) for a in inputs], **kw)
    expected = np.asarray(op.ref(*inputs, **kw))
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op", GRAD_OPS, ids=ids)
@given(data=st.data())
def test_backward_matches_gradcheck(op: Op, data: st.DataObject) -> None:
    inputs, kw = data.draw(op.inputs)
    tensors = [Tensor(a, requires_grad=True) for a in inputs]
    assert gradcheck(lambda *ts: op.fn(*ts, **kw), tensors)


@pytest.mark.parametrize("op", OPS, ids=ids)
@given(data=st.data())
def test_float32_stays_float32(op: Op, data: st.DataObject) -> None:
    inputs, kw = data.draw(op.inputs)
    tensors = [Tensor(a.astype(np.float32), requires_grad=op.grad) for a in inputs]
    out = op.fn(*tensors, **kw)
    float_out = np.asarray(op.ref(*inputs, **kw)).dtype != np.bool_
    assert out.dtype == (np.float32 if float_out else np.bool_)
    if op.grad:
        out.backward(np.ones(out.shape, dtype=np.float32))
        assert all(t.grad.dtype == np.float32 for t in tensors)


@settings(max_examples=1)
@given(data=st.data())
def test_table_covers_every_primitive(data: st.DataObject) -> None:
    """Each primitive Function of functions.py is reached by some op in the table."""
    tested = {name for name in F.__all__ if name != "unbroadcast"}
    reached: set[str] = set()
    for op in OPS:
        inputs, kw = data.draw(op.inputs)
        out = op.fn(*[Tensor(a, requires_grad=True) for a in inputs], **kw)
        reached |= reached_functions(out)
    assert tested - reached == set()


def reached_functions(out: Tensor) -> set[str]:
    """The op classes in the graph behind `out` (graph parents are ops, or leaf tensors)."""
    names, stack = set(), [out._ctx]
    while stack:
        node = stack.pop()
        if isinstance(node, Function):
            names.add(type(node).__name__)
            stack.extend(node.parents)
    return names


# ---- behaviour the table cannot show --------------------------------------------------------
@pytest.mark.parametrize("values", [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, 3.0]])
def test_softmax_family_stable_at_extremes(values: list[float]) -> None:
    """No overflow at ±1e4: finite values and gradients, equal to the closed forms."""
    a = np.array(values)
    x = Tensor(a, requires_grad=True)
    shifted = a - a.max()
    log_z = a.max() + np.log(np.exp(shifted).sum())    # log Σ eᵃ without overflow, by hand
    for out, expected in [(x.sigmoid(), np.exp(-np.logaddexp(0.0, -a))),
                          (x.log_softmax(), a - log_z),
                          (x.softmax(), np.exp(a - log_z)),
                          (x.logsumexp(), log_z)]:
        np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-300)
        x.grad = None
        (out * Tensor(np.ones(out.shape))).sum().backward()
        assert np.all(np.isfinite(x.grad))


def test_cross_entropy_stable_at_extremes() -> None:
    logits = Tensor(np.array([[1e4, -1e4], [-1e4, 1e4]]), requires_grad=True)
    loss = F.CrossEntropy.apply(logits, target=np.array([1, 1]))
    assert loss.item() == pytest.approx(1e4)            # (2e4 + 0) / 2
    loss.backward()
    np.testing.assert_allclose(logits.grad, [[0.5, -0.5], [0.0, 0.0]], atol=1e-300)


def test_sigmoid_saturates_exactly() -> None:
    y = Tensor(np.array([-1e4, 1e4])).sigmoid()
    np.testing.assert_array_equal(y.data, [0.0, 1.0])


def test_cast_gradient_returns_in_the_input_dtype() -> None:
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x.astype(np.float32)
    (y * Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32))).sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


def test_cast_to_integer_leaves_the_graph() -> None:
    y = Tensor(np.array([1.5, -2.5]), requires_grad=True).astype(np.int64)
    assert y.dtype == np.int64 and not y.requires_grad


def test_embedding_padding_row_gets_no_gradient() -> None:
    w = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    F.Embedding.apply(w, indices=np.array([0, 1, 1, 2]), padding_idx=1).sum().backward()
    np.testing.assert_array_equal(w.grad, [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]])


def test_embedding_accepts_tensor_indices() -> None:
    w = Tensor(np.arange(6.0).reshape(3, 2))
    out = F.Embedding.apply(w, indices=Tensor(np.array([2, 0])))
    np.testing.assert_array_equal(out.data, [[4.0, 5.0], [0.0, 1.0]])


@pytest.mark.parametrize("n, chunks, sizes", [(5, 2, [3, 2]), (6, 4, [2, 2, 2]), (3, 5, [1, 1, 1]),
                                               (4, 1, [4])])
def test_chunk_sizes_follow_pytorch(n: int, chunks: int, sizes: list[int]) -> None:
    """torch.chunk: pieces of ceil(n / chunks), so fewer than `chunks` pieces can come back."""
    pieces = Tensor(np.arange(float(n))).chunk(chunks)
    assert [p.shape[0] for p in pieces] == sizes


def test_comparisons_record_no_graph() -> None:
    x = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    for out in (x < 0, x <= 0, x > 0, x >= 0, x == 1.0, x != 1.0):
        assert out.dtype == np.bool_ and not out.requires_grad


def test_python_scalars_keep_float32() -> None:
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    for out in (x + 1, 1 - x, x * 2.5, 2.5 / x, x**2, 2.0**x, x.mean(), x.var(), x.clip(0, 1.5)):
        assert out.dtype == np.float32


def test_integer_tensor_times_float_scalar_is_float() -> None:
    i = Tensor(np.array([1, 2, 3]))
    np.testing.assert_array_equal((i * 0.5).data, [0.5, 1.0, 1.5])
    np.testing.assert_array_equal((i / 2).data, [0.5, 1.0, 1.5])


def test_repeated_indices_add_up() -> None:
    x = Tensor(np.array([10.0, 20.0, 30.0]), requires_grad=True)
    (x[np.array([0, 2, 0, 0])] * Tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0 + 3.0 + 4.0, 0.0, 2.0])


TRICKY_BROADCASTS = [((2, 1, 3), (4, 1)), ((1, 3, 1), (2, 1, 4)), ((3,), (2, 1, 1)),
                     ((), (2, 3)), ((2, 3), (2, 1)), ((1, 1), (3, 2))]


@pytest.mark.parametrize("shapes_ab", TRICKY_BROADCASTS, ids=str)
@pytest.mark.parametrize("op", [op for op in GRAD_OPS if op.name in
                                ("add", "sub", "mul", "div", "pow")], ids=ids)
def test_binary_ops_on_tricky_broadcasts(op: Op, shapes_ab: tuple[tuple[int, ...], ...]) -> None:
    """Several stretched dims at once, on both sides: every one must be summed back."""
    rng = np.random.default_rng(0)
    a = Tensor(rng.uniform(0.5, 2.0, shapes_ab[0]), requires_grad=True)
    b = Tensor(rng.uniform(0.5, 2.0, shapes_ab[1]), requires_grad=True)
    assert gradcheck(op.fn, [a, b])
    assert gradcheck(op.fn, [b, a])
