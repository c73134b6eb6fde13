"""Exchanging tensors with other libraries: DLPack and the numpy array protocol.

NOTE [interop]
On cpu a tensor's storage is a numpy buffer, so numpy does the DLPack work: `__dlpack__`
exports the tensor's numpy view and `from_dlpack` imports through `np.from_dlpack`; both
share memory. Other devices take part when their backend provides the optional methods

    backend.to_dlpack(tensor, stream=None, **kw) -> PyCapsule
    backend.from_dlpack(obj) -> Tensor on that backend

(a CuPy-based CUDA backend can forward both to CuPy); without them export raises
BufferError, as the DLPack protocol asks. `plugtorch/ops/_tensor_methods.py` binds the
methods on Tensor.
"""
import numpy as np

from ._tensor import Tensor, host_array, resolve_device

__all__ = ["from_dlpack"]

# DLPack device type codes (dlpack.h: DLDeviceType)
_KDL = {"cpu": 1, "cuda": 2, "opencl": 4, "vulkan": 7, "metal": 8, "rocm": 10}
_KDL_NAMES = {v: k for k, v in _KDL.items()}


def __dlpack_device__(self):
    """(DLPack device type, device index): (1, 0) for cpu, (2, i) for cuda:i, (4, i) opencl."""
    dev = self._storage.device
    code = _KDL.get(dev.type)
    if code is None:
        code = getattr(self._storage.backend, "dlpack_device_type", None)
    if code is None:
        raise BufferError(f"__dlpack_device__: device type {dev.type!r} has no DLPack code")
    return code, dev.index or 0


def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    """Export the tensor as a DLPack capsule that shares its memory.

    Args:
        stream: for device backends, the consumer's stream (passed to the backend).
        max_version, dl_device, copy: DLPack 1.0 keywords, forwarded to numpy on cpu.

    Example:
        >>> import numpy as np, plugtorch as torch
        >>> t = torch.arange(3.); a = np.from_dlpack(t); a[0] = 7; t[0].item()
        7.0
    """
    if self.requires_grad:
        raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
    backend = self._storage.backend
    if backend.name != "cpu":
        export = getattr(backend, "to_dlpack", None)
        if export is None:
            raise BufferError(f"__dlpack__: backend {backend.name!r} cannot export DLPack; "
                              f"use .cpu() first")
        return export(self, stream=stream, max_version=max_version, dl_device=dl_device,
                      copy=copy)
    kw = {}
    if max_version is not None:
        kw["max_version"] = max_version
    if dl_device is not None:
        kw["dl_device"] = dl_device
    if copy is not None:
        kw["copy"] = copy
    return host_array(self).__dlpack__(**kw)


class _Capsule:
    """Wraps a bare DLPack capsule (a cpu one) so np.from_dlpack can take it."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kw):
        return self.capsule

    def __dlpack_device__(self):
        return 1, 0


def from_dlpack(ext_tensor):
    """A tensor sharing memory with `ext_tensor`, any object with `__dlpack__` (numpy
    arrays, PyTorch/CuPy/JAX tensors) or a DLPack capsule.

    cpu data becomes a cpu tensor without a copy; device data needs a backend that imports
    DLPack (NOTE [interop]). Data its exporter marks read-only, and bare legacy
    (unversioned) capsules, which numpy imports read-only, give a tensor that raises on
    writes.

    Example:
        >>> import numpy as np, plugtorch as torch
        >>> a = np.zeros(3, np.float32); t = torch.from_dlpack(a); t += 1; a.tolist()
        [1.0, 1.0, 1.0]
    """
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    if hasattr(ext_tensor, "__dlpack__"):
        code = ext_tensor.__dlpack_device__()[0] if hasattr(
            ext_tensor, "__dlpack_device__") else 1
    elif type(ext_tensor).__name__ == "PyCapsule":
        ext_tensor, code = _Capsule(ext_tensor), 1
    else:
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ or a DLPack "
                        f"capsule, got {type(ext_tensor).__name__}")
    code = int(code)
    if code in (1, 3):            # kDLCPU, kDLCUDAHost (pinned host memory)
        from .ops.creation import from_numpy
        try:
            array = np.from_dlpack(ext_tensor)
        except (TypeError, BufferError) as e:
            raise BufferError(f"from_dlpack: numpy could not import the data: {e}") from e
        # a read-only exporter gives a read-only array: the tensor shares it, and writing
        # to it raises numpy's read-only error instead of corrupting the exporter's data
        return from_numpy(array)
    name = _KDL_NAMES.get(code)
    backend = None
    if name is not None:
        try:
            backend = resolve_device(name)[1]
        except Exception as e:
            raise BufferError(f"from_dlpack: data on DLPack device type {code} ({name}) but "
                              f"backend {name!r} is not available: {e}") from e
    importer = getattr(backend, "from_dlpack", None)
    if importer is None:
        raise BufferError(f"from_dlpack: no plugtorch backend imports DLPack data from device "
                          f"type {code}" + (f" ({name})" if name else ""))
    return importer(ext_tensor)


def __array__(self, dtype=None, copy=None):
    """numpy's array protocol: np.asarray(t) shares memory on cpu; other devices copy."""
    if self.requires_grad:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                           "tensor.detach().numpy() instead.")
    on_host = self._storage.backend.name == "cpu"
    a = host_array(self)
    need_cast = dtype is not None and np.dtype(dtype) != a.dtype
    if copy is False and (need_cast or not on_host):
        raise ValueError(f"Unable to avoid copy while creating an array as requested "
                         f"(tensor on {self.device}"
                         + (f", dtype {a.dtype} -> {np.dtype(dtype)})" if need_cast else ")"))
    if need_cast:
        return a.astype(dtype)
    return a.copy() if copy and on_host else a


