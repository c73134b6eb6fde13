"""Declarations of the activation functions of nn.functional, with float64 numpy references
written from their closed forms; the in-place forms (relu_, elu_, ...) and the functional
spellings of plugtorch's own ops (relu, softmax, ...) are declared as aliases."""
import math

import numpy as np

from ... import _dtype as D
from ...ops._decl import declare, declare_alias, Sample
from ...ops import samples as S
from . import _activation as A

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


def _softmax(x, dim):
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def _gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _prelu(x, weight):
    if weight.size > 1 and x.ndim >= 2:
        weight = weight.reshape((-1,) + (1,) * (x.ndim - 2))
    elif weight.size == 1:
        weight = weight.reshape(())
    return np.where(x > 0, x, weight * x)


def _glu(x, dim=-1):
    a, b = np.split(x, 2, axis=dim)
    return a * _sigmoid(b)


def _unary(*kwargs, scale=1.0):
    """Samples (3, 4) and (2, 3, 4) (values in [-2 scale, 2 scale)), the first with the
    default arguments, then one per kwargs dict."""
    def gen(dtype, rng):
        x = lambda *s: (S.array(s, dtype, rng).astype(np.float64) * scale).astype(dtype.np)  # noqa
        out = [Sample(x(3, 4), grad=(0,))]
        out += [Sample(x(2, 3, 4), grad=(0,), **kw) for kw in kwargs or ({},)]
        return out
    return gen


def _activation(name, ref, samples, **kw):
    declare(name, getattr(A, name), ref=ref, samples=samples, dtypes=D.FLOATING, **kw)


_activation("relu6", lambda x: np.clip(x, 0.0, 6.0), _unary(scale=4.0))
_activation("hardtanh", lambda x, min_val=-1.0, max_val=1.0: np.clip(x, min_val, max_val),
            _unary({"min_val": -0.5, "max_val": 1.5}))
_activation("elu", lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(x)),
            _unary({"alpha": 0.5}))
_activation("selu", lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(x)),
            _unary())
_activation("celu", lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(x / alpha)),
            _unary({"alpha": 2.0}))
_activation("leaky_relu", lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x),
            _unary({"negative_slope": 0.2}))
_activation("gelu", _gelu, _unary({"approximate": "tanh"}))
_activation("silu", lambda x: x * _sigmoid(x), _unary())
_activation("mish", lambda x: x * np.tanh(_softplus(x)), _unary())
_activation("softplus", _softplus, _unary({"beta": 2.0, "threshold": 1.5}))
_activation("softsign", lambda x: x / (1.0 + np.abs(x)), _unary())
_activation("tanhshrink", lambda x: x - np.tanh(x), _unary())
_activation("logsigmoid", lambda x: -np.logaddexp(0.0, -x), _unary(scale=10.0))
_activation("hardsigmoid", lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0), _unary(scale=2.0))
_activation("hardswish", lambda x: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0), _unary(scale=2.0))
_activation("threshold", lambda x, threshold, value: np.where(x > threshold, x, value),
            lambda dtype, rng: [Sample(S.array((3, 4), dtype, rng), 0.5, -3.0, grad=(0,))])
_activation("glu", _glu, lambda dtype, rng: [Sample(S.array((3, 4), dtype, rng), grad=(0,)),
                                             Sample(S.array((4, 3), dtype, rng), 0, grad=(0,))])
_activation("softmin", lambda x, dim: _softmax(-x, dim),
            lambda dtype, rng: [Sample(S.array((3, 4), dtype, rng), 1, grad=(0,)),
                                Sample(S.array((2, 3, 4), dtype, rng), dim=0, grad=(0,))])
_activation("prelu", _prelu,
            lambda dtype, rng: [
                Sample(S.array((2, 3, 4), dtype, rng), S.array((3,), dtype, rng), grad=(0, 1)),
                Sample(S.array((4,), dtype, rng), S.array((1,), dtype, rng), grad=(0, 1))])

# the functional spellings of plugtorch's own ops, and the in-place forms
for _name in ("relu", "sigmoid", "tanh", "softmax", "log_softmax"):
    declare_alias("nn.functional." + _name, _name, getattr(A, _name))
for _name in ("relu", "elu", "hardtanh", "leaky_relu"):
    declare_alias(f"nn.functional.{_name}_", _name, getattr(A, _name + "_"), inplace=True)
del _name
