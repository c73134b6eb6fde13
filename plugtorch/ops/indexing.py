"""Indexing: `x[key]` reads and writes, gather/scatter, index_select/index_add, masked_fill,
masked_select, take, nonzero.

NOTE [indexing]
A key is parsed once (`_parse`) into a basic part -- the geometry of a view of x (ints,
slices, None, Ellipsis, Python bools) -- and an advanced part: a list of (dim of that view,
int64 index tensor) pairs, from integer tensors/lists/arrays and from bool masks (through
`nonzero`). Basic-only keys return that view (metadata only, shares memory).

Advanced indexing never moves data through the host: for the view v and its index tensors
we build, with elementwise ops, the storage position of every selected element
(`_positions`: v's offset + sum of index * stride over the advanced dims + arange * stride
over the others, laid out in the result's shape) and run the `gather` primitive on a 1-d
alias of v's storage (reads) or the `scatter` primitive into it (writes). This handles any
strides, broadcast (stride 0) views included, with one code path.

Where the advanced dims go follows PyTorch (and numpy): when the advanced dims of v are
adjacent they are replaced in place by the broadcast index shape, otherwise it comes first.
Integers are basic (select), as in PyTorch, so `x[0, :, [0, 1]]` has shape (6, 2) for a
(5, 6, 7) x.

Index checks need the index values: each index tensor costs one amin and one amax
reduction and one host read of both (`_bounds`). Masks need none (nonzero is in range).
"""
import warnings

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap, empty_like_meta, host_array, numel_of
from ..autograd.grad_mode import STATE, no_grad
from . import _core as C
from ._decl import declare, Sample
from .views import slice_view, make_view

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
           "masked_fill", "masked_select", "nonzero", "argwhere", "take", "index_put"]

_BAD_KEY = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
            "are valid indices (got {})")


# ----------------------------------------------------------------------------- index values

def _minmax(idx):
    """(min, max) of a non-empty int tensor: one amin + one amax reduction and a single host
    read of both (see NOTE [indexing]). The result is remembered on the tensor until its
    storage is written again, so a backward reusing a checked index reads nothing."""
    cached = idx.__dict__.get("_minmax_cache")
    if cached is not None and cached[0] == idx._storage.version:
        return cached[1], cached[2]
    from .reduction import reduce
    lo = reduce("amin", idx, None, True, idx._dtype)
    hi = reduce("amax", idx, None, True, idx._dtype)
    both = empty_like_meta(idx, shape=(2,), dtype=D.int64)
    one = (1,) * len(idx._shape)
    C.run("copy", _wrap(both._storage, one, one, 0), lo)
    C.run("copy", _wrap(both._storage, one, one, 1), hi)
    lo, hi = (int(v) for v in host_array(both))
    idx._minmax_cache = (idx._storage.version, lo, hi)
    return lo, hi


def _bounds(op, idx, n, dim, negative):
    """Check every value of int tensor idx against a dim of size n; return its minimum."""
    if numel_of(idx._shape) == 0:
        return 0
    lo, hi = _minmax(idx)
    low = -n if negative else 0
    bad = hi if hi >= n else (lo if lo < low else None)
    if bad is not None:
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {dim} with size {n}")
    return lo


def _index_tensor(op, idx, like, allow32=True):
    """An int64 tensor on like's device from an int tensor, list or array."""
    if not isinstance(idx, Tensor):
        arr = np.asarray(idx)
        if arr.size == 0:
            arr = arr.astype(np.int64)
        from .creation import tensor
        idx = tensor(arr, device=like.device)
    C.check_devices(op, like, idx)
    if idx._dtype is D.int64:
        return idx
    if idx._dtype is D.int32 and allow32:
        return C.cast_meta(idx, D.int64)
    raise (IndexError if op == "index" else RuntimeError)(
        f"{op}: expected an int64 index tensor, got {idx._dtype.name}" if op != "index" else
        "tensors used as indices must be long, int, byte or bool tensors")


def _wrapped(idx, n, lo):
    """idx with negative entries wrapped (only when its minimum lo says there are any)."""
    if lo >= 0:
        return idx
    from .ternary import where
    with no_grad():
        return where(idx < 0, idx + n, idx)


# ----------------------------------------------------------------------------- parsing

