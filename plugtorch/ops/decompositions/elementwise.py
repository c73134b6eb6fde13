"""Decompositions of the optional elementwise primitives (NOTE [decompositions])."""
from ... import _dtype as D
from ..._dispatch import DECOMPOSITIONS
from ._helpers import (_decomposes, _new, _call, _const, _scalar, _operands, _b, _u, _cast,
                       _not, _or, _and, _minus_one, _neg, _abs, _isnan, _copy_to)


# ----------------------------------------------------------------------------- unary

@_decomposes("neg")
def neg(out, x):
    _call("mul", out, x, _minus_one(x._dtype))


@_decomposes("abs")
def abs_(out, x):
    if x._dtype is D.bool or (x._dtype.kind == 1 and not x._dtype.is_signed):
        return _copy_to(out, x)
    neg_x = _neg(x)
    if x._dtype.kind != 2:
        return _call("where", out, _b("lt", x, 0, D.bool), neg_x, x)
    a = _call("where", _new(x), _b("lt", x, 0.0, D.bool), neg_x, x)
    _call("add", out, a, 0.0)       # -0.0 + 0.0 is +0.0


@_decomposes("sign")
def sign(out, x):
    dt = x._dtype
    if dt is D.bool:
        return _copy_to(out, x)
    zero = _const(0, dt, x)
    pos = _cast(_b("lt", zero, x, D.bool), dt)
    if not dt.is_signed:
        return _call("copy", out, pos)
    negative = _cast(_b("lt", x, _scalar(0, dt), D.bool), dt)
    s = _b("add", pos, _neg(negative))
    if dt.kind == 2:
        return _call("where", out, _isnan(x), x, s)
    _call("copy", out, s)


@_decomposes("sqrt")
def sqrt(out, x):
    r = _b("pow", x, 0.5)
    r = _call("where", _new(x), _b("eq", x, 0.0, D.bool), x, r)     # sqrt(-0.0) is -0.0
    _call("where", out, _b("lt", x, 0.0, D.bool), _const(float("nan"), x._dtype, x), r)


@_decomposes("rsqrt")
def rsqrt(out, x):
    _call("div", out, _const(1.0, x._dtype, x), _u("sqrt", x))


@_decomposes("reciprocal")
def reciprocal(out, x):
    _call("div", out, _const(1.0, x._dtype, x), x)


@_decomposes("log1p")
def log1p(out, x):
    # log(u) * x / (u - 1) with u = 1 + x corrects the rounding of 1 + x
    u = _b("add", x, 1.0)
    d = _b("add", u, -1.0)
    r = _b("mul", _u("log", u), _b("div", x, d))
    r = _call("where", _new(x), _b("eq", u, float("inf"), D.bool), u, r)
    _call("where", out, _b("eq", d, 0.0, D.bool), x, r)


@_decomposes("expm1")
def expm1(out, x):
    # (u - 1) * x / log(u) with u = exp(x) corrects the rounding of exp(x) - 1
    u = _u("exp", x)
    d = _b("add", u, -1.0)
    r = _b("mul", d, _b("div", x, _u("log", u)))
    r = _call("where", _new(x), _b("eq", u, float("inf"), D.bool), u, r)
    r = _call("where", _new(x), _b("eq", d, -1.0, D.bool), d, r)
    _call("where", out, _b("eq", u, 1.0, D.bool), x, r)


@_decomposes("cos")
def cos(out, x):
    # 1 - 2 sin^2(x/2): exact halving; near the zeros of cos the result has an absolute
    # error of about one ulp of 1 (a relative error that grows there)
    s = _u("sin", _b("mul", x, 0.5))
    _call("add", out, _b("mul", _b("mul", s, s), -2.0), 1.0)


@_decomposes("tan")
def tan(out, x):
    _call("div", out, _u("sin", x), _u("cos", x))


@_decomposes("tanh")
def tanh(out, x):
    # tanh|x| = -t / (t + 2) with t = expm1(-2|x|): accurate near 0, no overflow
    t = _u("expm1", _b("mul", _abs(x), -2.0))
    r = _b("div", _neg(t), _b("add", t, 2.0))
    r = _call("where", _new(x), _b("lt", x, 0.0, D.bool), _neg(r), r)
    _call("where", out, _b("eq", x, 0.0, D.bool), x, r)          # keeps the sign of 0


