"""Binary elementwise ops with broadcasting and PyTorch's type promotion, their in-place and
reflected forms, and where/clamp."""
import numpy as np

from .. import _capture
from .. import _dtype as D
from .._tensor import Tensor, empty_like_meta, numel_of
from ..autograd.grad_mode import STATE
from . import _core as C
from ._decl import declare
from . import samples as S
from .._dispatch import kernel as _kernel

__all__ = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
           "floor_divide", "remainder", "fmod", "pow", "maximum", "minimum", "atan2", "eq", "ne",
           "lt", "le", "gt", "ge", "greater", "less", "greater_equal", "less_equal", "not_equal",
           "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
           "where", "clamp", "clip", "rsub"]


# dtype rules: promoted dtype -> (compute dtype, output dtype)
def _same(dt):
    return dt, dt


def _float(dt):
    c = dt if dt.kind == 2 else D.get_default_dtype()
    return c, c


def _compare(dt):
    return dt, D.bool


def _logical(dt):
    return D.bool, D.bool


def _no_bool(name):
    def rule(dt):
        if dt is D.bool:
            raise RuntimeError(f"{name}: not supported for bool tensors")
        return dt, dt
    return rule


def _integral(name):
    def rule(dt):
        if dt.kind == 2:
            raise TypeError(f"{name}: only integer and bool tensors are supported, got {dt}")
        return dt, dt
    return rule


# operand checks: (op, a, b, compute dtype) -> raises for operands the op refuses

def _no_bool_operand(op, a, b, cdt):
    """PyTorch refuses subtraction with a bool operand, tensor or Python bool."""
    bools = [x is True or x is False or getattr(x, "_dtype", None) is D.bool for x in (a, b)]
    if all(bools):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if any(bools):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


def _nonzero_divisor(op, a, b, cdt):
    """Integer division by zero raises (RuntimeError 'ZeroDivisionError', as PyTorch): at
    once for a number or a tensor in host memory; on a device at the next host read, like
    the index checks (NOTE [deferred index checks]), the kernel meanwhile giving 0."""
    if cdt.kind == 2:
        return
    if not isinstance(b, Tensor):
        if b == 0:
            raise RuntimeError(f"ZeroDivisionError: integer {op} by zero")
        return
    st = b._storage
    known = st.range if st.range is not None and st.range[0] == st.version and \
        _capture.ACTIVE is None else None
    if not numel_of(b._shape) or (known is not None and (known[1] > 0 or known[2] < 0)):
        return
    from .reduction import any as any_
    state, STATE.enabled = STATE.enabled, False
    try:
        flag = any_(eq(b, 0))
    finally:
        STATE.enabled = state

    def check(v):
        if v.any():
            raise RuntimeError(f"ZeroDivisionError: integer {op} by zero")
    C.check_values(flag, check)


class _Binary:
    """What the driver needs of an op at run time (built by `elementwise`)."""
    __slots__ = ("name", "kernel", "rule", "backward", "bname", "cache", "saves", "check")

    def __init__(self, name, rule, backward, saves, kernel=None, check=None):
        self.name, self.rule, self.backward, self.saves = name, rule, backward, saves
        self.check = check
        self.kernel = kernel or name
        self.bname = name.capitalize() + "Backward0"
        self.cache = {}


def _operand_device(a, b, op):
    """Pick the device of the result; a 0-d cpu tensor mixes with any device, as a scalar."""
    da, db = a._storage.device, b._storage.device
    if da == db:
        return a, b
    if not b._shape and db.type == "cpu":
        return a, b.item()
    if not a._shape and da.type == "cpu":
        return a.item(), b
    raise RuntimeError(f"{op}: expected all tensors to be on the same device, but found at "
                       f"least two devices, {da} and {db}!")


