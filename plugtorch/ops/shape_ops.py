"""Ops that rearrange values: cat/stack, sort/argsort/topk, flip, roll, repeat/tile, tril/triu.

All run on existing primitives: cat copies each input into a narrow view of one preallocated
output; sort is the `sort` primitive; topk is sort + gather; flip and roll are index_select
with an arange-built index; repeat is a broadcast view copied; tril/triu are `where` with an
arange-built mask. Derivatives are written with frontend ops.
"""
from collections import namedtuple

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap, empty_like_meta, numel_of
from ..autograd.grad_mode import STATE
from . import _core as C
from ._decl import declare, Sample
from . import samples as S
from .._dispatch import kernel as _kernel

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "sort", "argsort",
           "topk", "flip", "fliplr", "flipud", "roll", "tile", "tril", "triu"]

#: what sort and topk return, as PyTorch's torch.return_types
SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])


# ----------------------------------------------------------------------------- cat / stack

def _tensor_list(op, tensors):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): argument 'tensors' must be a tuple or list of Tensors, not "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    return list(tensors)


def _cat_bw(n, g):
    d, sizes, dtypes = n.params
    out, start = [], 0
    for k, dt in zip(sizes, dtypes):
        if k is None:       # a skipped legacy empty tensor
            out.append(g.new_zeros((0,)).to(dt))
            continue
        gi = g.narrow(d, start, k)
        out.append(gi if gi._dtype is dt else gi.to(dt))
        start += k
    return tuple(out)


def cat(tensors, dim=0, *, axis=None):
    """Concatenate tensors along an existing dim, promoting to a common dtype.

    1-d empty tensors are skipped (PyTorch's legacy rule), whatever the others' shapes.

    Example:
        >>> import plugtorch as torch
        >>> torch.cat([torch.zeros(1, 2), torch.ones(2, 2)]).shape
        plugtorch.Size([3, 2])
    """
    dim = axis if axis is not None else dim
    ts = _tensor_list("cat", tensors)
    C.check_devices("cat", *ts)
    dt = ts[0]._dtype
    for t in ts[1:]:
        dt = D.promote_types(dt, t._dtype)
    used = [t for t in ts if t._shape != (0,)]
    if not used:
        res = empty_like_meta(ts[0], shape=(0,), dtype=dt)
        used_all = ts
    else:
        used_all = None
        ref = used[0]
        for i, t in enumerate(ts):
            if not t._shape:
                raise RuntimeError(f"cat(): zero-dimensional tensor (at position {i}) cannot be "
                                   f"concatenated")
        d = ref._wrap_dim(dim, "cat")
        for t in used:
            i = next(k for k, u in enumerate(ts) if u is t)
            if len(t._shape) != len(ref._shape):
                raise RuntimeError(f"cat(): Tensors must have same number of dimensions: got "
                                   f"{len(ref._shape)} and {len(t._shape)}")
            for k, (a, b) in enumerate(zip(ref._shape, t._shape)):
                if k != d and a != b:
                    raise RuntimeError(f"cat(): Sizes of tensors must match except in dimension "
                                       f"{d}. Expected size {a} but got size {b} for tensor "
                                       f"number {i} in the list (shapes {list(ref._shape)} and "
                                       f"{list(t._shape)} differ at dimension {k})")
        total = sum(t._shape[d] for t in used)
        shape = ref._shape[:d] + (total,) + ref._shape[d + 1:]
        res = empty_like_meta(ref, shape=shape, dtype=dt)
        start = 0
        for t in used:
            k = t._shape[d]
            if numel_of(t._shape):
                part = _wrap(res._storage, t._shape, res._stride,
                             start * res._stride[d])
                C.run("copy", part, t)
            start += k
    if C.needs_grad(*ts) and dt.kind == 2:
        d = 0 if used_all is not None else d
        sizes = [None if t._shape == (0,) and used else t._shape[d] for t in ts]
        C.record(_cat_bw, "CatBackward0", tuple(ts), res,
                 params=(d, sizes, [t._dtype for t in ts]))
    return res