def _convert(item, x):
    """One key item as int, slice, None, Ellipsis, bool, ('mask', t) or ('idx', t)."""
    if item is None or item is Ellipsis or isinstance(item, slice):
        return item
    if isinstance(item, (bool, np.bool_)):
        return bool(item)
    if isinstance(item, (int, np.integer)):
        return int(item)
    if isinstance(item, (list, tuple, np.ndarray)):
        arr = np.asarray(item)
        if arr.size == 0:
            arr = arr.astype(np.int64)
        if arr.dtype.kind not in "biu":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        from .creation import tensor
        item = tensor(arr, device=x.device)
    if isinstance(item, Tensor):
        C.check_devices("index", x, item)
        dt = item._dtype
        if dt is D.uint8:
            warnings.warn("indexing with dtype plugtorch.uint8 is deprecated, use a bool "
                          "tensor instead", UserWarning, stacklevel=4)
            item, dt = C.cast_meta(item, D.bool), D.bool
        if dt is D.bool:
            return bool(item.item()) if not item._shape else ("mask", item)
        if dt.kind != 1:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        # a 0-d integer tensor selects, as a Python int does
        return int(item.item()) if not item._shape else ("idx", item)
    raise IndexError(_BAD_KEY.format(type(item).__name__))


def _parse(x, key, op="__getitem__"):
    """(view shape, stride, offset, [(view dim, int64 index tensor)]) for x[key]."""
    items = [_convert(k, x) for k in (key if isinstance(key, tuple) else (key,))]
    used = 0
    for it in items:
        if isinstance(it, tuple):
            used += len(it[1]._shape) if it[0] == "mask" else 1
        elif it is not None and it is not Ellipsis and not isinstance(it, bool):
            used += 1
    ndim = len(x._shape)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if sum(it is Ellipsis for it in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    shape, stride, advs = [], [], []
    off, d = x._offset, 0
    for it in items:
        if it is Ellipsis:
            for _ in range(ndim - used):
                shape.append(x._shape[d])
                stride.append(x._stride[d])
                d += 1
        elif it is None or isinstance(it, bool):
            shape.append(0 if it is False else 1)
            stride.append(1)
        elif isinstance(it, int):
            n = x._shape[d]
            if not -n <= it < n:
                raise IndexError(f"{op}: index {it} is out of bounds for dimension {d} with "
                                 f"size {n}")
            off += (it + n if it < 0 else it) * x._stride[d]
            d += 1
        elif isinstance(it, slice):
            n, st = x._shape[d], x._stride[d]
            if it.step is not None and it.step.__index__() <= 0:
                raise ValueError("step must be greater than zero" if it.step.__index__() < 0
                                 else "slice step cannot be zero")
            start, stop, step = it.indices(n)
            length = len(range(start, stop, step))
            shape.append(length)
            stride.append(st * step)
            off += start * st if length else 0
            d += 1
        elif it[0] == "mask":
            m = it[1]
            k = len(m._shape)
            for j in range(k):
                if m._shape[j] != x._shape[d + j]:
                    raise IndexError(f"The shape of the mask {list(m._shape)} at index {j} "
                                     f"does not match the shape of the indexed tensor "
                                     f"{list(x._shape)} at index {d + j}")
            nz = _nonzero_raw(m)
            for j in range(k):
                advs.append((len(shape), _wrap(nz._storage, (nz._shape[0],), (k,), j)))
                shape.append(x._shape[d])
                stride.append(x._stride[d])
                d += 1
        else:
            n = x._shape[d]
            idx = _index_tensor("index", it[1], x)
            lo = _bounds(op, idx, n, d, negative=True)
            advs.append((len(shape), _wrapped(idx, n, lo)))
            shape.append(n)
            stride.append(x._stride[d])
            d += 1
    for i in range(d, ndim):
        shape.append(x._shape[i])
        stride.append(x._stride[i])
    if advs:
        # beside index tensors a Python bool is one too (shape (1,) or (0,)), as in PyTorch
        from .creation import zeros
        for j, it in enumerate(items):
            if isinstance(it, bool):
                advs.append((_new_dim_position(items, j, x, used),
                             zeros(int(it), dtype=D.int64, device=x.device)))
        advs.sort(key=lambda p: p[0])
        try:
            C.broadcast_shapes(op, *(t._shape for _, t in advs))
        except RuntimeError:
            raise IndexError(f"{op}: shape mismatch: indexing tensors could not be broadcast "
                             f"together with shapes "
                             f"{', '.join(str(list(t._shape)) for _, t in advs)}") from None
    return tuple(shape), tuple(stride), off, advs


def _new_dim_position(items, j, x, used):
    """The view dim created by items[j] (a None or bool)."""
    pos = 0
    for it in items[:j]:
        if it is Ellipsis:
            pos += len(x._shape) - used
        elif isinstance(it, tuple) and it[0] == "mask":
            pos += len(it[1]._shape)
        elif not isinstance(it, int) or isinstance(it, bool):
            pos += 1
    return pos


def _view(x, shape, stride, off):
    """The basic part of a key as a (recorded) view of x, or x itself when it is all of x."""
    if (shape, stride, off) == (x._shape, x._stride, x._offset):
        return x
    return slice_view(x, shape, stride, off)


# ----------------------------------------------------------------------------- positions

def _layout(v, advs):
    """(broadcast index shape, dims of v before it, dims after it, result shape)."""
    b = C.broadcast_shapes("index", *(t._shape for _, t in advs))
    adims = [d for d, _ in advs]
    rest = [d for d in range(len(v._shape)) if d not in adims]
    if adims == list(range(adims[0], adims[0] + len(adims))):
        pre = [d for d in rest if d < adims[0]]
    else:
        pre = []
    post = [d for d in rest if d not in pre]
    res = tuple(v._shape[d] for d in pre) + b + tuple(v._shape[d] for d in post)
    return b, pre, post, res


def _positions(v, advs):
    """The storage position of every element of v[advs], shaped like the result (int64)."""
    from .creation import arange
    b, pre, post, res = _layout(v, advs)
    p, nb, rank = len(pre), len(b), len(res)
    with no_grad():
        pos = None
        for d, t in advs:
            term = t.reshape((1,) * (p + nb - len(t._shape)) + t._shape +
                             (1,) * len(post)) * v._stride[d]
            pos = term if pos is None else pos + term
        for j, d in enumerate(pre + post):
            n, st = v._shape[d], v._stride[d]
            if n == 1 or st == 0:
                continue
            at = j if j < p else j + nb
            shape = (1,) * at + (n,) + (1,) * (rank - at - 1)
            pos = pos + (arange(n, device=v.device) * st).reshape(shape)
        pos = pos + v._offset
        if pos._shape != res:
            pos = C.expand_meta(pos, res).contiguous()
    return pos, res


def _flat_storage(t):
    return _wrap(t._storage, (t._storage.numel,), (1,), 0)


def _take_raw(v, advs):
    pos, res = _positions(v, advs)
    out = empty_like_meta(v, shape=res)
    m = numel_of(res)
    if m:
        C.run("gather", _wrap(out._storage, (m,), (1,), 0), _flat_storage(v), 0,
              pos.reshape((m,)))
    return out


def _put_raw(t, advs, value, reduce=None):
    """t[advs] = value (or += with reduce='sum'), in place, no autograd."""
    pos, res = _positions(t, advs)
    m = numel_of(res)
    if not m:
        return
    if isinstance(value, Tensor):
        src = empty_like_meta(t, shape=(m,))
        C.run("copy", _wrap(src._storage, res, _contig(res), 0), C.expand_meta(value, res))
    else:
        src = C.scalar_for(value, t._dtype)
    C.run("scatter", _flat_storage(t), 0, pos.reshape((m,)), src, reduce)
    t._storage.version += 1


def _contig(shape):
    from .._tensor import contiguous_strides
    return contiguous_strides(shape)


# ----------------------------------------------------------------------------- differentiable

def _take_bw(n, g):
    shape, advs = n.params
    return (index_put(g.new_zeros(shape), advs, g, accumulate=True),)


def _take(v, advs):
    out = _take_raw(v, advs)
    if STATE.enabled and v._rg:
        C.record(_take_bw, "IndexBackward0", (v,), out, params=(v._shape, advs))
    return out


def _put_bw(n, g):
    advs, accumulate, vshape, vdtype = n.params
    gx = gv = None
    if n.edges[0] is not None:
        gx = g if accumulate else index_put(g, advs, 0, accumulate=False)
    if n.edges[1] is not None:
        gv = C.sum_to(_take(g, advs), vshape)
        gv = gv if gv._dtype is vdtype else gv.to(vdtype)
    return gx, gv


def index_put(input, indices, values, accumulate=False):
    """Out of place `input[indices] = values` (`+=` with accumulate=True).

    Args:
        input: the tensor to copy and write into.
        indices: a tuple of index tensors, one per leading dim (as in `x[i0, i1]`), or the
            parsed [(dim, index)] list used internally.
        values: a number or a tensor broadcastable to the indexed shape.
    Example:
        >>> import plugtorch as torch
        >>> torch.index_put(torch.zeros(3), (torch.tensor([0, 0]),), torch.tensor(1.),
        ...                 accumulate=True)
        tensor([2., 0., 0.])
    """
    x = input
    if isinstance(indices, tuple):
        shape, stride, off, advs = _parse(x, indices)
        assert (shape, stride, off) == (x._shape, x._stride, x._offset), "index tensors only"
    else:
        advs = indices
    res = _layout(x, advs)[3]
    vt = isinstance(values, Tensor)
    if vt:
        values = _value_for(values, res)
    out = empty_like_meta(x)
    C.run("copy", out, x)
    _put_raw(out, advs, values, "sum" if accumulate else None)
    if C.needs_grad(x, values if vt else None):
        C.record(_put_bw, "IndexPutBackward0", (x, values if vt else None), out,
                 params=(advs, accumulate, values._shape if vt else (),
                         values._dtype if vt else None))
    return out


def _value_for(value, res):
    """value with leading size-1 dims dropped, checked to broadcast to res."""
    shape = value._shape
    k = 0
    while k < len(shape) - len(res) and shape[k] == 1:
        k += 1
    if k:
        value = value.reshape(shape[k:])
    try:
        if C.broadcast_shapes("index_put_", value._shape, res) != res:
            raise RuntimeError
    except RuntimeError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(shape)} cannot be "
                           f"broadcast to indexing result of shape {list(res)}") from None
    return value


