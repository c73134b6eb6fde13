"""Composite reductions, decomposed into primitives: var/std (and var_mean/std_mean), norm,
logsumexp, softmax and log_softmax.

NOTE [composite kernels]
softmax and log_softmax have a decomposition (subtract the max, exp, sum, divide) and their
own derivative, so every backend gets them. A backend may register a faster kernel under
the op's name (both are declared `overridable`); `_dispatch.override` finds it (a backend
without one gets the decomposition, never the CPU fallback), and it is called as
`kernel(out, x, dim)` with a non-negative dim, a contiguous out and an input of at least
one dim.
"""
import builtins
import math

import numpy as np

from .. import _dtype as D
from .._tensor import empty_like_meta, numel_of
from ..autograd.grad_mode import STATE, no_grad
from .._dispatch import override as _override
from . import _core as C
from ._decl import declare
from . import samples as S
from .reduction import (_check_tensor, _out_shape, _squeezed, _unsqueeze_to, reduce_dims,
                        reduction_samples)

__all__ = ["var", "std", "var_mean", "std_mean", "norm", "logsumexp", "softmax",
           "log_softmax"]


def _require_float(name, x, msg=None):
    if x._dtype.kind != 2:
        raise RuntimeError(msg or f"{name}(): expected a floating point input, got "
                           f"{x._dtype.name}")


# ----------------------------------------------------------------------------- var, std

def _correction(name, unbiased, correction):
    if unbiased is not None and correction is not None:
        raise RuntimeError(f"{name}(): cannot specify both unbiased and correction")
    if correction is not None:
        return correction
    return 1 if unbiased is None else int(bool(unbiased))


def _var(name, input, dim, unbiased, keepdim, correction):
    _check_tensor(name, input)
    if isinstance(dim, bool):        # the old form var(input, unbiased)
        dim, unbiased = None, dim
    _require_float(name, input, "std and var only support floating point and complex dtypes")
    x = input if input._dtype is not D.float16 else input.float()   # float16: in float32
    dims = reduce_dims(name, dim, len(x._shape))
    n = numel_of(tuple(x._shape[d] for d in dims)) if x._shape else 1
    mu = x.mean(dims, keepdim=True)
    d = x - mu
    # n - correction <= 0 divides by zero (inf or nan), as PyTorch does
    denom = builtins.max(n - _correction(name, unbiased, correction), 0)
    return (d * d).sum(dims, keepdim) / float(denom), mu, dims


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over `dim`: sum((x - mean)^2) / (N - correction).

    Args:
        input: a floating-point tensor.
        dim: int or tuple of ints; None reduces every dim.
        unbiased: old spelling of correction (True = 1, False = 0).
        keepdim: keep each reduced dim with size 1.
        correction: subtracted from the number of elements N; 1 (Bessel) by default.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([1., 2., 3., 4.]).var()
        tensor(1.6667)
    """
    return _as(_var("var", input, dim, unbiased, keepdim, correction)[0], input)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation: the square root of var (same arguments).

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([1., 2., 3., 4.]).std(correction=0)
        tensor(1.1180)
    """
    return _as(_std_of(_var("std", input, dim, unbiased, keepdim, correction)[0]), input)


def _as(t, like):
    """t in like's dtype (float16 statistics are computed in float32, as PyTorch)."""
    return t if t._dtype is like._dtype else t.to(like._dtype)


def _std_of(v):
    """sqrt(v) whose derivative is 0 where the result is 0 (a constant input), as PyTorch's
    std: the plain sqrt derivative there is inf, and inf * 0 from var's backward is NaN."""
    with no_grad():
        out = v.detach().sqrt()
    if STATE.enabled and v._rg:
        C.record(_std_bw, "StdBackward0", (v,), out, save_out=True)
    return out


