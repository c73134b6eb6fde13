"""The elementwise primitives and the softmax family as numexpr programs.

NOTE [numexpr programs]
Each primitive is one numexpr expression per kind of input (bool "b", integer "i", float
"f"), compiled once per compute type with `numexpr.NumExpr` and run straight into the
kernel's output view (any strides, including the input itself for in-place ops). numexpr
computes in bool, int32, int64, float32 and float64: narrower inputs are widened on the way
in (int8, uint8 and int16 to int32, float16 to float32) and the result is converted once on
the way out, which gives the contract's two's-complement wrap-around for the small integers
and a single rounding for float16. Python float constants in an expression are float64, so
a float32 expression that has one is computed in float64 and rounded once.

Integer division is where C and the contract differ: the CPU traps on MIN // -1 and
MIN % -1 (x86's idiv: the process dies of SIGFPE), so every integer division is written
with a divisor of 1 in place of 0 and -1 and the result for those divisors chosen with
`where` (numexpr evaluates both arms of a `where`; neither may trap).

`pow` on integers must be exact: numexpr computes it through float64, so that one runs on
numpy (see kernels.py).
"""
import math
import threading

import numexpr
import numpy as np

from plugtorch.backends import is_tensor, numpy_view

_v = numpy_view

# numexpr's names for its compute types: `float` is float32, `numpy.double` is float64
_COMPUTE = {"b": bool, "u1": np.int32, "i1": np.int32, "i2": np.int32, "i4": np.int32,
            "i8": np.int64, "f2": float, "f4": float, "f8": np.double}


def _compute_type(dt):
    return _COMPUTE["b" if dt.kind == "b" else dt.str[1:]]


def _kind(dt):
    return "b" if dt.kind == "b" else ("f" if dt.kind == "f" else "i")


# A compiled program keeps its working memory in itself: two threads running one at once
# crash the process. Each thread compiles its own, as numexpr.evaluate does.
_local = threading.local()


def program(expr, names, types):
    """This thread's compiled numexpr program of `expr` over inputs `names` of `types`."""
    cache = getattr(_local, "programs", None)
    if cache is None:
        cache = _local.programs = {}
    key = (expr, types)
    p = cache.get(key)
    if p is None:
        p = cache[key] = numexpr.NumExpr(expr, list(zip(names, types)))
    return p


def run(p, out, *inputs):
    """Evaluate program `p` into numpy view `out` (inputs and out broadcast together)."""
    p(*inputs, out=out, order="K", casting="unsafe", ex_uses_vml=False)


# ----------------------------------------------------------------------------- erf
# numexpr has no erf. For |x| < 3 the series erf(x) = 2/sqrt(pi) x exp(-x^2) sum_k (2x^2)^k /
# (2k+1)!! (positive terms, no cancellation; 50 terms reach float64 rounding at x = 3); from
# 3 on, 1 - erfc(x) with erfc's continued fraction exp(-x^2)/sqrt(pi) / (x + (1/2)/(x +
# 1/(x + (3/2)/(x + ...)))) cut after 30 levels. Checked against math.erf on 1e5 points of
# [0, 7] plus tiny values: within 1e-15 relative. float16 and float32 need far less: 24
# terms below 2.5 and 12 levels above stay within 1e-8 at half the cost. (The float64
# constants make both float64 programs inside; numexpr converts the input and the result.)

def _erf_expr(series_terms=50, fraction_levels=30, cut=3.0):
    a, t = "abs(x)", "(x * x)"
    series = "1"
    for k in range(series_terms, 0, -1):
        series = f"(1 + {2.0 / (2 * k + 1)!r} * {t} * {series})"
    fraction = a
    for k in range(fraction_levels, 0, -1):
        fraction = f"({a} + {k / 2!r} / {fraction})"
    small = f"{2 / math.sqrt(math.pi)!r} * {a} * exp(-{t}) * {series}"
    large = f"1 - exp(-{t}) / ({math.sqrt(math.pi)!r} * {fraction})"
    return f"copysign(where({a} < {cut!r}, {small}, {large}), x)"