def index_put_(self, indices, values, accumulate=False):
    """In-place index_put (see index_put)."""
    C.check_inplace("index_put_", self)
    return _commit(self, index_put(self, indices, values, accumulate))


def getitem(self, key):
    """`x[key]`: basic keys give a view sharing memory with x, advanced keys a copy."""
    shape, stride, off, advs = _parse(self, key)
    if not advs:
        return slice_view(self, shape, stride, off, lambda z: getitem(z, key))
    return _take(_view(self, shape, stride, off), advs)


def setitem(self, key, value):
    """`x[key] = value`: value is a number or a tensor broadcast to the indexed shape."""
    if not isinstance(value, (Tensor, int, float, bool)):
        if isinstance(value, np.generic):
            value = value.item()
        else:
            from .creation import tensor
            value = tensor(value, dtype=self._dtype, device=self.device)
    if isinstance(value, Tensor):
        C.check_devices("index_put_", self, value)
    shape, stride, off, advs = _parse(self, key, "__setitem__")
    base = self._base
    grad = STATE.enabled and (self._rg or (base is not None and base._rg)
                              or getattr(value, "requires_grad", False))
    if grad:
        C.check_inplace("index_put_", self)
        if not isinstance(value, Tensor):
            from .creation import full
            value = full((), value, dtype=self._dtype, device=self.device)
    if grad:
        # out of place, then committed: see NOTE [in-place autograd]
        v = _view(self, shape, stride, off)
        r = index_put(v, advs, value) if advs else _value_for(value, shape)
        if v is self:
            C.commit_inplace("__setitem__", self, r)
        else:
            v.copy_(r)
        return
    if not advs:
        v = make_view(self, shape, stride, off)
        if isinstance(value, Tensor):
            v.copy_(_value_for(value, shape))
        elif numel_of(shape):
            C.run("fill", v, C.scalar_for(value, self._dtype))
            self._storage.version += 1
        return
    v = make_view(self, shape, stride, off)
    res = _layout(v, advs)[3]
    if isinstance(value, Tensor):
        value = _value_for(value, res)
        if value._storage is self._storage:
            value = value.clone()
    _put_raw(v, advs, value)


