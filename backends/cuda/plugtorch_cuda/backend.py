"""CudaBackend: devices, storage, memory statistics and the kernel table.

Every GPU CuPy sees is one plugtorch device, `cuda:0`, `cuda:1`, … in CUDA's order. Each
device gets a Runtime (runtime.py, the CuPy implementation of the kernel library's Runtime
protocol), created on first use. Storage is a 1-d CuPy array of the tensor's dtype,
allocated from the backend's own CuPy memory pool on its device (so
`plugtorch.cuda.memory_allocated` counts plugtorch's tensors only). The kernel table is the
kernel library's launchers (`plugtorch_kernels.launch`, the programs OpenCL runs, compiled
with NVRTC) with floating-point matmul through cuBLAS (kernels.py). Work is queued on the
current CuPy stream of the device; the host waits only in `to_numpy` and `synchronize`.

NOTE [cuda device interface]
Besides the backend contract, `plugtorch.cuda` calls these methods (so the frontend never
imports CuPy): `current_index` / `set_current(index)`, `device_properties(index)`,
`memory_stats(index)`, `reset_peak(index)`, `empty_cache()`, and for streams and events
`new_stream(index, priority)`, `current_stream(index)`, `default_stream(index)` and
`new_event(index, enable_timing, blocking)`, which return the adapters of `streams.py`.
DLPack goes through `to_dlpack` / `from_dlpack` (NOTE [interop] in plugtorch/_interop.py;
interop.py here).
"""
import threading

import numpy as np

from plugtorch.backends import (Backend, UNARY, BINARY, buffer, device_index, dtype,
                                is_contiguous, new_tensor, offset, shape)

NOT_INSTALLED = "CuPy is not installed (pip install 'plugtorch[cuda]')"


def _probe(cupy):
    """(device count, "") when CuPy can run kernels here, else (0, why not)."""
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:      # no driver, a driver too old, no device: CuPy says which
        return 0, f"CuPy cannot reach a CUDA device: {e}"
    if count == 0:
        return 0, "CuPy found no CUDA device"
    try:
        cupy.cuda.nvrtc.getVersion()     # every kernel is compiled at run time
    except Exception as e:
        return 0, (f"CuPy cannot load NVRTC, the CUDA run-time compiler ({e}); "
                   f"pip install nvidia-cuda-nvrtc-cu12")
    return count, ""


class _Runtimes(dict):
    """device index -> Runtime, created when first asked for."""

    def __init__(self, backend):
        super().__init__()
        self.backend = backend
        self.lock = threading.Lock()

    def __missing__(self, index):
        from .runtime import Runtime
        b = self.backend
        with self.lock:        # threads asking at once must share one Runtime
            rt = self.get(index)
            if rt is None:
                rt = self[index] = Runtime(b.cp, index, b.pool, b.device_properties(index),
                                           b.count > 1)
        return rt


