"""plugtorch_minimal: a backend with exactly the required tier of kernels.

A template for backend authors. It keeps its data in its own storage class (`_Buffer`, a
flat numpy array that plugtorch never looks into) and implements the 24 primitives of
`plugtorch.backends.REQUIRED`; every other primitive runs through its decomposition into
these, on this backend (see NOTE [dispatch] in `plugtorch._dispatch`). So it passes the
conformance suite in strict mode: `pytest --backend minimal --strict`, with no CPU fallback.

It is written against the public contract only: `plugtorch.backends.Backend`, NOTE [backend
contract] in `plugtorch.backends.base`, and the accessors `buffer`, `shape`, `strides`,
`offset` and `dtype` of `plugtorch.backends`.

Use it:
    >>> import plugtorch, plugtorch_minimal
    >>> plugtorch.backends.register(plugtorch_minimal)
    ['minimal']
    >>> (plugtorch.ones(3, device="minimal") * 2).sum().item()
    6.0
"""
import math

import numpy as np

import plugtorch
from plugtorch.backends import Backend, buffer, dtype, hookimpl, offset, shape, strides

__all__ = ["MinimalBackend", "KERNELS", "plugtorch_register_backends"]


class _Buffer:
    """Device memory of the minimal backend: a flat numpy array kept private."""
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _view(t):
    """A numpy view of tensor `t`'s elements, following its strides and offset."""
    buf = buffer(t).array
    if not buf.size or 0 in shape(t):
        return np.empty(shape(t), buf.dtype)
    item = buf.itemsize
    return np.ndarray(shape(t), buf.dtype, buffer=buf, offset=offset(t) * item,
                      strides=tuple(s * item for s in strides(t)))


def _is_tensor(x):
    return isinstance(x, plugtorch.Tensor)


def _operands(a, b):
    # one operand of a binary primitive may be a Python scalar of the other's dtype
    dt = dtype(a).np if _is_tensor(a) else dtype(b).np
    return (_view(a) if _is_tensor(a) else np.asarray(a, dt),
            _view(b) if _is_tensor(b) else np.asarray(b, dt))


# ----------------------------------------------------------------------------- kernels
# Outputs first, then inputs (plugtorch.backends.PRIMITIVES has each signature and contract).
# The frontend already checked, broadcast and cast everything.

def _copy(out, src):
    np.copyto(_view(out), _view(src), casting="unsafe")


def _fill(out, value):
    _view(out)[...] = value


def _arange(out, start, step):
    o = _view(out)
    wide = np.float64 if o.dtype.kind == "f" else np.int64
    np.copyto(o, start + np.arange(o.shape[0], dtype=wide) * step, casting="unsafe")


def _where(out, cond, a, b):
    np.copyto(_view(out), np.where(_view(cond), _view(a), _view(b)))


def _binary(fn):
    def kernel(out, a, b):
        o = _view(out)
        x, y = _operands(a, b)
        with np.errstate(all="ignore"):
            np.copyto(o, fn(x, y, o.dtype), casting="unsafe")
    return kernel


def _divide(x, y, dt):
    return np.true_divide(x, y) if dt.kind == "f" else np.floor_divide(x, y)


def _power(x, y, dt):
    if dt.kind == "f":
        return np.power(x, y)
    x, y = x.astype(np.int64), y.astype(np.int64)
    neg = y < 0       # integer a ** -n: 1 for a == 1, +-1 for a == -1, else 0
    small = np.where((x == 1) | ((x == -1) & (y % 2 == 0)), 1, np.where(x == -1, -1, 0))
    return np.where(neg, small, np.power(x, np.where(neg, 0, y)))   # exact, wraps when cast


def _unary(fn):
    def kernel(out, x):
        with np.errstate(all="ignore"):
            np.copyto(_view(out), fn(_view(x)), casting="unsafe")
    return kernel


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sum(out, x, dims):
    o = _view(out)
    np.copyto(o, np.sum(_view(x), axis=dims, keepdims=True, dtype=o.dtype), casting="unsafe")


def _amax(out, x, dims):
    np.copyto(_view(out), np.max(_view(x), axis=dims, keepdims=True))


