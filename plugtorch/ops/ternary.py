"""where(condition, input, other)."""
import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, empty_like_meta
from . import _core as C
from ._decl import declare
from . import samples as S

__all__ = []


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
    condition._storage.backend._table["where"](out, C.expand_meta(condition, shape), *ops)
    if C.needs_grad(input, other) and dt.kind == 2:
        C.record(_where_bw, "WhereBackward0", (None, input if isinstance(input, Tensor) else
                                               None, other if isinstance(other, Tensor) else None),
                 out, params=(condition, input, other))
    return out


def _scalar_tensor(v, dt, like):
    t = empty_like_meta(like, shape=(), dtype=dt)
    like._storage.backend._table["fill"](t, v)
    return t


declare("where", where, ref=lambda c, a, b: np.where(c, a, b), samples=S.where(),
        dtypes=D.ALL, primitive="where")
