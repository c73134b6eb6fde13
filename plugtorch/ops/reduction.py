"""Reductions over dims (int or tuple, keepdim) on the backend's reduction primitives:
sum, mean, prod, amax/amin, max/min, aminmax, argmax/argmin, all/any, cumsum, count_nonzero.

Statistics built from these (var, std, norm, logsumexp) live in `composite`.
"""
from collections import namedtuple

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap, contiguous_strides, empty_like_meta, numel_of
from ..autograd.grad_mode import STATE
from . import _core as C
from ._decl import declare
from . import samples as S

__all__ = ["sum", "mean", "prod", "amax", "amin", "max", "min", "aminmax", "argmax", "argmin",
           "all", "any", "cumsum", "count_nonzero"]


class return_types:
    """Named tuples returned by reductions that give values and indices (as PyTorch's
    `torch.return_types`)."""
    max = namedtuple("max", ["values", "indices"])
    min = namedtuple("min", ["values", "indices"])
    aminmax = namedtuple("aminmax", ["min", "max"])


# ----------------------------------------------------------------------------- the driver

def _out_shape(shape, dims):
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _squeezed(shape, dims):
    return tuple(n for i, n in enumerate(shape) if i not in dims)


_ALL_DIMS = [tuple(range(n)) for n in range(9)]


def reduce_dims(name, dim, ndim):
    """Sorted non-negative dims; None and () both mean every dim, as in PyTorch."""
    if dim is None and ndim < 9:
        return _ALL_DIMS[ndim]
    if isinstance(dim, (tuple, list)) and not dim:
        dim = None
    return C.wrap_dims(name, dim, ndim)


def _reshape_meta(t, shape):
    return _wrap(t._storage, shape, contiguous_strides(shape), t._offset)


def _kernel_input(x):
    """Kernels never see a 0-d input: it is reduced as shape (1,) over dim 0."""
    return x if x._shape else _wrap(x._storage, (1,), (1,), x._offset)


def reduce(name, x, dim, keepdim, out_dtype, bw=None, bname=None, save_in=False,
           save_out=False):
    """Run reduction primitive `name` over `dim`; out_dtype is the kernel's output dtype.

    The node's params are (input shape, dims, keepdim); derivatives bring a gradient back to
    the input's rank with `_unsqueeze_to`.
    """
    dims = reduce_dims(name, dim, len(x._shape))
    xin = _kernel_input(x)
    kshape = _out_shape(xin._shape, dims)
    out = empty_like_meta(x, shape=kshape, dtype=out_dtype)
    x._storage.backend._table[name](out, xin, dims)
    shape = _out_shape(x._shape, dims) if keepdim else _squeezed(x._shape, dims)
    if shape != kshape:
        out = _reshape_meta(out, shape)
    if bw is not None and STATE.enabled and x._rg:
        C.record(bw, bname, (x,), out, params=(x._shape, dims, keepdim),
                 saved=(x,) if save_in else (), save_out=save_out)
    return out


def _unsqueeze_to(g, shape, dims, keepdim):
    """Bring a reduced tensor back to the input's rank (size 1 at each reduced dim)."""
    if not keepdim and shape:
        g = g.reshape(_out_shape(shape, dims))
    return g


def _check_nonempty(name, x, dims):
    for d in dims:
        if x._shape and x._shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _accumulate_as(x, dtype):
    """(input, output dtype) of a sum-like reduction: `dtype` if given, else int64 for
    integers and bools. For a float output the input is cast first; an integer one is
    left to the kernel, which accumulates into its output's dtype."""
    odt = D.to_dtype(dtype) if dtype is not None else (D.int64 if x._dtype.kind < 2
                                                         else x._dtype)
    if odt is not x._dtype and odt.kind == 2:
        x = x.to(odt)
    return x, odt


