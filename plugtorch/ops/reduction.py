"""Reductions over dims (int or tuple, keepdim): sum, prod, amax/amin, max/min, any/all,
argmax/argmin, mean, var/std, norm, logsumexp, cumsum."""
import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, empty_like_meta, numel_of
from ..autograd.grad_mode import STATE
from . import _core as C
from ._decl import declare
from . import samples as S

__all__ = ["sum", "mean"]


def _out_shape(shape, dims):
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _squeezed(shape, dims):
    return tuple(n for i, n in enumerate(shape) if i not in dims)


def reduce(name, x, dim, keepdim, out_dtype, bw=None, bname=None):
    """Run reduction primitive `name` over dims; out_dtype is the kernel's output dtype."""
    dims = C.wrap_dims(name, dim, len(x._shape))
    kshape = _out_shape(x._shape, dims)
    out = empty_like_meta(x, shape=kshape, dtype=out_dtype)
    x._storage.backend._table[name](out, x, dims)
    if not keepdim:
        shape = _squeezed(x._shape, dims) if x._shape else ()
        out = _reshape_meta(out, shape)
    if bw is not None and STATE.enabled and x.requires_grad:
        C.record(bw, bname, (x,), out, params=(x._shape, dims, keepdim), saved=(x,),
                 save_out=True)
    return out


def _reshape_meta(t, shape):
    from .._tensor import _wrap, contiguous_strides
    return _wrap(t._storage, shape, contiguous_strides(shape), t._offset)


def _unsqueeze_to(g, shape, dims, keepdim):
    """Bring a reduced gradient back to broadcastable form against the input."""
    if not keepdim and shape:
        g = g.reshape(_out_shape(shape, dims))
    return g


def _sum_bw(n, g):
    shape, dims, keepdim = n.params
    return (_unsqueeze_to(g, shape, dims, keepdim).expand(shape),)


def _acc_dtype(x, dtype):
    if dtype is not None:
        return D.to_dtype(dtype)
    return D.int64 if x._dtype.kind < 2 else x._dtype


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over `dim` (all dims by default); integers and bools sum as int64."""
    x = input
    odt = _acc_dtype(x, dtype)
    if odt is not x._dtype and odt.kind == 2:
        x = x.to(odt)
    return reduce("sum", x, dim, keepdim, odt, _sum_bw, "SumBackward0")


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Arithmetic mean over `dim`; floating-point inputs only."""
    x = input
    if dtype is not None:
        x = x.to(dtype)
    if x._dtype.kind != 2:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {x._dtype.name.capitalize()}")
    dims = C.wrap_dims("mean", dim, len(x._shape))
    count = numel_of(tuple(x._shape[d] for d in dims)) if x._shape else 1
    return sum(x, dim, keepdim) / count if count else sum(x, dim, keepdim) / 0.0


C.bind(("sum", sum), ("mean", mean))
