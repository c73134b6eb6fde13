"""Random ops: factories (rand, randn, randint, randperm and their *_like forms) and the
helpers every random op uses; distributions (normal, bernoulli, multinomial) and in-place
fills (uniform_, normal_, …) live in `sampling`.

All of them draw from one primitive, `uniform(out, seed, offset)`, through the counter-based
generator of `plugtorch._generator`, so every backend gives the same numbers for the same
seed; see NOTE [random numbers] there for the exact definition backends implement.
Everything else is a frontend decomposition (same numbers on every backend up to the
rounding of log/cos/… kernels): randn is Box-Muller on 2n counters (the first n give u1,
the next n u2: z = sqrt(-2 log(1 - u1)) * cos(2 pi u2)); randint floors scaled uniforms;
randperm sorts uniform keys; multinomial uses inverse CDFs or exponential races.
"""
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, resolve_device, empty_on
from ..autograd.grad_mode import no_grad
from .._generator import (Generator, default_generator, manual_seed, seed, initial_seed,  # noqa
                          get_rng_state, set_rng_state, fill_uniform, philox_uniform_numpy)
from .._dispatch import backend_kernel as _backend_kernel
from ._decl import declare, Sample, seeded
from .creation import _shape_arg, _finish

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "rand", "rand_like", "randn", "randn_like",
           "randint", "randint_like", "randperm"]


def _float_dtype(op, dtype):
    dt = D.to_dtype(dtype) if dtype is not None else D.get_default_dtype()
    if not dt.is_floating_point:
        raise TypeError(f"{op}: expected a floating-point dtype, got {dt}")
    return dt


def _work_dtype(dt):
    """Transforms of uniforms (log, cos, …) run in float32 or float64, never float16."""
    return D.float64 if dt is D.float64 else D.float32


def _std_normal(shape, dt, dev, backend, generator):
    """Box-Muller on 2n counters (NOTE [random numbers]), returned in dtype dt."""
    wdt = _work_dtype(dt)
    u = fill_uniform(empty_on((2,) + shape, wdt, dev, backend), generator)
    with no_grad():
        r = u[0].neg().log1p().mul(-2.0).sqrt()
        z = r.mul(u[1].mul(2 * math.pi).cos())
    return z if z._dtype is dt else z.to(dt)


def _randint_values(lo, hi, shape, dt, dev, backend, generator):
    """Integers uniform in [lo, hi) as a tensor of dtype dt."""
    span = hi - lo
    wdt = D.float32 if span <= 2 ** 24 or D.float64 not in backend.dtypes else D.float64
    u = fill_uniform(empty_on(shape, wdt, dev, backend), generator)
    with no_grad():
        if span > 2 ** 63:        # k would overflow int64: shift in floating point first
            k = u.mul(float(span)).add(float(lo)).floor().clamp(
                max=float(np.nextafter(2.0 ** 63, 0.0))).to(D.int64)
            return k if dt is D.int64 else k.to(dt)
        # floor(u * span) can round up to span; clamp it to the largest float below span
        top = float(np.nextafter(float(span), 0.0))
        k = u.mul(float(span)).floor().clamp(max=float(min(span - 1, top))).to(D.int64)
        if lo:
            k = k.add(lo)
    return k if dt is D.int64 else k.to(dt)


def rand(*size, generator=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False):
    """A tensor of uniform [0, 1) random numbers.

    Args:
        size: the shape, as ints or one sequence.
        generator: the stream to draw from (default: the device's default generator).
        dtype: a floating dtype (default: the default dtype).
        device: where to create the tensor.

    Example:
        >>> import plugtorch as torch
        >>> _ = torch.manual_seed(0); torch.rand(2, 3).shape
        plugtorch.Size([2, 3])
    """
    dt = _float_dtype("rand", dtype)
    dev, backend = resolve_device(device)
    t = fill_uniform(empty_on(_shape_arg("rand", size), dt, dev, backend), generator)
    return _finish(t, requires_grad)


def randn(*size, generator=None, dtype=None, layout=None, device=None,
          requires_grad=False, pin_memory=False):
    """A tensor of standard normal random numbers (Box-Muller, NOTE [random numbers]).

    Args: as `rand`.

    Example:
        >>> import plugtorch as torch
        >>> torch.randn(4, generator=torch.Generator().manual_seed(1)).dtype
        plugtorch.float32
    """
    dt = _float_dtype("randn", dtype)
    dev, backend = resolve_device(device)
    t = _std_normal(_shape_arg("randn", size), dt, dev, backend, generator)
    return _finish(t, requires_grad)


def _like_args(input, dtype, device):
    dt = D.to_dtype(dtype) if dtype is not None else input._dtype
    dev, backend = resolve_device(device if device is not None else input.device)
    return dt, dev, backend


def rand_like(input, *, generator=None, dtype=None, layout=None, device=None,
              requires_grad=False, memory_format=None):
    """Uniform [0, 1) numbers shaped like `input` (its dtype and device unless given)."""
    dt, dev, backend = _like_args(input, dtype, device)
    _float_dtype("rand_like", dt)
    t = fill_uniform(empty_on(input._shape, dt, dev, backend), generator)
    return _finish(t, requires_grad)