def _bmm(out, a, b):
    o = _view(out)
    av, bv = _view(a), _view(b)
    if o.dtype.kind != "f":
        av, bv = av.astype(np.int64), bv.astype(np.int64)   # exact integer products
    np.copyto(o, np.matmul(av, bv), casting="unsafe")


def _gather(out, src, dim, index):
    np.copyto(_view(out), np.take_along_axis(_view(src), _view(index), axis=dim))


def _scatter(out, dim, index, src, reduce):
    o, idx = _view(out), _view(index)
    coords = list(np.indices(idx.shape, sparse=True))
    coords[dim] = idx
    coords = tuple(np.broadcast_arrays(*coords))
    if _is_tensor(src):
        vals = _view(src)[tuple(slice(0, n) for n in idx.shape)]
    else:
        vals = np.full(idx.shape, src, o.dtype)
    if reduce is None:
        o[coords] = vals
    elif reduce == "sum":
        np.add.at(o, coords, vals)
    else:
        np.multiply.at(o, coords, vals)


def _sort(values, indices, x, dim, descending, stable):
    xv = _view(x)
    if not descending:
        order = np.argsort(xv, axis=dim, kind="stable")      # NaN sorts last
    elif xv.dtype == np.bool_:
        order = np.argsort(~xv, axis=dim, kind="stable")
    elif xv.dtype.kind == "f":     # NaN is the largest value: NaNs first, then -x ascending
        nan = np.isnan(xv)
        order = np.lexsort((np.where(nan, 0.0, -xv.astype(np.float64)), ~nan), axis=dim)
    else:
        order = np.argsort(-xv.astype(np.int64), axis=dim, kind="stable")
    np.copyto(_view(indices), order)
    np.copyto(_view(values), np.take_along_axis(xv, order, axis=dim))


def _uniform(out, seed, offset_):
    o = _view(out)
    o[...] = plugtorch.backends.philox_uniform(o.size, seed, offset_, o.dtype).reshape(o.shape)


KERNELS = {
    "copy": _copy, "fill": _fill, "arange": _arange, "where": _where,
    "add": _binary(lambda x, y, dt: np.add(x, y)),
    "mul": _binary(lambda x, y, dt: np.multiply(x, y)),
    "div": _binary(_divide),
    "fmod": _binary(lambda x, y, dt: np.fmod(x, y)),
    "pow": _binary(_power),
    "eq": _binary(lambda x, y, dt: np.equal(x, y)),
    "lt": _binary(lambda x, y, dt: np.less(x, y)),
    "bitwise_and": _binary(lambda x, y, dt: np.bitwise_and(x, y)),
    "atan2": _binary(lambda x, y, dt: np.arctan2(x, y)),
    "exp": _unary(np.exp), "log": _unary(np.log), "sin": _unary(np.sin), "erf": _unary(_erf),
    "sum": _sum, "amax": _amax, "bmm": _bmm, "gather": _gather, "scatter": _scatter,
    "sort": _sort, "uniform": _uniform,
}
assert set(KERNELS) == set(plugtorch.backends.REQUIRED)


class MinimalBackend(Backend):
    """A single-device host backend with its own storage and the required kernels only.

    It leaves out float16 on purpose: asking for it raises a TypeError, which the
    conformance suite reports as "unsupported".
    """
    name = "minimal"
    multi_device = False
    dtypes = frozenset(d for d in (plugtorch.bool, plugtorch.uint8, plugtorch.int8,
                                   plugtorch.int16, plugtorch.int32, plugtorch.int64,
                                   plugtorch.float32, plugtorch.float64))
    kernels = KERNELS

    def empty(self, numel, dtype, index):
        return _Buffer(np.empty(numel, dtype.np))

    def from_numpy(self, array, index):
        return _Buffer(np.array(array, copy=True).reshape(-1))

    def to_numpy(self, tensor):
        # a copy: like a real device, the minimal backend never hands out its memory
        return np.array(_view(tensor), copy=True)

    def describe(self):
        return [{"device": "minimal", "name": "numpy arrays, the required kernels only"}]


@hookimpl
def plugtorch_register_backends(register):
    register("minimal", MinimalBackend)
