"""Ops whose output size depends on the values: bincount, unique, unique_consecutive.

Each reads what fixes its output size back to the host (bincount: the smallest and
largest value; unique: the number of distinct values, through `nonzero`), as PyTorch does; all run on existing primitives (sort,
scatter, cumsum, nonzero, index_select). None is differentiable.
"""
import numpy as np

from .. import _dtype as D
from . import _core as C
from ._decl import declare, Sample
from .sequence import _check_tensor

__all__ = ["bincount", "unique", "unique_consecutive"]


# ----------------------------------------------------------------------------- bincount

def bincount(input, weights=None, minlength=0):
    """Count occurrences of each value in a 1-d tensor of non-negative integers.

    The result has max(input) + 1 entries (at least minlength): int64 counts, or sums of
    `weights` (float32 weights give float32, other weights float64). The length is read
    to the host. Not differentiable.

    Example:
        >>> plugtorch.bincount(plugtorch.tensor([0, 2, 2, 3]))
        tensor([1, 0, 2, 1])
    """
    from .creation import zeros
    _check_tensor("bincount", input)
    if input._dtype.kind != 1:
        raise TypeError(f"bincount: not implemented for {input._dtype.name} (integer tensors "
                        f"only)")
    if not isinstance(minlength, int) or isinstance(minlength, bool):
        raise TypeError(f"bincount(): argument 'minlength' must be int, not "
                        f"{type(minlength).__name__}")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if len(input._shape) != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None:
        _check_tensor("bincount", weights, "weights")
        C.check_devices("bincount", input, weights)
        if weights._shape != input._shape:
            raise RuntimeError("weights should be 1-d and have the same length as input")
    if not input._shape[0]:     # PyTorch: int64 zeros even with weights
        return zeros(minlength, dtype=D.int64, device=input.device)
    lo, hi = input.aminmax()
    if lo.item() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    length = max(int(hi.item()) + 1, minlength)
    index = input.to(D.int64)
    if weights is None:
        return zeros(length, dtype=D.int64, device=input.device).scatter_add(
            0, index, index.new_ones(index._shape))
    dt = D.float32 if weights._dtype is D.float32 else D.float64
    w = weights.detach().to(dt)
    return zeros(length, dtype=dt, device=input.device).scatter_add(0, index, w)


# ----------------------------------------------------------------------------- unique

def _groups(values, perm, shape, return_inverse, return_counts):
    """unique's outputs from `values` (flat, equal entries adjacent); perm[j] is the input
    position of values[j] (None: the identity)."""
    from .creation import tensor as _tensor
    from .shape_ops import cat
    n = values._shape[0]
    if n == 0:
        empty = values.new_zeros((0,), dtype=D.int64)
        uniq, inverse, counts = values, empty.reshape(shape), empty
    else:
        start = values.new_ones((1,), dtype=D.bool)
        # NaN != NaN: every NaN is its own group, as in PyTorch
        new = cat([start, values.narrow(0, 1, n - 1) != values.narrow(0, 0, n - 1)])
        first = new.nonzero().reshape(-1)       # reads the number of groups to the host
        uniq = values.index_select(0, first)
        inverse = counts = None
        if return_inverse:
            group = new.cumsum(0) - 1
            if perm is not None:
                group = group.new_zeros((n,)).scatter(0, perm, group)
            inverse = group.reshape(shape)
        if return_counts:
            ends = cat([first.narrow(0, 1, first._shape[0] - 1),
                        _tensor([n], dtype=D.int64, device=values.device)])
            counts = ends - first
    outs = (uniq,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
    return outs[0] if len(outs) == 1 else outs


def _check_unique(op, x, dim):
    _check_tensor(op, x)
    if dim is not None:
        raise NotImplementedError(f"{op}: dim= is not supported; only the flattened input "
                                  f"(dim=None)")


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of the flattened input, in ascending order (also with
    sorted=False, as PyTorch on CPU); optionally each entry's group index (shaped like
    input) and each group's count. Each NaN is its own value. The number of distinct values
    is read to the host. Not differentiable.

    Args:
        input (Tensor): the input.
        sorted (bool): accepted; the result is always sorted.
        return_inverse (bool): also return the index of each input entry in the result.
        return_counts (bool): also return how often each distinct value occurs.
        dim (None): only None (the flattened input) is supported.

    Example:
        >>> plugtorch.unique(plugtorch.tensor([3, 1, 3]), return_counts=True)
        (tensor([1, 3]), tensor([1, 2]))
    """
    _check_unique("unique", input, dim)
    values, perm = input.detach().reshape(-1).sort()
    return _groups(values, perm, input._shape, return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive values of the flattened input; see unique.

    Example:
        >>> plugtorch.tensor([1, 1, 2, 1]).unique_consecutive()
        tensor([1, 2, 1])
    """
    _check_unique("unique_consecutive", input, dim)
    return _groups(input.detach().reshape(-1), None, input._shape, return_inverse,
                   return_counts)




