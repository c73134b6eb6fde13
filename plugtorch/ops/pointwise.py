"""Unary elementwise ops and their in-place forms (binary ops are in binary.py, where in
ternary.py).

Each op is one row of a table: kernel, dtype rule, numpy reference, derivative. The driver
`unary` does every check, then calls the backend primitive of the same name.
"""
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap, empty_like_meta
from ..autograd.grad_mode import STATE
from . import _core as C
from ._decl import declare, Sample
from . import samples as S
from .._dispatch import kernel as _kernel


# dtype rules: input dtype -> (compute dtype, output dtype), or raise
def _to_float(op):
    def rule(dt):
        c = dt if dt.kind == 2 else D.get_default_dtype()
        return c, c
    return rule


def _same(op, allow_bool=True):
    def rule(dt):
        if dt is D.bool and not allow_bool:
            raise RuntimeError(f"{op}: not supported for bool tensors" if op != "neg" else
                               "Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return dt, dt
    return rule


def _to_bool(op):
    return lambda dt: (dt, D.bool)


def _integral(op):
    def rule(dt):
        if dt.kind == 2:
            raise TypeError(f"{op}: only integer and bool tensors are supported, got {dt}")
        return dt, dt
    return rule


# ----------------------------------------------------------------------------- unary

class _Unary:
    __slots__ = ("name", "bname", "rule", "backward", "save_in", "save_out", "cache")

    def __init__(self, name, rule, backward, save_in, save_out):
        self.name, self.rule, self.backward = name, rule, backward
        self.bname = name.capitalize() + "Backward0"
        self.save_in, self.save_out = save_in, save_out
        self.cache = {}


def unary(spec, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{spec.name}(): argument 'input' must be Tensor, not "
                        f"{type(x).__name__}")
    try:
        cdt, odt = spec.cache[x._dtype]
    except KeyError:
        cdt, odt = spec.cache[x._dtype] = spec.rule(x._dtype)
    xin = C.cast_meta(x, cdt) if cdt is not x._dtype else x
    out = empty_like_meta(x, dtype=odt)
    _kernel(spec.name, x)(out, xin)
    if spec.backward is not None and STATE.enabled and x._rg:
        C.record(spec.backward, spec.bname, (x,), out,
                 saved=(x,) if spec.save_in else (), save_out=spec.save_out)
    return out


def unary_(spec, x):
    """In-place form: x.exp_()."""
    C.check_inplace(spec.name + "_", x)
    cdt, odt = spec.rule(x._dtype)
    if not D.can_cast(odt, x._dtype) or (odt is D.bool and x._dtype is not D.bool):
        raise RuntimeError(f"{spec.name}_: result type {D.scalar_name(odt)} can't be cast to "
                           f"the desired output type {D.scalar_name(x._dtype)}")
    if STATE.enabled and x._rg:
        return C.commit_inplace(spec.name + "_", x, unary(spec, x.clone()))
    r = unary(spec, x) if (cdt is not x._dtype or not x.is_contiguous()) else None
    if r is None:
        _kernel(spec.name, x)(x, x)
    else:
        _kernel("copy", x)(x, r)
    x._storage.version += 1
    return x


def _zeros_grad(n, g):
    return (g * 0,)


def _erf_ref(x):
    v = np.vectorize(math.erf, otypes=[np.float64])
    return v(x)


# ----------------------------------------------------------------------------- declaration

#: ops with an in-place form `<name>_` (Tensor methods; see ops/_tensor_methods.py)
INPLACE = []
_NO_BOOL = tuple(d for d in D.ALL if d is not D.bool)      # as PyTorch


def elementwise(name, rule, *, ref, derivative=None, saves=None, dtypes=D.ALL, domain=None,
                inplace=True, public=None, samples=None):
    """Define unary elementwise op `name`, all of it in one call.

    Args:
        rule: input dtype -> (compute dtype, output dtype); raises for a refused dtype.
        ref: numpy reference (float64) for the conformance suite.
        derivative: (node, grad) -> (grad,), written with frontend ops (`n.inputs[0]`,
            `n.out()`); None when the op records no graph. `_zeros_grad` marks a
            derivative that is zero wherever it exists (not gradient-checked).
        saves: what the derivative reads: "input", "output" or None.
        dtypes, domain: the dtypes it accepts and the kind of test values
            (`samples.unary(domain)`).
        inplace: whether it has an in-place form `<name>_`.
        public: for an op with more arguments than the primitive (round's decimals),
            (fn, fn_) -> the public (fn, fn_) built on the primitive's.
        samples: samples beyond `samples.unary(domain)`.
    The backend primitive is `name`.
    """
    spec = _Unary(name, rule, derivative, saves == "input", saves == "output")

    def fn(input):
        return unary(spec, input)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name}. Returns a new tensor."

    def fn_(self):
        return unary_(spec, self)
    fn_.__name__ = name + "_"
    if public is not None:
        fn, fn_ = public(fn, fn_)
    globals()[name] = fn
    __all__.append(name)
    if inplace:
        globals()[name + "_"] = fn_
        INPLACE.append(name)
    gen = S.unary(domain) if samples is None else S.extended(S.unary(domain), samples)
    declare(name, fn, ref=ref, samples=gen, dtypes=dtypes, primitive=name,
            grad=derivative is not None and derivative is not _zeros_grad)