concat = cat
concatenate = cat


def stack(tensors, dim=0):
    """Join equally shaped tensors along a new dim.

    Example:
        >>> import plugtorch as torch
        >>> torch.stack([torch.zeros(2), torch.ones(2)], dim=1).shape
        plugtorch.Size([2, 2])
    """
    ts = _tensor_list("stack", tensors)
    for i, t in enumerate(ts):
        if t._shape != ts[0]._shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(ts[0]._shape)} at entry 0 and {list(t._shape)} at entry "
                               f"{i}")
    d = ts[0]._wrap_dim(dim, "stack", len(ts[0]._shape) + 1)
    return cat([t.unsqueeze(d) for t in ts], d)


def hstack(tensors):
    """Concatenate along dim 1 (dim 0 for 1-d tensors)."""
    from .views import atleast_1d
    ts = [atleast_1d(t) for t in _tensor_list("hstack", tensors)]
    return cat(ts, 0 if len(ts[0]._shape) == 1 else 1)


def vstack(tensors):
    """Concatenate along dim 0, after making each tensor at least 2-d."""
    from .views import atleast_2d
    return cat([atleast_2d(t) for t in _tensor_list("vstack", tensors)], 0)


# ----------------------------------------------------------------------------- sort / topk

def _sort_bw(n, g):
    d, indices, shape = n.params
    return (g.new_zeros(shape).scatter(d, indices, g),)


def sort(input, dim=-1, descending=False, stable=False):
    """Sort along dim; returns (values, indices). NaN sorts as the largest value. The order of
    equal values is kept (every sort is stable).

    Example:
        >>> import plugtorch as torch
        >>> torch.sort(torch.tensor([3, 1, 2])).indices
        tensor([1, 2, 0])
    """
    x = input
    d = x._wrap_dim(dim, "sort")
    if not x._shape:
        values, indices = x.clone(), x.new_zeros((), dtype=D.int64)
        return SortResult(values, indices)
    values = empty_like_meta(x)
    indices = empty_like_meta(x, dtype=D.int64)
    if numel_of(x._shape):
        _kernel("sort", x)(values, indices, x, d, bool(descending), True)
    if STATE.enabled and x._rg:
        C.record(_sort_bw, "SortBackward0", (x,), values, params=(d, indices, x._shape))
    return SortResult(values, indices)


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort input along dim."""
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) entries along dim, with their indices."""
    x = input
    d = x._wrap_dim(dim, "topk")
    n = x._shape[d] if x._shape else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk(): selected index k out of range: k={k} for dimension {d} of "
                           f"size {n}")
    idx = sort(x.detach(), d, descending=largest).indices
    if x._shape:
        idx = idx.narrow(d, 0, k).contiguous()
    return TopkResult(x.gather(d, idx), idx)


# ----------------------------------------------------------------------------- flip / roll

def _arange(n, like):
    from .creation import arange
    return arange(n, device=like.device)


def flip(input, dims):
    """Reverse the order of entries along each of dims (a copy, as in PyTorch)."""
    x = input
    dims = C.wrap_dims("flip", dims, len(x._shape))
    if not x._shape:                # a 0-d tensor: dim 0 or -1 names the tensor itself
        dims = ()
    out = x
    for d in dims:
        n = x._shape[d]
        out = out.index_select(d, _arange(n, x).mul(-1).add(n - 1))
    return out.clone() if out is x else out


def fliplr(input):
    return flip(input, (1,))


def flipud(input):
    return flip(input, (0,))