def binary(spec, a, b):
    # fast path: two tensors of one dtype, shape and device
    if a.__class__ is Tensor and b.__class__ is Tensor and a._dtype is b._dtype and \
            a._shape == b._shape and a._storage.device is b._storage.device:
        try:
            cdt, odt = spec.cache[a._dtype]
        except KeyError:
            cdt, odt = spec.cache[a._dtype] = spec.rule(a._dtype)
        if cdt is a._dtype:
            if spec.check is not None:
                spec.check(spec.name, a, b, cdt)
            out = empty_like_meta(a, dtype=odt)
            _kernel(spec.kernel, a)(out, a, b)
            if spec.backward is not None and STATE.enabled and (a._rg or b._rg):
                _record(spec, a, b, out)
            return out
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        if a._storage is not b._storage and a._storage.device != b._storage.device:
            a, b = _operand_device(a, b, spec.name)
            ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        dt = a._dtype if a._dtype is b._dtype else D.result_type(a, b)
        shape = a._shape if a._shape == b._shape else C.broadcast_shapes(
            spec.name, a._shape, b._shape)
        like = a
    elif ta:
        if not isinstance(b, (int, float, bool)):
            b = _coerce(spec.name, b)
        dt = D.result_type(a, b)
        shape, like = a._shape, a
    elif tb:
        if not isinstance(a, (int, float, bool)):
            a = _coerce(spec.name, a)
        dt = D.result_type(a, b)
        shape, like = b._shape, b
    else:
        raise TypeError(f"{spec.name}: expected at least one tensor, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    try:
        cdt, odt = spec.cache[dt]
    except KeyError:
        cdt, odt = spec.cache[dt] = spec.rule(dt)
    if spec.check is not None:
        spec.check(spec.name, a, b, cdt)
    xa = _prep(a, cdt, shape) if ta else C.scalar_for(a, cdt)
    xb = _prep(b, cdt, shape) if tb else C.scalar_for(b, cdt)
    out = empty_like_meta(like, shape=shape, dtype=odt)
    _kernel(spec.kernel, like)(out, xa, xb)
    if spec.backward is not None and STATE.enabled and (
            (ta and a._rg) or (tb and b._rg)):
        _record(spec, a, b, out)
    return out


def _record(spec, a, b, out):
    """Record the node; save only the operands the derivative will read (`saves`)."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    ra, rb = ta and a._rg, tb and b._rg
    save_a, save_b = spec.saves(ra, rb)
    C.record(spec.backward, spec.bname, (a if ta else None, b if tb else None), out,
             params=(None if ta else a, None if tb else b,
                     (a._shape, a._dtype) if ta else None, (b._shape, b._dtype) if tb else None),
             saved=(a if ta and save_a else None, b if tb and save_b else None))


def _coerce(op, v):
    if isinstance(v, (np.generic,)):
        return v.item()
    raise TypeError(f"{op}: unsupported operand type {type(v).__name__}; expected a Tensor or "
                    f"a number")


def _prep(t, dt, shape):
    if t._dtype is not dt:
        t = C.cast_meta(t, dt)
    if t._shape != shape:
        t = C.expand_meta(t, shape)
    return t


def binary_(spec, self, other):
    """self (op)= other, in place."""
    name = spec.name + "_"
    C.check_inplace(name, self)
    if isinstance(other, Tensor):
        if other._storage.device != self._storage.device:
            self, other = _operand_device(self, other, name)
        elif other._shape != self._shape:
            shape = C.broadcast_shapes(name, self._shape, other._shape)
            if shape != self._shape:
                raise RuntimeError(f"{name}: output with shape {tuple(self._shape)} doesn't match "
                                   f"the broadcast shape {shape}")
    dt = D.result_type(self, other)
    cdt, odt = spec.rule(dt)
    if spec.check is not None:
        spec.check(name, self, other, cdt)
    if not D.can_cast(odt, self._dtype):
        raise RuntimeError(f"{name}: result type {D.scalar_name(odt)} can't be cast to the "
                           f"desired output type {D.scalar_name(self._dtype)}")
    if STATE.enabled and (self._rg or getattr(other, "_rg", False)):
        return C.commit_inplace(name, self, binary(spec, self.clone(), other), others=(other,))
    alias = isinstance(other, Tensor) and C.overlaps(self, other)
    if odt is self._dtype and cdt is self._dtype and not alias:
        xo = _prep(other, cdt, self._shape) if isinstance(other, Tensor) else \
            C.scalar_for(other, cdt)
        _kernel(spec.kernel, self)(self, self, xo)
    else:
        _kernel("copy", self)(self, binary(spec, self, other))
    self._storage.version += 1
    return self


# ----------------------------------------------------------------------------- derivatives

def _g(g, n, i):
    """The part of gradient g that belongs to operand i, or None if it needs none."""
    if n.edges[i] is None:
        return None
    shape, dtype = n.params[2 + i]
    g = C.sum_to(g, shape)
    return g if g._dtype is dtype else g.to(dtype)


def _operands(n):
    """The operands' values as the derivative needs them: saved tensors or scalars."""
    a, b = n.inputs
    return (a if a is not None else n.params[0]), (b if b is not None else n.params[1])


def _add_bw(n, g):
    return _g(g, n, 0), _g(g, n, 1)


def _sub_bw(n, g):
    return _g(g, n, 0), (_g(-g, n, 1) if n.edges[1] is not None else None)


def _mul_bw(n, g):
    x, y = _operands(n)
    return (_g(g * y, n, 0) if n.edges[0] is not None else None,
            _g(g * x, n, 1) if n.edges[1] is not None else None)


def _div_bw(n, g):
    x, y = _operands(n)
    ga = _g(g / y, n, 0) if n.edges[0] is not None else None
    gb = _g(-g * x / (y * y), n, 1) if n.edges[1] is not None else None
    return ga, gb


def _pow_bw(n, g):
    x, e = _operands(n)
    ga = gb = None
    if n.edges[0] is not None:
        ga = _g(g * 0 if isinstance(e, (int, float)) and e == 0 else g * e * x ** (e - 1),
                n, 0)
    if n.edges[1] is not None:
        logx = x.log() if isinstance(x, Tensor) else float(np.log(x))
        gb = _g(g * x ** e * logx, n, 1)
    return ga, gb


def _minmax_bw(pick):
    def bw(n, g):
        # an operand gets the gradient unless the other one wins, half of it on a tie; with a
        # NaN neither wins, so both get it (as PyTorch)
        x, y = _operands(n)
        tie = eq(x, y).to(g._dtype) * 0.5
        wx = 1 - pick(y, x).to(g._dtype) - tie
        wy = 1 - pick(x, y).to(g._dtype) - tie
        return _g(g * wx, n, 0), _g(g * wy, n, 1)
    return bw


def _atan2_bw(n, g):
    x, y = _operands(n)
    d = x * x + y * y
    d = where(d == 0, 1.0, d)       # at (0, 0) both numerators are 0: a zero gradient, as PyTorch
    return _g(g * y / d, n, 0), _g(-g * x / d, n, 1)


def _remainder_bw(n, g):
    gb = None
    if n.edges[1] is not None:
        x, y = _operands(n)
        gb = _g(-g * floor_divide(x, y), n, 1)
    return _g(g, n, 0), gb


def _fmod_bw(n, g):
    gb = None
    if n.edges[1] is not None:
        x, y = _operands(n)
        gb = _g(-g * div(x, y, rounding_mode="trunc"), n, 1)
    return _g(g, n, 0), gb


def _floor_div_bw(n, g):
    return _g(g * 0, n, 0), _g(g * 0, n, 1)


# ----------------------------------------------------------------------------- declaration

SPECS = {}
#: ops whose in-place form `<name>_` is generated here (Tensor methods; ops/_tensor_methods.py)
INPLACE = []


def _saves_none(ra, rb):
    return False, False


def _saves_both(ra, rb):
    return True, True


def elementwise(name, rule, *, ref, derivative=None, saves=_saves_none, grad=None,
                dtypes=D.ALL, domain=None, samples=None, public=None, inplace=None, check=None):
    """Define binary elementwise op `name`, all of it in one call.

    Args:
        rule: promoted dtype -> (compute dtype, output dtype); raises for a refused dtype.
        ref: numpy reference (float64) for the conformance suite.
        derivative: (node, grad) -> (grad a, grad b), written with frontend ops; None when
            the op records no graph.
        saves: (a requires grad, b requires grad) -> (save a, save b): the operands the
            derivative reads.
        check: (op, a, b, compute dtype) -> None, raising for operands the op refuses
            beyond its dtype rule (a zero integer divisor, a bool in a subtraction).
        grad: whether the suite checks the gradient (default: derivative is not None).
        dtypes, domain, samples: the dtypes it accepts and its test inputs (samples
            default to `samples.binary(domain)`).
        public, inplace: the public function and in-place method when they take more than
            (input, other) (add's alpha, div's rounding_mode); written above with
            `SPECS[name]`.
    The backend primitive is `name`; the public callable runs `binary(SPECS[name], ...)`.
    """
    spec = SPECS[name] = _Binary(name, rule, derivative, saves, check=check)
    if public is None:
        def public(input, other):
            return binary(spec, input, other)
        public.__name__ = name
        public.__doc__ = f"Elementwise {name} with broadcasting and type promotion."
    if inplace is None:
        def inplace(self, other):
            return binary_(spec, self, other)
        inplace.__name__ = name + "_"
        INPLACE.append(name)
    globals()[name], globals()[name + "_"] = public, inplace
    declare(name, public, ref=ref, dtypes=dtypes, primitive=name,
            grad=derivative is not None if grad is None else grad,
            samples=samples or S.binary(domain))


def add(input, other, *, alpha=1):
    """input + alpha * other, with broadcasting and type promotion."""
    if alpha != 1:
        other = mul(other, alpha)
    return binary(SPECS["add"], input, other)


def sub(input, other, *, alpha=1):
    """input - alpha * other."""
    if alpha != 1:
        other = mul(other, alpha)
    return binary(SPECS["sub"], input, other)


def _add_(self, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha)
    return binary_(SPECS["add"], self, other)


def _sub_(self, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha)
    return binary_(SPECS["sub"], self, other)


def div(input, other, *, rounding_mode=None):
    """input / other; rounding_mode None (true division), 'trunc' or 'floor'."""
    if rounding_mode is None:
        return binary(SPECS["div"], input, other)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        dt = D.result_type(input, other)
        _nonzero_divisor("div", input, other, dt)
        q = binary(SPECS["div"], input, other)
        return q.trunc() if dt.kind == 2 else q.trunc().to(dt)
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                     f"found '{rounding_mode}'")