__all__ = []

# ----------------------------------------------------------------------------- the ops

elementwise("neg", _same("neg", False), ref=np.negative, derivative=lambda n, g: (-g,),
            dtypes=_NO_BOOL)
elementwise("abs", _same("abs", False), ref=np.abs, dtypes=_NO_BOOL, domain="nonzero",
            derivative=lambda n, g: (g * n.inputs[0].sign(),), saves="input")
elementwise("sign", _same("sign"), ref=np.sign, derivative=_zeros_grad, domain="nonzero")
elementwise("exp", _to_float("exp"), ref=np.exp, derivative=lambda n, g: (g * n.out(),),
            saves="output")
elementwise("log", _to_float("log"), ref=np.log, derivative=lambda n, g: (g / n.inputs[0],),
            saves="input", domain="positive")
elementwise("log1p", _to_float("log1p"), ref=np.log1p, saves="input", domain="positive",
            derivative=lambda n, g: (g / (n.inputs[0] + 1),))
elementwise("expm1", _to_float("expm1"), ref=np.expm1, saves="output",
            derivative=lambda n, g: (g * (n.out() + 1),))
elementwise("sqrt", _to_float("sqrt"), ref=np.sqrt, saves="output", domain="positive",
            derivative=lambda n, g: (g / (2 * n.out()),))
elementwise("rsqrt", _to_float("rsqrt"), ref=lambda x: 1 / np.sqrt(x), saves="output",
            derivative=lambda n, g: (g * -0.5 * n.out() ** 3,), domain="positive")
elementwise("sin", _to_float("sin"), ref=np.sin, saves="input",
            derivative=lambda n, g: (g * n.inputs[0].cos(),))
elementwise("cos", _to_float("cos"), ref=np.cos, saves="input",
            derivative=lambda n, g: (-g * n.inputs[0].sin(),))
elementwise("tan", _to_float("tan"), ref=np.tan, saves="output", domain="small",
            derivative=lambda n, g: (g * (1 + n.out() ** 2),))
elementwise("tanh", _to_float("tanh"), ref=np.tanh, saves="output",
            derivative=lambda n, g: (g * (1 - n.out() ** 2),))
elementwise("sigmoid", _to_float("sigmoid"), ref=lambda x: 1 / (1 + np.exp(-x)),
            saves="output", derivative=lambda n, g: (g * n.out() * (1 - n.out()),))
