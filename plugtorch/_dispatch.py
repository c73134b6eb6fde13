"""Dispatch: the one place that turns (op name, backend) into a callable.

NOTE [dispatch]
Every kernel call in plugtorch goes through `kernel(name, tensor)` (or `override` for the
composite ops a backend may replace); nothing else reads a backend's kernels. A name is
resolved once per backend and cached in that backend's table, so the hot path is one dict
lookup. Resolution, first match wins:

1. the backend's own kernel (`Backend.kernels[name]`, validated when the backend started);
2. for an optional primitive, its decomposition into other primitives
   (`plugtorch/ops/decompositions/`), which runs on the backend's own device;
3. for a required primitive, the CPU fallback: host copies, the CPU kernel, the results
   copied back. It is counted (`plugtorch.debug.fallbacks`), warns once per (backend,
   primitive), and raises `FallbackError` in strict mode (`plugtorch.debug.strict`).

For a composite op that a backend may override (declared with `overridable=` in its spec),
`override(name, tensor)` returns the backend's kernel or None; None means the frontend runs
the op's own composite definition. An overridable op with a host kernel (`HOST_KERNELS`:
the matrix factorizations, written with numpy) has no composite: cpu runs the host kernel
as its own, and any other backend without a kernel of its own runs it through the CPU
fallback of step 3, counted and warned like a primitive's.
"""
import contextlib
import inspect
import os
import warnings

from ._counters import COUNTERS
from .backends.base import PRIMITIVES

__all__ = ["kernel", "backend_kernel", "override", "FallbackWarning", "FallbackError", "DECOMPOSITIONS",
           "OVERRIDABLE", "HOST_KERNELS", "coverage", "validate_kernels", "resolution"]

#: optional primitive name -> decomposition(*args) written with other primitives
DECOMPOSITIONS = {}
#: composite op name -> kernel signature, for ops a backend may replace with its own kernel
OVERRIDABLE = {}
#: overridable op name -> (host kernel on cpu tensors, number of outputs) for the ops whose
#: only definition is a host kernel (see NOTE [dispatch])
HOST_KERNELS = {}

_warned = set()
_backends = []          # every backend that has a table (to rebuild them on invalidate)
_strict = [os.environ.get("PLUGTORCH_STRICT", "0").lower() not in ("0", "", "false", "no", "off")]


class FallbackWarning(UserWarning):
    """A primitive ran on the CPU because the tensor's backend has no kernel for it."""


class FallbackError(Exception):
    """Strict mode: a primitive would have run on the CPU with host copies. Not a
    RuntimeError, so code that handles op errors never mistakes it for one."""


class _Table(dict):
    """name -> resolved callable for one backend; filled on first use of each name."""
    __slots__ = ("backend",)

    def __init__(self, backend):
        super().__init__()
        self.backend = backend

    def __missing__(self, name):
        fn = _resolve(name, self.backend)
        self[name] = fn
        return fn


def _table(backend):
    t = backend.__dict__.get("_plugtorch_dispatch")
    if t is None:
        t = _Table(backend)
        backend._plugtorch_dispatch = t
        _backends.append(backend)
        from . import _capture
        rec = _capture.ACTIVE
        if rec is not None:                 # a backend first used while a step is captured
            rec.saved_tables.append(_wrap_table(backend, rec.table))
            return backend._plugtorch_dispatch
    return t


def _wrap_table(backend, make):
    table = backend._plugtorch_dispatch
    backend._plugtorch_dispatch = make(table)
    return backend, table


def wrap_tables(make):
    """Replace every backend's table with `make(table)` (step capture records through such
    a wrapper, NOTE [step capture]); returns what `restore_tables` puts back."""
    return [_wrap_table(b, make) for b in list(_backends)]


def restore_tables(saved):
    for backend, table in saved:
        backend._plugtorch_dispatch = table


def kernel(name, t):
    """The callable that runs primitive `name` for tensor `t`'s backend."""
    try:
        return t._storage.backend._plugtorch_dispatch[name]
    except AttributeError:
        return _table(t._storage.backend)[name]


def backend_kernel(name, backend):
    """The callable that runs primitive `name` on `backend` (for code holding no tensor)."""
    return _table(backend)[name]


def override(name, t):
    """The backend's own kernel for overridable composite op `name`, or None."""
    return kernel(name, t)


def run(name, *args):
    """Call primitive `name` on the backend of the first tensor argument."""
    for a in args:
        if hasattr(a, "_storage"):
            return kernel(name, a)(*args)
    raise AssertionError(f"{name}: no tensor argument")


def invalidate():
    """Forget every resolution (a backend's kernels may have changed). Tables are emptied,
    not replaced: existing tensors reach their kernels through them."""
    for backend in _backends:
        backend._plugtorch_dispatch.clear()    # a recording table clears the one it wraps


def resolution(name, backend):
    """How `name` runs on `backend`: 'kernel', 'decomposition', 'fallback' or 'composite'."""
    if name in backend.kernels:
        return "kernel"
    if name in DECOMPOSITIONS:
        return "decomposition"
    if name in HOST_KERNELS:
        return "kernel" if _is_cpu(backend) else "fallback"
    if name in PRIMITIVES:
        return "fallback"
    return "composite"


