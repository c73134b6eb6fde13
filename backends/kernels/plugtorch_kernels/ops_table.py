"""The C expression of every elementwise primitive, per dtype, with numpy's semantics.

`unary_expr(name, dt)` / `binary_expr(name, dt)` return (expression, dtype of its value,
helper C functions it needs). Operands are `x0`, `x1` of C type `T` (see cl_source.VTYPE);
the launcher casts the value to the output dtype. Integer division and remainder by zero
give 0 and never trap; floor_divide floors and remainder takes the divisor's sign, as
numpy does; maximum/minimum propagate NaN; comparisons with NaN are false.
"""
import plugtorch

_FLOAT_DIVMOD = r"""
INLINE T pt_fdiv_T(T a, T b) {
    if (b == 0) return a / b;
    T mod = fmod(a, b);
    T div = (a - mod) / b;
    if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1;
    T fl;
    if (div != 0) { fl = floor(div); if (div - fl > (T)0.5) fl += 1; }
    else fl = copysign((T)0, a / b);
    return fl;
}
INLINE T pt_fmod_T(T a, T b) {
    if (b == 0) return fmod(a, b);
    T mod = fmod(a, b);
    if (mod != 0) { if ((b < 0) != (mod < 0)) mod += b; }
    else mod = copysign((T)0, b);
    return mod;
}
"""

_INT_DIVMOD = r"""
INLINE T pt_idiv_T(T a, T b) {
    if (b == 0) return 0;
    if (b == -1) return (T)(0 - a);          /* MIN / -1 would trap */
    T q = a / b;
    if ((a %% b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}
INLINE T pt_itmod_T(T a, T b) { return (b == 0 || b == -1) ? (T)0 : (T)(a %% b); }
INLINE T pt_imod_T(T a, T b) {
    if (b == 0 || b == -1) return 0;
    T r = a %% b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}
INLINE T pt_ipow_T(T a, T b) {
    if (b < 0) return a == 1 ? (T)1 : (a == (T)-1 ? ((b & 1) ? (T)-1 : (T)1) : (T)0);
    T r = 1;
    while (b) { if (b & 1) r *= a; b >>= 1; a *= a; }
    return r;
}
""".replace("%%", "%")

_UINT_DIVMOD = r"""
INLINE T pt_idiv_T(T a, T b) { return b == 0 ? (T)0 : (T)(a / b); }
INLINE T pt_imod_T(T a, T b) { return b == 0 ? (T)0 : (T)(a % b); }
INLINE T pt_itmod_T(T a, T b) { return b == 0 ? (T)0 : (T)(a % b); }
INLINE T pt_ipow_T(T a, T b) {
    T r = 1;
    while (b) { if (b & 1) r *= a; b >>= 1; a *= a; }
    return r;
}
"""

_SIGMOID = "(x0 >= 0 ? (T)1 / ((T)1 + exp(-x0)) : exp(x0) / ((T)1 + exp(x0)))"


def _helpers(dt, ctype):
    if dt.kind == 2:
        src = _FLOAT_DIVMOD
    elif dt.is_signed:
        src = _INT_DIVMOD
    else:
        src = _UINT_DIVMOD
    return src.replace("_T(", f"_{ctype}(").replace("T", ctype)


def unary_expr(name, dt):
    """(C expression over x0, its dtype) for unary primitive `name` on dtype `dt`."""
    f = dt.kind == 2
    b = dt is plugtorch.bool
    if name == "neg":
        return "-x0", dt
    if name == "abs":
        return ("fabs(x0)" if f else "x0" if b else "(x0 < 0 ? -x0 : x0)"), dt
    if name == "sign":
        if b:
            return "x0", dt
        s = "((x0 > 0) - (x0 < 0))"
        return (f"(isnan(x0) ? x0 : (T){s})" if f else s), dt
    if name in ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "erf"):
        return f"{name}(x0)", dt
    if name == "rsqrt":
        return "(T)1 / sqrt(x0)", dt
    if name == "sigmoid":
        return _SIGMOID, dt
    if name == "relu":
        return ("((x0 > 0 || isnan(x0)) ? x0 : (T)0)" if f else "(x0 > 0 ? x0 : (T)0)"), dt
    if name in ("floor", "ceil", "trunc"):
        return (f"{name}(x0)" if f else "x0"), dt
    if name == "round":
        return ("rint(x0)" if f else "x0"), dt     # rint: half to even, as numpy
    if name == "reciprocal":
        return "(T)1 / x0", dt
    if name == "logical_not":
        return "(x0 == 0)", plugtorch.bool
    if name == "isnan":
        return ("isnan(x0)" if f else "0"), plugtorch.bool
    if name == "isinf":
        return ("isinf(x0)" if f else "0"), plugtorch.bool
    if name == "isfinite":
        return ("isfinite(x0)" if f else "1"), plugtorch.bool
    if name == "bitwise_not":
        return ("(x0 == 0)" if b else "~x0"), dt
    raise KeyError(name)


_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_BITS = {"bitwise_and": "&", "bitwise_or": "|", "bitwise_xor": "^"}


def binary_expr(name, dt, ctype):
    """(C expression over x0, x1, its dtype, helper source) for binary primitive `name`."""
    f = dt.kind == 2
    b = dt is plugtorch.bool
    if name in _CMP:
        return f"(x0 {_CMP[name]} x1)", plugtorch.bool, ""
    if name == "logical_and":
        return "((x0 != 0) && (x1 != 0))", plugtorch.bool, ""
    if name == "logical_or":
        return "((x0 != 0) || (x1 != 0))", plugtorch.bool, ""
    if name == "logical_xor":
        return "((x0 != 0) != (x1 != 0))", plugtorch.bool, ""
    if name in _BITS:
        return f"(x0 {_BITS[name]} x1)", dt, ""
    if b and name in ("add", "maximum"):
        return "(x0 | x1)", dt, ""
    if b and name in ("mul", "minimum"):
        return "(x0 & x1)", dt, ""
    if name == "add":
        return "(x0 + x1)", dt, ""
    if name == "sub":
        return "(x0 - x1)", dt, ""
    if name == "mul":
        return "(x0 * x1)", dt, ""
    if name == "div" and f:
        return "(x0 / x1)", dt, ""
    if name == "atan2":
        return "atan2(x0, x1)", dt, ""
    if name == "maximum":
        return ("((isnan(x0) || x0 >= x1) ? x0 : x1)" if f else "(x0 > x1 ? x0 : x1)"), dt, ""
    if name == "minimum":
        return ("((isnan(x0) || x0 <= x1) ? x0 : x1)" if f else "(x0 < x1 ? x0 : x1)"), dt, ""
    helpers = _helpers(dt, ctype)
    if name in ("floor_divide", "div"):   # integer div floors, as the contract says
        return (f"pt_fdiv_{ctype}(x0, x1)" if f else f"pt_idiv_{ctype}(x0, x1)"), dt, helpers
    if name == "fmod":
        return ("fmod(x0, x1)" if f else f"pt_itmod_{ctype}(x0, x1)"), dt, helpers
    if name == "remainder":
        return (f"pt_fmod_{ctype}(x0, x1)" if f else f"pt_imod_{ctype}(x0, x1)"), dt, helpers
    if name == "pow":
        return ("pow(x0, x1)" if f else f"pt_ipow_{ctype}(x0, x1)"), dt, helpers
    raise KeyError(name)