# ----------------------------------------------------------------------------- gather/scatter

def _dim(x, dim, op):
    d = x._wrap_dim(dim, op)
    return d if x._shape else 0


def _check_dim_index(op, x, dim, index, src=None):
    d = _dim(x, dim, op)
    index = _index_tensor(op, index, x)
    ni, nx = len(index._shape), len(x._shape)
    if ni != nx and not (ni <= 1 and nx <= 1):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"input tensor")
    ish = index._shape or (1,)
    xsh = x._shape or (1,)
    for k, (a, b) in enumerate(zip(ish, xsh)):
        if k != d and a > b:
            raise RuntimeError(f"{op}(): Size does not match at dimension {k} expected index "
                               f"{list(index._shape)} to be no larger than self "
                               f"{list(x._shape)} apart from dimension {d}")
    if isinstance(src, Tensor):
        ssh = src._shape or (1,)
        for k, (a, b) in enumerate(zip(ish, ssh)):
            if a > b:
                raise RuntimeError(f"{op}(): Expected index {list(index._shape)} to be no "
                                   f"larger than src {list(src._shape)} in any dimension")
    _bounds(op, index, xsh[d], d, negative=False)
    return d, index


def _narrow_to(t, shape, skip=None):
    """t (a 1-d view for 0-d t) cut to `shape` in every dim but `skip` (metadata only)."""
    sh = t._shape or (1,)
    st = t._stride or (1,)
    shape = tuple(sh[k] if k == skip else n for k, n in enumerate(shape))
    return _wrap(t._storage, shape, st, t._offset)


