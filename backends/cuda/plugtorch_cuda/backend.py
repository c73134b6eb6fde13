"""CudaBackend: devices, storage, memory statistics and the kernel table.

Every GPU CuPy sees is one plugtorch device, `cuda:0`, `cuda:1`, … in CUDA's order. Storage
is a 1-d CuPy array of the tensor's dtype, allocated from the backend's own CuPy memory pool
on its device (so `plugtorch.cuda.memory_allocated` counts plugtorch's tensors only). Work is
queued on the current CuPy stream of the device; the host waits only in `to_numpy` and
`synchronize`.

NOTE [cuda device interface]
Besides the backend contract, `plugtorch.cuda` calls these methods (so the frontend never
imports CuPy): `current_index` / `set_current(index)`, `device_properties(index)`,
`memory_stats(index)`, `reset_peak(index)`, `empty_cache()`, and for streams and events
`new_stream(index, priority)`, `current_stream(index)`, `default_stream(index)` and
`new_event(index, enable_timing, blocking)`, which return the adapters of `streams.py`.
"""
import threading

import numpy as np

from plugtorch.backends import (Backend, buffer, device_index, dtype, is_contiguous,
                                new_tensor, offset, shape)

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
        cupy.cuda.nvrtc.getVersion()     # every CuPy kernel is compiled at run time
    except Exception as e:
        return 0, (f"CuPy cannot load NVRTC, the CUDA run-time compiler ({e}); "
                   f"pip install nvidia-cuda-nvrtc-cu12")
    return count, ""


class CudaBackend(Backend):
    """NVIDIA GPUs through CuPy (CUDA 12)."""
    name = "cuda"
    multi_device = True
    accelerator = True

    def __init__(self):
        self.cp = None
        self.count = 0
        self.current_index = 0
        self.kernels = {}
        self._props = {}
        self._peak = {}
        self._lock = threading.Lock()
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
        self.pool = cupy.cuda.MemoryPool()
        from .kernels import kernels
        self.kernels = kernels(cupy)

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

    def _alloc(self, numel, np_dtype, index):
        cp = self.cp
        with cp.cuda.Device(index):
            if not numel:
                return cp.empty(0, np_dtype)
            try:
                mem = self.pool.malloc(numel * np_dtype.itemsize)
            except cp.cuda.memory.OutOfMemoryError as e:
                raise MemoryError(str(e)) from e
            used = self.pool.used_bytes()
        with self._lock:
            if used > self._peak.get(index, 0):
                self._peak[index] = used
        return cp.ndarray((numel,), np_dtype, memptr=mem)

    def empty(self, numel, dtype, index):
        return self._alloc(numel, dtype.np, index)

    def from_numpy(self, array, index):
        host = np.ascontiguousarray(array).reshape(-1)
        buf = self._alloc(host.size, host.dtype, index)
        if host.size:
            with self.cp.cuda.Device(index):
                # queued on the current stream; a pageable source is staged before this
                # returns, so the caller may reuse `array` at once
                buf.set(host, stream=self.cp.cuda.get_current_stream())
        return buf

    def to_numpy(self, tensor):
        dt = dtype(tensor)
        out = np.empty(shape(tensor), dt.np)
        if not out.size:
            return out
        with self.cp.cuda.Device(device_index(tensor)):
            if not is_contiguous(tensor):
                tmp = new_tensor(tensor)
                self.kernels["copy"](tmp, tensor)
                tensor = tmp
            start = offset(tensor)
            # waits for the current stream, then copies
            buffer(tensor)[start:start + out.size].get(out=out.reshape(-1))
        return out

    def synchronize(self, index):
        with self.cp.cuda.Device(index):
            self.cp.cuda.runtime.deviceSynchronize()

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
        with self.cp.cuda.Device(index):
            used, total = self.pool.used_bytes(), self.pool.total_bytes()
        with self._lock:
            peak = self._peak[index] = max(self._peak.get(index, 0), used)
        return {"allocated": used, "reserved": total, "peak": peak}

    def reset_peak(self, index):
        with self.cp.cuda.Device(index):
            used = self.pool.used_bytes()
        with self._lock:
            self._peak[index] = used

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