def roll(input, shifts, dims=None):
    """Shift entries along dims, wrapping around; dims=None rolls the flattened tensor."""
    x = input
    if dims is None:
        if isinstance(shifts, (tuple, list)) and len(shifts) != 1:
            raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: "
                               f"{len(shifts)}, dims: 0")
        s = shifts[0] if isinstance(shifts, (tuple, list)) else shifts
        return roll(x.reshape(-1), s, 0).reshape(x._shape)
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims: {len(dims)}")
    if not x._shape:
        raise IndexError(f"roll: Dimension specified as {dims[0]} but tensor has no dimensions")
    out = x
    for s, dim in zip(shifts, dims):
        d = x._wrap_dim(dim, "roll")
        n = x._shape[d] if x._shape else 1
        if n == 0 or not x._shape:
            continue
        out = out.index_select(d, _arange(n, x).sub(int(s) % n).remainder(n))
    return out.clone() if out is x else out


# ----------------------------------------------------------------------------- repeat / tile

def repeat(self, *sizes):
    """Repeat the whole tensor sizes[i] times along dim i (leading new dims allowed).

    Example:
        >>> import plugtorch as torch
        >>> torch.tensor([1, 2]).repeat(2, 2)
        tensor([[1, 2, 1, 2],
                [1, 2, 1, 2]])
    """
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < len(self._shape):
        raise RuntimeError(f"repeat(): Number of dimensions of repeat dims ({len(sizes)}) can "
                           f"not be smaller than number of dimensions of tensor "
                           f"({len(self._shape)})")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat(): repeats must be non-negative, got {list(sizes)}")
    shape = (1,) * (len(sizes) - len(self._shape)) + self._shape
    # view as (1, n0, 1, n1, ...), broadcast to (r0, n0, r1, n1, ...), then merge pairs
    inter = tuple(v for n in shape for v in (1, n))
    big = tuple(v for r, n in zip(sizes, shape) for v in (r, n))
    out = self.reshape(inter).expand(big).contiguous()
    return out.reshape(tuple(r * n for r, n in zip(sizes, shape)))


def tile(input, dims):
    """Like repeat, with dims padded by leading 1s when shorter than input's rank."""
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    dims = (1,) * (len(input._shape) - len(dims)) + dims
    return repeat(input, dims)


# ----------------------------------------------------------------------------- tril / triu

def _tri(op, x, diagonal, lower):
    if len(x._shape) < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions")
    from .ternary import where
    r, c = x._shape[-2:]
    col_minus_row = _arange(c, x).reshape((1, c)) - _arange(r, x).reshape((r, 1))
    keep = col_minus_row <= diagonal if lower else col_minus_row >= diagonal
    return where(keep, x, C.scalar_for(0, x._dtype))


def tril(input, diagonal=0):
    """The lower triangle (j - i <= diagonal) of the last two dims; the rest is zero."""
    return _tri("tril", input, diagonal, True)


def triu(input, diagonal=0):
    """The upper triangle (j - i >= diagonal) of the last two dims; the rest is zero."""
    return _tri("triu", input, diagonal, False)




# ----------------------------------------------------------------------------- declarations

def _shapes_samples(gen):
    def samples(dtype, rng):
        return [Sample(*args, grad=grad, **kw) for args, grad, kw in gen(dtype, rng)]
    return samples


def _a(shape, dtype, rng):
    return np.asarray(S.array(shape, dtype, rng))


declare("cat", cat, ref=lambda ts, dim=0: np.concatenate(ts, axis=dim), dtypes=D.ALL,
        samples=_shapes_samples(lambda dt, rng: [
            (([_a((2, 3), dt, rng), _a((1, 3), dt, rng)],), (0,), {}),
            (([_a((2, 3), dt, rng), _a((2, 1), dt, rng), _a((2, 2), dt, rng)],), (0,),
             {"dim": 1}),
            (((_a((2, 0), dt, rng), _a((2, 2), dt, rng)),), (0,), {"dim": -1})]))
