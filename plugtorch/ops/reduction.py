"""Reductions over dims (int or tuple, keepdim) on the backend's reduction primitives:
the `reduce` driver, sum, mean, prod, all/any, cumsum, count_nonzero.

max/min, amax/amin, aminmax and argmax/argmin live in `extrema`; statistics built from
these (var, std, norm, logsumexp) live in `composite`.
"""
from collections import namedtuple

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap, contiguous_strides, empty_like_meta, numel_of
from ..autograd.grad_mode import STATE
from . import _core as C
from ._decl import declare
from . import samples as S
from .._dispatch import kernel as _kernel

__all__ = ["sum", "mean", "prod", "all", "any", "cumsum", "count_nonzero"]


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
_ONES = [(1,) * n for n in range(9)]


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
    nd = len(x._shape)
    dims = reduce_dims(name, dim, nd)
    if nd and len(dims) == nd and nd < 9:
        # every dim (x.sum()): the shapes are known from the rank alone
        kshape = _ONES[nd]
        out = empty_like_meta(x, shape=kshape, dtype=out_dtype)
        _kernel(name, x)(out, x, dims)
        if not keepdim:
            out = _wrap(out._storage, (), (), 0)
    else:
        xin = _kernel_input(x)
        kshape = _out_shape(xin._shape, dims)
        out = empty_like_meta(x, shape=kshape, dtype=out_dtype)
        _kernel(name, x)(out, xin, dims)
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
        >>> import plugtorch
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
        >>> import plugtorch
        >>> plugtorch.tensor([[1., 2.], [3., 4.]]).mean(1)
        tensor([1.5000, 3.5000])
    """
    _check_tensor("mean", input)
    x = input
    if dtype is not None:
        x = x.to(dtype)
    if x._dtype.kind != 2:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {D.scalar_name(x._dtype)}")
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
        >>> import plugtorch
        >>> plugtorch.tensor([[1., 2.], [3., 4.]]).prod(1)
        tensor([ 2., 12.])
    """
    _check_tensor("prod", input)
    x = input
    x, odt = _accumulate_as(x, dtype)
    return reduce("prod", x, dim, keepdim, odt, _prod_bw, "ProdBackward1", save_in=True)


# ----------------------------------------------------------------------------- logical

def all(input, dim=None, keepdim=False):
    """Whether every element over `dim` is nonzero (uint8 in gives uint8 out, else bool).

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([[1, 0], [2, 3]]).all(1)
        tensor([False,  True])
    """
    _check_tensor("all", input)
    return reduce("all", input, dim, keepdim, D.uint8 if input._dtype is D.uint8 else D.bool)


def any(input, dim=None, keepdim=False):
    """Whether some element over `dim` is nonzero; see all.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([[0, 0], [2, 0]]).any(0)
        tensor([ True, False])
    """
    _check_tensor("any", input)
    return reduce("any", input, dim, keepdim, D.uint8 if input._dtype is D.uint8 else D.bool)


def count_nonzero(input, dim=None):
    """Number of nonzero elements over `dim` (int64).

    Example:
        >>> import plugtorch
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
        >>> import plugtorch
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
    _kernel("cumsum", x)(out, xin, d)
    if not x._shape:
        out = _reshape_meta(out, ())
    if STATE.enabled and x._rg:
        C.record(_cumsum_bw, "CumsumBackward0", (x,), out, params=(d,))
    return out




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


declare("sum", sum, ref=_ref_sum, samples=reduction_samples(_CASES + _EMPTY), dtypes=D.ALL,
        primitive="sum")
declare("mean", mean, ref=_np_reduce(np.mean), samples=reduction_samples(_CASES),
        dtypes=D.FLOATING)
declare("prod", prod, ref=_ref_prod, samples=reduction_samples(_CASES + _EMPTY, "small"),
        dtypes=D.ALL, primitive="prod")
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
