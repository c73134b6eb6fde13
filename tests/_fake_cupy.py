"""A fake `cupy` module with the parts of CuPy plugtorch_cuda uses, for tests on machines
without a GPU.

- Device memory is host memory: arrays are numpy arrays over byte buffers, so the backend's
  storage, transfers and view arithmetic run as they would on a GPU.
- `RawModule` "compiles" by recording its code and options (`#error` in the code fails
  like NVRTC, with a log naming the line), and `get_function(name).kernel` gives a
  `Function` whose calls record the launch (`Launch`: kernel, grid, block, arguments,
  device, stream) and check each argument the way CuPy packs it (cupy/cuda/function.pyx:
  arrays as pointers, numpy scalars as their bytes, Python ints as int64, Python floats as
  double) against the parameter the kernel declares, raising TypeError where a real driver
  would silently read the wrong bytes.
- Launches execute nothing, unless `make(executor=...)` is given a `PoclExecutor`: it
  runs the kernel's OpenCL C source (the program after cuda_compat.h) on an OpenCL device
  over the same host memory, with the work-items the CUDA launch covers (grid * block
  items in groups of block), so launchers, argument packing and geometry are checked
  end to end by the values they compute.
"""
import contextlib
import ctypes
import re
import types
from collections import namedtuple

import numpy as np

from plugtorch_kernels.args import arg_types, kernel_names

Launch = namedtuple("Launch", "name grid block args device stream")
_LINE = re.compile(r'#line 1 "[^"]*"\n')
#: the numpy scalar types CuPy passes by value as they are (cupy/cuda/function.pyx)
_NUMPY_SCALARS = {np.dtype(c).type for c in "?bhilqBHILQefdFD"}
_KEEP = []       # memory of imported DLPack data: kept for the life of the test process


def program_text(code):
    """The OpenCL C program inside the CUDA `code` the runtime compiles (after the
    `#line 1 "..."` that follows cuda_compat.h), or the whole code when there is none."""
    m = _LINE.search(code)
    return code[m.end():] if m else code


class _Pointer:
    """cupy.cuda.MemoryPointer: a byte buffer, an offset into it, and its device."""

    def __init__(self, raw, off=0, device=0):
        self.raw, self.off, self.device = raw, off, device

    @property
    def ptr(self):
        return self.raw.ctypes.data + self.off

    def __add__(self, nbytes):
        return _Pointer(self.raw, self.off + nbytes, self.device)


def _own_raw(a):
    """Bytes starting at a's first element, for an array not made from a known buffer."""
    base = np.asarray(a).view(np.ndarray)
    return np.ascontiguousarray(base).reshape(-1).view(np.uint8)


class _Array(np.ndarray):
    """cupy.ndarray over fake device memory: `.data` is its _Pointer, `set` uploads, `get`
    downloads, `__dlpack__` records the consumer's stream."""

    def __array_finalize__(self, obj):
        self._raw = getattr(obj, "_raw", None)
        self._dev = getattr(obj, "_dev", 0)
        self._calls = getattr(obj, "_calls", None)

    @property
    def data(self):
        raw = self._raw
        addr = self.__array_interface__["data"][0]
        if raw is None or not raw.ctypes.data <= addr <= raw.ctypes.data + raw.nbytes:
            raw = _own_raw(self)
            addr = raw.ctypes.data
        return _Pointer(raw, addr - raw.ctypes.data, self._dev)

    @property
    def device(self):
        return types.SimpleNamespace(id=self._dev)

    def set(self, host, stream=None):
        if self._calls is not None:
            self._calls.append(("set", stream))
        self[...] = host.reshape(self.shape)

    def get(self, stream=None, order="C", out=None, blocking=True):
        if self._calls is not None:
            self._calls.append(("get", stream, blocking))
        if out is None:
            return np.array(self.view(np.ndarray))
        out[...] = self
        return out

    def __dlpack__(self, *, stream=None, **kw):
        if self._calls is not None:
            self._calls.append(("__dlpack__", stream))
        return self.view(np.ndarray).__dlpack__(**kw)

    def __dlpack_device__(self):
        return 2, self._dev          # kDLCUDA


class FakeCudaError(RuntimeError):
    pass