class CudaBackend(Backend):
    """NVIDIA GPUs through CuPy (CUDA 12)."""
    name = "cuda"
    multi_device = True
    accelerator = True
    UNARY = UNARY
    BINARY = BINARY

    def __init__(self):
        self.cp = None
        self.count = 0
        self.devices = []
        self.current_index = 0
        self.kernels = {}
        self._props = {}
        self.runtimes = _Runtimes(self)
        try:
            import cupy
        except ImportError:
            self._error = NOT_INSTALLED
            return
        except Exception as e:          # e.g. a CuPy build for another CUDA version
            self._error = f"CuPy failed to import: {type(e).__name__}: {e}"
            return
        self.count, self._error = _probe(cupy)
        if self._error:
            return
        self.cp = cupy
        self.devices = list(range(self.count))
        self.pool = cupy.cuda.MemoryPool()
        self.kernels = self._make_kernels()

    def _make_kernels(self):
        from plugtorch_kernels.launch import kernel_table
        from .kernels import make_bmm
        table = kernel_table(self)
        table["bmm"] = make_bmm(self, table["bmm"])
        return table

    def rt(self, tensor):
        """The Runtime of `tensor`'s device."""
        return self.runtimes[device_index(tensor)]

    def device(self, index):
        """CuPy's context manager making device `index` current."""
        return self.cp.cuda.Device(index)

    # -- backend contract --------------------------------------------------------------
    def availability(self):
        return not self._error, self._error

    def device_count(self):
        return self.count

    def default_index(self):
        return self.current_index

    def empty(self, numel, dtype, index):
        return self.runtimes[index].empty(numel, dtype.np)

    def from_numpy(self, array, index):
        return self.runtimes[index].upload(np.ascontiguousarray(array))

    def to_numpy(self, tensor):
        dt = dtype(tensor)
        out = np.empty(shape(tensor), dt.np)
        if not out.size:
            return out
        if not is_contiguous(tensor):
            tmp = new_tensor(tensor)
            self.kernels["copy"](tmp, tensor)
            tensor = tmp
        return self.rt(tensor).download(buffer(tensor), offset(tensor) * dt.itemsize, out)

    def synchronize(self, index):
        self.runtimes[index].synchronize()

    # -- DLPack (NOTE [interop] in plugtorch/_interop.py) --------------------------------
    def to_dlpack(self, tensor, stream=None, **kw):
        from .interop import to_dlpack
        return to_dlpack(self, tensor, stream, **kw)

    def from_dlpack(self, obj):
        from .interop import from_dlpack
        return from_dlpack(self, obj)

    def describe(self):
        out = []
        for i in range(self.count):
            p = self.device_properties(i)
            out.append({"device": f"cuda:{i}", "name": p["name"], "memory": p["total_memory"],
                        "compute_capability": f"{p['major']}.{p['minor']}",
                        "multiprocessors": p["multi_processor_count"]})
        return out

    # -- NOTE [cuda device interface] --------------------------------------------------
    def set_current(self, index):
        self.cp.cuda.Device(index).use()
        self.current_index = index

    def device_properties(self, index):
        p = self._props.get(index)
        if p is None:
            raw = self.cp.cuda.runtime.getDeviceProperties(index)
            name = raw["name"]
            p = self._props[index] = {
                "name": name.decode() if isinstance(name, bytes) else str(name),
                "total_memory": int(raw["totalGlobalMem"]), "major": int(raw["major"]),
                "minor": int(raw["minor"]),
                "multi_processor_count": int(raw["multiProcessorCount"])}
        return p

    def memory_stats(self, index):
        """Bytes in plugtorch's tensors ("allocated"), held by the pool ("reserved"), and
        the most ever allocated since the last reset ("peak")."""
        rt = self.runtimes[index]
        with self.cp.cuda.Device(index):
            used, total = self.pool.used_bytes(), self.pool.total_bytes()
        with rt.lock:
            peak = rt.peak = max(rt.peak, used)
        return {"allocated": used, "reserved": total, "peak": peak}

    def reset_peak(self, index):
        rt = self.runtimes[index]
        with self.cp.cuda.Device(index):
            used = self.pool.used_bytes()
        with rt.lock:
            rt.peak = used

    def empty_cache(self):
        for i in range(self.count):
            with self.cp.cuda.Device(i):
                self.pool.free_all_blocks()

    def new_stream(self, index, priority=0):
        from .streams import StreamHandle
        with self.cp.cuda.Device(index):
            return StreamHandle(self.cp, index, self.cp.cuda.Stream(non_blocking=True,
                                                                     priority=priority))

    def current_stream(self, index):
        from .streams import StreamHandle
        with self.cp.cuda.Device(index):
            return StreamHandle(self.cp, index, self.cp.cuda.get_current_stream())

    def default_stream(self, index):
        from .streams import StreamHandle
        return StreamHandle(self.cp, index, self.cp.cuda.Stream.null)

    def new_event(self, index, enable_timing=False, blocking=False):
        from .streams import EventHandle
        with self.cp.cuda.Device(index):     # a CUDA event belongs to one device
            return EventHandle(self.cp, self.cp.cuda.Event(block=blocking,
                                                           disable_timing=not enable_timing))
