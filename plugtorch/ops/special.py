"""Special functions (erfc, erfinv, lgamma, digamma, i0, sinc, xlogy, logit and
`plugtorch.special`'s entr, ndtr, ndtri), written with frontend ops so every backend has
them.

NOTE [special functions]
Each value is computed from the primitives (exp, log, erf, sin, ...) with a method that is
accurate to a few ulps in float64: erfc by 1 - erf where that loses nothing and a continued
fraction in the tail, erfinv by Newton steps on erf from a closed-form first guess, lgamma
by Lanczos' series (g = 7), digamma by the recurrence up to x >= 10 and the asymptotic
series there, i0 by its power series (|x| <= 20) or its asymptotic series. The values are
computed without a graph and one node records the closed-form derivative (written with
frontend ops, so higher derivatives work), except digamma, i0 and sinc, whose gradient is
that of their own formula. float16 inputs are computed in float32.
"""
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ..autograd.grad_mode import STATE, no_grad
from . import _core as C
from ._decl import declare, Sample
from . import samples as S

__all__ = ["erfc", "erfinv", "lgamma", "digamma", "i0", "sinc", "xlogy", "logit"]

_SQRT_PI, _SQRT2 = math.sqrt(math.pi), math.sqrt(2.0)


def _float(name, x):
    """x in the dtype the function computes in (float16 and integers: float32 / default)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if x._dtype is D.float16:
        return x.to(D.float32)
    return x if x._dtype.kind == 2 else x.to(D.get_default_dtype())


def _back(x, out, input):
    return out.to(D.float16) if input._dtype is D.float16 else out


def _where(c, a, b):
    from .ternary import where
    return where(c, a, b)


def _with_derivative(name, compute, derivative):
    """Public fn: compute(x) without a graph, then one node with `derivative(n, g)`."""
    bname = "".join(p.capitalize() for p in name.split("_")) + "Backward0"

    def fn(input):
        x = _float(name, input)
        with no_grad():
            out = compute(x)
        if STATE.enabled and x._rg:
            C.record(derivative, bname, (x,), out, saved=(x,), save_out=True)
        return _back(x, out, input)
    fn.__name__ = name
    return fn


# ----------------------------------------------------------------------------- erfc, erfinv

def _erfc(x):
    # 1 - erf(x) is exact to an ulp of 1 for x <= 2 (erfc(2) ~ 5e-3); beyond, the continued
    # fraction erfc(x) = e^-x^2 / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...))))
    t = _where(x > 2, x, 3.0)
    f = t
    for k in range(60, 0, -1):
        f = t + (k / 2) / f
    tail = (-t * t).exp() / (f * _SQRT_PI)
    return _where(x > 2, tail, 1 - x.erf())


erfc = _with_derivative("erfc", _erfc,
                        lambda n, g: (g * (-2 / _SQRT_PI) * (-n.inputs[0] ** 2).exp(),))
erfc.__doc__ = """Complementary error function 1 - erf(x), accurate in the tail.

    Example:
        >>> import plugtorch
        >>> plugtorch.erfc(plugtorch.tensor([0., 3.]))
        tensor([1.0000e+00, 2.2090e-05])
    """


def _erfinv(x):
    # a closed-form first guess (relative error < 2e-3), then Newton steps on erf(y) = x
    a = 0.147
    ln = (1 - x * x).log()
    b = 2 / (math.pi * a) + ln / 2
    y = x.sign() * ((b * b - ln / a).sqrt() - b).sqrt()
    for _ in range(3):
        y = y - (y.erf() - x) / ((2 / _SQRT_PI) * (-y * y).exp())
    return _where(x.abs() == 1, x * math.inf, y)


erfinv = _with_derivative("erfinv", _erfinv,
                          lambda n, g: (g * (_SQRT_PI / 2) * (n.out() ** 2).exp(),))
erfinv.__doc__ = """Inverse error function: erf(erfinv(x)) = x on (-1, 1); +-inf at +-1, NaN
    outside.

    Example:
        >>> import plugtorch
        >>> plugtorch.erfinv(plugtorch.tensor([0., 0.5]))
        tensor([0.0000, 0.4769])
    """


# ----------------------------------------------------------------------------- gamma

_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028,
            771.32342877765313, -176.61502916214059, 12.507343278686905,
            -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7)


def _lgamma_right(x):
    """log Gamma(x) for x >= 0.5 (Lanczos, g = 7)."""
    z = x - 1
    s = z * 0 + _LANCZOS[0]
    for i, c in enumerate(_LANCZOS[1:], 1):
        s = s + c / (z + i)
    t = z + 7.5
    return 0.5 * math.log(2 * math.pi) + (z + 0.5) * t.log() - t + s.log()


def _pole(x):
    return (x <= 0) & (x == x.floor())


def _lgamma(x):
    # reflection for x < 0.5: log|Gamma(x)| = log(pi / |sin(pi x)|) - log Gamma(1 - x)
    left = x < 0.5
    r = _where(left, 1.0, x)
    lx = _where(left, x, 0.25)
    refl = (math.pi / (math.pi * lx).sin().abs()).log() - _lgamma_right(1 - lx)
    out = _where(left, refl, _lgamma_right(r))
    # exact zeros at 1 and 2 (the series is an ulp off there in float32)
    return _where(_pole(x), math.inf, _where((x == 1) | (x == 2), 0.0, out))


lgamma = _with_derivative("lgamma", _lgamma, lambda n, g: (g * digamma(n.inputs[0]),))
lgamma.__doc__ = """log |Gamma(x)| elementwise (inf at the poles 0, -1, -2, ...).

    Example:
        >>> import plugtorch
        >>> plugtorch.lgamma(plugtorch.tensor([1., 5., 0.5]))
        tensor([0.0000, 3.1781, 0.5724])
    """

# Bernoulli terms of digamma's asymptotic series: B_2k / (2k), k = 1..7
_PSI_ASYMPTOTIC = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def _digamma_right(x):
    """psi(x) for x > 0: psi(x) = psi(x + 10) - sum 1/(x + k), then the asymptotic series."""
    shift = x * 0
    for k in range(10):
        shift = shift + 1 / (x + k)
    y = x + 10
    inv2 = 1 / (y * y)
    series, p = inv2 * 0, inv2
    for c in _PSI_ASYMPTOTIC:
        series = series + c * p
        p = p * inv2
    return y.log() - 0.5 / y - series - shift


def digamma(input):
    """The digamma function psi = d/dx log Gamma(x) (-inf at 0, NaN at negative integers).

    Example:
        >>> import plugtorch
        >>> plugtorch.digamma(plugtorch.tensor([1., 0.5]))
        tensor([-0.5772, -1.9635])
    """
    x = _float("digamma", input)
    # reflection for x < 0.5: psi(x) = psi(1 - x) - pi / tan(pi x)
    left = x < 0.5
    lx = _where(left, x, 0.25)
    refl = _digamma_right(1 - lx) - math.pi / (math.pi * lx).tan()
    out = _where(left, refl, _digamma_right(_where(left, 1.0, x)))
    out = _where(_pole(x) & (x != 0), math.nan, _where(x == 0, -math.inf, out))
    return _back(x, out, input)


# ----------------------------------------------------------------------------- i0, sinc

def i0(input):
    """Modified Bessel function of the first kind, order 0.

    Example:
        >>> import plugtorch
        >>> plugtorch.i0(plugtorch.tensor([0., 1.]))
        tensor([1.0000, 1.2661])
    """
    x = _float("i0", input)
    a = x.abs()
    small = a <= 20
    # power series sum ((x/2)^k / k!)^2: every term positive, 60 terms reach 1e-17 at 20
    q = _where(small, a, 0.0) ** 2 / 4
    term = q * 0 + 1
    total = term
    for k in range(1, 60):
        term = term * q / (k * k)
        total = total + term
    # large |x|: e^x / sqrt(2 pi x) * sum prod_j (2j - 1)^2 / (8 j x), error ~ e^-2x
    b = _where(small, 20.0, a)
    term = b * 0 + 1
    series = term
    for k in range(1, 20):
        term = term * ((2 * k - 1) ** 2) / (8 * k * b)
        series = series + term
    big = b.exp() / (2 * math.pi * b).sqrt() * series
    return _back(x, _where(small, total, big), input)


def sinc(input):
    """Normalized sinc: sin(pi x) / (pi x), 1 at 0.

    Example:
        >>> import plugtorch
        >>> plugtorch.sinc(plugtorch.tensor([0., 0.5]))
        tensor([1.0000, 0.6366])
    """
    x = _float("sinc", input)
    zero = x == 0
    px = math.pi * _where(zero, 1.0, x)
    return _back(x, _where(zero, 1.0, px.sin() / px), input)


# ----------------------------------------------------------------------------- xlogy, logit

def xlogy(input, other):
    """input * log(other), 0 where input is 0 (unless other is NaN). Either may be a number.

    Example:
        >>> import plugtorch
        >>> plugtorch.xlogy(plugtorch.tensor([0., 2.]), plugtorch.tensor([0., 3.]))
        tensor([0.0000, 2.1972])
    """
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("xlogy(): expected at least one Tensor argument, got "
                        f"{type(input).__name__} and {type(other).__name__}")
    like = input if isinstance(input, Tensor) else other
    dt = D.result_type(input, other)
    dt = dt if dt.kind == 2 else D.get_default_dtype()
    x = input.to(dt) if isinstance(input, Tensor) else like.new_full((), input, dtype=dt)
    y = other.to(dt) if isinstance(other, Tensor) else like.new_full((), other, dtype=dt)
    # log(y) is taken as 0 where x == 0 and y <= 0, so the result there is 0, a NaN y still
    # gives NaN, and d/dx = log(y) elsewhere (PyTorch's gradient)
    drop = (x == 0) & (y <= 0)
    return x * _where(drop, 0.0, _where(drop, 1.0, y).log())


def logit(input, eps=None):
    """log(p / (1 - p)); with `eps`, p is first clamped to [eps, 1 - eps].

    Example:
        >>> import plugtorch
        >>> plugtorch.logit(plugtorch.tensor([0.25, 0.5]))
        tensor([-1.0986,  0.0000])
    """
    x = _float("logit", input)
    if eps is not None:
        x = x.clamp(eps, 1 - eps)
    return _back(x, (x / (1 - x)).log(), input)


# ----------------------------------------------------------------------------- special.*

def entr(input):
    """-x log(x) elementwise: 0 at 0, -inf for x < 0."""
    x = _float("special.entr", input)
    pos = x > 0
    safe = _where(pos, x, 1.0)
    out = _where(pos, -safe * safe.log(), _where(x == 0, 0.0, -math.inf))
    return _back(x, _where(x.isnan(), x, out), input)


def ndtr(input):
    """The standard normal distribution function: P(N(0, 1) <= x) = erfc(-x / sqrt 2) / 2."""
    x = _float("special.ndtr", input)
    return _back(x, erfc(-x / _SQRT2) * 0.5, input)


def ndtri(input):
    """The inverse of ndtr: the x with P(N(0, 1) <= x) = p, for p in [0, 1]."""
    p = _float("special.ndtri", input)
    return _back(p, erfinv(2 * p - 1) * _SQRT2, input)


# ----------------------------------------------------------------------------- declarations
# float64 references: math's functions per element; erfinv by bisection on math.erf

def _vec(f):
    return np.vectorize(f, otypes=[np.float64])


def _erfinv_scalar(v):
    if not -1 <= v <= 1:
        return math.nan
    if abs(v) == 1:
        return math.copysign(math.inf, v)
    lo, hi = -6.0, 6.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if math.erf(mid) < v else (lo, mid)
    return (lo + hi) / 2


def _lgamma_scalar(v):
    try:
        return math.lgamma(v)
    except ValueError:
        return math.inf


def _digamma_scalar(v):
    if v <= 0 and v == math.floor(v):
        return -math.inf if v == 0 else math.nan
    acc = 0.0
    while v < 30:           # psi(v) = psi(v + 1) - 1/v
        acc -= 1 / v
        v += 1
    s = math.log(v) - 0.5 / v
    return acc + s - sum(c / v ** (2 * k) for k, c in enumerate(_PSI_ASYMPTOTIC, 1))


_ref_erfinv = _vec(_erfinv_scalar)


def _ref_xlogy(x, y):
    with np.errstate(all="ignore"):
        return np.where((x == 0) & ~np.isnan(y), 0.0, x * np.log(y))


def _ref_logit(x, eps=None):
    if eps is not None:
        x = np.clip(x, eps, 1 - eps)
    with np.errstate(all="ignore"):
        return np.log(x / (1 - x))


def _ref_entr(x):
    with np.errstate(all="ignore"):
        return np.where(x > 0, -x * np.log(np.where(x > 0, x, 1)), np.where(x == 0, 0, -np.inf))


def _domain(lo, hi, extra=()):
    """Samples with values uniform in [lo, hi] (every shape) plus `extra` fixed values."""
    def gen(dtype, rng):
        out = [Sample(rng.uniform(lo, hi, size=s).astype(dtype.np), grad=(0,))
               for s in S.SHAPES]
        if extra:
            out.append(Sample(np.array(extra, dtype.np), name="edges"))
        return out
    return gen


def _gamma_samples(dtype, rng):
    out = _domain(0.2, 6.0)(dtype, rng)
    out.append(Sample(np.array([-2.5, -1.3, -0.5, 0.3, 12.5, 40.0], dtype.np), grad=(0,),
                      name="wide"))
    out.append(Sample(np.array([0.0, -1.0, -2.0, 1.0, 2.0], dtype.np), name="poles"))
    return out


def _xlogy_samples(dtype, rng):
    x = S.array((3, 4), dtype, rng)
    x[0, :2] = 0
    y = S.array((3, 4), dtype, rng, "positive")
    return [Sample(x, y, grad=(0, 1)),
            Sample(S.array((2, 3), dtype, rng), S.array((3,), dtype, rng, "positive"),
                   grad=(0, 1), name="broadcast"),
            Sample(np.array([0.0, 0.0, 1.0], dtype.np), np.array([0.0, np.nan, 0.0], dtype.np),
                   name="zeros")]


def _i0_samples(dtype, rng):
    # both methods, and their switch at |x| = 20, where float16 holds the result
    edges = (0.0, 9.5, -11.0) if dtype is D.float16 else (0.0, 19.9, 20.1, -25.0, 50.0)
    return _domain(-8, 8, edges)(dtype, rng)


def _logit_samples(dtype, rng):
    return _domain(0.05, 0.95)(dtype, rng) + [
        Sample(np.array([0.0, 0.01, 0.5, 1.0], dtype.np), eps=0.05, name="eps")]


_F = D.FLOATING
_SPECIAL = [
    ("erfc", erfc, _vec(math.erfc), _domain(-3, 6, (0.0, 10.0, 27.0, -5.0))),
    ("erfinv", erfinv, _ref_erfinv, _domain(-0.99, 0.99, (0.0, 1.0, -1.0, 1.5, 0.999))),
    ("lgamma", lgamma, _vec(_lgamma_scalar), _gamma_samples),
    ("digamma", digamma, _vec(_digamma_scalar), _gamma_samples),
    ("i0", i0, np.i0, _i0_samples),
    ("sinc", sinc, np.sinc, _domain(-3, 3, (0.0, 1.0, -2.0))),
    ("xlogy", xlogy, _ref_xlogy, _xlogy_samples),
    ("logit", logit, _ref_logit, _logit_samples),
    ("special.entr", entr, _ref_entr, _domain(0.05, 3, (0.0, -1.0))),
    ("special.ndtr", ndtr, _vec(lambda v: math.erfc(-v / _SQRT2) / 2), _domain(-6, 6)),
    ("special.ndtri", ndtri, lambda p: _ref_erfinv(2 * p - 1) * _SQRT2,
     _domain(0.02, 0.98, (0.0, 0.5, 1.0))),
]
for _name, _fn, _ref, _samples in _SPECIAL:
    declare(_name, _fn, ref=_ref, samples=_samples, dtypes=_F, atol=1e-4, rtol=1e-4)