def _std_bw(n, g):
    from .ternary import where
    y = n.out()
    zero = y == 0
    return (where(zero, 0.0, g / (2 * where(zero, 1.0, y))),)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """`(var, mean)` over `dim` (the variance reuses the mean); see var.

    Example:
        >>> import plugtorch
        >>> plugtorch.var_mean(plugtorch.tensor([1., 3.]))
        (tensor(2.), tensor(2.))
    """
    v, mu, dims = _var("var_mean", input, dim, unbiased, keepdim, correction)
    return _as(v, input), _as(mu if keepdim else mu.reshape(_squeezed(input._shape, dims)), input)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """`(std, mean)` over `dim`; see std.

    Example:
        >>> import plugtorch
        >>> plugtorch.std_mean(plugtorch.tensor([1., 3.]), correction=0)
        (tensor(1.), tensor(2.))
    """
    v, mu, dims = _var("std_mean", input, dim, unbiased, keepdim, correction)
    mu = mu if keepdim else mu.reshape(_squeezed(input._shape, dims))
    return _as(_std_of(v), input), _as(mu, input)


# ----------------------------------------------------------------------------- norm

def _norm_bw(n, g):
    """d/dx (sum |x|^p)^(1/p) = sign(x) |x|^(p-1) / norm^(p-1); zero where the norm is 0."""
    from .ternary import where
    shape, dims, keepdim, p = n.params
    (x,) = n.inputs
    g = _unsqueeze_to(g, shape, dims, keepdim)
    if p == 0:
        return ((g * 0).expand(shape),)
    y = _unsqueeze_to(n.out(), shape, dims, keepdim)
    zero = y == 0
    safe = where(zero, 1.0, y)
    if p == 2:
        gx = x * (g / safe)
    else:
        gx = x.sign() * x.abs() ** (p - 1) * (g / safe ** (p - 1))
    return (where(zero, 0.0, gx),)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over `dim` (every element by default): (sum |x|^p)^(1/p).

    Args:
        input: a floating-point tensor.
        p: a number (2, 1, 0, 3.5, ...), inf, -inf or 'fro' (the 2-norm of the elements).
        dim: int or tuple of ints; None reduces every dim.
        keepdim: keep each reduced dim with size 1.
        dtype: compute and return in this dtype.

    The gradient is zero where the norm is zero (as PyTorch), and split evenly among ties
    for p = inf / -inf.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([[3., 4.], [6., 8.]]).norm(dim=1)
        tensor([ 5., 10.])
    """
    _check_tensor("norm", input)
    x = input if dtype is None else input.to(dtype)
    _require_float("norm", x, f"norm(): input dtype should be either floating point or complex. "
                              f"Got {x._dtype.name} instead.")
    if isinstance(p, str):
        if p == "nuc":
            raise RuntimeError("norm(): p='nuc' (the nuclear norm) needs a singular value "
                               "decomposition, which plugtorch does not provide")
        if p != "fro":
            raise RuntimeError(f"norm(): unsupported p {p!r}; expected a number, inf, -inf or "
                               f"'fro'")
        if dim is not None and not isinstance(dim, int) and len(dim) > 2:
            raise RuntimeError(f"norm(): p='fro' expects at most two dims, got {tuple(dim)}")
        p = 2
    if p is None:
        p = 2
    if not isinstance(p, (int, float)) or isinstance(p, bool):
        raise TypeError(f"norm(): p must be a number or a string, got {type(p).__name__}")
    dims = reduce_dims("norm", dim, len(x._shape))
    if p == math.inf:
        return x.abs().amax(dims, keepdim)
    if p == -math.inf:
        return x.abs().amin(dims, keepdim)
    if p == 1:
        return x.abs().sum(dims, keepdim)
    with no_grad():
        if p == 0:
            out = (x != 0).to(x._dtype).sum(dims, keepdim)
        elif p == 2:
            out = (x * x).sum(dims, keepdim).sqrt()
        else:
            out = (x.abs() ** p).sum(dims, keepdim) ** (1.0 / p)
    if STATE.enabled and x._rg:
        C.record(_norm_bw, "NormBackward1", (x,), out, params=(x._shape, dims, keepdim, p),
                 saved=(x,), save_out=True)
    return out


# ----------------------------------------------------------------------------- logsumexp

def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over `dim`, computed stably (the max is subtracted first).
    Integer inputs are computed in the default float dtype.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([1000., 1000.]).logsumexp(0)
        tensor(1000.6932)
    """
    from .ternary import where
    _check_tensor("logsumexp", input)
    x = input if input._dtype.kind == 2 else input.to(D.get_default_dtype())
    dims = reduce_dims("logsumexp", dim, len(x._shape))
    if x.numel() == 0:
        m = x.new_zeros(_out_shape(x._shape, dims))
    else:
        m = x.detach().amax(dims, keepdim=True)
        # a group of infinities: exp(x - m) would be nan; shifting by 0 gives the right limit
        m = where(m.isinf(), 0.0, m)
    out = (x - m).exp().sum(dims, keepdim=True).log() + m
    return out if keepdim else out.reshape(_squeezed(x._shape, dims))