class OutOfMemoryError(MemoryError):
    """cupy.cuda.memory.OutOfMemoryError (a MemoryError, as CuPy's)."""


class CompileException(Exception):
    """cupy.cuda.compiler.CompileException: the NVRTC log is the message."""

    def __init__(self, msg, source, name, options, backend):
        super().__init__(msg)
        self.msg, self.source, self.name, self.options = msg, source, name, options

    def get_message(self):
        return self.msg


def cupy_param(x):
    """What CuPy passes for kernel argument x (cupy/cuda/function.pyx): ("ptr", None) for a
    device array, ("value", numpy dtype of the bytes) otherwise; TypeError where CuPy
    raises it."""
    if isinstance(x, (_Array, _Pointer)):
        return "ptr", None
    if type(x) in _NUMPY_SCALARS or isinstance(x, np.void):
        return "value", x.dtype
    if isinstance(x, np.ndarray):
        if x.size != 1:
            raise TypeError(f"You are trying to pass a numpy.ndarray of shape {x.shape} as a "
                            f"kernel parameter. Only numpy.ndarrays of size one can be passed "
                            f"by value.")
        return "value", x.dtype
    if isinstance(x, int):           # bool too: CuPy tests int first
        return "value", np.dtype(np.int64)
    if isinstance(x, float):
        return "value", np.dtype(np.float64)
    if isinstance(x, complex):
        return "value", np.dtype(np.complex128)
    raise TypeError(f"Unsupported type {type(x)}")


def check_args(code, name, args):
    """Raise TypeError unless `args` give kernel `name` of `code` exactly the parameters it
    declares: a device array per pointer, a value of the declared dtype (for a struct, of
    its size) per by-value parameter."""
    declared = arg_types(program_text(code)).get(name)
    if declared is None:
        raise TypeError(f"kernel {name}: signature not found")
    if len(declared) != len(args):
        raise TypeError(f"kernel {name} takes {len(declared)} arguments, got {len(args)}")
    for i, (want, a) in enumerate(zip(declared, args)):
        kind, got = cupy_param(a)
        if want is None:
            if kind != "ptr":
                raise TypeError(f"kernel {name} argument {i}: a pointer, got {type(a)}")
        elif kind != "value":
            raise TypeError(f"kernel {name} argument {i}: a {want} value, got a device array")
        elif want.kind == "V":
            if got.itemsize != want.itemsize:
                raise TypeError(f"kernel {name} argument {i}: a {want.itemsize}-byte struct, "
                                f"got {got.itemsize} bytes")
        elif got != want:
            raise TypeError(f"kernel {name} argument {i}: {want}, CuPy would pass {got}")


class PoclExecutor:
    """Runs a fake launch: the OpenCL C program on `device` (a pyopencl device) over the
    launch's host memory, global size grid * block and local size block."""

    def __init__(self, device):
        import pyopencl as cl
        self.cl = cl
        self.ctx = cl.Context([device])
        self.queue = cl.CommandQueue(self.ctx)
        self.kernels = {}
        self.programs = {}

    def __call__(self, code, name, grid, block, args):
        cl = self.cl
        source = program_text(code)
        k = self.kernels.get((source, name))
        if k is None:
            prg = self.programs.get(source)
            if prg is None:
                prg = self.programs[source] = cl.Program(self.ctx, source).build()
            k = self.kernels[(source, name)] = cl.Kernel(prg, name)
        bufs = {}
        for i, a in enumerate(args):
            if isinstance(a, _Array):
                p = a.data
                key = (id(p.raw), p.off)
                if key not in bufs:
                    host = p.raw[p.off:] if p.raw.nbytes > p.off else np.zeros(1, np.uint8)
                    bufs[key] = (cl.Buffer(self.ctx, cl.mem_flags.READ_WRITE |
                                           cl.mem_flags.COPY_HOST_PTR, hostbuf=host), host)
                k.set_arg(i, bufs[key][0])
            else:
                k.set_arg(i, a)
        cl.enqueue_nd_range_kernel(self.queue, k, tuple(g * b for g, b in zip(grid, block)),
                                   tuple(block))
        for buf, host in bufs.values():
            cl.enqueue_copy(self.queue, host, buf)
        self.queue.finish()