def _resolve(name, backend):
    fn = backend.kernels.get(name)
    if fn is not None:
        return fn
    if name in OVERRIDABLE:
        return _make_fallback(name, backend) if name in HOST_KERNELS else None
    decomposition = DECOMPOSITIONS.get(name)
    if decomposition is not None:
        return decomposition
    if name in PRIMITIVES:
        return _make_fallback(name, backend)
    raise NotImplementedError(f"{name}: not a primitive or an overridable op; backend "
                              f"{backend.name!r} cannot run it")


def set_strict(enabled):
    """Turn strict mode on or off; returns the previous setting."""
    old = _strict[0]
    _strict[0] = bool(enabled)
    return old


def is_strict():
    return _strict[0]


def _make_fallback(name, backend):
    if name in HOST_KERNELS:
        cpu_kernel, n_out = HOST_KERNELS[name]
        returns, what = False, "op"
        if _is_cpu(backend):
            return cpu_kernel
    else:
        if _is_cpu(backend):
            raise NotImplementedError(f"{name}: the cpu backend has no kernel for this "
                                      f"primitive")
        from . import backends
        cpu_kernel = backends.get("cpu").kernels[name]
        prim = PRIMITIVES[name]
        n_out, returns, what = prim.n_out, prim.returns, "required primitive"

    def fallback(*args):
        from ._tensor import Tensor, to_cpu_copy, upload_into, to_device_copy
        if _strict[0]:
            COUNTERS[("fallback", backend.name, name)] += 1
            raise FallbackError(
                f"{name}: backend {backend.name!r} has no kernel for this {what} "
                f"and strict mode forbids running it on the CPU (plugtorch.debug.strict)")
        COUNTERS[("fallback", backend.name, name)] += 1
        if (backend.name, name) not in _warned:
            _warned.add((backend.name, name))
            warnings.warn(f"{name}: backend {backend.name!r} has no kernel; running it on the "
                          f"CPU with host copies (slow)", FallbackWarning, stacklevel=4)
        host = [to_cpu_copy(a) if isinstance(a, Tensor) else a for a in args]
        result = cpu_kernel(*host)
        for dst, src in zip(args[:n_out], host[:n_out]):
            if dst is not None:
                upload_into(dst, src)
        if returns:
            device = next(a for a in args if isinstance(a, Tensor)).device
            return to_device_copy(result, device)
        return result

    fallback.__name__ = f"fallback_{name}"
    fallback.is_fallback = True
    return fallback


# ----------------------------------------------------------------------------- registration

def validate_kernels(backend, plugin):
    """Check a backend's kernel table when it starts: `copy` is there (every transfer needs
    it), every name is a primitive or an overridable op, and every kernel accepts that
    name's arguments."""
    if "copy" not in backend.kernels:
        raise ValueError(f"backend {backend.name!r} from plugin {plugin} lacks the required "
                         f"'copy' kernel")
    for name, fn in backend.kernels.items():
        if name in PRIMITIVES:
            params = PRIMITIVES[name].params
        elif name in OVERRIDABLE:
            params = OVERRIDABLE[name]
        else:
            hint = ("it is a composite op that backends may not override" if _is_op(name)
                    else "no primitive or op has that name")
            raise ValueError(f"backend {backend.name!r} from plugin {plugin} registers a kernel "
                             f"for {name!r}: {hint} (primitives: plugtorch.backends.PRIMITIVES; "
                             f"overridable ops: {', '.join(sorted(OVERRIDABLE))})")
        if not callable(fn):
            raise TypeError(f"backend {backend.name!r} from plugin {plugin}: kernel {name!r} is "
                            f"not callable ({type(fn).__name__})")
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            continue     # builtins and C functions: nothing to check
        try:
            sig.bind(*params)
        except TypeError as e:
            raise TypeError(f"backend {backend.name!r} from plugin {plugin}: kernel {name!r} "
                            f"must accept ({', '.join(params)}), but its signature is "
                            f"{name}{sig}: {e}") from None


@contextlib.contextmanager
def substitute(backend, name, fn):
    """Within the block, `backend` has kernel `fn` under `name` (validated like any
    kernel); its own table comes back afterwards. For tests of overridable ops."""
    had_own = "kernels" in backend.__dict__
    previous = backend.kernels
    backend.kernels = dict(previous, **{name: fn})
    try:
        validate_kernels(backend, f"substitute({name!r})")
        invalidate()
        yield fn
    finally:
        if had_own:
            backend.kernels = previous
        else:
            del backend.kernels
        invalidate()


def _is_cpu(backend):
    from . import backends
    return backend is backends.get("cpu")


def _is_op(name):
    from .ops import OPS
    return name in OPS


def coverage(backend):
    """Report of a backend's kernels: {'native': primitives it implements,
    'required': the required ones among them, 'decomposed': optional primitives it runs
    through their decomposition, 'fallback': required primitives that run on the CPU,
    'overrides': composite ops it replaces, 'fallback_ops': ops with a host kernel
    (HOST_KERNELS) that run on the CPU for lack of a kernel of its own}."""
    native = sorted(n for n in PRIMITIVES if n in backend.kernels)
    missing = [n for n in PRIMITIVES if n not in backend.kernels]
    return {"native": native,
            "required": [n for n in native if PRIMITIVES[n].required],
            "decomposed": sorted(n for n in missing if n in DECOMPOSITIONS),
            "fallback": sorted(n for n in missing if n not in DECOMPOSITIONS),
            "overrides": sorted(n for n in backend.kernels if n not in PRIMITIVES),
            "fallback_ops": [] if _is_cpu(backend) else
            sorted(n for n in HOST_KERNELS if n not in backend.kernels)}