def _div_(self, other, *, rounding_mode=None):
    if rounding_mode is None:
        return binary_(SPECS["div"], self, other)
    return self.copy_(div(self, other, rounding_mode=rounding_mode))


def rsub(input, other, *, alpha=1):
    return sub(other, input, alpha=alpha)


def where(condition, input=None, other=None):
    """Pick input where condition is true, else other; with one argument, nonzero(as_tuple)."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    from .ternary import where as _where
    return _where(condition, input, other)


def clamp(input, min=None, max=None):
    """Clamp every element into [min, max]; min and max may be numbers or tensors.

    The result type is promoted over input, min and max together. Where min > max every
    element becomes max. The gradient passes to input where min <= input <= max (bounds
    included, as PyTorch), to a tensor min where input < min < max, and to a tensor max
    where input > max or max < min.
    """
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    dt = D.result_type(input, min, max)
    if dt is D.bool and not isinstance(min, Tensor) and not isinstance(max, Tensor):
        # PyTorch's clamp with number bounds has no bool kernel (with tensor bounds it has)
        raise NotImplementedError("clamp: not implemented for 'Bool'")
    out = input if input._dtype is dt else input.to(dt)
    state, STATE.enabled = STATE.enabled, False
    try:
        if min is not None:
            out = binary(SPECS["maximum"], out, _as(min, dt))
        if max is not None:
            out = binary(SPECS["minimum"], out, _as(max, dt))
    finally:
        STATE.enabled = state
    lo = min if isinstance(min, Tensor) else None
    hi = max if isinstance(max, Tensor) else None
    if out._dtype.kind == 2 and C.needs_grad(input, lo, hi):
        C.record(_clamp_bw, "ClampBackward1", (input, lo, hi), out, params=(min, max),
                 saved=(input, lo, hi))
    return out


def _as(bound, dtype):
    """A tensor bound in the result type (a number is converted by the kernel)."""
    return bound.to(dtype) if isinstance(bound, Tensor) and bound._dtype is not dtype \
        else bound


def _clamp_bw(n, g):
    x, lo_t, hi_t = n.inputs
    lo, hi = n.params
    lo = lo_t if lo_t is not None else lo
    hi = hi_t if hi_t is not None else hi
    zero = g.new_zeros(())

    def part(mask, i, like):
        if n.edges[i] is None:
            return None
        gi = C.sum_to(where(mask, g, zero), like._shape)
        return gi if gi._dtype is like._dtype else gi.to(like._dtype)

    keep = None
    if lo is not None:
        keep = ge(x, lo)
    if hi is not None:
        keep = le(x, hi) if keep is None else logical_and(keep, le(x, hi))
    glo = ghi = None
    if lo_t is not None:
        below = lt(x, lo_t)
        glo = part(below if hi is None else logical_and(below, lt(lo_t, hi)), 1, lo_t)
    if hi_t is not None:
        above = gt(x, hi_t)
        ghi = part(above if lo is None else logical_or(above, lt(hi_t, lo)), 2, hi_t)
    return part(keep, 0, x), glo, ghi


def _clamp_(self, min=None, max=None):
    C.check_inplace("clamp_", self)
    bounds = [b._shape for b in (min, max) if isinstance(b, Tensor)]
    if bounds and C.broadcast_shapes("clamp_", self._shape, *bounds) != self._shape:
        raise RuntimeError(f"clamp_: output with shape {list(self._shape)} doesn't match the "
                           f"broadcast shape "
                           f"{list(C.broadcast_shapes('clamp_', self._shape, *bounds))}")
    dt = D.result_type(self, min, max)
    if not D.can_cast(dt, self._dtype):
        raise RuntimeError(f"clamp_: result type {D.scalar_name(dt)} can't be cast to the "
                           f"desired output type {D.scalar_name(self._dtype)}")
    if not (STATE.enabled and C.needs_grad(self, min, max)):
        return self.copy_(clamp(self, min, max))
    # the derivative reads self's old value: clamp a clone of it
    return C.commit_inplace("clamp_", self, clamp(self.clone(), min, max), others=(min, max))


declare("clamp", clamp, ref=lambda x, lo, hi: np.clip(x, lo, hi), samples=S.clamp(),
        dtypes=D.NUMERIC)
declare("where", where, ref=S.ref_where, samples=S.where(), dtypes=D.ALL, primitive="where")



def _pow(a, b):
    if isinstance(b, (int, float)) and not isinstance(b, bool) and isinstance(a, Tensor):
        if b == 2 and a._dtype.kind == 2:
            return binary(SPECS["mul"], a, a)
        if isinstance(b, int) and b < 0 and a._dtype.kind != 2:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
    return binary(SPECS["pow"], a, b)


def pow(input, exponent):
    """input ** exponent elementwise."""
    return _pow(input, exponent)


# ----------------------------------------------------------------------------- the ops

elementwise("add", _same, ref=S.ref_alpha(np.add),
            samples=S.extended(S.binary(), S.alpha_samples),
            derivative=_add_bw, public=add, inplace=_add_)
elementwise("sub", _no_bool("sub"), ref=S.ref_alpha(np.subtract),
            samples=S.extended(S.binary(), S.alpha_samples),
            dtypes=D.NUMERIC, derivative=_sub_bw, public=sub, inplace=_sub_,
            check=_no_bool_operand)
elementwise("mul", _same, ref=np.multiply, derivative=_mul_bw,
            saves=lambda ra, rb: (rb, ra))
elementwise("div", _float, ref=S.ref_div, derivative=_div_bw,
            samples=S.extended(S.binary("nonzero_b"), S.rounding_samples),
            saves=lambda ra, rb: (rb, True), public=div, inplace=_div_)
elementwise("floor_divide", _no_bool("floor_divide"), ref=np.floor_divide,
            domain="nonzero_b", dtypes=D.NUMERIC, derivative=_floor_div_bw, grad=False,
            check=_nonzero_divisor)
elementwise("remainder", _no_bool("remainder"), ref=np.remainder, domain="nonzero_b",
            dtypes=D.NUMERIC, derivative=_remainder_bw, saves=lambda ra, rb: (rb, rb),
            grad=False, check=_nonzero_divisor)
elementwise("fmod", _no_bool("fmod"), ref=np.fmod, domain="nonzero_b", dtypes=D.NUMERIC,
            derivative=_fmod_bw, saves=lambda ra, rb: (rb, rb), check=_nonzero_divisor)
elementwise("pow", _no_bool("pow"), ref=np.power,
            samples=S.extended(S.binary("pow"), S.pow_samples), dtypes=D.NUMERIC,
            derivative=_pow_bw, saves=_saves_both, public=pow)
elementwise("maximum", _same, ref=np.maximum, derivative=_minmax_bw(lambda x, y: gt(x, y)),
            saves=_saves_both)
elementwise("minimum", _same, ref=np.minimum, derivative=_minmax_bw(lambda x, y: lt(x, y)),
            saves=_saves_both)
elementwise("atan2", _float, ref=np.arctan2, domain="nonzero_b", derivative=_atan2_bw,
            saves=_saves_both)
for _name, _ref in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                    ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal)):
    elementwise(_name, _compare, ref=_ref)
for _name, _ref in (("logical_and", np.logical_and), ("logical_or", np.logical_or),
                    ("logical_xor", np.logical_xor)):
    elementwise(_name, _logical, ref=_ref)
for _name, _ref in (("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                    ("bitwise_xor", np.bitwise_xor)):
    elementwise(_name, _integral(_name), ref=_ref, dtypes=(D.bool,) + D.INTEGRAL)

clip = clamp
subtract, multiply, divide, true_divide = sub, mul, div, div
greater, less, greater_equal, less_equal, not_equal = gt, lt, ge, le, ne