# ----------------------------------------------------------------------------- declarations

def _counts_array(shape, dtype, rng, hi=4):
    """Small non-negative values with repeats (what unique and bincount are about)."""
    if dtype is D.bool:
        return rng.random(shape) < 0.5
    return rng.integers(0, hi, size=shape).astype(dtype.np)


def _ref_bincount(x, weights=None, minlength=0):
    if x.size == 0:
        return np.zeros(minlength, np.int64)
    return np.bincount(x, weights, minlength)


def _bincount_samples(dtype, rng):
    x = _counts_array((7,), dtype, rng, hi=5)
    return [Sample(x), Sample(x, minlength=8),
            Sample(x, rng.standard_normal(7).astype(np.float32)),
            Sample(x, weights=rng.standard_normal(7), minlength=2),
            Sample(x, weights=rng.integers(-3, 4, 7)),
            Sample(_counts_array((0,), dtype, rng), minlength=3)]


def _ref_unique(x, sorted=True, return_inverse=False, return_counts=False):
    values, inverse, counts = np.unique(x.reshape(-1), return_inverse=True, return_counts=True)
    out = (values,) + ((inverse.reshape(x.shape),) if return_inverse else ()) + (
        (counts,) if return_counts else ())
    return out[0] if len(out) == 1 else out


def _ref_unique_consecutive(x, return_inverse=False, return_counts=False):
    flat = x.reshape(-1)
    new = np.concatenate([[True], flat[1:] != flat[:-1]]) if flat.size else np.zeros(0, bool)
    first = np.flatnonzero(new)
    out = (flat[first],) + ((np.cumsum(new).reshape(x.shape) - 1,) if return_inverse else ()) + (
        (np.diff(np.append(first, flat.size)),) if return_counts else ())
    return out[0] if len(out) == 1 else out


def _unique_samples(dtype, rng):
    return [Sample(_counts_array((3, 4), dtype, rng)),
            Sample(_counts_array((9,), dtype, rng), return_inverse=True, return_counts=True),
            Sample(_counts_array((2, 5), dtype, rng), return_counts=True),
            Sample(_counts_array((), dtype, rng), return_inverse=True),
            Sample(_counts_array((0, 2), dtype, rng), return_inverse=True, return_counts=True)]


def _unique_consecutive_samples(dtype, rng):
    runs = np.repeat(_counts_array((5,), dtype, rng), [1, 3, 2, 1, 2])
    return [Sample(runs, return_inverse=True, return_counts=True),
            Sample(_counts_array((3, 4), dtype, rng, hi=2), return_counts=True),
            Sample(_counts_array((0,), dtype, rng), return_inverse=True)]


declare("bincount", bincount, ref=_ref_bincount, samples=_bincount_samples, grad=False,
        dtypes=D.INTEGRAL)
declare("unique", unique, ref=_ref_unique, samples=_unique_samples, dtypes=D.ALL, grad=False)
declare("unique_consecutive", unique_consecutive, ref=_ref_unique_consecutive,
        samples=_unique_consecutive_samples, dtypes=D.ALL, grad=False)