def randn_like(input, *, generator=None, dtype=None, layout=None, device=None,
               requires_grad=False, memory_format=None):
    """Standard normal numbers shaped like `input` (its dtype and device unless given)."""
    dt, dev, backend = _like_args(input, dtype, device)
    _float_dtype("randn_like", dt)
    return _finish(_std_normal(input._shape, dt, dev, backend, generator), requires_grad)


def _check_range(op, lo, hi, dt):
    if lo >= hi:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={lo} "
                           f">= to={hi}")
    if dt.kind == 1:
        info = np.iinfo(dt.np)
        if lo < info.min or hi - 1 > info.max:
            raise RuntimeError(f"{op}: [{lo}, {hi}) is outside the range of {dt} "
                               f"[{info.min}, {info.max}]")
    elif dt is D.bool and (lo < 0 or hi > 2):
        raise RuntimeError(f"{op}: [{lo}, {hi}) is outside the range of plugtorch.bool [0, 1]")


def _int_arg(op, name, v):
    if isinstance(v, Tensor):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(v).__name__}")
    return int(v)


def randint(*args, low=None, high=None, size=None, generator=None, dtype=None,
            layout=None, device=None, requires_grad=False, pin_memory=False):
    """Integers drawn uniformly from [low, high): randint(high, size) or
    randint(low, high, size).

    Args:
        low: lowest value (default 0). high: one above the highest value.
        size: the shape (a tuple). dtype: default int64; float dtypes hold integral values.

    Example:
        >>> import plugtorch as torch
        >>> x = torch.randint(3, 10, (100,))
        >>> bool(((x >= 3) & (x < 10)).all()), x.dtype
        (True, plugtorch.int64)
    """
    given = [v for v in (low, high, size) if v is not None]
    args = args + tuple(given)
    if len(args) == 2:
        low, high, size = 0, args[0], args[1]
    elif len(args) == 3:
        low, high, size = args
    else:
        raise TypeError("randint() expects (high, size) or (low, high, size), got "
                        f"{len(args)} arguments")
    low, high = _int_arg("randint", "low", low), _int_arg("randint", "high", high)
    shape = _shape_arg("randint", (size,) if isinstance(size, int) else tuple(size))
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    _check_range("randint", low, high, dt)
    dev, backend = resolve_device(device)
    empty_on((), dt, dev, backend)     # rejects a dtype the device lacks
    return _finish(_randint_values(low, high, shape, dt, dev, backend, generator),
                   requires_grad)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad=False, memory_format=None):
    """Integers uniform in [low, high) shaped like input: randint_like(x, high) or
    randint_like(x, low, high)."""
    if high is None:
        low, high = 0, low
    low, high = _int_arg("randint_like", "low", low), _int_arg("randint_like", "high", high)
    dt, dev, backend = _like_args(input, dtype, device)
    _check_range("randint_like", low, high, dt)
    return _finish(_randint_values(low, high, input._shape, dt, dev, backend, generator),
                   requires_grad)


def randperm(n, *, generator=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    """A random permutation of 0 .. n-1 (sorted uniform keys; float64 keys where the device
    has float64, so ties are vanishingly rare, and a stable sort breaks them anyway).

    Example:
        >>> import plugtorch as torch
        >>> sorted(torch.randperm(5).tolist())
        [0, 1, 2, 3, 4]
    """
    n = _int_arg("randperm", "n", n)
    if n < 0:
        raise RuntimeError(f"randperm: Trying to create tensor with negative dimension {n}: "
                           f"[{n}]")
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    if dt is D.bool:
        raise TypeError(f"randperm: not implemented for {dt}")
    dev, backend = resolve_device(device)
    kdt = D.float64 if D.float64 in backend.dtypes else D.float32
    keys = fill_uniform(empty_on((n,), kdt, dev, backend), generator)
    vals, idx = empty_on((n,), kdt, dev, backend), empty_on((n,), D.int64, dev, backend)
    if n:
        _backend_kernel("sort", backend)(vals, idx, keys, 0, False, True)
    return _finish(idx if dt is D.int64 else idx.to(dt), requires_grad)


# ----------------------------------------------------------------------------- declarations

# The conformance suite runs one sample on several backends: a fresh generator per run
# (`seeded`, filled in on the device under test) makes every run draw the same counters;
# the reference gets the seed.

def _ref_uniform(x, generator):
    return philox_uniform_numpy(x.size, generator, 0, np.float64).reshape(x.shape)


def _samples(dtype, rng):
    return [Sample(rng.uniform(0, 1, size=s).astype(dtype.np),
                   generator=seeded(rng.integers(2 ** 40))) for s in [(), (7,), (3, 5)]]


declare("rand_like", rand_like, ref=_ref_uniform, samples=_samples,
        dtypes=D.FLOATING, grad=False, atol=1e-6)

