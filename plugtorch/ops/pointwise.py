"""Unary elementwise ops and their in-place forms (binary ops are in binary.py, where in
ternary.py).

Each op is one row of a table: kernel, dtype rule, numpy reference, derivative. The driver
`unary` does every check, then calls the backend primitive of the same name.
"""
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, empty_like_meta
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


_UNARY = [
    # name, rule, numpy ref, backward (node, grad) -> grads, saves (in, out), sample domain
    ("neg", _same("neg", False), np.negative, lambda n, g: (-g,), (0, 0), None),
    ("abs", _same("abs", False), np.abs, lambda n, g: (g * n.inputs[0].sign(),), (1, 0), "nonzero"),
    ("sign", _same("sign"), np.sign, _zeros_grad, (0, 0), "nonzero"),
    ("exp", _to_float("exp"), np.exp, lambda n, g: (g * n.out(),), (0, 1), None),
    ("log", _to_float("log"), np.log, lambda n, g: (g / n.inputs[0],), (1, 0), "positive"),
    ("log1p", _to_float("log1p"), np.log1p, lambda n, g: (g / (n.inputs[0] + 1),), (1, 0),
     "positive"),
    ("expm1", _to_float("expm1"), np.expm1, lambda n, g: (g * (n.out() + 1),), (0, 1), None),
    ("sqrt", _to_float("sqrt"), np.sqrt, lambda n, g: (g / (2 * n.out()),), (0, 1), "positive"),
    ("rsqrt", _to_float("rsqrt"), lambda x: 1 / np.sqrt(x),
     lambda n, g: (g * -0.5 * n.out() ** 3,), (0, 1), "positive"),
    ("sin", _to_float("sin"), np.sin, lambda n, g: (g * n.inputs[0].cos(),), (1, 0), None),
    ("cos", _to_float("cos"), np.cos, lambda n, g: (-g * n.inputs[0].sin(),), (1, 0), None),
    ("tan", _to_float("tan"), np.tan, lambda n, g: (g * (1 + n.out() ** 2),), (0, 1), "small"),
    ("tanh", _to_float("tanh"), np.tanh, lambda n, g: (g * (1 - n.out() ** 2),), (0, 1), None),
    ("sigmoid", _to_float("sigmoid"), lambda x: 1 / (1 + np.exp(-x)),
     lambda n, g: (g * n.out() * (1 - n.out()),), (0, 1), None),
    ("relu", _same("relu", False), lambda x: np.maximum(x, 0),
     lambda n, g: (g * (n.out() > 0).to(g._dtype),), (0, 1), "nonzero"),
    ("erf", _to_float("erf"), _erf_ref,
     lambda n, g: (g * (2 / math.sqrt(math.pi)) * (-n.inputs[0] ** 2).exp(),), (1, 0), None),
    ("floor", _same("floor", False), np.floor, _zeros_grad, (0, 0), "nonint"),
    ("ceil", _same("ceil", False), np.ceil, _zeros_grad, (0, 0), "nonint"),
    ("round", _same("round", False), np.round, _zeros_grad, (0, 0), "nonint"),
    ("trunc", _same("trunc", False), np.trunc, _zeros_grad, (0, 0), "nonint"),
    ("reciprocal", _to_float("reciprocal"), lambda x: 1 / x,
     lambda n, g: (-g * n.out() ** 2,), (0, 1), "nonzero"),
    ("logical_not", _to_bool("logical_not"), np.logical_not, None, (0, 0), None),
    ("isnan", _to_bool("isnan"), np.isnan, None, (0, 0), None),
    ("isinf", _to_bool("isinf"), np.isinf, None, (0, 0), None),
    ("isfinite", _to_bool("isfinite"), np.isfinite, None, (0, 0), None),
    ("bitwise_not", _integral("bitwise_not"), np.invert, None, (0, 0), None),
]


def _make_unary(name, rule, ref, backward, saves, domain):
    spec = _Unary(name, rule, backward, *saves)

    def fn(input):
        return unary(spec, input)

    def fn_(self):
        return unary_(spec, self)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name}. Returns a new tensor."
    fn_.__name__ = name + "_"
    no_bool = ("neg", "relu", "abs", "floor", "ceil", "round", "trunc")   # as PyTorch
    dtypes = D.ALL if name not in no_bool else tuple(d for d in D.ALL if d is not D.bool)
    if name == "bitwise_not":
        dtypes = (D.bool,) + D.INTEGRAL
    declare(name, fn, ref=ref, samples=S.unary(domain), dtypes=dtypes,
            grad=backward is not None and backward is not _zeros_grad, primitive=name)
    return spec, fn, fn_


__all__ = []
#: ops with an in-place form `<name>_` (Tensor methods; see ops/_tensor_methods.py)
INPLACE = []
for _row in _UNARY:
    _spec, _fn, _fn_ = _make_unary(*_row)
    globals()[_row[0]] = _fn
    __all__.append(_row[0])
    if _row[3] is not None or _row[0] in ("logical_not", "bitwise_not"):
        globals()[_row[0] + "_"] = _fn_
        INPLACE.append(_row[0])
absolute = abs
negative = neg
__all__ += ["absolute", "negative"]


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
