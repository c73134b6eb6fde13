"""`plugtorch.linalg`'s norms: vector_norm and norm, on the composite `norm` (composite.py),
so every backend has them with their gradients; the matrix norms that need singular values
come from `linalg.matrix_norm` (decomp.py)."""
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ._decl import declare, Sample
from . import samples as S
from .composite import norm as _pnorm
from .reduction import reduce_dims

__all__ = []


def _input(name, x, dtype):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if dtype is not None:
        dtype = D.to_dtype(dtype)
        if dtype.kind != 2 or x._dtype.kind != 2:
            raise RuntimeError(f"{name}: dtype and the input's dtype must be floating point, "
                               f"got {dtype.name} and {x._dtype.name}")
        x = x.to(dtype)
    elif x._dtype.kind != 2:
        raise RuntimeError(f"{name}: Expected a floating point tensor as input. Got "
                           f"{x._dtype.name}")
    return x


def _ord(name, ord):
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"{name}: ord must be a number (0, 1, 2, inf, -inf, any p), got "
                        f"{ord!r}")
    return float(ord)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ord-norm of x over `dim` (every element by default):
    (sum |x|^ord)^(1/ord); ord=0 counts non-zeros, inf / -inf take max / min of |x|.

    Args:
        x: a floating-point tensor.
        ord: a number, inf or -inf (default 2).
        dim: an int or a tuple of ints; None treats x as one flat vector.
        keepdim: keep each reduced dim with size 1.
        dtype: compute and return in this floating dtype.

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.vector_norm(plugtorch.tensor([[3., 4.], [0., 1.]]), dim=1)
        tensor([5., 1.])
    """
    name = "linalg.vector_norm"
    x = _input(name, x, dtype)
    p = _ord(name, ord)
    dims = reduce_dims(name, dim, x.dim())
    if p < 0 or math.isinf(p):
        empty = [d for d in dims if x._shape[d] == 0] if x.dim() else []
        if empty or (dim is None and x.numel() == 0):
            raise RuntimeError(f"{name}: cannot compute the {ord} norm on an empty tensor "
                               f"because the operation does not have an identity")
    if dim is None:
        dims = tuple(range(x.dim()))
    return _pnorm(x, p, dims if dims else None, keepdim)


_MATRIX_ORDS = ("fro", math.inf, -math.inf, 1, -1)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector or matrix norm. With `dim` an int, or with ord=None and dim=None, the vector
    norm (ord 2 by default); with `dim` a pair, or for a 2-d input with ord given, the matrix
    norm: 'fro', 'nuc' (sum of singular values), 2 / -2 (largest / smallest singular
    value), inf / -inf (max / min row sum of |A|) or 1 / -1 (max / min column sum).

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.norm(plugtorch.tensor([[1., -2.], [3., 4.]]), ord=1)
        tensor(6.)
    """
    name = "linalg.norm"
    x = _input(name, A, dtype)
    if isinstance(dim, int):
        dim = (dim,)
    if dim is None and (ord is None or x.dim() == 1):
        if isinstance(ord, str):
            raise RuntimeError(f"{name}: order {ord!r} is a matrix norm, but the input is "
                               f"{x.dim()}-d")
        return vector_norm(x, 2 if ord is None else ord, None, keepdim)
    if dim is None:
        if x.dim() != 2:
            raise RuntimeError(f"{name}: with ord={ord!r} and dim=None the input must be 1-d "
                               f"or 2-d, got {x.dim()}-d")
        dim = (0, 1)
    dim = tuple(dim)
    if len(dim) == 1:
        if isinstance(ord, str):
            raise RuntimeError(f"{name}: order {ord!r} is a matrix norm, but dim has one entry")
        return vector_norm(x, 2 if ord is None else ord, dim, keepdim)
    if len(dim) != 2:
        raise RuntimeError(f"{name}: dim must be an int or a pair of ints, got {dim}")
    reduce_dims(name, dim, x.dim())            # range checks
    r, c = (d % x.dim() for d in dim)
    if r == c:
        raise RuntimeError(f"{name}: dims must be different, got {dim}")
    if ord is None or ord == "fro":
        return vector_norm(x, 2, (r, c), keepdim)
    if ord in ("nuc", 2, -2):
        from .decomp import matrix_norm            # singular values: linalg.svdvals
        return matrix_norm(x, ord, (r, c), keepdim)
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"{name}: Order {ord} not supported.")
    # inf: max over rows of the sum along the row; 1: max over columns of the column sum
    inner, outer = (c, r) if abs(ord) == math.inf else (r, c)
    sums = x.abs().sum(inner, keepdim=True)
    out = sums.amax(outer, keepdim=True) if ord > 0 else sums.amin(outer, keepdim=True)
    return out if keepdim else out.squeeze((r, c))


