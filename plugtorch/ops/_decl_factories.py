"""Declarations of the factories: creation ops (zeros, arange, tensor, *_like, ...) and
random ones (rand, randint, randperm, multinomial, ...).

A factory's samples pass `device=DEVICE` (the suite creates the tensor on the device under
test) and `dtype=` the case's dtype. Random samples pass `generator=seeded(n)`: a fresh
generator on the device, so every backend draws the same counters, and the reference
rebuilds the numbers from the counter-based definition (NOTE [random numbers] in
plugtorch._generator) with numpy.
"""
import math

import numpy as np

from .. import _dtype as D
from .._generator import philox_uniform_numpy
from ._decl import declare, Sample, DEVICE, seeded
from . import creation, random, sampling, samples as S


def _shape_of(size):
    return tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size


def _fill_value(dtype):
    return {0: True, 1: 3, 2: -1.5}[dtype.kind]


def _factory(name, fn, ref, build, dtypes=D.ALL, **kw):
    """Declare a factory: build(dtype, rng) -> [Sample]; never differentiable."""
    declare(name, fn, ref=ref, samples=build, dtypes=dtypes, grad=False, **kw)


def _ref_full(size, fill_value, dtype=None):
    return np.full(_shape_of((size,) if isinstance(size, int) else size), fill_value)


def _ref_arange(start, end=None, step=1, dtype=None):
    return np.arange(start) if end is None else np.arange(start, end, step)


def _arange_samples(dtype, rng):
    kw = dict(dtype=dtype, device=DEVICE)
    out = [Sample(5, **kw), Sample(1, 8, 3, **kw)]
    if dtype.kind == 2:
        out.append(Sample(-1.0, 1.0, 0.25, **kw))
    return out


_factory("tensor", creation.tensor, lambda data, dtype=None: np.array(data),
         lambda dt, rng: [Sample(S.array((2, 3), dt, rng), device=DEVICE, name="from_tensor"),
                          Sample(S.array((2, 2), dt, rng).tolist(), dtype=dt, device=DEVICE),
                          Sample(_fill_value(dt), device=DEVICE, name="number")])
_factory("as_tensor", creation.as_tensor, lambda data, dtype=None: np.array(data),
         lambda dt, rng: [Sample(S.array((2, 3), dt, rng), device=DEVICE, name="from_tensor"),
                          Sample(S.array((3,), dt, rng).tolist(), dtype=dt, device=DEVICE)])
_factory("zeros", creation.zeros, lambda *size, dtype=None: np.zeros(_shape_of(size)),
         lambda dt, rng: [Sample(2, 3, dtype=dt, device=DEVICE),
                          Sample((), dtype=dt, device=DEVICE)])
_factory("ones", creation.ones, lambda *size, dtype=None: np.ones(_shape_of(size)),
         lambda dt, rng: [Sample(2, 3, dtype=dt, device=DEVICE),
                          Sample([0, 4], dtype=dt, device=DEVICE)])
_factory("full", creation.full, _ref_full,
         lambda dt, rng: [Sample((2, 3), _fill_value(dt), dtype=dt, device=DEVICE),
                          Sample(4, _fill_value(dt), device=DEVICE, name="inferred_dtype")])
_factory("empty", creation.empty, lambda *size, dtype=None: np.zeros(_shape_of(size)),
         lambda dt, rng: [Sample(2, 3, dtype=dt, device=DEVICE)], values=False)
_factory("empty_strided", creation.empty_strided,
         lambda size, stride, dtype=None: np.zeros(size),
         lambda dt, rng: [Sample((2, 3), (1, 2), dtype=dt, device=DEVICE)], values=False)
_factory("scalar_tensor", creation.scalar_tensor, lambda s, dtype=None: np.array(s),
         lambda dt, rng: [Sample(_fill_value(dt), dtype=dt, device=DEVICE)])
_factory("eye", creation.eye, lambda n, m=None, dtype=None: np.eye(n, m),
         lambda dt, rng: [Sample(3, dtype=dt, device=DEVICE),
                          Sample(2, 4, dtype=dt, device=DEVICE)])
_factory("arange", creation.arange, _ref_arange, _arange_samples, dtypes=D.NUMERIC)
_factory("linspace", creation.linspace,
         lambda start, end, steps, dtype=None: np.linspace(start, end, steps),
         lambda dt, rng: [Sample(-1.0, 2.0, 7, dtype=dt, device=DEVICE),
                          Sample(3.0, -3.0, 4, dtype=dt, device=DEVICE),
                          Sample(0.5, 0.5, 1, dtype=dt, device=DEVICE)], dtypes=D.FLOATING)
_factory("logspace", creation.logspace,
         lambda start, end, steps, base=10.0, dtype=None: np.logspace(start, end, steps,
                                                                      base=base),
         lambda dt, rng: [Sample(-1.0, 1.0, 5, dtype=dt, device=DEVICE),
                          Sample(0.0, 3.0, 4, base=2.0, dtype=dt, device=DEVICE)],
         dtypes=D.FLOATING)


def _like_samples(*extra):
    def gen(dt, rng):
        fill = (_fill_value(dt),) if extra else ()
        return [Sample(S.array((2, 3), dt, rng), *fill),
                Sample(S.array((4,), dt, rng), *fill, device=DEVICE),
                Sample(S.array((2,), dt, rng), *fill, dtype=D.float64, name="to_float64")]
    return gen