def _check_tensor(name, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")


# ----------------------------------------------------------------------------- sum, mean, prod

def _sum_bw(n, g):
    shape, dims, keepdim = n.params
    if g._shape:          # a 0-d gradient (full reduction) expands as it is
        g = _unsqueeze_to(g, shape, dims, keepdim)
    if not (STATE.enabled and g._rg):
        return (C.expand_meta(g, shape),)   # nothing to record: the view alone
    return (g.expand(shape),)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over `dim` (all dims by default); integers and bools sum as int64.

    Args:
        input: the tensor.
        dim: int or tuple of ints; None or () reduces every dim.
        keepdim: keep each reduced dim with size 1.
        dtype: accumulate and return in this dtype.

    Example:
        >>> plugtorch.tensor([[1, 2], [3, 4]]).sum(0)
        tensor([4, 6])
    """
    _check_tensor("sum", input)
    x = input
    x, odt = _accumulate_as(x, dtype)
    return reduce("sum", x, dim, keepdim, odt, _sum_bw, "SumBackward1")


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Arithmetic mean over `dim`; floating-point inputs only (pass dtype= for integers).

    Example:
        >>> plugtorch.tensor([[1., 2.], [3., 4.]]).mean(1)
        tensor([1.5000, 3.5000])
    """
    _check_tensor("mean", input)
    x = input
    if dtype is not None:
        x = x.to(dtype)
    if x._dtype.kind != 2:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {x._dtype.name.capitalize()}")
    dims = reduce_dims("mean", dim, len(x._shape))
    count = numel_of(tuple(x._shape[d] for d in dims)) if x._shape else 1
    # an empty mean is 0/0 = nan, as in PyTorch
    return sum(x, dims, keepdim) / (count if count else 0.0)


def _prod_bw(n, g):
    shape, dims, keepdim = n.params
    (x,) = n.inputs
    g = _unsqueeze_to(g, shape, dims, keepdim)
    # d prod / d x_i is the product of the others; out / x_i only when no element is zero.
    # With one zero in a group only that element gets a gradient (the product of the rest).
    # Second derivatives are exact except in groups holding two or more zeros (given as 0).
    from .ternary import where
    zero = x == 0
    x1 = where(zero, 1.0, x)
    p1 = prod(x1, dims, keepdim=True)
    nz = zero.sum(dims, keepdim=True)
    d = where(nz == 0, p1 / x1, where(zero & (nz == 1), p1, 0.0))
    return (g * d,)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product over `dim` (all dims by default); integers and bools multiply as int64.

    Example:
        >>> plugtorch.tensor([[1., 2.], [3., 4.]]).prod(1)
        tensor([ 2., 12.])
    """
    _check_tensor("prod", input)
    x = input
    x, odt = _accumulate_as(x, dtype)
    return reduce("prod", x, dim, keepdim, odt, _prod_bw, "ProdBackward1", save_in=True)


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
    dims = reduce_dims(name, dim, len(x._shape))
    _check_nonempty(name, x, dims)
    return reduce(kernel, x, dims, keepdim, x._dtype, _even_bw, bname, save_in=True,
                  save_out=True)


def amax(input, dim=(), keepdim=False):
    """Largest value over `dim` (all dims by default). The gradient is split evenly among
    ties.

    Example:
        >>> plugtorch.tensor([[1., 5.], [3., 4.]]).amax(0)
        tensor([3., 5.])
    """
    _check_tensor("amax", input)
    return _extreme("amax", "amax", input, dim, keepdim, "AmaxBackward0")


def amin(input, dim=(), keepdim=False):
    """Smallest value over `dim` (all dims by default); see amax.

    Example:
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
    x._storage.backend._table[kernel](out, xin, d)
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
        >>> plugtorch.tensor([[1., 5.], [3., 4.]]).argmax()
        tensor(1)
    """
    return _arg("argmax", input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    """Index of the first smallest value; see argmax.

    Example:
        >>> plugtorch.tensor([[1., 5.], [3., 4.]]).argmin(1)
        tensor([0, 0])
    """
    return _arg("argmin", input, dim, keepdim)


# ----------------------------------------------------------------------------- logical

def all(input, dim=None, keepdim=False):
    """Whether every element over `dim` is nonzero (uint8 in gives uint8 out, else bool).

    Example:
        >>> plugtorch.tensor([[1, 0], [2, 3]]).all(1)
        tensor([False,  True])
    """
    _check_tensor("all", input)
    return reduce("all", input, dim, keepdim, D.uint8 if input._dtype is D.uint8 else D.bool)


def any(input, dim=None, keepdim=False):
    """Whether some element over `dim` is nonzero; see all.

    Example:
        >>> plugtorch.tensor([[0, 0], [2, 0]]).any(0)
        tensor([ True, False])
    """
    _check_tensor("any", input)
    return reduce("any", input, dim, keepdim, D.uint8 if input._dtype is D.uint8 else D.bool)


def count_nonzero(input, dim=None):
    """Number of nonzero elements over `dim` (int64).

    Example:
        >>> plugtorch.tensor([[0, 1], [2, 3]]).count_nonzero(0)
        tensor([1, 2])
    """
    _check_tensor("count_nonzero", input)
    return sum(input != 0, dim)


# ----------------------------------------------------------------------------- cumsum

def _cumsum_bw(n, g):
    (d,) = n.params
    if not g._shape:
        return (g,)
    # the reverse cumulative sum: sum of g from position i to the end
    return (g.sum(d, keepdim=True) - g.cumsum(d) + g,)


def cumsum(input, dim, *, dtype=None):
    """Cumulative sums along `dim`; integers and bools accumulate as int64.

    Example:
        >>> plugtorch.tensor([1, 2, 3]).cumsum(0)
        tensor([1, 3, 6])
    """
    _check_tensor("cumsum", input)
    x = input
    x, odt = _accumulate_as(x, dtype)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"cumsum(): dim must be an int, got {type(dim).__name__}")
    (d,) = C.wrap_dims("cumsum", dim, len(x._shape))
    xin = _kernel_input(x)
    out = empty_like_meta(x, shape=xin._shape, dtype=odt)
    x._storage.backend._table["cumsum"](out, xin, d)
    if not x._shape:
        out = _reshape_meta(out, ())
    if STATE.enabled and x._rg:
        C.record(_cumsum_bw, "CumsumBackward0", (x,), out, params=(d,))
    return out


C.bind(("sum", sum), ("mean", mean), ("prod", prod), ("amax", amax), ("amin", amin),
       ("max", max), ("min", min), ("aminmax", aminmax), ("argmax", argmax),
       ("argmin", argmin), ("all", all), ("any", any), ("count_nonzero", count_nonzero),
       ("cumsum", cumsum))


# ----------------------------------------------------------------------------- declarations

def _axis(x, dim):
    if dim is None or dim == () or np.ndim(x) == 0:
        return None
    return dim if isinstance(dim, tuple) else (dim,)


def _np_reduce(fn, **fixed):
    def ref(x, dim=None, keepdim=False, **kw):
        return fn(x, axis=_axis(x, dim), keepdims=keepdim, **fixed)
    return ref


def _ref_sum(x, dim=None, keepdim=False, dtype=None):
    acc = np.int64 if x.dtype.kind in "biu" else x.dtype
    return np.sum(x, axis=_axis(x, dim), keepdims=keepdim, dtype=acc)


def _ref_prod(x, dim=None, keepdim=False, dtype=None):
    acc = np.int64 if x.dtype.kind in "biu" else x.dtype
    return np.prod(x, axis=_axis(x, dim), keepdims=keepdim, dtype=acc)


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


def _ref_cumsum(x, dim, dtype=None):
    acc = np.int64 if x.dtype.kind in "biu" else x.dtype
    return np.cumsum(x, axis=dim, dtype=acc) if x.ndim else x.astype(acc)


# (shape, kwargs) per sample; the empty-input cases only where the reduction has an identity
_CASES = [((3, 4), {}), ((2, 3, 4), {"dim": 1}), ((2, 3, 4), {"dim": -1, "keepdim": True}),
          ((2, 3, 4), {"dim": (0, 2)}), ((), {}), ((), {"dim": 0}), ((0, 3), {"dim": 1})]
_EMPTY = [((0, 3), {}), ((0, 3), {"dim": 0, "keepdim": True})]
_ONE_DIM = [((3, 4), {}), ((2, 3, 4), {"dim": 1}), ((2, 3, 4), {"dim": -1, "keepdim": True}),
            ((), {}), ((), {"dim": 0}), ((0, 3), {"dim": 1})]


def reduction_samples(cases, domain=None, grad=True):
    """A sample generator: one sample per (shape, kwargs) case."""
    def gen(dtype, rng):
        return [S.Sample(np.asarray(S.array(shape, dtype, rng, domain)), grad=(0,) if grad else (),
                         **kw)
                for shape, kw in cases]
    return gen


_NO_BOOL = tuple(d for d in D.ALL if d is not D.bool)
declare("sum", sum, ref=_ref_sum, samples=reduction_samples(_CASES + _EMPTY), dtypes=D.ALL,
        primitive="sum")
declare("mean", mean, ref=_np_reduce(np.mean), samples=reduction_samples(_CASES),
        dtypes=D.FLOATING)
declare("prod", prod, ref=_ref_prod, samples=reduction_samples(_CASES + _EMPTY, "small"),
        dtypes=D.ALL, primitive="prod")
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
declare("all", all, ref=_np_reduce(np.all), samples=reduction_samples(_CASES + _EMPTY, grad=False),
        dtypes=D.ALL, grad=False, primitive="all")
declare("any", any, ref=_np_reduce(np.any), samples=reduction_samples(_CASES + _EMPTY, grad=False),
        dtypes=D.ALL, grad=False, primitive="any")
declare("count_nonzero", count_nonzero,
        ref=lambda x, dim=None: np.count_nonzero(x, axis=_axis(x, dim)),
        samples=reduction_samples([((3, 4), {}), ((2, 3, 4), {"dim": (0, 2)}), ((0, 3), {})],
                                  grad=False), dtypes=D.ALL, grad=False)
declare("cumsum", cumsum, ref=_ref_cumsum, dtypes=D.ALL, primitive="cumsum",
        samples=reduction_samples([((5,), {"dim": 0}), ((3, 4), {"dim": 1}),
                                   ((2, 3, 4), {"dim": -3}), ((), {"dim": 0}),
                                   ((0, 3), {"dim": 0})]))
