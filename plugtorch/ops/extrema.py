"""Extremes over dims: amax/amin (values only), max/min (a value, or values and indices
along one dim), aminmax, argmax/argmin. The driver (`reduce`) is in `reduction`.
"""
import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, empty_like_meta
from ..autograd.grad_mode import STATE
from . import _core as C
from ._decl import declare
from .reduction import (return_types, reduce, reduce_dims, _out_shape, _squeezed,
                        _reshape_meta, _kernel_input, _unsqueeze_to, _check_nonempty,
                        _check_tensor, _np_reduce, reduction_samples, _CASES, _ONE_DIM)
from .._dispatch import kernel as _kernel

__all__ = ["amax", "amin", "max", "min", "aminmax", "argmax", "argmin"]


# ----------------------------------------------------------------------------- max, min

def _even_bw(n, g):
    """Gradient of amax/amin: split evenly among the elements equal to the result."""
    shape, dims, keepdim = n.params
    (x,) = n.inputs
    y = _unsqueeze_to(n.out().detach(), shape, dims, keepdim)
    mask = (x == y).to(g._dtype)
    g = _unsqueeze_to(g, shape, dims, keepdim)
    return (g * mask / mask.sum(dims, keepdim=True),)


def _extreme(kernel, name, x, dim, keepdim, bname):
    if (dim is None or dim == ()) and x.numel() == 0:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                           f"== 0. Specify the reduction dim with the 'dim' argument.")
    dims = reduce_dims(name, dim, len(x._shape))
    _check_nonempty(name, x, dims)
    return reduce(kernel, x, dims, keepdim, x._dtype, _even_bw, bname, save_in=True,
                  save_out=True)


def amax(input, dim=(), keepdim=False):
    """Largest value over `dim` (all dims by default). The gradient is split evenly among
    ties.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([[1., 5.], [3., 4.]]).amax(0)
        tensor([3., 5.])
    """
    _check_tensor("amax", input)
    return _extreme("amax", "amax", input, dim, keepdim, "AmaxBackward0")


def amin(input, dim=(), keepdim=False):
    """Smallest value over `dim` (all dims by default); see amax.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([[1., 5.], [3., 4.]]).amin(1)
        tensor([1., 3.])
    """
    _check_tensor("amin", input)
    return _extreme("amin", "amin", input, dim, keepdim, "AminBackward0")


def _one_dim(name, x, dim):
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}(): dim must be a single int, got {tuple(dim)!r} (amax() and "
                        f"amin() reduce over several dims)")
    return C.wrap_dims(name, dim, len(x._shape))


def _index_bw(n, g, _gi=None):
    """Gradient of max/min with dim: all of it goes to the selected index."""
    shape, d, keepdim = n.params
    (idx,) = n.inputs
    if not shape:
        return (g,)
    if not keepdim:
        g = g.unsqueeze(d)
    from .creation import arange
    pos = arange(shape[d], device=g.device).reshape([-1 if i == d else 1
                                                     for i in range(len(shape))])
    return (g * (pos == idx).to(g._dtype),)


def _values_indices(kernel, name, x, dim, keepdim, bname):
    """(values, indices) of the extreme along one dim, as max(x, dim) / min(x, dim)."""
    dims = _one_dim(name, x, dim)
    _check_nonempty(name, x, dims)
    values = reduce("amax" if kernel == "argmax" else "amin", x.detach(), dims, keepdim,
                    x._dtype)
    idx = _arg_kernel(kernel, x, dims[0])
    indices = idx if keepdim else _reshape_meta(idx, _squeezed(x._shape, dims))
    if STATE.enabled and x._rg:
        C.record(_index_bw, bname, (x,), (values, indices),
                 params=(x._shape, dims[0], keepdim), saved=(idx,))
    return getattr(return_types, name)(values, indices)


def max(input, dim=None, keepdim=False):
    """The largest value: of the whole tensor (0-d), or along `dim` as a named tuple
    `(values, indices)`; `max(a, b)` with a tensor `b` is the elementwise `maximum`.

    Args:
        input: the tensor.
        dim: int; omit it for the maximum of all elements.
        keepdim: keep `dim` with size 1.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.tensor([[1., 5.], [3., 4.]])
        >>> x.max()
        tensor(5.)
        >>> x.max(1).indices
        tensor([1, 1])
    """
    _check_tensor("max", input)
    if isinstance(dim, Tensor):
        return input.maximum(dim)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("max(): Expected reduction dim to be specified for input.numel() "
                               "== 0. Specify the reduction dim with the 'dim' argument.")
        return _extreme("amax", "max", input, None, False, "MaxBackward1")
    return _values_indices("argmax", "max", input, dim, keepdim, "MaxBackward0")