@_decomposes("sigmoid")
def sigmoid(out, x):
    # e = exp(-|x|) never overflows: 1 / (1 + e) for x >= 0, e / (1 + e) below
    e = _u("exp", _neg(_abs(x)))
    d = _b("add", e, 1.0)
    _call("where", out, _b("lt", x, 0.0, D.bool), _b("div", e, d),
          _call("div", _new(x), _const(1.0, x._dtype, x), d))


@_decomposes("relu")
def relu(out, x):
    zero = _scalar(0, x._dtype)
    if x._dtype.kind != 2:
        return _call("where", out, _b("lt", x, zero, D.bool), _const(zero, x._dtype, x), x)
    r = _call("where", _new(x), _b("lt", x, zero, D.bool), _const(zero, x._dtype, x), x)
    _call("add", out, r, 0.0)       # -0.0 becomes +0.0, as the cpu and opencl kernels


# rounding: floats below 2**mantissa_bits in magnitude go through an exact int64 cast;
# larger ones (and inf, NaN) are integers already
_EXACT = {D.float16: 2.0 ** 10, D.float32: 2.0 ** 23, D.float64: 2.0 ** 52}


def _trunc(x):
    small = _b("lt", _abs(x), _EXACT[x._dtype], D.bool)
    zero = _const(0.0, x._dtype, x)
    whole = _cast(_cast(_call("where", _new(x), small, x, zero), D.int64), x._dtype)
    return _call("where", _new(x), small, whole, x)


def _signed_zero(out, r, x):
    """out = r, with a zero result taking x's sign (as C's trunc/floor/ceil/rint)."""
    _call("where", out, _b("eq", r, 0.0, D.bool), _b("mul", x, 0.0), r)


def _floor(x):
    t = _trunc(x)
    return _call("where", _new(x), _b("lt", x, t, D.bool), _b("add", t, -1.0), t)


def _rounding(name):
    def decomposition(out, x):
        if x._dtype.kind != 2:
            return _copy_to(out, x)
        if name == "trunc":
            r = _trunc(x)
        elif name == "floor":
            r = _floor(x)
        elif name == "ceil":
            t = _trunc(x)
            r = _call("where", _new(x), _b("lt", t, x, D.bool), _b("add", t, 1.0), t)
        else:   # half to even
            f = _floor(x)
            frac = _b("add", x, _neg(f))          # exact
            up = _b("lt", _const(0.5, x._dtype, x), frac, D.bool)
            tie = _b("eq", frac, 0.5, D.bool)
            odd = _b("eq", _b("remainder", f, 2.0), 1.0, D.bool)
            r = _b("add", f, _cast(_or(up, _and(tie, odd)), x._dtype))
        _signed_zero(out, r, x)
    decomposition.__name__ = name
    return decomposition


for _name in ("trunc", "floor", "ceil", "round"):
    DECOMPOSITIONS[_name] = _rounding(_name)


@_decomposes("logical_not")
def logical_not(out, x):
    _call("eq", out, x, _scalar(0, x._dtype))


def _classifier(name):
    def decomposition(out, x):
        if x._dtype.kind != 2:
            return _call("fill", out, name == "isfinite")
        if name == "isnan":
            return _call("eq", out, _b("eq", x, x, D.bool), False)
        fn = "eq" if name == "isinf" else "lt"
        _call(fn, out, _abs(x), float("inf"))
    decomposition.__name__ = name
    return decomposition


for _name in ("isnan", "isinf", "isfinite"):
    DECOMPOSITIONS[_name] = _classifier(_name)


@_decomposes("bitwise_not")
def bitwise_not(out, x):
    if x._dtype is D.bool:
        return _call("eq", out, x, False)
    _call("add", out, _neg(x), _minus_one(x._dtype))     # ~x == -x - 1


# ----------------------------------------------------------------------------- binary

@_decomposes("sub")
def sub(out, a, b):
    a, b, dt = _operands(out, a, b)
    _call("add", out, a, _neg(b))


def _signs_differ(mod, b):
    """mod != 0 and (b < 0) != (mod < 0): where a C remainder needs Python's adjustment."""
    zero = _scalar(0, b._dtype)
    differ = _not(_b("eq", _b("lt", b, zero, D.bool), _b("lt", mod, zero, D.bool), D.bool))
    return _and(_not(_b("eq", mod, zero, D.bool)), differ)


