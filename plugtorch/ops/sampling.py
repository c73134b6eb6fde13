"""Random distributions (normal, bernoulli, multinomial) and in-place random fills
(uniform_, normal_, random_, bernoulli_, exponential_): frontend decompositions of the
`uniform` primitive, see the `random` module and NOTE [random numbers] in
plugtorch._generator.
"""
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, resolve_device, empty_on, empty_like_meta
from ..autograd.grad_mode import no_grad
from .._generator import fill_uniform, philox_uniform_numpy
from . import _core as C
from ._decl import declare, Sample, seeded
from .creation import _shape_arg, _finish
from .random import (_float_dtype, _work_dtype, _std_normal, _randint_values,
                     _check_range, _int_arg, _ref_uniform, _samples)
from .._dispatch import backend_kernel as _backend_kernel

__all__ = ["normal", "bernoulli", "multinomial"]


# ----------------------------------------------------------------------------- distributions

def _zero_grads(n, g):
    # PyTorch does not differentiate through sampling: every input gets a zero gradient
    return tuple(g.new_zeros(shape) for shape in n.params)


def _record_zero(name, inputs, out):
    ts = tuple(t for t in inputs if isinstance(t, Tensor))
    if C.needs_grad(*ts):
        C.record(_zero_grads, name, ts, out, params=tuple(t._shape for t in ts))
    return out


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, layout=None,
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
    return _finish(r, requires_grad)


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


def bernoulli(input, p=None, *, generator=None):
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
    return r


def _bernoulli_values(like, p, generator):
    wdt = D.float64 if like._dtype is D.float64 else D.float32
    u = fill_uniform(empty_like_meta(like, dtype=wdt), generator)
    with no_grad():
        hit = u.lt(p.to(wdt) if isinstance(p, Tensor) else p)
    return hit.to(like._dtype)


def multinomial(input, num_samples, replacement=False, *, generator=None):
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
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
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
            _backend_kernel("cumsum", backend)(cdf, w, 1)
            cdf = cdf.div(cdf.narrow(1, k - 1, 1))        # last entry exactly 1
            u = fill_uniform(empty_on((rows, num_samples), wdt, dev, backend), generator)
            idx = cdf.unsqueeze(1).le(u.unsqueeze(2)).sum(2)
        else:
            u = fill_uniform(empty_like_meta(w), generator)
            keys = u.neg().log1p().neg().div(w)       # weight 0 -> inf: drawn last
            vals, order = empty_like_meta(w), empty_like_meta(w, dtype=D.int64)
            _backend_kernel("sort", backend)(vals, order, keys, 1, False, True)
            idx = order.narrow(1, 0, num_samples).clone()
    if input.dim() == 1:
        idx = idx.reshape(num_samples)
    return idx


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




# ----------------------------------------------------------------------------- declarations

def _ref_bernoulli(p, generator):
    return (_ref_uniform(p, generator) < p).astype(np.float64)


def _ref_normal(mean, std, generator):
    shape = np.broadcast_shapes(np.shape(mean), np.shape(std))
    n = math.prod(shape)
    u = philox_uniform_numpy(2 * n, generator, 0, np.float64).reshape((2,) + shape)
    return mean + std * np.sqrt(-2.0 * np.log1p(-u[0])) * np.cos(2 * np.pi * u[1])


def _normal_samples(dtype, rng):
    gen = lambda: seeded(rng.integers(2 ** 40))  # noqa: E731
    arr = lambda *s: rng.uniform(0.5, 2, size=s).astype(dtype.np)  # noqa: E731
    return [Sample(arr(3, 5), arr(3, 5), generator=gen()),
            Sample(arr(3, 1), arr(5), generator=gen()),
            Sample(arr(4), 2.0, generator=gen()), Sample(arr(), arr(), generator=gen())]


declare("bernoulli", bernoulli, ref=_ref_bernoulli, samples=_samples,
        dtypes=D.FLOATING, grad=False)
# float32 uniforms carry 24 bits, the float64 reference 53: near u1 = 0 Box-Muller turns
# that 2**-24 difference into up to sqrt(2 * 2**-24) ~ 3.5e-4
declare("normal", normal, ref=_ref_normal, samples=_normal_samples,
        dtypes=D.FLOATING, grad=False, atol=5e-4, rtol=1e-4)