# ----------------------------------------------------------------------------- the tables
_I_DIVISOR = "where((b == 0) | (b == -1), 1, b)"    # never traps (NOTE [numexpr programs])
# numpy's float floor division and remainder (floor of the exact quotient, sign of b),
# built from C's fmod as numpy builds them
_F_REMAINDER = ("where(fmod(a, b) == 0, copysign(0, b), where((b < 0) != (fmod(a, b) < 0), "
                "fmod(a, b) + b, fmod(a, b)))")
_F_QUOT = ("((a - fmod(a, b)) / b "
           "- where((fmod(a, b) != 0) & ((b < 0) != (fmod(a, b) < 0)), 1, 0))")
_F_FLOOR_DIV = (f"where(b == 0, a / b, where({_F_QUOT} == 0, copysign(0, a / b), "
                f"where({_F_QUOT} - floor({_F_QUOT}) > 0.5, floor({_F_QUOT}) + 1, "
                f"floor({_F_QUOT}))))")
_I_FLOOR_DIV = f"where(b == 0, 0, where(b == -1, -a, a // {_I_DIVISOR}))"
# numexpr's own integer % goes wrong for large operands (1 % 2147483647 gives -1): the
# remainder is built from its floor division, which is exact
_I_REMAINDER = f"(a - (a // {_I_DIVISOR}) * {_I_DIVISOR})"
_I_FMOD = (f"where(({_I_REMAINDER} != 0) & (({_I_REMAINDER} < 0) != (a < 0)), "
           f"{_I_REMAINDER} - {_I_DIVISOR}, {_I_REMAINDER})")

UNARY = {
    "neg": {"i": "-x", "f": "-x"},
    "abs": {"b": "x", "i": "where(x < 0, -x, x)", "f": "abs(x)"},
    "sign": {"b": "x", "i": "where(x > 0, 1, where(x < 0, -1, 0))", "f": "sign(x)"},
    "relu": {"b": "x", "i": "where(x < 0, 0, x)", "f": "where(x < 0, 0, x)"},   # NaN stays
    "sqrt": {"f": "sqrt(x)"}, "rsqrt": {"f": "1 / sqrt(x)"}, "reciprocal": {"f": "1 / x"},
    "exp": {"f": "exp(x)"}, "expm1": {"f": "expm1(x)"}, "log": {"f": "log(x)"},
    "log1p": {"f": "log1p(x)"}, "sin": {"f": "sin(x)"}, "cos": {"f": "cos(x)"},
    "tan": {"f": "tan(x)"}, "tanh": {"f": "tanh(x)"},
    # each arm is exact where it is chosen; the other may overflow to inf or NaN there, which
    # numexpr computes quietly and `where` drops
    "sigmoid": {"f": "where(x >= 0, 1 / (1 + exp(-x)), exp(x) / (1 + exp(x)))"},
    "floor": {"b": "x", "i": "x", "f": "floor(x)"},
    "ceil": {"b": "x", "i": "x", "f": "ceil(x)"},
    "trunc": {"b": "x", "i": "x", "f": "trunc(x)"},
    "round": {"b": "x", "i": "x", "f": "round(x)"},        # half to even
    "logical_not": {"b": "~x", "i": "x == 0", "f": "x == 0"},
    "isnan": {"b": "x != x", "i": "x != x", "f": "x != x"},          # false but for NaN
    "isinf": {"b": "x != x", "i": "x != x", "f": "isinf(x)"},
    "isfinite": {"b": "x == x", "i": "x == x", "f": "isfinite(x)"},
    "bitwise_not": {"b": "~x", "i": "~x"},
}

_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}