def _gather_bw(n, g):
    d, index, shape = n.params
    return (scatter_add(g.new_zeros(shape), d, index, g),)


def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j][k] = input[index[i][j][k]][j][k] (for dim=0), index shaped like out.

    Example:
        >>> import plugtorch as torch
        >>> torch.gather(torch.tensor([[1, 2], [3, 4]]), 1, torch.tensor([[0, 0], [1, 0]]))
        tensor([[1, 1],
                [4, 3]])
    """
    x = input
    d, index = _check_dim_index("gather", x, dim, index)
    out = empty_like_meta(x, shape=index._shape)
    if numel_of(index._shape):
        ish = index._shape or (1,)
        C.run("gather", _wrap(out._storage, ish, _contig(ish), 0), _narrow_to(x, ish, d), d,
              _narrow_to(index, ish))
    if STATE.enabled and x._rg:
        C.record(_gather_bw, "GatherBackward0", (x,), out, params=(d, index, x._shape))
    return out


_REDUCE = {None: None, "add": "sum", "sum": "sum", "multiply": "prod", "prod": "prod"}


def _scatter_bw(n, g):
    d, index, reduce, src_is_tensor, sshape = n.params
    gx = gs = None
    if n.edges[0] is not None:
        gx = g if reduce == "sum" else scatter(g, d, index, 0)
    if src_is_tensor and n.edges[1] is not None:
        gs = gather(g, d, index)
        if gs._shape != sshape:   # src larger than index: zero beyond
            gs = _pad_to(gs, sshape)
    return gx, gs


def _pad_to(g, shape):
    from .creation import zeros
    z = zeros(shape, dtype=g._dtype, device=g.device)
    region = z
    for k, n in enumerate(g._shape):
        region = region.narrow(k, 0, n)
    region.copy_(g)
    return z


def _scatter(op, x, dim, index, src, reduce):
    if reduce not in _REDUCE:
        raise RuntimeError(f"{op}(): reduce argument must be either add or multiply, got "
                           f"{reduce!r}")
    kreduce = _REDUCE[reduce]
    st = isinstance(src, Tensor)
    if st:
        C.check_devices(op, x, src)
        if src._dtype is not x._dtype:
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype, got "
                               f"{x._dtype.name} and {src._dtype.name}")
    elif not isinstance(src, (int, float, bool)):
        raise TypeError(f"{op}(): src must be a Tensor or a number, got {type(src).__name__}")
    d, index = _check_dim_index(op, x, dim, index, src)
    out = empty_like_meta(x)
    C.run("copy", out, x)
    if numel_of(index._shape):
        ish = index._shape or (1,)
        s = _narrow_to(src, ish) if st else C.scalar_for(src, x._dtype)
        C.run("scatter", _wrap(out._storage, x._shape or (1,), _contig(x._shape or (1,)), 0), d,
              _narrow_to(index, ish), s, kreduce)
    if C.needs_grad(x, src if st else None):
        if kreduce == "prod":
            raise RuntimeError(f"{op}(): the derivative for reduce='multiply' is not "
                               f"implemented")
        C.record(_scatter_bw, "ScatterBackward0", (x, src if st else None), out,
                 params=(d, index, kreduce, st, src._shape if st else None))
    return out


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """Out of place scatter: a copy of input with out[index[i][j]][j] = src[i][j] (dim=0).

    Args:
        src: a tensor (at least as large as index) or a number; `value=` is an alias.
        reduce: None, 'add' or 'multiply' to combine with the existing values.
    Example:
        >>> import plugtorch as torch
        >>> torch.zeros(3).scatter(0, torch.tensor([2, 0]), torch.tensor([5., 6.]))
        tensor([6., 0., 5.])
    """
    return _scatter("scatter", input, dim, index, value if src is None else src, reduce)


def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
    """In-place scatter (see scatter)."""
    C.check_inplace("scatter_", self)
    src = value if src is None else src
    return _commit(self, _scatter("scatter_", self, dim, index, src, reduce))


def _commit(self, result):
    """Write an out-of-place result into self (autograd aware), see NOTE [in-place autograd]."""
    if STATE.enabled and (result._rg or self._rg):
        return C.commit_inplace("", self, result)
    C.run("copy", self, result)
    self._storage.version += 1
    return self


def scatter_add(input, dim, index, src):
    """Out of place: out[index[i][j]][j] += src[i][j] (dim=0); repeated indices add up."""
    return _scatter("scatter_add", input, dim, index, src, "add")


def scatter_add_(self, dim, index, src):
    C.check_inplace("scatter_add_", self)
    return _commit(self, _scatter("scatter_add_", self, dim, index, src, "add"))


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Scatter with reduce 'sum', 'prod' or 'mean'; include_self=False ignores the old values
    at scattered positions. ('amax'/'amin' need a scatter primitive reduction that the backend
    contract does not have yet.)"""
    if reduce not in ("sum", "prod", "mean"):
        raise RuntimeError(f"scatter_reduce(): reduce argument must be one of sum, prod, mean "
                           f"(amax/amin are not supported), got {reduce!r}")
    x = input
    if not include_self:
        x = scatter(x, dim, index, 1 if reduce == "prod" else 0)
    if reduce == "mean":
        total = scatter_add(x, dim, index, src)
        ones = x.detach().new_ones(x._shape)
        base = ones if include_self else scatter(ones, dim, index, 0)
        # every position counts itself (once) unless replaced, plus what is scattered to it
        count = scatter_add(base, dim, index, ones.new_ones(index._shape))
        return total / count if x._dtype.kind == 2 else total.floor_divide(count)
    return _scatter("scatter_reduce", x, dim, index, src, "add" if reduce == "sum"
                    else "multiply")


