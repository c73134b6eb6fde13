"""Indexing: `x[key]` reads and writes (`__getitem__`, `__setitem__`) and index_put.
gather/scatter/index_select/index_add/take live in gather_scatter.py, masked ops and nonzero
in masked.py; both use the index helpers defined here (`_bounds`, `_minmax`, `_index_tensor`).

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

from .. import _capture
from .. import _dtype as D
from .._tensor import Tensor, _wrap, empty_like_meta, host_array, numel_of
from ..autograd.grad_mode import STATE, no_grad
from . import _core as C
from ._decl import Sample
from .views import make_view
from .slicing import slice_view
from .._dispatch import kernel as _kernel

__all__ = ["index_put"]

_BAD_KEY = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
            "are valid indices (got {})")


# ----------------------------------------------------------------------------- index values

def _minmax(idx):
    """(min, max) of a non-empty int tensor: one amin + one amax reduction and a single host
    read of both (see NOTE [indexing]). The result is remembered on the tensor until its
    storage is written again, so a backward reusing a checked index reads nothing.

    Host memory (cpu) is never cached: numpy arrays sharing it (`from_numpy`, `.numpy()`,
    DLPack) can change it without a version bump, so its range is read from it each time,
    which costs no more than one numpy min and max."""
    if idx._storage.backend.host_memory:
        values = host_array(idx)
        return int(values.min()), int(values.max())
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
    _raise_if_out(op, lo, hi, n, dim, negative)
    return lo


def _raise_if_out(op, lo, hi, n, dim, negative, error=IndexError):
    low = -n if negative else 0
    bad = hi if hi >= n else (lo if lo < low else None)
    if bad is not None:
        raise error(f"{op}: index {bad} is out of bounds for dimension {dim} with size {n}")


def checked(op, idx, n, dim, negative, raise_out=None):
    """idx made safe for a kernel: range-checked against a dim of size n (negative entries
    wrapped when allowed). On a device whose range for idx is not known on the host, the
    check is deferred to the next host read and the kernel gets a clamped index
    (NOTE [deferred index checks] in plugtorch/_deferred.py)."""
    raise_out = raise_out or (lambda lo, hi: _raise_if_out(op, lo, hi, n, dim, negative))
    if numel_of(idx._shape) == 0:
        return idx
    if n == 0:
        # no value is in range for an empty dim, and no clamped index would be either (a
        # kernel would touch memory outside the tensor): raise now, on every backend
        lo, hi = _minmax(idx)
        raise_out(lo, hi)
        raise IndexError(f"{op}: index {hi} is out of bounds for dimension {dim} with size 0")
    st = idx._storage
    cached = idx.__dict__.get("_minmax_cache")
    if _capture.ACTIVE is not None:
        # NOTE [step capture]: the values are a replay's, unknown now: check in the trace
        cached = known = None
    elif st.backend.host_memory or (cached is not None and cached[0] == st.version):
        lo, hi = _minmax(idx)
        raise_out(lo, hi)
        return _wrapped(idx, n, lo)
    else:
        known = st.range if st.range is not None and st.range[0] == st.version else None
    if known is not None:
        _, lo, hi = known
        if numel_of(idx._shape) == st.numel and idx.is_contiguous():
            raise_out(lo, hi)              # idx is all of its storage: its exact range
            return _wrapped(idx, n, lo)
        if (-n if negative else 0) <= lo and hi < n:
            return _wrapped(idx, n, lo)    # every value of the storage is in range
    from .reduction import reduce
    from .ternary import where
    with no_grad():
        lo = reduce("amin", idx, None, True, idx._dtype)
        hi = reduce("amax", idx, None, True, idx._dtype)
        both = empty_like_meta(idx, shape=(2,), dtype=D.int64)
        one = (1,) * len(idx._shape)
        C.run("copy", _wrap(both._storage, one, one, 0), lo)
        C.run("copy", _wrap(both._storage, one, one, 1), hi)
        C.check_values(both, lambda v: raise_out(int(v[0]), int(v[1])))
        safe = where(idx < 0, idx + n, idx) if negative else idx
        return safe.clamp(0, n - 1)


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
    """(view shape, stride, offset, [(view dim, int64 index tensor)], geometry) for x[key].

    The first three describe the basic part of the key as a view of x; `geometry` is the same
    view in terms of x's dims (see `_geometry`), so it can be made again of any tensor shaped
    like x -- what backward does for an input that overlaps itself (an expanded one)."""
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
    shape, src, advs = [], [], []     # src: per view dim, (dim of x or None, step)
    starts, d = {}, 0                  # dim of x -> first index taken
    for it in items:
        if it is Ellipsis:
            for _ in range(ndim - used):
                shape.append(x._shape[d])
                src.append((d, 1))
                d += 1
        elif it is None or isinstance(it, bool):
            shape.append(0 if it is False else 1)
            src.append((None, 0))
        elif isinstance(it, int):
            n = x._shape[d]
            if not -n <= it < n:
                raise IndexError(f"{op}: index {it} is out of bounds for dimension {d} with "
                                 f"size {n}")
            starts[d] = it + n if it < 0 else it
            d += 1
        elif isinstance(it, slice):
            n = x._shape[d]
            if it.step is not None and it.step.__index__() <= 0:
                raise ValueError("step must be greater than zero" if it.step.__index__() < 0
                                 else "slice step cannot be zero")
            start, stop, step = it.indices(n)
            length = len(range(start, stop, step))
            shape.append(length)
            src.append((d, step))
            starts[d] = start if length else 0
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
                src.append((d, 1))
                d += 1
        else:
            n = x._shape[d]
            idx = _index_tensor("index", it[1], x)
            advs.append((len(shape), checked(op, idx, n, d, negative=True)))
            shape.append(n)
            src.append((d, 1))
            d += 1
    for i in range(d, ndim):
        shape.append(x._shape[i])
        src.append((i, 1))
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
    geometry = (tuple(shape), tuple(src), tuple(starts.items()))
    return geometry[0], *_geometry(x, geometry), advs, geometry


def _geometry(z, geometry):
    """(strides, offset) of the view `geometry` (from `_parse`) of a tensor z shaped like the
    indexed one."""
    _, src, starts = geometry
    stride = tuple(1 if d is None else z._stride[d] * step for d, step in src)
    return stride, z._offset + sum(i * z._stride[d] for d, i in starts)


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


def _view(x, geometry):
    """The basic part of a key as a (recorded) view of x, or x itself when it is all of x."""
    shape = geometry[0]
    stride, off = _geometry(x, geometry)
    if (shape, stride, off) == (x._shape, x._stride, x._offset):
        return x
    return slice_view(x, shape, stride, off, lambda z: _view(z, geometry))


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
        shape, stride, off, advs, _ = _parse(x, indices)
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
    C.check_inplace("index_put_", self, same_value=True)
    return _commit(self, index_put(self, indices, values, accumulate))


def getitem(self, key):
    """`x[key]`: basic keys give a view sharing memory with x, advanced keys a copy."""
    shape, stride, off, advs, geometry = _parse(self, key)
    if not advs:
        return slice_view(self, shape, stride, off, lambda z: getitem(z, key))
    return _take(_view(self, geometry), advs)


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
    shape, stride, off, advs, geometry = _parse(self, key, "__setitem__")
    base = self._base
    grad = STATE.enabled and (self._rg or (base is not None and base._rg)
                              or getattr(value, "requires_grad", False))
    if grad:
        C.check_inplace("index_put_", self, same_value=True)
        if not isinstance(value, Tensor):
            from .creation import full
            value = full((), value, dtype=self._dtype, device=self.device)
    if grad:
        # out of place, then committed: see NOTE [in-place autograd]
        v = _view(self, geometry)
        r = index_put(v, advs, value) if advs else _value_for(value, shape)
        if v is self:
            C.commit_inplace("__setitem__", self, r, overwrites=not advs)
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


# ----------------------------------------------------------------------------- shared helpers

def _commit(self, result):
    """Write an out-of-place result into self (autograd aware), see NOTE [in-place autograd]."""
    if STATE.enabled and (result._rg or self._rg):
        return C.commit_inplace("", self, result)
    C.run("copy", self, result)
    self._storage.version += 1
    return self


def _nonzero_raw(x):
    return _kernel("nonzero", x)(x)




# ----------------------------------------------------------------------------- declarations

def _samples(gen):
    def samples(dtype, rng):
        from . import samples as S
        return [Sample(*args, grad=grad, **kw)
                for args, grad, kw in gen(lambda s: S.array(s, dtype, rng), rng)]
    return samples
