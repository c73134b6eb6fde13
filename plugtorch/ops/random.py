"""Random ops: factories (rand, randn, randint, randperm), distributions (normal,
bernoulli, multinomial) and in-place fills (uniform_, normal_, …).

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
from .._tensor import Tensor, resolve_device, empty_on, empty_like_meta
from ..autograd.grad_mode import no_grad
from .._generator import (Generator, default_generator, manual_seed, seed, initial_seed,  # noqa
                          get_rng_state, set_rng_state, fill_uniform, philox_uniform_numpy)
from . import _core as C
from ._decl import declare, Sample
from .creation import _shape_arg, _finish

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "rand", "rand_like", "randn", "randn_like",
           "randint", "randint_like", "randperm", "normal", "bernoulli", "multinomial"]


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


def _out(result, out, requires_grad=False):
    if out is None:
        return _finish(result, requires_grad)
    if out._shape != result._shape:
        out.resize_(result._shape)
    with no_grad():
        out.copy_(result)
    return out


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
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
    return _out(t, out, requires_grad)


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
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
    return _out(t, out, requires_grad)


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


def randint(*args, low=None, high=None, size=None, generator=None, out=None, dtype=None,
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
    return _out(_randint_values(low, high, shape, dt, dev, backend, generator), out,
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


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None,
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
    dev, backend = resolve_device(device)
    kdt = D.float64 if D.float64 in backend.dtypes else D.float32
    keys = fill_uniform(empty_on((n,), kdt, dev, backend), generator)
    vals, idx = empty_on((n,), kdt, dev, backend), empty_on((n,), D.int64, dev, backend)
    if n:
        backend._table["sort"](vals, idx, keys, 0, False, True)
    return _out(idx if dt is D.int64 else idx.to(dt), out, requires_grad)


# ----------------------------------------------------------------------------- distributions

def _zero_grads(n, g):
    # PyTorch does not differentiate through sampling: every input gets a zero gradient
    return tuple(g.new_zeros(shape) for shape in n.params)


def _record_zero(name, inputs, out):
    ts = tuple(t for t in inputs if isinstance(t, Tensor))
    if C.needs_grad(*ts):
        C.record(_zero_grads, name, ts, out, params=tuple(t._shape for t in ts))
    return out


def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, requires_grad=False, pin_memory=False):
    """Normal random numbers with the given mean and std (numbers or tensors, broadcast).

    With two numbers, `size` gives the shape. Gradients through the sample are zero, as in
    PyTorch (use `mean + std * randn_like(mean)` to reparameterize).

    Example:
        >>> import plugtorch as torch
        >>> torch.normal(torch.zeros(2, 3), 1.0).shape
        plugtorch.Size([2, 3])
    """
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not isinstance(std, Tensor) and float(std) < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if tensors:
        dev = C.check_devices("normal", *tensors)
        backend = tensors[0]._storage.backend
        dt = D.result_type(*tensors)
        if not dt.is_floating_point:
            raise TypeError(f"normal: expected floating-point mean and std, got {dt}")
        shape = C.broadcast_shapes("normal", *(t._shape for t in tensors))
        if size is not None and tuple(size) != shape:
            raise RuntimeError(f"normal: size {tuple(size)} does not match the broadcast "
                               f"shape {shape} of mean and std")
        if isinstance(std, Tensor) and _count(std < 0):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    else:
        if size is None:
            raise TypeError("normal(): with float mean and std, the argument 'size' is "
                            "required")
        dt = _float_dtype("normal", dtype)
        dev, backend = resolve_device(device)
        shape = _shape_arg("normal", (size,) if isinstance(size, int) else tuple(size))
    z = _std_normal(shape, dt, dev, backend, generator)
    with no_grad():
        r = z.mul(std).add(mean)
    if r._dtype is not dt:
        r = r.to(dt)
    _record_zero("NormalBackward0", (mean, std), r)
    return _out(r, out, requires_grad)


def _count(mask):
    """How many elements of bool tensor `mask` are True (a host sync)."""
    with no_grad():
        return int(mask.sum().item())


def _check_probs(op, p):
    if isinstance(p, Tensor):
        if _count((p < 0) | (p > 1) | p.isnan()):
            raise RuntimeError(f"{op}: expected all probabilities p in [0, 1]")
    elif not 0 <= p <= 1:
        raise RuntimeError(f"{op} expects p to be in [0, 1], but got p={p}")


def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 draws: element i is 1 with probability input[i] (or `p` for every element).

    Example:
        >>> import plugtorch as torch
        >>> torch.bernoulli(torch.tensor([0., 1.])).tolist()
        [0.0, 1.0]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    if not input._dtype.is_floating_point:
        raise TypeError(f"bernoulli: expected a floating-point tensor of probabilities, got "
                        f"{input._dtype}")
    prob = input if p is None else p
    _check_probs("bernoulli", prob)
    r = _bernoulli_values(input, prob, generator)
    _record_zero("BernoulliBackward0", (input,) if p is None else (), r)
    return _out(r, out)


def _bernoulli_values(like, p, generator):
    wdt = D.float64 if like._dtype is D.float64 else D.float32
    u = fill_uniform(empty_like_meta(like, dtype=wdt), generator)
    with no_grad():
        hit = u.lt(p.to(wdt) if isinstance(p, Tensor) else p)
    return hit.to(like._dtype)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Category indices drawn from the (unnormalised) probability rows of `input`.

    Args:
        input: 1-d or 2-d non-negative weights. num_samples: draws per row.
        replacement: draw with replacement (inverse CDF) or without (exponential race:
            the smallest num_samples of -log(1 - u) / w).

    Example:
        >>> import plugtorch as torch
        >>> torch.multinomial(torch.tensor([0., 1., 0.]), 2, replacement=True).tolist()
        [1, 1]
    """
    if input.dim() not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got {input.dim()}")
    if not input._dtype.is_floating_point:
        raise TypeError(f"multinomial only supports floating-point dtypes for input, got: "
                        f"{input._dtype}")
    num_samples = _int_arg("multinomial", "num_samples", num_samples)
    k = input._shape[-1]
    if num_samples <= 0:
        raise RuntimeError("multinomial: cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > k:
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           "without replacement")
    w = input if input.dim() == 2 else input.unsqueeze(0)
    wdt = D.float64 if w._dtype is D.float64 else D.float32
    with no_grad():
        w = w.to(wdt)
        if _count(w.lt(0) | w.isinf() | w.isnan()):
            raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` "
                               "or element < 0")
        positive = w.gt(0).sum(-1)
        if _count(positive.eq(0)):
            raise RuntimeError("multinomial: invalid multinomial distribution (sum of "
                               "probabilities <= 0)")
        if not replacement and _count(positive.lt(num_samples)):
            raise RuntimeError("multinomial: invalid multinomial distribution (with "
                               "replacement=False, not enough non-negative category to sample)")
        rows = w._shape[0]
        dev, backend = w._storage.device, w._storage.backend
        if replacement:
            cdf = empty_like_meta(w)
            backend._table["cumsum"](cdf, w, 1)
            cdf = cdf.div(cdf.narrow(1, k - 1, 1))        # last entry exactly 1
            u = fill_uniform(empty_on((rows, num_samples), wdt, dev, backend), generator)
            idx = cdf.unsqueeze(1).le(u.unsqueeze(2)).sum(2)
        else:
            u = fill_uniform(empty_like_meta(w), generator)
            keys = u.neg().log1p().neg().div(w)       # weight 0 -> inf: drawn last
            vals, order = empty_like_meta(w), empty_like_meta(w, dtype=D.int64)
            backend._table["sort"](vals, order, keys, 1, False, True)
            idx = order.narrow(1, 0, num_samples).clone()
    if input.dim() == 1:
        idx = idx.reshape(num_samples)
    return _out(idx, out)


# ----------------------------------------------------------------------------- in place

def _inplace(op, self, values, *inputs):
    """Write values(self) into self with PyTorch's autograd rule (zero gradient)."""
    C.check_inplace(op, self)
    with no_grad():
        r = values(self)
    if C.needs_grad(self):
        _record_zero(op.capitalize().rstrip("_") + "Backward0", (self,) + inputs, r)
    return C.commit_inplace(op, self, r)


def _check_float(op, self):
    if not self._dtype.is_floating_point:
        raise TypeError(f"{op}: expected a floating-point tensor, got {self._dtype}")


def _from_kw(op, from_, kw):
    # `from` is a Python keyword, so x.uniform_(from=1) arrives in **kw
    if set(kw) - {"from"}:
        raise TypeError(f"{op}() got an unexpected keyword argument "
                        f"{sorted(set(kw) - {'from'})[0]!r}")
    return kw.get("from", from_)


def uniform_(self, from_=0.0, to=1.0, *, generator=None, **kw):
    """Fill with uniform numbers in [from, to)."""
    from_ = _from_kw("uniform_", from_, kw)
    _check_float("uniform_", self)
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={from_} > to={to}")

    def values(s):
        u = fill_uniform(empty_like_meta(s), generator)
        return u if (from_, to) == (0, 1) else u.mul(to - from_).add(from_)
    return _inplace("uniform_", self, values)


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with normal numbers of the given mean and std."""
    _check_float("normal_", self)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    st = self._storage
    return _inplace("normal_", self, lambda s: _std_normal(
        s._shape, s._dtype, st.device, st.backend, generator).mul(std).add(mean))


def random_(self, *args, to=None, generator=None, **kw):
    """Fill with integers uniform in [from, to): random_(from, to), random_(to) for [0, to),
    random_() for [0, 2**mantissa] (floats) or [0, max] (integers)."""
    if len(args) > 2:
        raise TypeError(f"random_() takes at most 2 positional arguments ({len(args)} given)")
    if len(args) == 1 and to is None and "from" not in kw:
        args = (0, args[0])           # random_(to)
    from_ = _from_kw("random_", args[0] if args else 0, kw)
    to = args[1] if len(args) == 2 else to
    dt = self._dtype
    if to is None:
        digits = {D.float16: 11, D.float32: 24, D.float64: 53}
        to = (2 ** digits[dt] + 1 if dt.kind == 2 else 2 if dt is D.bool
              else int(np.iinfo(dt.np).max) + 1)
    _check_range("random_", from_, to, dt)
    st = self._storage
    return _inplace("random_", self, lambda s: _randint_values(
        from_, to, s._shape, dt, st.device, st.backend, generator))


def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 0/1 draws, 1 with probability p (a number or a broadcastable tensor)."""
    _check_probs("bernoulli_", p)
    if isinstance(p, Tensor):
        C.check_devices("bernoulli_", self, p)
        C.broadcast_shapes("bernoulli_", self._shape, p._shape)
    return _inplace("bernoulli_", self, lambda s: _bernoulli_values(s, p, generator))


def exponential_(self, lambd=1.0, *, generator=None):
    """Fill with exponential numbers of rate lambd: -log(1 - u) / lambd."""
    _check_float("exponential_", self)
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _inplace("exponential_", self, lambda s: fill_uniform(
        empty_like_meta(s, dtype=_work_dtype(s._dtype)), generator).neg().log1p().mul(
            -1.0 / lambd))


def _bind():
    C.bind(("uniform_", uniform_), ("normal_", normal_), ("random_", random_),
           ("bernoulli_", bernoulli_), ("exponential_", exponential_),
           ("bernoulli", bernoulli), ("multinomial", multinomial))


_bind()


# ----------------------------------------------------------------------------- declarations

def _seeded(fn):
    # The conformance suite runs one sample on several backends: a fresh generator per call
    # (from the sample's `seed`) makes every run draw the same counters.
    def run(*args, seed, **kw):
        dev = next((a.device for a in args if isinstance(a, Tensor)), "cpu")
        return fn(*args, generator=Generator(dev).manual_seed(seed), **kw)
    run.__name__ = fn.__name__
    return run


def _ref_uniform(x, seed):
    return philox_uniform_numpy(x.size, seed, 0, np.float64).reshape(x.shape)


def _ref_bernoulli(p, seed):
    return (_ref_uniform(p, seed) < p).astype(np.float64)


def _samples(dtype, rng):
    return [Sample(rng.uniform(0, 1, size=s).astype(dtype.np), seed=int(rng.integers(2 ** 40)))
            for s in [(), (7,), (3, 5)]]


def _ref_normal(mean, std, seed):
    shape = np.broadcast_shapes(np.shape(mean), np.shape(std))
    n = math.prod(shape)
    u = philox_uniform_numpy(2 * n, seed, 0, np.float64).reshape((2,) + shape)
    return mean + std * np.sqrt(-2.0 * np.log1p(-u[0])) * np.cos(2 * np.pi * u[1])


def _normal_samples(dtype, rng):
    seed_ = lambda: int(rng.integers(2 ** 40))  # noqa: E731
    arr = lambda *s: rng.uniform(0.5, 2, size=s).astype(dtype.np)  # noqa: E731
    return [Sample(arr(3, 5), arr(3, 5), seed=seed_()), Sample(arr(3, 1), arr(5), seed=seed_()),
            Sample(arr(4), 2.0, seed=seed_()), Sample(arr(), arr(), seed=seed_())]


declare("rand_like", _seeded(rand_like), ref=_ref_uniform, samples=_samples,
        dtypes=D.FLOATING, grad=False, atol=1e-6)
declare("bernoulli", _seeded(bernoulli), ref=_ref_bernoulli, samples=_samples,
        dtypes=D.FLOATING, grad=False)
# float32 uniforms carry 24 bits, the float64 reference 53: near u1 = 0 Box-Muller turns
# that 2**-24 difference into up to sqrt(2 * 2**-24) ~ 3.5e-4
declare("normal", _seeded(normal), ref=_ref_normal, samples=_normal_samples,
        dtypes=D.FLOATING, grad=False, atol=5e-4, rtol=1e-4)

from .. import _interop  # noqa: E402,F401  (binds __dlpack__ & co. on Tensor)