def min(input, dim=None, keepdim=False):
    """The smallest value; see max.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([[1., 5.], [3., 4.]]).min(0).values
        tensor([1., 4.])
    """
    _check_tensor("min", input)
    if isinstance(dim, Tensor):
        return input.minimum(dim)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("min(): Expected reduction dim to be specified for input.numel() "
                               "== 0. Specify the reduction dim with the 'dim' argument.")
        return _extreme("amin", "min", input, None, False, "MinBackward1")
    return _values_indices("argmin", "min", input, dim, keepdim, "MinBackward0")


def aminmax(input, *, dim=None, keepdim=False):
    """`(min, max)` over `dim` (an int, or None for all elements) as a named tuple.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([1., 5., 3.]).aminmax()
        aminmax(min=tensor(1.), max=tensor(5.))
    """
    _check_tensor("aminmax", input)
    if dim is None and input.numel() == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    dims = None if dim is None else _one_dim("aminmax", input, dim)
    return return_types.aminmax(_extreme("amin", "aminmax", input, dims, keepdim,
                                         "AminmaxBackward0"),
                                _extreme("amax", "aminmax", input, dims, keepdim,
                                         "AminmaxBackward0"))


# ----------------------------------------------------------------------------- argmax, argmin

def _arg_kernel(kernel, x, d):
    """Run argmax/argmin over dim d; the result keeps d with size 1 (int64)."""
    xin = _kernel_input(x)
    out = empty_like_meta(x, shape=_out_shape(xin._shape, (d,)), dtype=D.int64)
    _kernel(kernel, x)(out, xin, d)
    return out if x._shape else _reshape_meta(out, ())


def _arg(kernel, input, dim, keepdim):
    _check_tensor(kernel, input)
    x = input
    if x._dtype is D.bool:
        raise RuntimeError(f"{kernel}(): does not support bool input")
    if dim is None:
        if x.numel() == 0:
            raise IndexError(f"{kernel}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0.")
        out = _arg_kernel(kernel, x.detach().reshape(-1), 0)
        return _reshape_meta(out, (1,) * len(x._shape) if keepdim else ())
    dims = _one_dim(kernel, x, dim)
    _check_nonempty(kernel, x, dims)
    out = _arg_kernel(kernel, x, dims[0])
    return out if keepdim else _reshape_meta(out, _squeezed(x._shape, dims))


def argmax(input, dim=None, keepdim=False):
    """Index of the first largest value along `dim`, or in the flattened tensor when dim is
    None. NaN counts as the largest value.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([[1., 5.], [3., 4.]]).argmax()
        tensor(1)
    """
    return _arg("argmax", input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    """Index of the first smallest value; see argmax.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([[1., 5.], [3., 4.]]).argmin(1)
        tensor([0, 0])
    """
    return _arg("argmin", input, dim, keepdim)




# ----------------------------------------------------------------------------- declarations

def _ref_max(x, dim=None, keepdim=False, arg=np.argmax, val=np.max):
    if dim is None:
        return val(x)
    if x.ndim == 0:
        return x, np.int64(0)
    i = np.expand_dims(arg(x, axis=dim), dim)
    v = np.take_along_axis(x, i, axis=dim)
    return (v, i) if keepdim else (v.squeeze(dim), i.squeeze(dim))


def _ref_arg(fn):
    def ref(x, dim=None, keepdim=False):
        if dim is None:
            r = fn(x.reshape(-1))
            return np.reshape(r, (1,) * x.ndim) if keepdim else r
        if x.ndim == 0:
            return np.int64(0)
        return fn(x, axis=dim, keepdims=keepdim)
    return ref


_NO_BOOL = tuple(d for d in D.ALL if d is not D.bool)
declare("amax", amax, ref=_np_reduce(np.max), samples=reduction_samples(_CASES), dtypes=D.ALL,
        primitive="amax")
declare("amin", amin, ref=_np_reduce(np.min), samples=reduction_samples(_CASES), dtypes=D.ALL,
        primitive="amin")
declare("max", max, ref=_ref_max, samples=reduction_samples(_ONE_DIM), dtypes=D.ALL)
declare("min", min, ref=lambda x, dim=None, keepdim=False: _ref_max(x, dim, keepdim, np.argmin,
                                                                     np.min),
        samples=reduction_samples(_ONE_DIM), dtypes=D.ALL)
declare("argmax", argmax, ref=_ref_arg(np.argmax), samples=reduction_samples(_ONE_DIM, grad=False),
        dtypes=_NO_BOOL, grad=False, primitive="argmax")
declare("argmin", argmin, ref=_ref_arg(np.argmin), samples=reduction_samples(_ONE_DIM, grad=False),
        dtypes=_NO_BOOL, grad=False, primitive="argmin")
