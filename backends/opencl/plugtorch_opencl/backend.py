"""OpenCLBackend: devices, storage and the kernel table.

Every device of every OpenCL platform pyopencl sees is one plugtorch device, `opencl:0`,
`opencl:1`, … in platform order; the default device follows `PYOPENCL_CTX` when it is set
("<platform>:<device>", "<platform>" or part of a device name). Each device gets its own
context, in-order queue and memory pool (runtime.Runtime, the pyopencl implementation of
the kernel library's Runtime protocol), created on first use. Storage
is a cl buffer from the pool; work is only enqueued, and the host waits only in
`to_numpy` and `synchronize`.

The first float32 matmul on a device picks its kernel by a short measured search, kept on
disk per device and driver (NOTE [matmul tuning] in plugtorch_kernels/autotune.py):
PLUGTORCH_TUNE=0 skips it, PLUGTORCH_CACHE_DIR moves the cache.
"""
import os
import threading

import numpy as np

import plugtorch
from plugtorch.backends import (Backend, UNARY, BINARY, buffer, device_index, dtype,
                                is_contiguous, new_tensor, offset, shape)

# float16 is stored as half and computed in float on every device, with or without
# cl_khr_fp16 (NOTE [float16 storage] in plugtorch_kernels/cl_source.py)
_BASE_DTYPES = (plugtorch.bool, plugtorch.uint8, plugtorch.int8, plugtorch.int16, plugtorch.int32,
                plugtorch.int64, plugtorch.float16, plugtorch.float32)


_PROBE = "__kernel void plugtorch_probe(__global int *a) { a[get_global_id(0)] = 1; }"


def _cannot_compile(cl, device):
    """Why `device`'s OpenCL C compiler cannot build a trivial kernel, or "" when it can.

    A device whose compiler is broken (e.g. a PoCL build whose LLVM does not know this CPU
    and reports "unknown target CPU") would fail at the first operation; it is left out of
    the device list instead, with the reason shown by `plugtorch info`."""
    try:
        ctx = cl.Context([device])
        cl.Program(ctx, _PROBE).build()
        return ""
    except Exception as e:      # a build failure, or a device that cannot make a context
        lines = [ln.strip() for ln in str(e).splitlines() if "error" in ln.lower()]
        return (lines[-1] if lines else f"{type(e).__name__}: {e}")[:200]


def _is_accelerator(device):
    import pyopencl as cl
    return not device.type & cl.device_type.CPU


class _Runtimes(dict):
    """device index -> Runtime, created when first asked for."""

    def __init__(self, devices):
        super().__init__()
        self.devices = devices
        self.lock = threading.Lock()

    def __missing__(self, index):
        from .runtime import Runtime
        with self.lock:        # threads asking at once must share one context and pool
            rt = self.get(index)
            if rt is None:
                rt = self[index] = Runtime(self.devices[index], index)
        return rt


class OpenCLBackend(Backend):
    """OpenCL 1.2+ devices through pyopencl (tested on PoCL's CPU device)."""
    name = "opencl"
    multi_device = True
    UNARY = UNARY
    BINARY = BINARY

    def __init__(self):
        self._error = None
        self.devices = []
        self.platforms = []
        self.unusable = []     # (device name, platform name, why) of devices left out
        try:
            import pyopencl as cl
            for p in cl.get_platforms():
                for d in p.get_devices():
                    why = _cannot_compile(cl, d)
                    if why:
                        self.unusable.append((d.name.strip(), p.name.strip(), why))
                        continue
                    self.devices.append(d)
                    self.platforms.append(p)
        except ImportError as e:
            self._error = f"pyopencl is not installed ({e}); pip install 'pyopencl[pocl]'"
        except Exception as e:     # e.g. no ICD loader / platform
            self._error = f"no OpenCL platform: {type(e).__name__}: {e}"
        if not self._error and not self.devices:
            if self.unusable:
                self._error = "no OpenCL device can compile kernels: " + "; ".join(
                    f"{n} ({p}): {why}" for n, p, why in self.unusable)
            else:
                self._error = "pyopencl found no OpenCL device (install PoCL: pip install " \
                              "'pyopencl[pocl]')"
        self.runtimes = _Runtimes(self.devices)
        exts = [set(d.extensions.split()) for d in self.devices]
        dts = set(_BASE_DTYPES)
        if exts and all("cl_khr_fp64" in e for e in exts):
            dts.add(plugtorch.float64)
        self.dtypes = frozenset(dts)
        # an accelerator (for plugtorch.accelerator) when the default device is not a CPU:
        # PoCL's CPU device computes on the host cores, a GPU does not
        self.accelerator = bool(self.devices) and _is_accelerator(
            self.devices[self.default_index()])
        self.kernels = self._make_kernels() if not self._error else {}

    def _make_kernels(self):
        from plugtorch_kernels.launch import kernel_table
        return kernel_table(self)

    def rt(self, tensor):
        """The Runtime of `tensor`'s device."""
        return self.runtimes[device_index(tensor)]

    # -- backend contract --------------------------------------------------------------
    def availability(self):
        return (self._error is None), (self._error or "")

    def device_count(self):
        return len(self.devices)

    def default_index(self):
        spec = os.environ.get("PYOPENCL_CTX", "").strip()
        if not spec:
            return 0
        parts = spec.split(":")
        try:
            plat = int(parts[0])
            names = []
            for p in self.platforms:
                if p not in names:
                    names.append(p)
            first = self.platforms.index(names[plat])
            return first + (int(parts[1]) if len(parts) > 1 and parts[1] else 0)
        except (ValueError, IndexError):
            for i, d in enumerate(self.devices):
                if spec.lower() in d.name.lower():
                    return i
        return 0

    def empty(self, numel, dtype, index):
        return self.runtimes[index].allocate(numel * dtype.itemsize)

    def from_numpy(self, array, index):
        # copy on the host first: the upload is asynchronous and the caller may change
        # `array` right after this returns
        return self.runtimes[index].upload(np.array(array, copy=True, order="C"))

    def to_numpy(self, tensor):
        rt = self.rt(tensor)
        dt = dtype(tensor)
        out = np.empty(shape(tensor), dt.np)
        if not out.size:
            return out
        if not is_contiguous(tensor):
            tmp = new_tensor(tensor)
            self.kernels["copy"](tmp, tensor)
            tensor = tmp
        return rt.download(buffer(tensor), offset(tensor) * dt.itemsize, out)

    def synchronize(self, index):
        if index in self.runtimes:
            self.runtimes[index].synchronize()

    def describe(self):
        out = []
        for i, (d, p) in enumerate(zip(self.devices, self.platforms)):
            ext = d.extensions.split()
            out.append({"device": f"opencl:{i}", "name": d.name.strip(),
                        "platform": p.name.strip(), "version": d.version.strip(),
                        "memory": d.global_mem_size, "compute_units": d.max_compute_units,
                        "fp64": "cl_khr_fp64" in ext, "fp16": "cl_khr_fp16" in ext})
        for name, plat, why in self.unusable:
            out.append({"device": None, "name": name, "platform": plat,
                        "unusable": f"cannot compile kernels: {why}"})
        return out
