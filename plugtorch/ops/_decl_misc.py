"""Declarations of the ops whose modules do not declare them: rsub, the closeness
tests allclose/equal, is_nonzero, aminmax, var_mean/std_mean, index_put, scatter_reduce."""
import numpy as np

from .. import _dtype as D
from ._decl import declare, Sample, XFail
from . import (binary, composite, extrema, gather_scatter, indexing, samples as S, sequence,
               ternary)


def _a(dtype, rng, domain=None):
    return lambda *shape: S.array(shape, dtype, rng, domain)


# ----------------------------------------------------------------------------- elementwise

declare("rsub", binary.rsub, ref=lambda a, b, alpha=1: np.subtract(b, np.multiply(a, alpha)),
        samples=S.extended(S.binary(), S.alpha_samples), dtypes=D.NUMERIC)


def _equal_samples(dtype, rng):
    A = _a(dtype, rng)
    x = A(3, 4)
    return [Sample(x, x.copy()), Sample(x, A(3, 4)), Sample(A(3), A(2), name="shapes")]


declare("allclose", ternary.allclose, ref=np.allclose, dtypes=D.ALL, grad=False,
        samples=S.extended(ternary._isclose_samples, lambda dtype, rng: _equal_samples(
            dtype, rng)[:1]))
declare("equal", ternary.equal, ref=lambda a, b: a.shape == b.shape and bool(np.all(a == b)),
        samples=_equal_samples, dtypes=D.ALL, grad=False)
declare("is_nonzero", sequence.is_nonzero, ref=lambda x: bool(x.reshape(-1)[0] != 0),
        samples=lambda dtype, rng: [Sample(_a(dtype, rng)(1)), Sample(_a(dtype, rng)()),
                                    Sample(np.zeros((1, 1), dtype.np), name="zero")],
        dtypes=D.ALL, grad=False)


# ----------------------------------------------------------------------------- reductions

def _ref_aminmax(x, dim=None, keepdim=False):
    return np.min(x, axis=dim, keepdims=keepdim), np.max(x, axis=dim, keepdims=keepdim)


def _ref_var_mean(x, dim=None, unbiased=None, keepdim=False, correction=None, sqrt=False):
    v = composite._ref_var(x, dim, keepdim, 1 if correction is None else correction,
                           unbiased, sqrt)
    return v, np.mean(x, axis=composite._axis(dim), keepdims=keepdim)


declare("aminmax", extrema.aminmax, ref=_ref_aminmax, dtypes=D.ALL,
        samples=lambda dtype, rng: [
            Sample(_a(dtype, rng)(3, 4), grad=(0,)),
            Sample(_a(dtype, rng)(2, 3, 4), dim=1, grad=(0,)),
            Sample(_a(dtype, rng)(3, 4), dim=-1, keepdim=True)])
_VAR_CASES = composite._VAR_CASES[:5]
declare("var_mean", composite.var_mean, ref=_ref_var_mean, dtypes=D.FLOATING, rtol=1e-4,
        samples=composite.reduction_samples(_VAR_CASES))
declare("std_mean", composite.std_mean, ref=lambda x, **kw: _ref_var_mean(x, sqrt=True, **kw),
        dtypes=D.FLOATING, rtol=1e-4, samples=composite.reduction_samples(_VAR_CASES))


# ----------------------------------------------------------------------------- indexed writes

def _ref_index_put(x, indices, values, accumulate=False):
    out = x.copy()
    if accumulate:
        np.add.at(out, tuple(indices), values)
    else:
        out[tuple(indices)] = values
    return out


def _index_put_samples(dtype, rng):
    A = _a(dtype, rng)
    out = [Sample(A(4, 3), (np.array([0, 2]),), A(2, 3), grad=(0, 2)),
           Sample(A(3, 4), (np.array([0, 2]), np.array([3, -1])), A(), grad=(0, 2),
                  name="two_indices")]
    if dtype is not D.bool:
        out.append(Sample(A(4, 3), (np.array([1, 3, 1]),), A(3, 3), True, grad=(0, 2),
                          name="accumulate"))
    return out


def _ref_scatter_reduce(x, dim, index, src, reduce, include_self=True):
    """Each target's reduction over its old value (when include_self) and what lands on it."""
    landed = {}
    for pos in np.ndindex(index.shape):
        target = pos[:dim] + (int(index[pos]),) + pos[dim + 1:]
        landed.setdefault(target, []).append(src[pos])
    out = x.copy()
    for target, vals in landed.items():
        vals = ([x[target]] if include_self else []) + vals
        if reduce == "sum":
            out[target] = np.sum(vals)
        elif reduce == "prod":
            out[target] = np.prod(vals)
        else:
            total = np.sum(vals)
            out[target] = total / len(vals) if x.dtype.kind == "f" else total // len(vals)
    return out


def _scatter_reduce_samples(dtype, rng):
    A = _a(dtype, rng, "small" if dtype.kind == 2 else "pow")   # no integer overflow
    return [Sample(A(3, 4), 0, rng.integers(0, 3, (2, 4)), A(2, 4), "sum", grad=(0, 3)),
            Sample(A(3, 4), 1, rng.integers(0, 4, (3, 3)), A(3, 3), "prod",
                   include_self=False, grad=(0, 3)),
            Sample(A(3, 4), 0, rng.integers(0, 3, (4, 4)), A(4, 4), "mean", grad=(0, 3))]


declare("index_put", indexing.index_put, ref=_ref_index_put, samples=_index_put_samples,
        dtypes=D.ALL)
declare("scatter_reduce", gather_scatter.scatter_reduce, ref=_ref_scatter_reduce,
        samples=_scatter_reduce_samples, dtypes=D.NUMERIC,
        xfail=[XFail("scatter_reduce(reduce='prod') has no derivative yet (RuntimeError)",
                     checks=("gradient",), match="'prod'")])
