"""Decompositions of the optional reductions, scans and nonzero (NOTE [decompositions]).

prod, amin, any and all reduce by halving: the reduced dims are moved last and flattened,
padded with the identity to a power of two, and each step combines the two halves with one
elementwise primitive (log2(n) steps, each a strided view of the previous one). argmax/argmin
mark the positions equal to the extreme and take the smallest index among them; cumsum adds
shifted copies (1, 2, 4, ... places back).
"""
from ... import _dtype as D
from ..._tensor import _wrap, contiguous_strides, host_array, numel_of
from ._helpers import (_decomposes, _new, _call, _const, _b, _cast, _not, _or, _and, _isnan,
                       _scalar)


def _view(t, shape, strides, offset=0):
    return _wrap(t._storage, tuple(shape), tuple(strides), t._offset + offset)


def _rows(x, dims, dtype):
    """x with `dims` moved last and flattened, as a new contiguous (M, R) tensor of dtype,
    and the kept shape."""
    keep = [d for d in range(len(x._shape)) if d not in dims]
    order = keep + list(dims)
    shape = [x._shape[d] for d in order]
    moved = _view(x, shape, [x._stride[d] for d in order])
    m = numel_of(tuple(x._shape[d] for d in keep))
    r = numel_of(tuple(x._shape[d] for d in dims))
    flat = _call("copy", _new(x, dtype, tuple(shape)), moved)
    return _view(flat, (m, r), (r, 1)), m, r


def _halving(out, x, dims, op, identity, dtype):
    rows, m, r = _rows(x, dims, dtype)
    p = 1
    while p < r:
        p *= 2
    cur = _call("fill", _new(out, dtype, (m, p)), identity)
    if r:
        _call("copy", _view(cur, (m, r), (p, 1)), rows)
    while p > 1:
        p //= 2
        half = _new(out, dtype, (m, p))
        op(half, _view(cur, (m, p), (2 * p, 1)), _view(cur, (m, p), (2 * p, 1), p))
        cur = half
    _call("copy", out, _view(cur, out._shape, contiguous_strides(out._shape)))


def _kernel_op(name):
    return lambda out, a, b: _call(name, out, a, b)


def _identity_min(dt):
    """The largest value of dt: the identity of minimum."""
    if dt.kind == 2:
        return float("inf")
    if dt is D.bool:
        return True
    return (1 << (8 * dt.itemsize - (1 if dt.is_signed else 0))) - 1


@_decomposes("prod")
def prod(out, x, dims):
    _halving(out, x, dims, _kernel_op("mul"), 1 if out._dtype.kind != 2 else 1.0, out._dtype)


@_decomposes("amin")
def amin(out, x, dims):
    _halving(out, x, dims, _kernel_op("minimum"), _identity_min(out._dtype), out._dtype)


@_decomposes("any")
def any_(out, x, dims):
    truth = x if x._dtype is D.bool else _not(_b("eq", x, 0.0 if x._dtype.kind == 2 else 0,
                                                  D.bool))
    _halving(out, truth, dims, lambda o, a, b: _call("where", o, a, a, b), False, D.bool)


@_decomposes("all")
def all_(out, x, dims):
    truth = x if x._dtype is D.bool else _not(_b("eq", x, 0.0 if x._dtype.kind == 2 else 0,
                                                  D.bool))
    _halving(out, truth, dims, lambda o, a, b: _call("where", o, a, b, a), True, D.bool)


def _arg(extreme):
    def decomposition(out, x, dim):
        if not x._shape:
            return _call("fill", out, 0)
        m = _call(extreme, _new(x, shape=out._shape), x, (dim,))
        mb = _view(m, x._shape, [0 if k == dim else s for k, s in enumerate(m._stride)])
        hit = _b("eq", x, mb, D.bool)
        if x._dtype.kind == 2:        # NaN is the extreme value, as PyTorch
            hit = _or(hit, _and(_isnan(x), _isnan(mb)))
        n = x._shape[dim]
        steps = _call("arange", _new(x, D.int64, (n,)), 0, 1)
        index = _view(steps, x._shape, [1 if k == dim else 0 for k in range(len(x._shape))])
        cand = _call("where", _new(x, D.int64), hit, index, _const(n, D.int64, x))
        _call("amin", out, cand, (dim,))
    return decomposition


_decomposes("argmax")(_arg("amax"))
_decomposes("argmin")(_arg("amin"))


@_decomposes("cumsum")
def cumsum(out, x, dim):
    n = x._shape[dim] if x._shape else 1
    cur = _cast(x, out._dtype) if x._dtype is not out._dtype else _call("copy", _new(x), x)
    shift = 1
    while shift < n:
        nxt = _call("copy", _new(cur), cur)
        tail_shape = list(cur._shape)
        tail_shape[dim] = n - shift
        step = cur._stride[dim] * shift
        _call("add", _view(nxt, tail_shape, nxt._stride, step),
              _view(cur, tail_shape, cur._stride, step), _view(cur, tail_shape, cur._stride))
        cur = nxt
        shift *= 2
    _call("copy", out, cur)


@_decomposes("nonzero")
def nonzero(x):
    ndim = len(x._shape)
    n = numel_of(x._shape)
    if not n:
        return _new(x, D.int64, (0, ndim))
    flat = _call("copy", _new(x), x)
    flat = _view(flat, (n,), (1,))
    mask = _cast(_not(_b("eq", flat, _scalar(0, x._dtype), D.bool)), D.int64)
    total = _call("sum", _new(mask, shape=(1,)), mask, (0,))
    count = int(host_array(total)[0])     # the output's size depends on the values
    slot = _call("cumsum", _new(mask), mask, 0)
    # true elements go to slots 0..count-1, false ones to a spare slot `count`
    slot = _call("where", _new(mask), _b("eq", mask, 1, D.bool), _b("add", slot, -1),
                 _const(count, D.int64, mask))
    positions = _call("arange", _new(mask), 0, 1)
    found = _new(mask, shape=(count + 1,))
    _call("scatter", found, 0, slot, positions, None)
    found = _view(found, (count,), (1,))
    out = _new(x, D.int64, (count, ndim))
    size = 1
    for k in range(ndim - 1, -1, -1):
        coord = _b("remainder", _b("div", found, size), x._shape[k])
        _call("copy", _view(out, (count,), (ndim,), k), coord)
        size *= x._shape[k]
    return out
