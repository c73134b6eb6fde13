"""`plugtorch.accelerator`: the device-agnostic "is there an accelerator, and which" API that
PyTorch programs start with (`torch.accelerator.current_accelerator()`).

An accelerator is a backend that says so (`Backend.accelerator`: the cuda backend, and the
OpenCL backend when its default device is a GPU or another accelerator -- a CPU device such
as PoCL's is not one) and can run here. With several, the first in `PREFERENCE` order wins,
then the others by name. Without one, `is_available()` is False and
`current_accelerator()` is None, so `device = acc.type if acc else "cpu"` picks the cpu.
"""
from . import backends
from ._device import device as _device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "set_device_index", "synchronize"]

#: device types tried first, in order
PREFERENCE = ("cuda", "opencl")


def _accelerator():
    """The started accelerator backend, or None."""
    names = [b["name"] for b in backends.list() if b["available"]]
    names.sort(key=lambda n: (PREFERENCE.index(n) if n in PREFERENCE else len(PREFERENCE), n))
    for name in names:
        backend = backends.get(name)
        if backend.accelerator and backend.device_count():
            return backend
    return None


def is_available():
    """Whether an accelerator can be used here."""
    return _accelerator() is not None


def current_accelerator(check_available=False):
    """The accelerator's device type as a `plugtorch.device` (e.g. device(type='cuda')), or
    None when there is none. `check_available` is accepted for PyTorch's signature."""
    backend = _accelerator()
    return _device(backend.name) if backend is not None else None


def device_count():
    """How many devices the accelerator has (0 without one)."""
    backend = _accelerator()
    return backend.device_count() if backend is not None else 0


def _require(op):
    backend = _accelerator()
    if backend is None:
        raise RuntimeError(f"accelerator.{op}: no accelerator is available here (the "
                           f"backends that can run: {', '.join(backends.available())})")
    return backend


def current_device_index():
    """The index of the accelerator's current device."""
    backend = _require("current_device_index")
    index = getattr(backend, "current_index", None)
    index = backend.default_index() if index is None else index
    return 0 if index is None else index        # a backend with one, unnumbered device


def set_device_index(device):
    """Make `device` (an index) the accelerator's current device, where the backend has one."""
    backend = _require("set_device_index")
    index = device if isinstance(device, int) else _device(device).index
    if backend.name == "cuda":
        from . import cuda
        cuda.set_device(index)
    elif index != current_device_index():
        raise RuntimeError(f"accelerator.set_device_index: backend {backend.name!r} has no "
                           f"current-device setting; name the device ('{backend.name}:{index}')")


def synchronize(device=None):
    """Wait until the work queued on the accelerator's device (default: current) is done."""
    backend = _require("synchronize")
    index = current_device_index() if device is None else (
        device if isinstance(device, int) else _device(device).index)
    backend.synchronize(index)
