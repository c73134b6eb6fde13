"""plugtorch_minimal: the smallest backend that passes the conformance suite.

A template for backend authors. It keeps its data in its own storage class (`_Buffer`, a
flat numpy array that plugtorch never looks into), implements a handful of primitive
kernels, and leaves every other primitive to the dispatcher's CPU fallback
(see `plugtorch._dispatch`), which copies the operands to the CPU backend, runs the CPU
kernel there and copies the results back. `plugtorch coverage minimal` lists which is which.

It is deliberately written against the public contract only: `plugtorch.backends.Backend`,
NOTE [backend contract] in `plugtorch.backends.base`, and the tensor geometry fields
(`_storage`, `_shape`, `_stride`, `_offset`) that every kernel receives.

Use it:
    >>> import plugtorch, plugtorch_minimal
    >>> plugtorch.backends.register(plugtorch_minimal)
    ['minimal']
    >>> (plugtorch.ones(3, device="minimal") * 2).sum().item()
    6.0
"""
import numpy as np

import plugtorch

__all__ = ["MinimalBackend", "plugtorch_register_backends"]


class _Buffer:
    """Device memory of the minimal backend: a flat numpy array kept private."""
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _view(t):
    """A numpy view of tensor `t`'s elements, following its strides and offset."""
    buf = t._storage.data.array
    if not buf.size or 0 in t._shape:
        return np.empty(t._shape, buf.dtype)
    item = buf.itemsize
    return np.ndarray(t._shape, buf.dtype, buffer=buf, offset=t._offset * item,
                      strides=tuple(s * item for s in t._stride))


def _operand(x, dtype):
    # binary primitives may receive a Python scalar of the output's kind
    return _view(x) if isinstance(x, plugtorch.Tensor) else np.asarray(x, dtype)


# ----------------------------------------------------------------------------- kernels
# Each kernel gets outputs first, then inputs (see PRIMITIVES in plugtorch.backends.base).
# The frontend already checked, broadcast and cast everything.

def _copy(out, src):
    np.copyto(_view(out), _view(src), casting="unsafe")


def _fill(out, value):
    _view(out)[...] = value


def _unary(fn):
    def kernel(out, x):
        with np.errstate(all="ignore"):
            fn(_view(x), out=_view(out))
    return kernel


def _binary(fn):
    def kernel(out, a, b):
        o = _view(out)
        # comparisons get operands of the input dtype; the rest compute in out's dtype
        dt = a._dtype.np if isinstance(a, plugtorch.Tensor) else (
            b._dtype.np if isinstance(b, plugtorch.Tensor) else o.dtype)
        with np.errstate(all="ignore"):
            fn(_operand(a, dt), _operand(b, dt), out=o, casting="unsafe")
    return kernel


def _where(out, cond, a, b):
    np.copyto(_view(out), np.where(_view(cond), _view(a), _view(b)))


def _sum(out, x, dims):
    o = _view(out)
    np.copyto(o, np.sum(_view(x), axis=dims, keepdims=True, dtype=o.dtype), casting="unsafe")


def _bmm(out, a, b):
    o = _view(out)
    av, bv = _view(a), _view(b)
    if o.dtype.kind != "f":
        av, bv = av.astype(np.int64), bv.astype(np.int64)   # exact integer products
    np.copyto(o, np.matmul(av, bv), casting="unsafe")


def _arange(out, start, step):
    o = _view(out)
    np.copyto(o, start + np.arange(o.shape[0]) * step, casting="unsafe")


KERNELS = {
    "copy": _copy, "fill": _fill, "arange": _arange, "where": _where, "sum": _sum, "bmm": _bmm,
    "neg": _unary(np.negative), "exp": _unary(np.exp), "log": _unary(np.log),
    "add": _binary(np.add), "sub": _binary(np.subtract), "mul": _binary(np.multiply),
    "div": _binary(np.true_divide), "maximum": _binary(np.maximum),
    "eq": _binary(np.equal), "lt": _binary(np.less), "gt": _binary(np.greater),
}


class MinimalBackend(plugtorch.backends.Backend):
    """A single-device host backend with its own storage and a few kernels.

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
        return [{"device": "minimal", "name": "numpy arrays, a few kernels, CPU fallback"}]


@plugtorch.backends.hookimpl
def plugtorch_register_backends(register):
    register("minimal", MinimalBackend)
