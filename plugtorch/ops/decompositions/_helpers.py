"""Building blocks of the decompositions: temporaries, constants and primitive calls that go
through the dispatcher (NOTE [decompositions])."""
from ... import _dtype as D
from ..._dispatch import DECOMPOSITIONS, kernel
from ..._tensor import _wrap, empty_like_meta
from .._core import scalar_for as _scalar


def _decomposes(*names):
    def deco(fn):
        for name in names:
            DECOMPOSITIONS[name] = fn
        return fn
    return deco


# ----------------------------------------------------------------------------- helpers

def _new(like, dtype=None, shape=None):
    return empty_like_meta(like, shape=shape, dtype=dtype)


def _call(name, out, *args):
    kernel(name, out)(out, *args)
    return out


def _const(value, dtype, like, shape=None):
    """A broadcast constant: one element filled with `value`, stride 0 everywhere."""
    shape = like._shape if shape is None else shape
    one = empty_like_meta(like, shape=(), dtype=dtype)
    kernel("fill", one)(one, _scalar(value, dtype))
    return _wrap(one._storage, shape, (0,) * len(shape), 0)


def _tensor(x, dtype, like):
    """A binary operand as a tensor (a Python scalar becomes a broadcast constant)."""
    return x if hasattr(x, "_storage") else _const(x, dtype, like)


def _operands(out, a, b):
    """Both operands of an elementwise primitive as tensors of one dtype."""
    ref = a if hasattr(a, "_storage") else b
    dt = ref._dtype if hasattr(ref, "_storage") else out._dtype
    return _tensor(a, dt, out), _tensor(b, dt, out), dt


def _b(op, x, y, dtype=None):
    """A new tensor = op(x, y); y may be a scalar."""
    return _call(op, _new(x, dtype), x, y)


def _u(op, x, dtype=None):
    return _call(op, _new(x, dtype), x)


def _cast(x, dtype):
    return x if x._dtype is dtype else _call("copy", _new(x, dtype), x)


def _not(c):
    return _b("eq", c, False, D.bool)


def _or(c1, c2):
    return _call("where", _new(c1, D.bool), c1, c1, c2)


def _and(c1, c2):
    return _call("where", _new(c1, D.bool), c1, c2, c1)


def _minus_one(dtype):
    """-1 in `dtype`'s arithmetic: an unsigned type wraps it to its maximum."""
    if dtype.kind == 1 and not dtype.is_signed:
        return (1 << (8 * dtype.itemsize)) - 1
    return -1.0 if dtype.kind == 2 else -1


def _neg(x):
    return _b("mul", x, _minus_one(x._dtype))


def _abs(x):
    """|x| for floats and signed integers (-0.0 becomes +0.0)."""
    a = _call("where", _new(x), _b("lt", x, 0.0 if x._dtype.kind == 2 else 0, D.bool),
              _neg(x), x)
    return _b("add", a, 0.0) if x._dtype.kind == 2 else a


def _isnan(x):
    return _not(_b("eq", x, x, D.bool))


def _copy_to(out, x):
    """out = x, skipped when out is x itself (an in-place op on a type it leaves as is):
    `copy` never gets overlapping operands."""
    if out is x or (out._storage is x._storage and out._shape == x._shape and
                    out._stride == x._stride and out._offset == x._offset):
        return out
    return _call("copy", out, x)