declare("stack", stack, ref=lambda ts, dim=0: np.stack(ts, axis=dim), dtypes=D.ALL,
        samples=_shapes_samples(lambda dt, rng: [
            (([_a((2, 3), dt, rng), _a((2, 3), dt, rng)],), (0,), {"dim": 1}),
            (([_a((), dt, rng), _a((), dt, rng)],), (0,), {})]))


def _sort_ref(x, dim=-1, descending=False, stable=False):
    """(values, indices) of a stable sort (the samples have no ties, except bools)."""
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    key = x if not descending else (~x if x.dtype == np.bool_ else -x.astype(np.float64))
    idx = np.argsort(key, axis=dim, kind="stable")
    return np.take_along_axis(x, idx, axis=dim), idx


def _topk_ref(x, k, dim=-1, largest=True, sorted=True):
    return tuple(np.take(r, np.arange(k), axis=dim) for r in _sort_ref(x, dim, largest))


def _perm_array(shape, dtype, rng):
    """Distinct values (no ties, so any correct sort gives the same order)."""
    n = int(np.prod(shape))
    if dtype is D.bool:
        return rng.random(shape) < 0.5
    vals = rng.permutation(n).reshape(shape) - n // 3
    if dtype is D.uint8:
        vals = vals - vals.min()
    return (vals * (0.5 if dtype.kind == 2 else 1)).astype(dtype.np)


declare("sort", sort, ref=_sort_ref, dtypes=D.ALL,
        samples=_shapes_samples(lambda dt, rng: [
            ((_perm_array((5,), dt, rng),), (0,), {}),
            ((_perm_array((3, 4), dt, rng),), (0,), {"dim": 0, "descending": True}),
            ((_perm_array((2, 3, 4), dt, rng),), (0,), {"dim": 1})]))
declare("topk", topk, ref=_topk_ref, dtypes=D.NUMERIC,
        samples=_shapes_samples(lambda dt, rng: [
            ((_perm_array((6,), dt, rng), 3), (0,), {}),
            ((_perm_array((3, 4), dt, rng), 2), (0,), {"dim": 0, "largest": False})]))
declare("flip", flip, ref=lambda x, dims: np.flip(x, dims), dtypes=D.ALL,
        samples=_shapes_samples(lambda dt, rng: [
            ((_a((2, 3, 4), dt, rng), (0, 2)), (0,), {}), ((_a((5,), dt, rng), (0,)), (0,), {})]))
declare("roll", roll, ref=lambda x, shifts, dims=None: np.roll(x, shifts, dims), dtypes=D.ALL,
        samples=_shapes_samples(lambda dt, rng: [
            ((_a((3, 4), dt, rng), 5), (0,), {}),
            ((_a((3, 4), dt, rng), (1, -1), (0, 1)), (0,), {})]))
declare("repeat", repeat, ref=lambda x, *r: np.tile(x, r), dtypes=D.ALL,
        samples=_shapes_samples(lambda dt, rng: [
            ((_a((2, 3), dt, rng), 2, 1, 3), (0,), {}), ((_a((3,), dt, rng), 2), (0,), {})]))
declare("tile", tile, ref=lambda x, r: np.tile(x, r), dtypes=D.ALL,
        samples=_shapes_samples(lambda dt, rng: [((_a((2, 3), dt, rng), (2,)), (0,), {})]))
declare("tril", tril, ref=lambda x, diagonal=0: np.tril(x, diagonal), dtypes=D.ALL,
        samples=_shapes_samples(lambda dt, rng: [
            ((_a((3, 4), dt, rng),), (0,), {}), ((_a((2, 4, 3), dt, rng), -1), (0,), {})]))
declare("triu", triu, ref=lambda x, diagonal=0: np.triu(x, diagonal), dtypes=D.ALL,
        samples=_shapes_samples(lambda dt, rng: [
            ((_a((3, 4), dt, rng),), (0,), {}), ((_a((4, 3), dt, rng), 1), (0,), {})]))