# ----------------------------------------------------------------------------- softmax

def _softmax_bw(n, g):
    (d,) = n.params
    y = n.out()
    return (y * (g - (g * y).sum(d, keepdim=True)),)


def _log_softmax_bw(n, g):
    (d,) = n.params
    y = n.out()
    return (g - y.exp() * g.sum(d, keepdim=True),)


def _softmax_family(name, input, dim, dtype, bw, bname):
    _check_tensor(name, input)
    x = input if dtype is None else input.to(dtype)
    _require_float(name, x, f"{name}(): expected a floating point input, got {x._dtype.name}; "
                            f"pass dtype=plugtorch.float32 to compute in floating point")
    if dim is None:
        raise TypeError(f"{name}(): missing required argument 'dim'")
    (d,) = C.wrap_dims(name, dim, len(x._shape))
    kernel = _override(name, x) if x._shape else None
    if kernel is not None:
        out = empty_like_meta(x)
        kernel(out, x, d)
    else:
        with no_grad():
            out = _decomposed(name, x.detach(), d)
    if STATE.enabled and x._rg:
        C.record(bw, bname, (x,), out, params=(d,), save_out=True)
    return out


def _decomposed(name, x, d):
    if x.numel() == 0:
        return x.clone()
    z = x - x.amax(d, keepdim=True)
    if name == "softmax":
        e = z.exp()
        return e / e.sum(d, keepdim=True)
    return z - z.exp().sum(d, keepdim=True).log()


def softmax(input, dim, dtype=None):
    """exp(x) / sum(exp(x)) along `dim`, computed stably (the max is subtracted first).

    Args:
        input: a floating-point tensor (or any tensor with dtype=).
        dim: the dim along which the result sums to 1.
        dtype: cast the input to this dtype first.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([[1., 1.], [0., 1000.]]).softmax(1)
        tensor([[0.5000, 0.5000],
                [0.0000, 1.0000]])
    """
    return _softmax_family("softmax", input, dim, dtype, _softmax_bw, "SoftmaxBackward0")


def log_softmax(input, dim, dtype=None):
    """x - logsumexp(x) along `dim`, computed stably; see softmax.

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([0., 0.]).log_softmax(0)
        tensor([-0.6931, -0.6931])
    """
    return _softmax_family("log_softmax", input, dim, dtype, _log_softmax_bw,
                           "LogSoftmaxBackward0")




# ----------------------------------------------------------------------------- declarations

def _axis(dim):
    return None if dim is None else (dim if isinstance(dim, tuple) else (dim,))


def _ref_var(x, dim=None, keepdim=False, correction=1, unbiased=None, sqrt=False):
    ddof = correction if unbiased is None else int(unbiased)
    v = np.var(x, axis=_axis(dim), ddof=ddof, keepdims=keepdim)
    return np.sqrt(v) if sqrt else v


def _ref_norm(x, p="fro", dim=None, keepdim=False):
    a = np.abs(x)
    ax = _axis(dim)
    if p in ("fro", 2):
        return np.sqrt(np.sum(a * a, axis=ax, keepdims=keepdim))
    if p == math.inf:
        return np.max(a, axis=ax, keepdims=keepdim)
    if p == -math.inf:
        return np.min(a, axis=ax, keepdims=keepdim)
    if p == 0:
        return np.sum(a != 0, axis=ax, keepdims=keepdim).astype(x.dtype)
    return np.sum(a ** p, axis=ax, keepdims=keepdim) ** (1.0 / p)


