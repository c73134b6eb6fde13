"""where(condition, input, other); lerp; the closeness tests isclose, allclose and equal."""
import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, empty_like_meta
from . import _core as C
from ._decl import declare, Sample
from . import samples as S
from .._dispatch import kernel as _kernel

__all__ = ["lerp", "isclose", "allclose", "equal"]


def _where_bw(n, g):
    cond, a, b = n.params
    zero = g.new_zeros(())
    ga = C.sum_to(where(cond, g, zero), a._shape) if isinstance(a, Tensor) and \
        a._rg else None
    gb = C.sum_to(where(cond, zero, g), b._shape) if isinstance(b, Tensor) and \
        b._rg else None
    return None, ga, gb


def where(condition, input, other):
    """Elementwise `input if condition else other`, broadcasting all three."""
    if not isinstance(condition, Tensor):
        raise TypeError(f"where: condition must be a Tensor, got {type(condition).__name__}")
    if condition._dtype is not D.bool:
        raise RuntimeError(f"where: expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {condition._dtype.name}")
    tensors = [t for t in (condition, input, other) if isinstance(t, Tensor)]
    C.check_devices("where", *tensors)
    shape = C.broadcast_shapes("where", *(t._shape for t in tensors))
    vals = [input, other]
    dt = D.result_type(*vals)
    ops = [C.expand_meta(C.cast_meta(v, dt), shape) if isinstance(v, Tensor)
           else C.scalar_for(v, dt) for v in vals]
    out = empty_like_meta(condition, shape=shape, dtype=dt)
    if not isinstance(ops[0], Tensor) or not isinstance(ops[1], Tensor):
        # the primitive takes tensors; a scalar becomes a 0-d tensor broadcast to shape
        ops = [o if isinstance(o, Tensor) else C.expand_meta(_scalar_tensor(o, dt, out), shape)
               for o in ops]
    _kernel("where", condition)(out, C.expand_meta(condition, shape), *ops)
    if C.needs_grad(input, other) and dt.kind == 2:
        C.record(_where_bw, "WhereBackward0", (None, input if isinstance(input, Tensor) else
                                               None, other if isinstance(other, Tensor) else None),
                 out, params=(condition, input, other))
    return out


def _scalar_tensor(v, dt, like):
    t = empty_like_meta(like, shape=(), dtype=dt)
    _kernel("fill", like)(t, v)
    return t




# ----------------------------------------------------------------------------- composites

def lerp(input, end, weight):
    """Linear interpolation input + weight * (end - input); weight is a number or a tensor,
    all three broadcast.

    Example:
        >>> import plugtorch
        >>> plugtorch.lerp(plugtorch.tensor([0., 10.]), plugtorch.tensor([10., 20.]), 0.5)
        tensor([ 5., 15.])
    """
    for name, t in (("input", input), ("end", end)):
        if not isinstance(t, Tensor):
            raise TypeError(f"lerp(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if input._dtype is not end._dtype:
        raise RuntimeError(f"lerp: expected dtype {input._dtype.name} for `end` but got dtype "
                           f"{end._dtype.name}")
    if input._dtype.kind != 2:
        raise TypeError(f"lerp: not implemented for {input._dtype.name} (floating point only)")
    # two-sided, as PyTorch: exact at both ends, and the same inf/NaN for infinite operands
    diff = end - input
    if not isinstance(weight, Tensor):
        return input + weight * diff if abs(weight) < 0.5 else end - diff * (1 - weight)
    return where(weight.abs() < 0.5, input + weight * diff, end - diff * (1 - weight))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise |input - other| <= atol + rtol * |other| (a bool tensor). Infinities are
    close only to themselves; NaNs only when equal_nan.

    Example:
        >>> import plugtorch
        >>> plugtorch.isclose(plugtorch.tensor([1., 2.]), plugtorch.tensor([1., 2.1]))
        tensor([ True, False])
    """
    for name, t in (("input", input), ("other", other)):
        if not isinstance(t, Tensor):
            raise TypeError(f"isclose(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if input._dtype is not other._dtype:
        raise RuntimeError(f"isclose: {input._dtype.name} did not match {other._dtype.name}")
    if rtol < 0 or atol < 0:
        raise RuntimeError(f"isclose: rtol and atol must be non-negative, got rtol={rtol}, "
                           f"atol={atol}")
    same = input == other
    if input._dtype.kind != 2:
        if input._dtype is D.bool:
            return same
        a, b = input.to(D.float64), other.to(D.float64)
    else:
        a, b = input.detach(), other.detach()
    finite = a.isfinite() & b.isfinite()
    near = (a - b).abs() <= atol + rtol * b.abs()
    out = same | (finite & near)
    if equal_nan:
        out = out | (a.isnan() & b.isnan())
    return out


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True if isclose holds for every element (input and other broadcast); a Python bool.

    Example:
        >>> import plugtorch
        >>> plugtorch.allclose(plugtorch.tensor([1., 2.]), plugtorch.tensor([1., 2. + 1e-7]))
        True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


def equal(input, other):
    """True if both tensors have the same shape and the same elements; a Python bool.

    Example:
        >>> import plugtorch
        >>> plugtorch.equal(plugtorch.tensor([1, 2]), plugtorch.tensor([1, 2]))
        True
    """
    for name, t in (("input", input), ("other", other)):
        if not isinstance(t, Tensor):
            raise TypeError(f"equal(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if tuple(input._shape) != tuple(other._shape):
        return False
    return bool((input == other).all().item())




def _lerp_samples(dtype, rng):
    a, b = S.array((3, 4), dtype, rng), S.array((3, 4), dtype, rng)
    return [Sample(a, b, 0.3, grad=(0, 1)),
            Sample(a, b, S.array((4,), dtype, rng), grad=(0, 1, 2)),
            Sample(S.array((2, 1), dtype, rng), S.array((3,), dtype, rng), 0.75, grad=(0, 1))]


def _isclose_samples(dtype, rng):
    a = S.array((4, 5), dtype, rng)
    b = a.copy()
    if dtype.kind == 2:
        b = (a + rng.choice([0.0, 1e-6, 1e-3, 1.0], size=a.shape)).astype(a.dtype)
        a.flat[:4] = [np.nan, np.inf, -np.inf, np.inf]
        b.flat[:4] = [np.nan, np.inf, np.inf, 1.0]
    elif dtype is not D.bool:
        b = (a + rng.integers(0, 2, size=a.shape)).astype(a.dtype)
    return [Sample(a, b), Sample(a, b, rtol=1e-3, atol=1e-2, equal_nan=True)]


declare("lerp", lerp, ref=lambda a, b, w: a + w * (b - a), samples=_lerp_samples,
        dtypes=D.FLOATING)
declare("isclose", isclose, ref=np.isclose, samples=_isclose_samples, dtypes=D.ALL, grad=False)
