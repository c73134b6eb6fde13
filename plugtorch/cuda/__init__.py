"""`plugtorch.cuda`: CUDA devices, memory, streams and random seeds, as `torch.cuda` offers.

It works on every machine: without a GPU `is_available()` is False and `device_count()` is 0,
seeding records the seed, and every call that needs a GPU raises `CudaUnavailableError` (a
RuntimeError) saying why -- CuPy not installed (``pip install "plugtorch[cuda]"``), no
driver or no device. The work is done by the "cuda" backend (the `plugtorch_cuda` package,
reached through `plugtorch.backends`; NOTE [cuda device interface] there), so this module
never imports CuPy itself except to explain why that backend is missing.

Example:
    >>> import plugtorch as torch
    >>> device = "cuda" if torch.cuda.is_available() else "cpu"
    >>> torch.ones(2, device=device).sum().item()
    2.0
"""
from .. import backends as _backends
from .. import _generator
from .._device import device as _Device
from .._tensor import OutOfMemoryError, _clear_device_cache
from .streams import Stream, Event, StreamContext, stream, current_stream, default_stream
from .. import graphs   # noqa: F401  (torch.cuda.graphs)
# step capture works on every backend (plugtorch/graphs.py); these are PyTorch's names
from ..graphs import Graph as CUDAGraph, graph, graph_pool_handle

__all__ = ["CudaUnavailableError", "OutOfMemoryError", "is_available", "is_initialized",
           "init", "device_count", "current_device", "set_device", "device",
           "get_device_name", "get_device_properties", "get_device_capability",
           "is_bf16_supported", "synchronize", "manual_seed", "manual_seed_all", "seed",
           "seed_all", "initial_seed", "get_rng_state", "set_rng_state", "empty_cache",
           "memory_allocated", "max_memory_allocated", "memory_reserved",
           "reset_peak_memory_stats", "Stream", "Event",
           "StreamContext", "stream", "current_stream", "default_stream", "CUDAGraph",
           "graph", "graph_pool_handle"]


class CudaUnavailableError(_backends.BackendUnavailable):
    """A `plugtorch.cuda` call needs a CUDA device and none can be used; the message says
    why (the "cuda" backend's reason)."""


def _not_registered():
    """Why there is no "cuda" backend at all: CuPy's own answer, probed directly."""
    why = "no backend is registered for device type 'cuda' (the plugtorch_cuda package " \
          "is not installed; pip install 'plugtorch[cuda]')"
    try:
        import cupy
    except ImportError:
        return why + "; CuPy is not installed either"
    except Exception as e:
        return why + f"; CuPy failed to import: {type(e).__name__}: {e}"
    try:
        return why + f"; CuPy sees {cupy.cuda.runtime.getDeviceCount()} device(s)"
    except Exception as e:
        return why + f"; CuPy cannot reach a CUDA device: {e}"


def _backend(what):
    """The started "cuda" backend, or CudaUnavailableError naming `what` and the reason."""
    try:
        return _backends.get("cuda")
    except _backends.BackendUnavailable as e:
        raise CudaUnavailableError(f"{what}: {e}") from None
    except RuntimeError:       # no such device type
        raise CudaUnavailableError(f"{what}: CUDA is not available: {_not_registered()}") \
            from None


def _index(what, device, backend=None):
    """The device index `device` names (None: the current device), checked."""
    backend = backend or _backend(what)
    if device is None:
        return backend.current_index
    if isinstance(device, str):
        device = _Device(device)
    if isinstance(device, _Device):
        if device.type != "cuda":
            raise ValueError(f"{what}: expected a cuda device, got {device}")
        device = backend.current_index if device.index is None else device.index
    if not isinstance(device, int) or isinstance(device, bool):
        raise TypeError(f"{what}: expected a device index, name or plugtorch.device, got "
                        f"{type(device).__name__}")
    if not 0 <= device < backend.device_count():
        raise ValueError(f"{what}: invalid device index {device}; there are "
                         f"{backend.device_count()} CUDA device(s)")
    return device


# ----------------------------------------------------------------------------- devices

def is_available():
    """Whether a CUDA device can be used (never raises; the reason is in
    `plugtorch.backends.list()` and `plugtorch info`)."""
    try:
        return _backend("is_available").device_count() > 0
    except Exception:
        return False


def is_initialized():
    """Whether the cuda backend has started and can run (it starts on first use)."""
    entry = _backends._entries.get("cuda")     # peek without starting it
    return entry is not None and entry.backend is not None


def init():
    """Start the cuda backend now; raises CudaUnavailableError when it cannot run."""
    _backend("init")


def device_count():
    """The number of CUDA devices (0 when CUDA cannot be used)."""
    try:
        return _backend("device_count").device_count()
    except CudaUnavailableError:
        return 0


