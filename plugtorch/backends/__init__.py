"""Finding, registering and listing backends.

Backends are collected once with pluggy: in-process plugins registered with `register()`
and every entry point of the group ``plugtorch.backends``. Set ``PLUGTORCH_AUTOLOAD=0`` to
load only the backends shipped with plugtorch itself. A plugin that fails to import or to
start is recorded with its error (see `list()`) and never breaks ``import plugtorch``.

Example:
    >>> import plugtorch
    >>> [b["name"] for b in plugtorch.backends.list() if b["available"]][:1]
    ['cpu']
"""
import os
import threading
import traceback
import warnings
from importlib import metadata

import pluggy

from . import hookspecs
from .base import Backend, Primitive, PRIMITIVES, REQUIRED, OPTIONAL, UNARY, BINARY, REDUCTIONS
from .hookspecs import hookimpl
from .api import *  # noqa: F401,F403  (the kernel-facing tensor accessors)
from . import api as _api
from . import cudnn  # noqa: F401  (PyTorch's cuDNN switches; no effect here)

__all__ = ["Backend", "Primitive", "PRIMITIVES", "REQUIRED", "OPTIONAL", "UNARY", "BINARY",
           "REDUCTIONS", "hookimpl", "register",
           "unregister", "list", "get", "BackendUnavailable"] + _api.__all__

ENTRY_POINT_GROUP = "plugtorch.backends"
_OWN_DISTRIBUTION = "plugtorch"


class BackendUnavailable(RuntimeError):
    pass


class _Entry:
    __slots__ = ("name", "factory", "plugin", "backend", "error")

    def __init__(self, name, factory, plugin):
        self.name, self.factory, self.plugin = name, factory, plugin
        self.backend = None
        self.error = None


class _PluginManager(pluggy.PluginManager):
    """Accepts `plugtorch_*` functions without the hookimpl marker too (as pytest does for
    `pytest_*`), so a plain module-level function is a hook."""

    def parse_hookimpl_opts(self, plugin, name):
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("plugtorch_") and \
                callable(getattr(plugin, name, None)):
            opts = {}
        return opts


_pm = _PluginManager("plugtorch")
_pm.add_hookspecs(hookspecs)
_entries = {}          # device type -> _Entry
_broken = {}           # plugin name -> error text (plugins that failed to load)
_collected = [False]
_lock = threading.RLock()


def _autoload_enabled():
    return os.environ.get("PLUGTORCH_AUTOLOAD", "1").lower() not in ("0", "false", "no", "off")


def _collect_from(plugin, label):
    """Register `plugin` with the plugin manager (pluggy validates its hooks against the
    hookspecs) and call its hook through the manager. Any failure is recorded under `label`
    in `_broken` and leaves plugtorch and every other plugin working."""
    def reg(name, factory):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"plugin {label}: backend name must be an identifier, got {name!r}")
        if name in _entries and _entries[name].plugin != label:
            warnings.warn(f"backend {name!r} from {label} replaces the one from "
                          f"{_entries[name].plugin}", stacklevel=3)
        _entries[name] = _Entry(name, factory, label)
    try:
        if not _pm.is_registered(plugin):
            _pm.register(plugin, name=label)
        try:
            _pm.check_pending()
        except pluggy.PluginValidationError:
            _pm.unregister(plugin)
            raise
        if not _pm.get_hookcallers(plugin):
            _pm.unregister(plugin)
            raise TypeError("it has no plugtorch_register_backends hook")
        others = [p for p in _pm.get_plugins() if p is not plugin]
        _pm.subset_hook_caller("plugtorch_register_backends", others)(register=reg)
    except Exception as e:
        _broken[label] = "".join(traceback.format_exception_only(type(e), e)).strip()


def _collect():
    if _collected[0]:
        return
    with _lock:
        if not _collected[0]:
            _collected[0] = True
            _collect_entry_points()


def _collect_entry_points():
    autoload = _autoload_enabled()
    eps = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP),
                 key=lambda ep: (ep.dist is None or ep.dist.name != _OWN_DISTRIBUTION, ep.name))
    for ep in eps:
        own = ep.dist is not None and ep.dist.name == _OWN_DISTRIBUTION
        if not autoload and not own:
            continue
        label = f"{ep.name} ({ep.value})"
        try:
            plugin = ep.load()
        except Exception as e:
            _broken[label] = "".join(traceback.format_exception_only(type(e), e)).strip()
            continue
        _collect_from(plugin, label)