def _relu_bw(n, g):
    """relu's derivative as PyTorch's threshold_backward: 0 where the output is <= 0, else g
    (a NaN output passes g on; an inf or NaN in g is not multiplied into the zeros). Without
    create_graph: a comparison, a 0-d zero and a where, on kernels directly."""
    y = n.out()
    if STATE.enabled:
        from .ternary import where
        return (where(y <= 0, 0.0, g),)
    mask = empty_like_meta(y, dtype=D.bool)
    C.run("le", mask, y, C.scalar_for(0, y._dtype))
    zero = empty_like_meta(g, shape=())
    C.run("fill", zero, C.scalar_for(0, g._dtype))
    out = empty_like_meta(g)
    C.run("where", out, mask, _wrap(zero._storage, g._shape, (0,) * len(g._shape), 0), g)
    return (out,)


elementwise("relu", _same("relu", False), ref=lambda x: np.maximum(x, 0), dtypes=_NO_BOOL,
            saves="output", domain="nonzero", derivative=_relu_bw)
elementwise("erf", _to_float("erf"), ref=_erf_ref, saves="input",
            derivative=lambda n, g: (g * (2 / math.sqrt(math.pi)) * (-n.inputs[0] ** 2).exp(),))
for _name in ("floor", "ceil", "trunc"):
    elementwise(_name, _same(_name, False), ref=getattr(np, _name), derivative=_zeros_grad,
                dtypes=_NO_BOOL, domain="nonint")


def _with_decimals(prim, prim_):
    """round(input, *, decimals=0): half to even, at `decimals` decimal places."""
    def round(input, *, decimals=0):
        """Round half to even; with `decimals`, to that many decimal places (negative: to
        tens, hundreds, ...), as round(x * 10**decimals) / 10**decimals.

        Example:
            >>> import plugtorch
            >>> plugtorch.round(plugtorch.tensor([2.5, 0.125, 1234.5]), decimals=2)
            tensor([2.5000e+00, 1.2000e-01, 1.2345e+03])
        """
        if decimals == 0:
            return prim(input)
        if not isinstance(decimals, int) or isinstance(decimals, bool):
            raise TypeError(f"round(): argument 'decimals' must be int, not "
                            f"{type(decimals).__name__}")
        if isinstance(input, Tensor) and input._dtype.kind != 2:
            raise NotImplementedError(f"round: decimals={decimals} is not implemented for "
                                      f"{input._dtype.name} tensors")
        scale = 10.0 ** (decimals if decimals > 0 else -decimals)   # (abs is the op here)
        return prim(input * scale) / scale if decimals > 0 else prim(input / scale) * scale

    def round_(self, *, decimals=0):
        if decimals == 0:
            return prim_(self)
        C.check_inplace("round_", self)
        return self.copy_(round(self, decimals=decimals))
    return round, round_


def _decimals_samples(dtype, rng):
    if dtype.kind != 2:
        return []
    x = S.array((3, 4), dtype, rng, "nonint") * 10
    return [Sample(x, decimals=d, name=f"decimals={d}") for d in (1, 2, -1)]


elementwise("round", _same("round", False), ref=np.round, derivative=_zeros_grad,
            dtypes=_NO_BOOL, domain="nonint", public=_with_decimals, samples=_decimals_samples)
elementwise("reciprocal", _to_float("reciprocal"), ref=lambda x: 1 / x, saves="output",
            derivative=lambda n, g: (-g * n.out() ** 2,), domain="nonzero")
elementwise("logical_not", _to_bool("logical_not"), ref=np.logical_not)
elementwise("isnan", _to_bool("isnan"), ref=np.isnan, inplace=False)
elementwise("isinf", _to_bool("isinf"), ref=np.isinf, inplace=False)
elementwise("isfinite", _to_bool("isfinite"), ref=np.isfinite, inplace=False)
elementwise("bitwise_not", _integral("bitwise_not"), ref=np.invert,
            dtypes=(D.bool,) + D.INTEGRAL)
absolute = abs
negative = neg
fix, fix_ = trunc, trunc_   # noqa: F821  (defined by elementwise above)
__all__ += ["absolute", "negative", "fix"]