BINARY = {
    "add": {"b": "a | b", "i": "a + b", "f": "a + b"},
    "sub": {"i": "a - b", "f": "a - b"},
    "mul": {"b": "a & b", "i": "a * b", "f": "a * b"},
    "div": {"i": _I_FLOOR_DIV, "f": "a / b"},
    "floor_divide": {"i": _I_FLOOR_DIV, "f": _F_FLOOR_DIV},
    "remainder": {"i": _I_REMAINDER, "f": _F_REMAINDER},
    "fmod": {"i": _I_FMOD, "f": "fmod(a, b)"},
    "pow": {"f": "a ** b"},
    "atan2": {"f": "arctan2(a, b)"},
    "maximum": {"b": "a | b", "i": "where(a < b, b, a)", "f": "maximum(a, b)"},
    "minimum": {"b": "a & b", "i": "where(b < a, b, a)", "f": "minimum(a, b)"},
    "bitwise_and": {"b": "a & b", "i": "a & b"},
    "bitwise_or": {"b": "a | b", "i": "a | b"},
    "bitwise_xor": {"b": "a ^ b", "i": "a ^ b"},
    "logical_and": {"b": "a & b", "i": "(a != 0) & (b != 0)", "f": "(a != 0) & (b != 0)"},
    "logical_or": {"b": "a | b", "i": "(a != 0) | (b != 0)", "f": "(a != 0) | (b != 0)"},
    "logical_xor": {"b": "a ^ b", "i": "(a != 0) ^ (b != 0)", "f": "(a != 0) ^ (b != 0)"},
    **{name: dict.fromkeys("bif", f"a {op} b") for name, op in _CMP.items()},
}


def _unsupported(name, dt):
    return TypeError(f"numexpr backend: {name} has no kernel for {dt.name} inputs")


def unary(name):
    exprs = UNARY[name]

    def kernel(out, x):
        xv = _v(x)
        expr = exprs.get(_kind(xv.dtype))
        if expr is None:
            raise _unsupported(name, xv.dtype)
        run(program(expr, ("x",), (_compute_type(xv.dtype),)), _v(out), xv)
    kernel.__name__ = name
    return kernel


def binary(name):
    exprs = BINARY[name]

    def kernel(out, a, b):
        # one operand may be a Python scalar: it takes the tensor operand's dtype
        if is_tensor(a):
            av = _v(a)
            bv = _v(b) if is_tensor(b) else np.asarray(b, av.dtype)
        else:
            bv = _v(b)
            av = np.asarray(a, bv.dtype)
        expr = exprs.get(_kind(av.dtype))
        if expr is None:
            raise _unsupported(name, av.dtype)
        ct = _compute_type(av.dtype)
        run(program(expr, ("a", "b"), (ct, ct)), _v(out), av, bv)
    kernel.__name__ = name
    return kernel


_ERF = {np.double: _erf_expr(), float: _erf_expr(24, 12, 2.5)}


def erf(out, x):
    xv = _v(x)
    ct = _compute_type(xv.dtype)
    if ct not in _ERF:
        raise _unsupported("erf", xv.dtype)
    run(program(_ERF[ct], ("x",), (ct,)), _v(out), xv)


def where(out, cond, a, b):
    o = _v(out)
    ct = _compute_type(o.dtype)
    run(program("where(c, a, b)", ("c", "a", "b"), (bool, ct, ct)), o, _v(cond), _v(a), _v(b))


# ----------------------------------------------------------------------------- softmax
# Overridable ops (NOTE [composite kernels] in plugtorch.ops.composite): out is contiguous,
# dim non-negative. numpy finds the max and the sums; numexpr fuses the rest, writing only
# into out, where the frontend's decomposition makes three full-size tensors.

def _sum_dtype(dt):
    return np.float32 if dt == np.float16 else dt       # float16 adds up in float32


def softmax(out, x, dim):
    o, xv = _v(out), _v(x)
    if not o.size:
        return
    ct = _compute_type(o.dtype)
    m = np.max(xv, axis=dim, keepdims=True)
    run(program("exp(x - m)", ("x", "m"), (ct, ct)), o, xv, m)
    s = np.sum(o, axis=dim, keepdims=True, dtype=_sum_dtype(o.dtype))
    run(program("e / s", ("e", "s"), (ct, ct)), o, o, s)


def log_softmax(out, x, dim):
    o, xv = _v(out), _v(x)
    if not o.size:
        return
    ct = _compute_type(o.dtype)
    m = np.max(xv, axis=dim, keepdims=True)
    run(program("exp(x - m)", ("x", "m"), (ct, ct)), o, xv, m)
    s = np.sum(o, axis=dim, keepdims=True, dtype=_sum_dtype(o.dtype))
    run(program("x - m - log(s)", ("x", "m", "s"), (ct, ct, ct)), o, xv, m, s)


KERNELS = {**{n: unary(n) for n in UNARY}, **{n: binary(n) for n in BINARY},
           "erf": erf, "where": where, "softmax": softmax, "log_softmax": log_softmax}