def register(plugin, name=None):
    """Register a backend plugin at run time, as a third party would.

    `plugin` is an object (module or instance) with a ``plugtorch_register_backends`` hook,
    or a `Backend` instance, which is registered under its own `name`.
    Returns the list of device types it registered.
    """
    _collect()
    before = dict(_entries)
    if isinstance(plugin, Backend):
        label = name or f"runtime:{plugin.name}"
        _entries[plugin.name] = _Entry(plugin.name, lambda: plugin, label)
    else:
        if _pm.is_registered(plugin):   # registering a working plugin twice is a no-op
            known = _pm.get_name(plugin)
            mine = [n for n, e in _entries.items() if e.plugin == known]
            if mine and known not in _broken:
                return mine
            _pm.unregister(plugin)      # unregistered or failed before: load it again
        label = name or f"runtime:{getattr(plugin, '__name__', type(plugin).__name__)}"
        _broken.pop(label, None)
        _collect_from(plugin, label)
        if label in _broken:
            raise RuntimeError(f"backend plugin {label} failed: {_broken[label]}")
    added = [n for n, e in _entries.items() if before.get(n) is not e]
    _forget_devices()
    return added


def _forget_devices():
    # resolved devices and dispatch tables may name a backend that was just replaced
    from .. import _dispatch, _tensor
    _tensor._clear_device_cache()
    _dispatch.invalidate()


def unregister(name):
    """Remove the backend for device type `name` (tensors on it stop working)."""
    _collect()
    entry = _entries.pop(name, None)
    if entry is None:
        raise KeyError(f"no backend named {name!r}")
    if not any(e.plugin == entry.plugin for e in _entries.values()) and \
            _pm.get_plugin(entry.plugin) is not None:
        _pm.unregister(name=entry.plugin)   # so the plugin can be registered again
    _forget_devices()


def _start(entry):
    try:
        backend = entry.factory()
        if not isinstance(backend, Backend):
            raise TypeError(f"factory returned {type(backend).__name__}, not a Backend")
        ok, reason = backend.availability()
        if not ok:
            entry.error = reason or "unavailable"
        else:
            from .._dispatch import validate_kernels
            validate_kernels(backend, entry.plugin)
            from .._threads import get_num_threads
            backend.set_num_threads(get_num_threads())
            entry.backend = backend
    except Exception as e:
        entry.error = f"{type(e).__name__}: {e}"


def started():
    """The backends that have started (for settings that reach every backend)."""
    return [e.backend for e in _entries.values() if e.backend is not None]


def get(name):
    """The started backend for device type `name`; raises a clear error when it can't run."""
    entry = _entries.get(name)
    if entry is None or (entry.backend is None and entry.error is None):
        with _lock:     # one backend object per device type, whichever thread asks first
            _collect()
            entry = _entries.get(name)
            if entry is None:
                known = ", ".join(sorted(_entries)) or "none"
                raise RuntimeError(f"unknown device type {name!r}; registered backends: "
                                   f"{known}")
            if entry.backend is None and entry.error is None:
                _start(entry)
    if entry.backend is None:
        raise BackendUnavailable(f"backend {name!r} is not available: {entry.error}")
    return entry.backend


def list():
    """Every known backend: name, plugin, whether it is available and, if not, why.
    Plugins that failed to load are listed too, with `name` None."""
    _collect()
    out = []
    for name, entry in sorted(_entries.items()):
        if entry.backend is None and entry.error is None:
            with _lock:
                if entry.backend is None and entry.error is None:
                    _start(entry)
        out.append({"name": name, "plugin": entry.plugin, "available": entry.backend is not None,
                    "reason": entry.error or "",
                    "devices": entry.backend.device_count() if entry.backend else 0})
    for label, err in sorted(_broken.items()):
        out.append({"name": None, "plugin": label, "available": False, "reason": err,
                    "devices": 0})
    return out


def available():
    """Names of the backends that can run here."""
    return [b["name"] for b in list() if b["available"]]