def _expand_index(index, d, shape):
    """A 1-d index viewed as (1,..,m,..,1) and broadcast to `shape` (metadata only)."""
    m = index._shape[0] if index._shape else 1
    view = _wrap(index._storage, tuple(m if k == d else 1 for k in range(len(shape))),
                 tuple((index._stride[0] if index._shape else 1) if k == d else 0
                       for k in range(len(shape))), index._offset)
    return C.expand_meta(view, shape)


def _check_select(op, x, dim, index):
    d = _dim(x, dim, op)
    index = _index_tensor(op, index, x)
    if len(index._shape) > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got shape "
                         f"{list(index._shape)}")
    n = x._shape[d] if x._shape else 1
    _bounds(op, index, n, d, negative=False)
    return d, index


def _index_select_bw(n, g):
    d, index, shape = n.params
    return (index_add(g.new_zeros(shape), d, index, g),)


def index_select(input, dim, index):
    """The entries of input at `index` (a 1-d int tensor) along dim.

    Example:
        >>> import plugtorch as torch
        >>> torch.arange(6).reshape(2, 3).index_select(1, torch.tensor([2, 0]))
        tensor([[2, 0],
                [5, 3]])
    """
    x = input
    d, index = _check_select("index_select", x, dim, index)
    xs = x._shape or (1,)
    shape = tuple(index.numel() if k == d else n for k, n in enumerate(xs))
    out = empty_like_meta(x, shape=shape if x._shape else tuple(index._shape))
    if numel_of(shape):
        C.run("gather", _wrap(out._storage, shape, _contig(shape), 0),
              _wrap(x._storage, xs, x._stride or (1,), x._offset), d,
              _expand_index(index, d, shape))
    if STATE.enabled and x._rg:
        C.record(_index_select_bw, "IndexSelectBackward0", (x,), out,
                 params=(d, index, x._shape))
    return out


def _index_add_bw(n, g):
    d, index, alpha = n.params
    gs = g.index_select(d, index) if n.edges[1] is not None else None
    return g, (gs * alpha if alpha != 1 and gs is not None else gs)


def index_add(input, dim, index, source, *, alpha=1):
    """Out of place: out[index[i]] += alpha * source[i] along dim (repeats add up)."""
    x = input
    d, index = _check_select("index_add", x, dim, index)
    C.check_devices("index_add", x, source)
    xs = x._shape or (1,)
    shape = tuple(index.numel() if k == d else n for k, n in enumerate(xs))
    if tuple(source._shape or (1,)) != shape:
        raise RuntimeError(f"index_add(): source shape {list(source._shape)} must equal input "
                           f"shape {list(x._shape)} with dim {d} sized {index.numel()}")
    src = source if alpha == 1 else source * alpha
    out = empty_like_meta(x)
    C.run("copy", out, x)
    if numel_of(shape):
        C.run("scatter", _wrap(out._storage, xs, _contig(xs), 0), d,
              _expand_index(index, d, shape),
              C.cast_meta(_narrow_to(src, shape), x._dtype), "sum")
    if C.needs_grad(x, source):
        C.record(_index_add_bw, "IndexAddBackward0", (x, source), out, params=(d, index, alpha))
    return out


