"""The kernel table: numexpr programs for the elementwise primitives (elementwise.py), numpy
for what numexpr does not do (data movement, reductions, scans, sorting, indexing, matmul)
and LAPACK through numpy for the matrix factorizations (linalg.py)."""
import numpy as np

import plugtorch
from plugtorch.backends import OPTIONAL, REQUIRED, is_tensor, new_tensor, numpy_view
from plugtorch.backends import philox_uniform

from . import elementwise, linalg

_v = numpy_view


def _copy(out, src):
    s, o = _v(src), _v(out)
    if s.dtype.kind == "f" and o.dtype.kind in "iu":
        with np.errstate(invalid="ignore"):      # NaN, inf to an integer: numpy's value, quietly
            np.copyto(o, s, casting="unsafe")
    else:
        np.copyto(o, s, casting="unsafe")


def _fill(out, value):
    _v(out).fill(value)


def _arange(out, start, step):
    o = _v(out)
    wide = np.float64 if o.dtype.kind == "f" else np.int64
    np.copyto(o, start + np.arange(o.shape[0], dtype=wide) * step, casting="unsafe")


def _reduction(fn, accumulate):
    def kernel(out, x, dims):
        o = _v(out)
        if accumulate and o.dtype == np.float16:     # float16 adds up in float32
            np.copyto(o, fn(_v(x), axis=dims, keepdims=True, dtype=np.float32),
                      casting="unsafe")
        elif accumulate:                             # in out's dtype (int64 for integer sums)
            fn(_v(x), axis=dims, keepdims=True, dtype=o.dtype, out=o)
        else:
            fn(_v(x), axis=dims, keepdims=True, out=o)
    return kernel


def _arg(fn):
    def kernel(out, x, dim):
        # numpy picks the first NaN as the extreme value, as the contract asks
        np.copyto(_v(out), fn(_v(x), axis=dim, keepdims=True), casting="unsafe")
    return kernel


def _cumsum(out, x, dim):
    o = _v(out)
    if o.dtype == np.float16:
        np.copyto(o, np.cumsum(_v(x), axis=dim, dtype=np.float32), casting="unsafe")
    else:
        np.cumsum(_v(x), axis=dim, dtype=o.dtype, out=o)


_float_pow = elementwise.binary("pow")


def _pow(out, a, b):
    o = _v(out)
    if o.dtype.kind == "f":
        return _float_pow(out, a, b)
    # integers exactly: numexpr's integer power goes through float64
    x = _v(a).astype(np.int64) if is_tensor(a) else np.int64(a)
    y = _v(b).astype(np.int64) if is_tensor(b) else np.int64(b)
    neg = y < 0       # a ** -n: 1 for a == 1, 1 or -1 for a == -1 (n even or odd), else 0
    small = np.where((x == 1) | ((x == -1) & (y % 2 == 0)), 1, np.where(x == -1, -1, 0))
    with np.errstate(all="ignore"):
        np.copyto(o, np.where(neg, small, np.power(x, np.where(neg, 0, y))), casting="unsafe")


def _bmm(out, a, b):
    o, av, bv = _v(out), _v(a), _v(b)
    if o.dtype.kind in "biu":                        # exact, wrapping like C
        np.copyto(o, np.matmul(av.astype(np.int64), bv.astype(np.int64)), casting="unsafe")
    else:
        np.matmul(av, bv, out=o)


def _gather(out, src, dim, index):
    np.copyto(_v(out), np.take_along_axis(_v(src), _v(index), axis=dim))


_SCATTER_REDUCE = {"sum": np.add, "prod": np.multiply}


def _scatter(out, dim, index, src, reduce):
    o, idx = _v(out), _v(index)
    at = list(np.indices(idx.shape, sparse=True))
    at[dim] = idx
    at = tuple(np.broadcast_arrays(*at))
    if is_tensor(src):
        values = _v(src)[tuple(slice(0, n) for n in idx.shape)]
    else:
        values = np.full(idx.shape, src, o.dtype)
    if reduce is None:
        o[at] = values
    else:
        _SCATTER_REDUCE[reduce].at(o, at, values)


def _sort(values, indices, x, dim, descending, stable):
    xv = _v(x)
    if not descending:
        order = np.argsort(xv, axis=dim, kind="stable")          # NaN sorts last
    elif xv.dtype.kind == "b":
        order = np.argsort(~xv, axis=dim, kind="stable")
    elif xv.dtype.kind == "f":     # NaN is the largest value: NaNs first, then -x ascending
        nan = np.isnan(xv)
        order = np.lexsort((np.where(nan, 0.0, -xv.astype(np.float64)), ~nan), axis=dim)
    else:
        order = np.argsort(-xv.astype(np.int64), axis=dim, kind="stable")
    np.copyto(_v(indices), order)
    np.copyto(_v(values), np.take_along_axis(xv, order, axis=dim))


def _nonzero(x):
    xv = _v(x)
    found = np.argwhere(xv) if xv.ndim else np.zeros((int(bool(xv)), 0), np.int64)
    out = new_tensor(x, shape=found.shape, dtype=plugtorch.int64)
    np.copyto(_v(out), found)
    return out


def _uniform(out, seed, offset):
    o = _v(out)
    o[...] = philox_uniform(o.size, seed, offset, o.dtype).reshape(o.shape)


KERNELS = {
    **elementwise.KERNELS,
    "copy": _copy, "fill": _fill, "arange": _arange, "pow": _pow,
    "sum": _reduction(np.sum, True), "prod": _reduction(np.prod, True),
    "amax": _reduction(np.max, False), "amin": _reduction(np.min, False),
    "any": _reduction(np.any, False), "all": _reduction(np.all, False),
    "argmax": _arg(np.argmax), "argmin": _arg(np.argmin), "cumsum": _cumsum,
    "bmm": _bmm, "gather": _gather, "scatter": _scatter, "sort": _sort, "nonzero": _nonzero,
    "uniform": _uniform,
    **linalg.KERNELS,
}
_MISSING = (set(REQUIRED) | set(OPTIONAL)) - set(KERNELS)
assert not _MISSING, _MISSING