_factory("zeros_like", creation.zeros_like, lambda x, dtype=None: np.zeros(x.shape),
         _like_samples())
_factory("ones_like", creation.ones_like, lambda x, dtype=None: np.ones(x.shape),
         _like_samples())
_factory("full_like", creation.full_like, lambda x, v, dtype=None: np.full(x.shape, v),
         _like_samples("fill"))
_factory("empty_like", creation.empty_like, lambda x, dtype=None: np.zeros(x.shape),
         _like_samples(), values=False)


# ----------------------------------------------------------------------------- random

def _uniform(shape, seed, np_dtype=np.float64):
    return philox_uniform_numpy(math.prod(shape), seed, 0, np_dtype).reshape(shape)


def _std_normal(shape, seed):
    """Box-Muller on 2n counters: the first n give u1, the next n u2."""
    u = _uniform((2,) + tuple(shape), seed)
    return np.sqrt(-2.0 * np.log1p(-u[0])) * np.cos(2 * np.pi * u[1])


def _ref_randint_values(low, high, shape, seed):
    """floor(u * span) in float32 (spans up to 2**24), at most span - 1, plus low."""
    span = high - low
    k = np.floor(_uniform(shape, seed, np.float32) * np.float32(span))
    return np.minimum(k.astype(np.int64), span - 1) + low


def _ref_randint(*args, generator, dtype=None):
    low, high, size = (0,) + args if len(args) == 2 else args
    return _ref_randint_values(low, high, tuple(size), generator)


def _ref_randint_like(x, low=0, high=None, *, generator, dtype=None):
    low, high = (0, low) if high is None else (low, high)
    return _ref_randint_values(low, high, x.shape, generator)


def _range(dt):
    return (0, 2) if dt is D.bool else (0, 10) if dt is D.uint8 else (-5, 10)


def _random_samples(dt, rng):
    return [Sample(3, 4, generator=seeded(rng.integers(2 ** 40)), dtype=dt, device=DEVICE),
            Sample((5,), generator=seeded(rng.integers(2 ** 40)), dtype=dt, device=DEVICE)]


def _like_random_samples(dt, rng):
    return [Sample(S.array((3, 4), dt, rng), generator=seeded(rng.integers(2 ** 40))),
            Sample(S.array((), dt, rng), generator=seeded(rng.integers(2 ** 40)))]


def _randint_samples(dt, rng):
    lo, hi = _range(dt)
    gen = lambda: seeded(rng.integers(2 ** 40))  # noqa: E731
    return [Sample(lo, hi, (3, 4), generator=gen(), dtype=dt, device=DEVICE),
            Sample(hi, (5,), generator=gen(), dtype=dt, device=DEVICE)]


def _randint_like_samples(dt, rng):
    lo, hi = _range(dt)
    gen = lambda: seeded(rng.integers(2 ** 40))  # noqa: E731
    return [Sample(S.array((3, 4), dt, rng), lo, hi, generator=gen()),
            Sample(S.array((5,), dt, rng), hi, generator=gen())]


def _ref_multinomial(w, num_samples, replacement=False, *, generator):
    """Inverse CDF with replacement; without, the smallest num_samples keys
    -log(1 - u) / w (an exponential race)."""
    w2 = np.atleast_2d(w)
    rows, k = w2.shape
    if replacement:
        cdf = np.cumsum(w2, axis=1)
        cdf = cdf / cdf[:, -1:]
        u = _uniform((rows, num_samples), generator)
        idx = (cdf[:, None, :] <= u[:, :, None]).sum(2)
    else:
        keys = -np.log1p(-_uniform((rows, k), generator)) / w2
        idx = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    return idx.reshape(num_samples) if w.ndim == 1 else idx


def _multinomial_samples(dt, rng):
    w = lambda *s: S.array(s, dt, rng, "positive")  # noqa: E731
    return [Sample(w(3, 5), 3, generator=seeded(rng.integers(2 ** 40))),
            Sample(w(4), 6, True, generator=seeded(rng.integers(2 ** 40)))]


# float32 uniforms carry 24 bits, the float64 reference 53: see sampling's `normal`
_factory("rand", random.rand,
         lambda *size, generator, dtype=None: _uniform(_shape_of(size), generator),
         _random_samples, dtypes=D.FLOATING, atol=1e-6)
_factory("randn", random.randn,
         lambda *size, generator, dtype=None: _std_normal(_shape_of(size), generator),
         _random_samples, dtypes=D.FLOATING, atol=5e-4, rtol=1e-4)
_factory("randn_like", random.randn_like,
         lambda x, generator, dtype=None: _std_normal(x.shape, generator),
         _like_random_samples, dtypes=D.FLOATING, atol=5e-4, rtol=1e-4)
_factory("randint", random.randint, _ref_randint, _randint_samples)
_factory("randint_like", random.randint_like, _ref_randint_like, _randint_like_samples)
_factory("randperm", random.randperm,
         lambda n, generator, dtype=None: np.argsort(_uniform((n,), generator), kind="stable"),
         lambda dt, rng: [Sample(6, generator=seeded(rng.integers(2 ** 40)), dtype=dt,
                                 device=DEVICE)], dtypes=D.NUMERIC)
_factory("multinomial", sampling.multinomial, _ref_multinomial, _multinomial_samples,
         dtypes=D.FLOATING)