# ----------------------------------------------------------------------------- composites
# Decomposed into the primitives above, so every backend has them and autograd (double
# backward included) comes from the parts; no backend needs a kernel for them.

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _float_input(name, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    return x if x._dtype.kind == 2 else x.to(D.get_default_dtype())


def square(input):
    """input * input elementwise; keeps the dtype (bool becomes int64, as PyTorch).

    Example:
        >>> import plugtorch
        >>> plugtorch.tensor([-2., 3.]).square()
        tensor([4., 9.])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"square(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    x = input.to(D.int64) if input._dtype is D.bool else input
    return x * x


def exp2(input):
    """2 ** input elementwise (integer inputs give the default float dtype)."""
    return (_float_input("exp2", input) * _LN2).exp()


def log2(input):
    """Base-2 logarithm elementwise."""
    return _float_input("log2", input).log() / _LN2


def log10(input):
    """Base-10 logarithm elementwise."""
    return _float_input("log10", input).log() / _LN10


def sinh(input):
    """Hyperbolic sine: (e^x - e^-x) / 2."""
    x = _float_input("sinh", input)
    return (x.exp() - (-x).exp()) * 0.5


def cosh(input):
    """Hyperbolic cosine: (e^x + e^-x) / 2."""
    x = _float_input("cosh", input)
    return (x.exp() + (-x).exp()) * 0.5


def atan(input):
    """Inverse tangent elementwise, as atan2(input, 1)."""
    x = _float_input("atan", input)
    return x.atan2(x.new_ones(()))


def asin(input):
    """Inverse sine elementwise, as atan2(x, sqrt(1 - x^2)); NaN outside [-1, 1]."""
    x = _float_input("asin", input)
    return x.atan2((1 - x * x).sqrt())


def acos(input):
    """Inverse cosine elementwise, as atan2(sqrt(1 - x^2), x); NaN outside [-1, 1]."""
    x = _float_input("acos", input)
    return (1 - x * x).sqrt().atan2(x)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN by `nan`, +inf by `posinf` and -inf by `neginf` (by default the largest
    and smallest finite value of input's dtype). Integer and bool inputs are returned as a
    copy.

    Example:
        >>> import plugtorch
        >>> plugtorch.nan_to_num(plugtorch.tensor([float("nan"), 1.0]))
        tensor([0., 1.])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"nan_to_num(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    if input._dtype.kind != 2:
        return input.clone()
    info = np.finfo(input._dtype.np)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = input.masked_fill(input.isnan(), nan)
    inf = out.isinf()
    out = out.masked_fill(inf & (out > 0), posinf)
    return out.masked_fill(inf & (out < 0), neginf)


def _clamp_min(self, min):
    return self.clamp(min=min)


def _clamp_max(self, max):
    return self.clamp(max=max)


def _nan_to_num_ref(x, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


def _nan_samples(dtype, rng):
    x = S.array((3, 4), dtype, rng)
    if dtype.kind == 2:
        x = x.copy()
        x.flat[[0, 5, 7]] = [np.nan, np.inf, -np.inf]
    # explicit infinities: the default (the dtype's largest value) differs from float64's
    return [Sample(x, posinf=1e4, neginf=-1e4), Sample(x, nan=1.5, posinf=9.0, neginf=-9.0)]


_COMPOSITES = [("square", square, np.square, None), ("exp2", exp2, np.exp2, None),
               ("log2", log2, np.log2, "positive"), ("log10", log10, np.log10, "positive"),
               ("sinh", sinh, np.sinh, None), ("cosh", cosh, np.cosh, None),
               ("atan", atan, np.arctan, None), ("asin", asin, np.arcsin, "small"),
               ("acos", acos, np.arccos, "small")]
for _name, _fn, _ref, _domain in _COMPOSITES:
    declare(_name, _fn, ref=_ref, samples=S.unary(_domain), atol=1e-4, rtol=1e-4,
            dtypes=tuple(d for d in D.ALL if d is not D.bool))
    __all__.append(_name)
declare("nan_to_num", nan_to_num, ref=_nan_to_num_ref, samples=_nan_samples, grad=False,
        dtypes=tuple(d for d in D.ALL if d is not D.bool))
__all__.append("nan_to_num")