def index_add_(self, dim, index, source, *, alpha=1):
    C.check_inplace("index_add_", self)
    return _commit(self, index_add(self, dim, index, source, alpha=alpha))


# ----------------------------------------------------------------------------- masks

def _mask_value(op, x, mask, value):
    if not isinstance(mask, Tensor) or mask._dtype is not D.bool:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{getattr(mask, 'dtype', type(mask).__name__)}")
    C.check_devices(op, x, mask)
    if isinstance(value, Tensor):
        if value._shape:
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got "
                               f"tensor with {len(value._shape)} dimension(s).")
        return value if value._dtype is x._dtype else value.to(x._dtype)
    return C.scalar_for(value, x._dtype)


def masked_fill(input, mask, value):
    """input with value where mask (broadcast) is True."""
    from .ternary import where
    value = _mask_value("masked_fill", input, mask, value)
    return where(mask, value, input)


def masked_fill_(self, mask, value):
    C.check_inplace("masked_fill_", self)
    value = _mask_value("masked_fill_", self, mask, value)
    if C.broadcast_shapes("masked_fill_", self._shape, mask._shape) != self._shape:
        raise RuntimeError(f"masked_fill_: mask of shape {list(mask._shape)} does not broadcast "
                           f"to self of shape {list(self._shape)}")
    return _commit(self, masked_fill(self, mask, value))


def masked_select(input, mask):
    """The entries of input where mask (broadcast with input) is True, as a 1-d tensor."""
    _mask_value("masked_select", input, mask, 0)
    shape = C.broadcast_shapes("masked_select", input._shape, mask._shape)
    return getitem(input.expand(shape), mask.expand(shape) if shape else mask)