def make(count=2, count_error=None, nvrtc_error=None, capacity=None, executor=None,
         matmul_error=None):
    """A module object standing in for cupy: `count` devices named "Fake GPU <i>", or
    getDeviceCount raising FakeCudaError(count_error); nvrtc.getVersion raising
    FakeCudaError(nvrtc_error) when given; `capacity` bytes of memory per device (None: no
    limit); `executor` runs launched kernels (None: launches only record); `matmul`
    raising RuntimeError(matmul_error) when given (a cuBLAS that cannot be loaded). `calls` records
    what was asked of it, `builds` the (code, options) of every compiled module and
    `launches` every kernel launch."""
    calls = []
    builds = []
    launches = []
    current = [0]
    streams = {}          # device -> stack of streams made current with `with stream:`

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

    def _array(raw, shape, dtype, off=0, strides=None, device=None):
        a = np.ndarray(shape, dtype, buffer=raw, offset=off, strides=strides).view(_Array)
        a._raw, a._dev, a._calls = raw, current[0] if device is None else device, calls
        return a

    class MemoryPool:
        def __init__(self):
            self.used = {}       # device -> bytes in use
            self.total = {}

        def used_bytes(self):
            return self.used.get(current[0], 0)

        def total_bytes(self):
            return self.total.get(current[0], 0)

        def malloc(self, nbytes):
            dev = current[0]
            used = self.used.get(dev, 0)
            if capacity is not None and used + nbytes > capacity:
                raise OutOfMemoryError(f"Out of memory allocating {nbytes:,} bytes "
                                       f"(allocated so far: {used:,} bytes).")
            self.used[dev] = used + nbytes
            self.total[dev] = max(self.total.get(dev, 0), self.used[dev])
            return _Pointer(np.zeros(nbytes, np.uint8), 0, dev)

        def free_all_blocks(self):
            calls.append(("free_all_blocks", current[0]))
            self.total[current[0]] = self.used.get(current[0], 0)

    class _DefaultPool:
        def free_all_blocks(self):
            calls.append(("default_pool.free_all_blocks", current[0]))

    default_pool = _DefaultPool()

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
            streams.setdefault(current[0], []).append(self)
            return self

        def __exit__(self, *exc):
            calls.append(("stream.exit", current[0]))
            streams[current[0]].pop()

    null = Stream()
    null.ptr = 0
    Stream.null = null

    def get_current_stream():
        stack = streams.get(current[0])
        return stack[-1] if stack else null

    def deviceSynchronize():
        calls.append(("deviceSynchronize", current[0]))

    @contextlib.contextmanager
    def using_allocator(allocator=None):
        calls.append(("using_allocator", current[0]))
        yield

    class Function:
        """cupy.cuda.function.Function of one kernel, loaded on one device."""

        def __init__(self, module, name, device):
            self.module, self.name, self.device = module, name, device

        def __call__(self, grid, block, args, shared_mem=0, stream=None):
            if current[0] != self.device:
                raise FakeCudaError(f"CUDA_ERROR_INVALID_HANDLE: kernel {self.name} of "
                                    f"device {self.device} launched on device {current[0]}")
            args = list(args)
            check_args(self.module.code, self.name, args)
            launches.append(Launch(self.name, tuple(grid), tuple(block), args, current[0],
                                   stream or get_current_stream()))
            if executor is not None:
                executor(self.module.code, self.name, tuple(grid), tuple(block), args)

    class RawKernel:
        def __init__(self, module, name):
            self.module, self.name = module, name

        @property
        def kernel(self):
            return Function(self.module, self.name, current[0])

    class RawModule:
        def __init__(self, *, code=None, path=None, options=(), backend="nvrtc", **kw):
            self.code, self.options, self.backend = code, tuple(options), backend

        def compile(self, log_stream=None):
            builds.append((self.code, self.options))
            text = program_text(self.code)
            for line, src in enumerate(text.split("\n"), 1):
                if src.lstrip().startswith("#error"):
                    log = (f'plugtorch_kernel({line}): error: #error directive: '
                           f'{src.split("#error", 1)[1].strip()}\n\n1 error detected in the '
                           f'compilation of "plugtorch_kernel".')
                    raise CompileException(log, self.code, "kern.cu", self.options, "nvrtc")

        def get_function(self, name):
            if name not in kernel_names(program_text(self.code)):
                raise FakeCudaError("CUDA_ERROR_NOT_FOUND: named symbol not found")
            return RawKernel(self, name)

    def ndarray(shape, dtype, memptr=None, strides=None):
        return _array(memptr.raw, shape, dtype, memptr.off, strides, memptr.device)

    def empty(shape, dtype):
        dtype = np.dtype(dtype)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        n = int(np.prod(shape)) * dtype.itemsize
        return _array(np.zeros(max(n, 1), np.uint8), shape, dtype)

    def matmul(a, b, out=None):
        calls.append(("matmul", current[0]))
        if matmul_error:
            raise RuntimeError(matmul_error)
        return np.matmul(a.view(np.ndarray), b.view(np.ndarray),
                         out=None if out is None else out.view(np.ndarray))

    def from_dlpack(obj):
        """A fake device array over the memory `obj` exports (numpy reads the capsule)."""
        cap = obj.__dlpack__(stream=get_current_stream().ptr)

        class _Capsule:
            def __dlpack__(self, **kw):
                return cap

            def __dlpack_device__(self):
                return 1, 0
        host = np.from_dlpack(_Capsule())
        item = host.dtype.itemsize
        span = (1 + sum((n - 1) * s // item for n, s in zip(host.shape, host.strides))
                if host.size else 0) * item
        mem = (ctypes.c_uint8 * max(span, 1)).from_address(host.__array_interface__["data"][0])
        _KEEP.append((mem, host))
        raw = np.frombuffer(mem, np.uint8)
        dev = obj.__dlpack_device__()[1] if hasattr(obj, "__dlpack_device__") else 0
        return _array(raw, host.shape, host.dtype, 0, host.strides, dev)

    runtime = types.SimpleNamespace(getDeviceCount=getDeviceCount,
                                    deviceSynchronize=deviceSynchronize,
                                    getDeviceProperties=getDeviceProperties,
                                    getDevice=lambda: current[0],
                                    driverGetVersion=lambda: 12040)
    cuda = types.SimpleNamespace(
        runtime=runtime, nvrtc=types.SimpleNamespace(getVersion=getVersion), Device=Device,
        MemoryPool=MemoryPool, Stream=Stream, Event=Event,
        get_current_stream=get_current_stream, using_allocator=using_allocator,
        get_elapsed_time=lambda a, b: b.time - a.time,
        memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError),
        compiler=types.SimpleNamespace(CompileException=CompileException))
    module = types.ModuleType("cupy")
    module.cuda = cuda
    module.calls, module.builds, module.launches = calls, builds, launches
    module.current = current
    module.ndarray, module.empty, module.copyto = ndarray, empty, np.copyto
    module.matmul, module.from_dlpack = matmul, from_dlpack
    module.RawModule = RawModule
    module.get_default_memory_pool = lambda: default_pool
    return module


def opencl_executor():
    """A PoclExecutor on the OpenCL backend's first device, or None when it has none."""
    import plugtorch
    try:
        be = plugtorch.backends.get("opencl")
    except Exception:
        return None
    if not be.availability()[0] or not be.devices:
        return None
    return PoclExecutor(be.devices[0])


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


class _Patch:
    """monkeypatch's setitem and setattr, without undo (for a whole pytest session)."""

    def setitem(self, mapping, key, value):
        mapping[key] = value

    def setattr(self, obj, name, value):
        setattr(obj, name, value)


def pytest_configure(config):
    """`pytest -p _fake_cupy` (tests/ on sys.path): for the whole session the "cuda" backend
    runs over this fake, its kernels executed on the OpenCL device, e.g. the conformance
    suite: PYTHONPATH=tests pytest -p _fake_cupy --pyargs plugtorch.testing.suite
    --backend cuda"""
    import pytest
    executor = opencl_executor()
    if executor is None:
        raise pytest.UsageError("-p _fake_cupy: no OpenCL device to execute kernels on")
    install(_Patch(), count=1, executor=executor)
