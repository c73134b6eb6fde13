"""Dispatch: (op name, backend) -> kernel, with a CPU fallback for primitives a backend lacks.

The hot path is `backend._table[name]`: one dict lookup. A table starts as a copy of the
backend's `kernels`; a missing primitive is resolved once, through `__missing__`, to a
fallback that runs the CPU kernel on host copies and writes the results back. Fallbacks and
host transfers are counted (`plugtorch.debug.counters()`), and each fallback warns once.
"""
import warnings
from collections import Counter

from .backends.base import PRIMITIVES

#: debug counters: ("fallback", backend, op) and ("to_host", backend) / ("to_device", backend)
COUNTERS = Counter()
_warned = set()
_tables = []


class FallbackWarning(UserWarning):
    """A primitive ran on the CPU because the tensor's backend has no kernel for it."""


class _Table(dict):
    __slots__ = ("backend",)

    def __init__(self, backend):
        super().__init__(backend.kernels)
        self.backend = backend

    def __missing__(self, name):
        kernel = _make_fallback(name, self.backend)
        self[name] = kernel
        return kernel


def table(backend):
    t = getattr(backend, "_table", None)
    if t is None:
        t = backend._table = _Table(backend)
        _tables.append(backend)
    return t


def invalidate():
    """Rebuild every dispatch table (a backend's kernels may have changed). Tables are
    rebuilt, not dropped: existing tensors reach their kernels through them."""
    for backend in _tables:
        backend._table = _Table(backend)


def _make_fallback(name, backend):
    if name not in PRIMITIVES:
        raise NotImplementedError(f"{name}: no kernel on backend {backend.name!r} and it is not "
                                  f"a primitive with a CPU fallback")
    from . import backends
    cpu = backends.get("cpu")
    if backend is cpu:
        raise NotImplementedError(f"{name}: the cpu backend has no kernel for this primitive")
    cpu_kernel = cpu.kernels[name]
    n_out = PRIMITIVES[name][0]

    def fallback(*args, **kwargs):
        from ._tensor import Tensor, to_cpu_copy, upload_into, to_device_copy
        COUNTERS[("fallback", backend.name, name)] += 1
        if (backend.name, name) not in _warned:
            _warned.add((backend.name, name))
            warnings.warn(f"{name}: backend {backend.name!r} has no kernel; running it on the "
                          f"CPU with host copies (slow)", FallbackWarning, stacklevel=4)
        host = [to_cpu_copy(a) if isinstance(a, Tensor) else a for a in args]
        result = cpu_kernel(*host, **kwargs)
        for dst, src in zip(args[:n_out], host[:n_out]):
            upload_into(dst, src)
        if isinstance(result, Tensor):
            return to_device_copy(result, args[0].device if n_out else
                                  next(a for a in args if isinstance(a, Tensor)).device)
        return result

    fallback.__name__ = f"fallback_{name}"
    fallback.is_fallback = True
    return fallback


def coverage(backend):
    """Report of a backend's kernels: {'native': primitives it implements, 'fallback':
    primitives that run on the CPU, 'composite': the non-primitive ops it implements}."""
    native = sorted(n for n in PRIMITIVES if n in backend.kernels)
    missing = sorted(n for n in PRIMITIVES if n not in backend.kernels)
    return {"native": native, "fallback": missing,
            "composite": sorted(n for n in backend.kernels if n not in PRIMITIVES)}