def current_device():
    """The index of the current CUDA device (what `device="cuda"` means)."""
    return _backend("current_device").current_index


def set_device(device):
    """Make `device` (an index, "cuda:1" or a plugtorch.device) the current CUDA device."""
    backend = _backend("set_device")
    index = _index("set_device", device, backend)
    if index != backend.current_index:
        backend.set_current(index)
        _clear_device_cache()      # "cuda" resolved to the previous device


class device:
    """Context manager that makes `device` the current CUDA device within the block.

    Args:
        device: an index, "cuda:i" or a plugtorch.device; None or -1 changes nothing.
    """

    def __init__(self, device):
        self.index = None if device is None or device == -1 else device
        self.previous = None

    def __enter__(self):
        if self.index is not None:
            self.previous = current_device()
            set_device(self.index)
        return self

    def __exit__(self, *exc):
        if self.index is not None:
            set_device(self.previous)


def _properties(what, device):
    backend = _backend(what)
    return _Properties(backend.device_properties(_index(what, device, backend)))


def get_device_properties(device=None):
    """The properties of a CUDA device: `name`, `total_memory` (bytes), `major`, `minor`
    (compute capability) and `multi_processor_count`."""
    return _properties("get_device_properties", device)


class _Properties:
    __slots__ = ("name", "total_memory", "major", "minor", "multi_processor_count")

    def __init__(self, props):
        for k in self.__slots__:
            setattr(self, k, props[k])

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, "
                f"minor={self.minor}, total_memory={self.total_memory // 2 ** 20}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_name(device=None):
    return _properties("get_device_name", device).name


def get_device_capability(device=None):
    """(major, minor) compute capability of a CUDA device."""
    p = _properties("get_device_capability", device)
    return p.major, p.minor


def is_bf16_supported():
    """False: plugtorch has no bfloat16 dtype on any device."""
    return False


def synchronize(device=None):
    """Wait until all work queued on a CUDA device (default: the current one) is done."""
    backend = _backend("synchronize")
    backend.synchronize(_index("synchronize", device, backend))


# ----------------------------------------------------------------------------- random seeds
# The default generator of "cuda:i" is kept with the others in plugtorch._generator; these
# seed it without a GPU too (device 0 stands for the current device then), so a program that
# seeds before it knows whether CUDA exists behaves the same everywhere.

def _seed_indices(all_devices):
    try:
        backend = _backends.get("cuda")
    except Exception:
        return [0]
    return range(max(backend.device_count(), 1)) if all_devices else [backend.current_index]


def _generator_of(index):
    return _generator.generator_for(_Device("cuda", index), None)


def manual_seed(seed):
    """Seed the default generator of the current CUDA device."""
    for i in _seed_indices(False):
        _generator_of(i).manual_seed(seed)


def manual_seed_all(seed):
    """Seed the default generator of every CUDA device."""
    for i in _seed_indices(True):
        _generator_of(i).manual_seed(seed)


def seed():
    """Seed the current CUDA device's generator from OS entropy."""
    for i in _seed_indices(False):
        _generator_of(i).seed()


def seed_all():
    """Seed every CUDA device's generator with one seed from OS entropy."""
    s = _generator_of(0).seed()
    manual_seed_all(s)


def initial_seed():
    """The seed of the current CUDA device's default generator."""
    return _generator_of(_seed_indices(False)[0]).initial_seed()


def get_rng_state(device="cuda"):
    """The state of a CUDA device's default generator (a uint8 cpu tensor)."""
    index = 0 if not is_available() else _index("get_rng_state", device)
    return _generator_of(index).get_state()


def set_rng_state(new_state, device="cuda"):
    index = 0 if not is_available() else _index("set_rng_state", device)
    _generator_of(index).set_state(new_state)


# ----------------------------------------------------------------------------- memory

def empty_cache():
    """Give the memory the pool holds but no tensor uses back to the driver (nothing to do
    when CUDA is not available, as in PyTorch)."""
    if is_initialized():
        _backends.get("cuda").empty_cache()


def _stats(what, device):
    backend = _backend(what)
    return backend.memory_stats(_index(what, device, backend))


def memory_allocated(device=None):
    """Bytes of device memory held by plugtorch tensors on a CUDA device."""
    return _stats("memory_allocated", device)["allocated"]


def max_memory_allocated(device=None):
    """The most bytes `memory_allocated` reached since the last `reset_peak_memory_stats`."""
    return _stats("max_memory_allocated", device)["peak"]


def memory_reserved(device=None):
    """Bytes the memory pool holds on a CUDA device (allocated plus cached)."""
    return _stats("memory_reserved", device)["reserved"]


def reset_peak_memory_stats(device=None):
    backend = _backend("reset_peak_memory_stats")
    backend.reset_peak(_index("reset_peak_memory_stats", device, backend))