def _ref_logsumexp(x, dim, keepdim=False):
    x = x.astype(np.float64)
    ax = _axis(dim) if x.ndim else None
    if x.size == 0:
        with np.errstate(divide="ignore"):
            return np.log(np.sum(np.exp(x), axis=ax, keepdims=keepdim))
    m = np.max(x, axis=ax, keepdims=True)
    r = np.log(np.sum(np.exp(x - m), axis=ax, keepdims=True)) + m
    return r if keepdim else (np.squeeze(r, axis=ax) if x.ndim else r.reshape(()))


def _ref_softmax(x, dim, log=False):
    if x.size == 0:
        return x
    ax = dim if x.ndim else None
    z = x - np.max(x, axis=ax, keepdims=True)
    lse = np.log(np.sum(np.exp(z), axis=ax, keepdims=True))
    return z - lse if log else np.exp(z - lse)


_VAR_CASES = [((3, 4), {}), ((2, 3, 4), {"dim": 1}), ((2, 3, 4), {"dim": (0, 2), "keepdim": True}),
              ((2, 3, 4), {"dim": -1, "correction": 0}), ((3, 4), {"dim": 0, "unbiased": False}),
              ((5,), {"dim": 0, "correction": 2})]
_NORM_CASES = [((3, 4), {}), ((2, 3, 4), {"dim": 1}), ((2, 3, 4), {"p": 1, "dim": (0, 2)}),
               ((3, 4), {"p": math.inf, "dim": 1, "keepdim": True}), ((3, 4), {"p": -math.inf}),
               ((3, 4), {"p": 3, "dim": -1}), ((2, 3, 4), {"p": 1.5, "dim": (1, 2)}),
               ((3, 4), {"p": 0, "dim": 0}), ((), {"p": 2}), ((0, 3), {"dim": 0})]
_LSE_CASES = [((3, 4), {"dim": 1}), ((2, 3, 4), {"dim": (0, 2), "keepdim": True}),
              ((2, 3, 4), {"dim": -2}), ((), {"dim": 0})]
_SOFTMAX_CASES = [((3, 4), {"dim": 1}), ((2, 3, 4), {"dim": 0}), ((2, 3, 4), {"dim": -1}),
                  ((), {"dim": 0}), ((0, 3), {"dim": 1})]


def _scaled_samples(cases, scale):
    """Samples with a large offset too, to check that the max is subtracted."""
    base = reduction_samples(cases)

    def gen(dtype, rng):
        out = base(dtype, rng)
        big = S.array((3, 5), dtype, rng) * scale
        out.append(S.Sample((big + scale).astype(big.dtype), grad=(0,), dim=1, name="large"))
        return out
    return gen


declare("var", var, ref=_ref_var, samples=reduction_samples(_VAR_CASES), dtypes=D.FLOATING,
        rtol=1e-4)
declare("std", std, ref=lambda x, **kw: _ref_var(x, sqrt=True, **kw),
        samples=reduction_samples(_VAR_CASES), dtypes=D.FLOATING, rtol=1e-4)
declare("norm", norm, ref=_ref_norm, samples=reduction_samples(_NORM_CASES, "nonzero"),
        dtypes=D.FLOATING, rtol=1e-4)
declare("logsumexp", logsumexp, ref=_ref_logsumexp, dtypes=D.FLOATING,
        samples=_scaled_samples(_LSE_CASES, 50.0))
declare("softmax", softmax, ref=_ref_softmax, dtypes=D.FLOATING, overridable="out x dim",
        samples=_scaled_samples(_SOFTMAX_CASES, 50.0))
declare("log_softmax", log_softmax, ref=lambda x, dim: _ref_softmax(x, dim, log=True),
        overridable="out x dim",
        dtypes=D.FLOATING, samples=_scaled_samples(_SOFTMAX_CASES, 50.0))