@_decomposes("remainder")
def remainder(out, a, b):
    a, b, dt = _operands(out, a, b)
    mod = _b("fmod", a, b)
    if dt.kind == 1 and not dt.is_signed:
        return _call("copy", out, mod)
    mod = _call("where", _new(mod), _signs_differ(mod, b), _b("add", mod, b), mod)
    if dt.kind != 2:
        return _call("copy", out, mod)
    # a zero result takes the divisor's sign, as Python's %
    signed_zero = _call("where", _new(mod), _b("lt", b, 0.0, D.bool), _const(-0.0, dt, mod),
                        _const(0.0, dt, mod))
    _call("where", out, _b("eq", mod, 0.0, D.bool), signed_zero, mod)


@_decomposes("floor_divide")
def floor_divide(out, a, b):
    a, b, dt = _operands(out, a, b)
    if dt.kind != 2:
        return _call("div", out, a, b)      # integer div floors (the contract)
    # as Python's float //: the exact C remainder first, then the quotient rounded to an
    # integer; a zero quotient keeps the sign of a / b, a zero divisor gives a / b
    mod = _b("fmod", a, b)
    q = _b("div", _b("add", a, _neg(mod)), b)
    q = _call("where", _new(q), _signs_differ(mod, b), _b("add", q, -1.0), q)
    f = _floor(q)
    f = _call("where", _new(q), _b("lt", _const(0.5, dt, q), _b("add", q, _neg(f)), D.bool),
              _b("add", f, 1.0), f)
    r = _call("where", _new(q), _b("eq", q, 0.0, D.bool), _b("mul", _b("div", a, b), 0.0), f)
    _call("where", out, _b("eq", b, 0.0, D.bool), _b("div", a, b), r)


def _minmax(pick_a_if):
    def decomposition(out, a, b):
        a, b, dt = _operands(out, a, b)
        cond = pick_a_if(a, b)
        if dt.kind == 2:      # NaN propagates from either side
            cond = _or(cond, _isnan(a))
        _call("where", out, cond, a, b)
    return decomposition


DECOMPOSITIONS["maximum"] = _minmax(lambda a, b: _b("lt", b, a, D.bool))
DECOMPOSITIONS["minimum"] = _minmax(lambda a, b: _b("lt", a, b, D.bool))


@_decomposes("ne")
def ne(out, a, b):
    a, b, _ = _operands(out, a, b)
    _call("eq", out, _b("eq", a, b, D.bool), False)


@_decomposes("gt")
def gt(out, a, b):
    a, b, _ = _operands(out, a, b)
    _call("lt", out, b, a)


@_decomposes("le")
def le(out, a, b):
    a, b, _ = _operands(out, a, b)
    lt = _b("lt", a, b, D.bool)
    _call("where", out, lt, lt, _b("eq", a, b, D.bool))


@_decomposes("ge")
def ge(out, a, b):
    a, b, _ = _operands(out, a, b)
    lt = _b("lt", b, a, D.bool)
    _call("where", out, lt, lt, _b("eq", a, b, D.bool))


def _truth(x):
    return x if x._dtype is D.bool else _not(_b("eq", x, _scalar(0, x._dtype), D.bool))


@_decomposes("logical_and")
def logical_and(out, a, b):
    a, b, _ = _operands(out, a, b)
    a, b = _truth(a), _truth(b)
    _call("where", out, a, b, a)


@_decomposes("logical_or")
def logical_or(out, a, b):
    a, b, _ = _operands(out, a, b)
    a, b = _truth(a), _truth(b)
    _call("where", out, a, a, b)


@_decomposes("logical_xor")
def logical_xor(out, a, b):
    a, b, _ = _operands(out, a, b)
    _call("eq", out, _b("eq", _truth(a), _truth(b), D.bool), False)


@_decomposes("bitwise_or")
def bitwise_or(out, a, b):
    a, b, dt = _operands(out, a, b)
    if dt is D.bool:
        return _call("where", out, a, a, b)
    # a | b == a + b - (a & b) in wrapping integer arithmetic
    _call("add", out, _b("add", a, b), _neg(_b("bitwise_and", a, b)))


@_decomposes("bitwise_xor")
def bitwise_xor(out, a, b):
    a, b, dt = _operands(out, a, b)
    if dt is D.bool:
        return _call("eq", out, _b("eq", a, b, D.bool), False)
    # a ^ b == a + b - 2 (a & b)
    _call("add", out, _b("add", a, b), _b("mul", _b("bitwise_and", a, b), _minus_one(dt) * 2
                                                                         if dt.is_signed else
                                                                         _minus_one(dt) - 1))