# ----------------------------------------------------------------------------- declarations

def _ref_vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None):
    dims = tuple(range(x.ndim)) if dim is None else (dim if isinstance(dim, tuple) else (dim,))
    a = np.abs(x)
    if ord == math.inf:
        out = a.max(axis=dims, keepdims=True)
    elif ord == -math.inf:
        out = a.min(axis=dims, keepdims=True)
    elif ord == 0:
        out = (a != 0).sum(axis=dims, keepdims=True).astype(np.float64)
    else:
        with np.errstate(divide="ignore"):
            out = (a ** ord).sum(axis=dims, keepdims=True) ** (1.0 / ord)
    return out if keepdim else out.reshape([n for i, n in enumerate(x.shape)
                                            if i not in [d % x.ndim for d in dims]])


def _ref_norm(A, ord=None, dim=None, keepdim=False):
    if dim is None and A.ndim == 2 and ord is not None:
        dim = (0, 1)
    if isinstance(dim, tuple) and len(dim) == 2 and ord not in (None, "fro"):
        out = np.linalg.norm(A, ord=ord, axis=dim, keepdims=keepdim)
        return np.asarray(out, np.float64)
    return _ref_vector_norm(A, 2 if ord in (None, "fro") else ord, dim, keepdim)


def _vector_samples(dtype, rng):
    x = S.array((3, 4), dtype, rng, "nonzero")
    out = [Sample(x, ord, grad=(0,), name=f"ord={ord}")
           for ord in (2, 1, 3.5, -1.5, math.inf, -math.inf)]
    out.append(Sample(x, 0, name="ord=0"))
    out += [Sample(S.array((2, 3, 4), dtype, rng, "nonzero"), 2, (0, 2), True, grad=(0,)),
            Sample(S.array((2, 3, 4), dtype, rng, "nonzero"), 1, -1, grad=(0,)),
            Sample(S.array((5,), dtype, rng, "nonzero"), math.inf, 0, True, grad=(0,)),
            Sample(S.array((), dtype, rng, "nonzero"), 2, grad=(0,)),
            Sample(S.array((0, 3), dtype, rng), 2, 0)]
    return out


def _norm_samples(dtype, rng):
    m = S.array((3, 4), dtype, rng, "nonzero")
    out = [Sample(m, ord, grad=(0,), name=f"ord={ord}")
           for ord in (None, "fro", math.inf, -math.inf, 1, -1)]
    out += [Sample(S.array((2, 3, 4), dtype, rng, "nonzero"), 1, (2, 0), True, grad=(0,)),
            Sample(S.array((2, 3, 4), dtype, rng, "nonzero"), None, 1, grad=(0,)),
            Sample(S.array((2, 3, 4), dtype, rng, "nonzero"), grad=(0,)),
            Sample(S.array((5,), dtype, rng, "nonzero"), 3, grad=(0,))]
    return out


declare("linalg.vector_norm", vector_norm, ref=_ref_vector_norm, samples=_vector_samples,
        dtypes=D.FLOATING, atol=1e-4, rtol=1e-4)
declare("linalg.norm", norm, ref=_ref_norm, samples=_norm_samples, dtypes=D.FLOATING,
        atol=1e-4, rtol=1e-4)
