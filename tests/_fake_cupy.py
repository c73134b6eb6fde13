"""A fake `cupy` module with the few CUDA runtime calls plugtorch_cuda makes when it starts
and manages devices, for tests on machines without a GPU. Its "device memory" is host
memory: arrays are numpy arrays over byte buffers, so the backend's storage, transfer and
view arithmetic run as they would on a GPU (but no CUDA code does)."""
import types

import numpy as np


class _Pointer:
    """cupy.cuda.MemoryPointer: a byte buffer and an offset into it."""

    def __init__(self, raw, off=0):
        self.raw, self.off = raw, off

    def __add__(self, nbytes):
        return _Pointer(self.raw, self.off + nbytes)


class _Array(np.ndarray):
    """cupy.ndarray: `.data` is its _Pointer; `set` uploads, `get` downloads."""

    @property
    def data(self):
        return self._ptr        # set on the arrays the pool's memory backs

    def set(self, host, stream=None):
        self[...] = host.reshape(self.shape)

    def get(self, stream=None, order="C", out=None, blocking=True):
        out[...] = self
        return out


def _ndarray(shape, dtype, memptr=None, strides=None):
    a = np.ndarray(shape, dtype, buffer=memptr.raw, offset=memptr.off,
                   strides=strides).view(_Array)
    a._ptr = memptr
    return a


class FakeCudaError(RuntimeError):
    pass


def make(count=2, count_error=None, nvrtc_error=None):
    """A module object standing in for cupy: `count` devices named "Fake GPU <i>", or
    getDeviceCount raising FakeCudaError(count_error); nvrtc.getVersion raising
    FakeCudaError(nvrtc_error) when given. `calls` records what was asked of it."""
    calls = []
    current = [0]

    def getDeviceCount():
        if count_error:
            raise FakeCudaError(count_error)
        return count

    def getVersion():
        if nvrtc_error:
            raise FakeCudaError(nvrtc_error)
        return (12, 4)

    def getDeviceProperties(i):
        return {"name": f"Fake GPU {i}".encode(), "totalGlobalMem": (i + 1) * 2 ** 30,
                "major": 8, "minor": i, "multiProcessorCount": 10 + i}

    class Device:
        def __init__(self, index=None):
            self.id = current[0] if index is None else index
            self.saved = []

        def use(self):
            current[0] = self.id

        def __enter__(self):
            self.saved.append(current[0])
            current[0] = self.id
            return self

        def __exit__(self, *exc):
            current[0] = self.saved.pop()

    class MemoryPool:
        def __init__(self):
            self.used = {}       # device -> bytes in use
            self.total = {}

        def used_bytes(self):
            return self.used.get(current[0], 0)

        def total_bytes(self):
            return self.total.get(current[0], 0)

        def malloc(self, nbytes):
            self.used[current[0]] = self.used.get(current[0], 0) + nbytes
            self.total[current[0]] = max(self.total.get(current[0], 0), self.used[current[0]])
            return _Pointer(np.zeros(nbytes, np.uint8))

        def free_all_blocks(self):
            calls.append(("free_all_blocks", current[0]))
            self.total[current[0]] = self.used.get(current[0], 0)

    class Event:
        def __init__(self, block=False, disable_timing=False, interprocess=False):
            self.device, self.time, self.done = current[0], None, True

        def synchronize(self):
            calls.append(("event.synchronize", self.device))

    clock = [0.0]

    class Stream:
        def __init__(self, null=False, non_blocking=False, ptds=False, priority=None):
            self.device, self.ptr, self.done = current[0], id(self), True

        def record(self, event=None):
            clock[0] += 1.5
            event.time = clock[0]
            return event

        def wait_event(self, event):
            calls.append(("wait_event", self.device, event.time))

        def synchronize(self):
            calls.append(("stream.synchronize", self.device))

        def __enter__(self):
            calls.append(("stream.enter", current[0]))
            return self

        def __exit__(self, *exc):
            calls.append(("stream.exit", current[0]))

    null = Stream()
    null.ptr = 0
    Stream.null = null

    def deviceSynchronize():
        calls.append(("deviceSynchronize", current[0]))

    runtime = types.SimpleNamespace(getDeviceCount=getDeviceCount,
                                    deviceSynchronize=deviceSynchronize,
                                    getDeviceProperties=getDeviceProperties)
    cuda = types.SimpleNamespace(
        runtime=runtime, nvrtc=types.SimpleNamespace(getVersion=getVersion), Device=Device,
        MemoryPool=MemoryPool, Stream=Stream, Event=Event,
        get_current_stream=lambda: null,
        get_elapsed_time=lambda a, b: b.time - a.time,
        memory=types.SimpleNamespace(OutOfMemoryError=MemoryError))
    module = types.ModuleType("cupy")
    module.cuda = cuda
    module.calls = calls
    module.current = current
    module.ndarray, module.copyto = _ndarray, np.copyto
    module.empty = lambda shape, dtype: np.empty(shape, dtype).view(_Array)
    return module



def install(monkeypatch, **kw):
    """Make `import cupy` give a fake (see `make`) and the "cuda" device type a
    plugtorch_cuda backend started over it, until monkeypatch undoes it.
    Returns (fake cupy module, backend)."""
    import sys
    import plugtorch
    import plugtorch.backends as registry
    from plugtorch_cuda.backend import CudaBackend
    fake = make(**kw)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    backend = CudaBackend()
    monkeypatch.setitem(registry._entries, "cuda",
                        registry._Entry("cuda", lambda: backend, "fake cuda (tests)"))
    monkeypatch.setattr(plugtorch._tensor, "_DEVICES", {})   # a cache of our own, dropped after
    return fake, backend