def _nonzero_raw(x):
    return x._storage.backend._table["nonzero"](x)


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero entries: an (n, ndim) int64 tensor, or a tuple of ndim 1-d
    tensors with as_tuple=True."""
    nz = _nonzero_raw(input)
    if not as_tuple:
        return nz
    if not input._shape:
        from .creation import zeros
        return (zeros(nz._shape[0], dtype=D.int64, device=input.device),)
    return tuple(nz[:, j].contiguous() for j in range(nz._shape[1]))


def argwhere(input):
    return nonzero(input)


def take(input, index):
    """input treated as 1-d, read at `index` (any shape; negative indices wrap)."""
    index = _index_tensor("take", index, input)
    n = input.numel()
    lo = 0
    if index.numel():
        lo, hi = _minmax(index)
        if hi >= n or lo < -n:
            raise IndexError(f"take(): out of range: tried to access index "
                             f"{hi if hi >= n else lo} on a tensor of {n} elements.")
    return _take(input.reshape(-1), [(0, _wrapped(index, n, lo))])


C.bind(("__getitem__", getitem), ("__setitem__", setitem), ("gather", gather),
       ("scatter", scatter), ("scatter_", scatter_), ("scatter_add", scatter_add),
       ("scatter_add_", scatter_add_), ("scatter_reduce", scatter_reduce),
       ("index_select", index_select), ("index_add", index_add), ("index_add_", index_add_),
       ("masked_fill", masked_fill), ("masked_fill_", masked_fill_),
       ("masked_select", masked_select), ("nonzero", nonzero), ("argwhere", argwhere),
       ("take", take), ("index_put", index_put), ("index_put_", index_put_))


# ----------------------------------------------------------------------------- declarations

def _samples(gen):
    def samples(dtype, rng):
        from . import samples as S
        return [Sample(*args, grad=grad, **kw)
                for args, grad, kw in gen(lambda s: S.array(s, dtype, rng), rng)]
    return samples


def _perm_index(rng, shape, dim, n):
    """An index of `shape` whose entries along dim are distinct values below n."""
    out = np.empty(shape, np.int64)
    moved = np.moveaxis(out, dim, -1)
    for pos in np.ndindex(moved.shape[:-1]):
        moved[pos] = rng.permutation(n)[:shape[dim]]
    return out


def _scatter_ref(x, dim, index, src):
    out = x.copy()
    coords = list(np.indices(index.shape))
    coords[dim] = index
    out[tuple(coords)] = src[tuple(slice(0, n) for n in index.shape)] if isinstance(
        src, np.ndarray) else src
    return out


def _scatter_add_ref(x, dim, index, src):
    out = x.copy()
    coords = list(np.indices(index.shape))
    coords[dim] = index
    np.add.at(out, tuple(coords), src[tuple(slice(0, n) for n in index.shape)])
    return out


def _index_add_ref(x, dim, index, src):
    out = np.moveaxis(x.copy(), dim, 0)
    np.add.at(out, index, np.moveaxis(src, dim, 0))
    return np.moveaxis(out, 0, dim)


declare("gather", gather, ref=lambda x, dim, idx: np.take_along_axis(
    x[tuple(slice(0, n) if k != dim else slice(None) for k, n in enumerate(idx.shape))], idx,
    axis=dim), dtypes=D.ALL, primitive="gather", samples=_samples(lambda a, rng: [
        ((a((3, 4)), 0, rng.integers(0, 3, (2, 4))), (0,), {}),
        ((a((3, 4)), 1, rng.integers(-0, 4, (2, 6))), (0,), {}),
        ((a((5,)), 0, rng.integers(0, 5, (7,))), (0,), {})]))
declare("scatter", scatter, ref=_scatter_ref, dtypes=D.ALL, primitive="scatter",
        samples=_samples(lambda a, rng: [
            ((a((4, 3)), 0, _perm_index(rng, (3, 3), 0, 4), a((3, 3))), (0, 3), {}),
            ((a((3, 5)), 1, _perm_index(rng, (2, 3), 1, 5), a((3, 4))), (0, 3), {}),
            ((a((4, 3)), 0, _perm_index(rng, (2, 3), 0, 4), 2), (0,), {})]))
declare("scatter_add", scatter_add, ref=_scatter_add_ref, dtypes=D.NUMERIC,
        samples=_samples(lambda a, rng: [
            ((a((4, 3)), 0, rng.integers(0, 4, (5, 3)), a((5, 3))), (0, 3), {}),
            ((a((3, 5)), 1, rng.integers(0, 5, (2, 4)), a((3, 4))), (0, 3), {})]))
declare("index_select", index_select, ref=lambda x, dim, idx: np.take(x, idx, axis=dim),
        dtypes=D.ALL, samples=_samples(lambda a, rng: [
            ((a((4, 3)), 0, rng.integers(0, 4, (6,))), (0,), {}),
            ((a((2, 5, 3)), 1, rng.integers(0, 5, (3,))), (0,), {}),
            ((a((4,)), 0, np.zeros(0, np.int64)), (0,), {})]))
declare("index_add", index_add, ref=_index_add_ref, dtypes=D.NUMERIC,
        samples=_samples(lambda a, rng: [
            ((a((4, 3)), 0, rng.integers(0, 4, (6,)), a((6, 3))), (0, 3), {}),
            ((a((2, 5)), 1, rng.integers(0, 5, (3,)), a((2, 3))), (0, 3), {})]))
declare("masked_fill", masked_fill, ref=lambda x, m, v: np.where(m, v, x), dtypes=D.ALL,
        samples=_samples(lambda a, rng: [
            ((a((3, 4)), rng.random((3, 4)) < 0.5, 1), (0,), {}),
            ((a((3, 4)), rng.random((4,)) < 0.5, 0), (0,), {})]))
declare("masked_select", masked_select, ref=lambda x, m: np.broadcast_to(
    x, np.broadcast_shapes(x.shape, m.shape))[np.broadcast_to(
        m, np.broadcast_shapes(x.shape, m.shape))], dtypes=D.ALL,
        samples=_samples(lambda a, rng: [
            ((a((3, 4)), rng.random((3, 4)) < 0.5), (0,), {}),
            ((a((3, 1)), rng.random((3, 4)) < 0.5), (0,), {})]))
declare("take", take, ref=lambda x, idx: np.take(x.reshape(-1), idx), dtypes=D.ALL,
        samples=_samples(lambda a, rng: [
            ((a((3, 4)), rng.integers(-12, 12, (2, 5))), (0,), {}),
            ((a((5,)), rng.integers(0, 5, (3,))), (0,), {})]))
declare("nonzero", nonzero, ref=lambda x: np.argwhere(x), dtypes=D.ALL, grad=False,
        primitive="nonzero", samples=_samples(lambda a, rng: [
            ((a((3, 4)),), None, {}), ((a((5,)),), None, {}), ((a((2, 0)),), None, {})]))
