"""One CUDA device: the CuPy Runtime the kernel library's launchers run on
(plugtorch_kernels.runtime.Runtime): memory from the backend's CuPy pool, transfers and
kernels queued on the device's current CuPy stream, programs compiled with NVRTC.

NOTE [cuda programs]
A program is the library's OpenCL C source after the text of cuda_compat.h (NOTE [CUDA
translation check] in plugtorch_kernels/check.py), compiled by `cupy.RawModule(...,
backend="nvrtc")` with `build_options`: C++17 and the directories holding cuda_fp16.h, as
check.py compiles every registered program, so a program the checks pass is a program this
runtime builds. The header goes in as text, not as an `#include`, so it is part of the
source CuPy keys its disk cache of binaries on (~/.cupy/kernel_cache): an edited header
cannot meet a stale binary. CuPy adds the device's architecture (`-arch=sm_XY`),
`--device-as-default-execution-space` and `-ftz=true` after our options; the last one wins
in NVRTC, so float32 subnormal values are flushed to zero in these kernels (float64 and
cuBLAS keep them). The OpenCL option `-cl-mad-enable` the library asks for is NVRTC's
default (`--fmad=true`).

NOTE [cuda kernel arguments]
CuPy passes each kernel argument as the bytes of a C value it builds from the Python object
(cupy/cuda/function.pyx): a CuPy array as its device pointer, a numpy scalar as its own
bytes, a numpy void scalar (a struct) as its bytes, but a Python int as an 8-byte int64 and
a Python float as an 8-byte double, whatever the kernel declares; the driver then reads as
many bytes as the parameter has, so an `int` or `float` parameter given a Python number would
read half of a long or double. `Kernel.pack` therefore converts each argument to the type
the library read from the kernel's signature (plugtorch_kernels.args.arg_types): buffers
(CuPy arrays) as they are, numbers to numpy scalars of the declared dtype (an int that does
not fit raises OverflowError), and the geometry structs (`bytes`, args.geo_struct /
dims_struct) to numpy void scalars after checking their size. Integers and structs repeat
from launch to launch, so their converted values are kept (a dict hit is several times
cheaper than making a numpy scalar).

NOTE [cuda launch geometry]
Launchers give OpenCL NDRanges: a global size per dimension (a multiple of the local size,
geometry.global_size) and a local size. A CUDA launch of `grid` blocks of `block` threads
covers grid * block work-items with the same ids (cuda_compat.h: GID(d) = blockIdx * blockDim
+ threadIdx), so block = local and grid = ceil(global / local) per dimension; kernels take
their real element count and return early past it.

NOTE [cuda transfers]
An upload queues cudaMemcpyAsync from the caller's numpy array on the current stream. The
array is pageable host memory, and for a pageable source the driver copies it to its own
staging buffer before the call returns (CUDA's "API synchronization behavior"), so the
array may be changed or freed at once and nothing has to keep it alive, unlike pyopencl's
non-blocking copies. A download queues the copy on the current stream and waits for that
stream, so it sees every op queued before it.

NOTE [cuda threads]
A Runtime is shared by every thread using its device. CuPy's memory pool takes its own lock;
a launch packs its arguments into a fresh list and calls cuLaunchKernel, so launches share
no state; program builds take the inherited `build_lock`; the peak-memory figure takes
`lock`. CuPy's current device and current stream are per thread, so each thread's work runs
in the order it issued it, on the stream it made current.
"""
import contextlib
import functools
import threading

import numpy as np

from plugtorch_kernels import check
from plugtorch_kernels import runtime as base
from plugtorch_kernels.runtime import KernelBuildError

__all__ = ["Runtime", "Kernel", "KernelBuildError", "cuda_source", "build_options", "packer",
           "launch_geometry"]

SOURCE_NAME = "plugtorch_kernel"     # the file name NVRTC's messages give the program


@functools.lru_cache(maxsize=1)
def _compat_header():
    with open(check.HEADER) as f:
        return f.read()


def cuda_source(source):
    """The CUDA C++ text NVRTC compiles for kernel library `source` (NOTE [cuda programs])."""
    return f'{_compat_header()}\n#line 1 "{SOURCE_NAME}"\n{source}'


#: OpenCL build options the library passes -> their NVRTC spelling ("" for NVRTC's default)
_OPTIONS = {"-cl-mad-enable": ""}


@functools.lru_cache(maxsize=8)
def build_options(options=()):
    """The NVRTC options of a build the library asks for with OpenCL `options`."""
    out = ["-std=c++17"]
    for o in options:
        o = _OPTIONS.get(o, o)
        if o:
            out.append(o)
    out += [f"-I{d}" for d in check.nvrtc_include_dirs()]
    return tuple(out)


# ----------------------------------------------------------------------------- arguments

def _cached(convert):
    """`convert` with its results kept: a launch passes the same few integers and geometry
    structs over and over, and a numpy scalar costs far more to make than to look up.
    (Floats are not kept: 0.0 and -0.0 are one dict key.)"""
    cache = {}

    def conv(value):
        v = cache.get(value)
        if v is None:
            if len(cache) > 1024:
                cache.clear()
            v = cache[value] = convert(value)
        return v
    return conv


def _struct(size):
    def pack(value):
        if len(value) != size:
            raise ValueError(f"a struct argument of {size} bytes got {len(value)} bytes")
        return np.void(value)
    return _cached(pack)


def _converter(t):
    if t is None:
        return None
    if t.kind == "V":
        return _struct(t.itemsize)
    return t.type if t.kind == "f" else _cached(t.type)


def packer(types):
    """`pack(args)`: kernel arguments as CuPy passes them by the kernel's argument `types`
    (args.arg_types: a numpy dtype per by-value argument, None per buffer); see NOTE [cuda
    kernel arguments]."""
    conv = [_converter(t) for t in types]
    n = len(conv)

    def pack(args):
        if len(args) != n:
            raise TypeError(f"the kernel takes {n} arguments, the launch gave {len(args)}")
        return [a if c is None else c(a) for c, a in zip(conv, args)]
    return pack


class Kernel:
    """A loaded kernel: CuPy's launchable function on one device and its argument packer."""
    __slots__ = ("fn", "name", "pack")

    def __init__(self, fn, name, types):
        self.fn, self.name, self.pack = fn, name, packer(types)

    def __repr__(self):
        return f"<cuda kernel {self.name}>"


# ----------------------------------------------------------------------------- geometry

_GEOMETRY = {}
_DEFAULT_BLOCK = 64       # work-group size when a launch leaves it to the runtime


def launch_geometry(global_size, local_size):
    """(grid, block) of CUDA's launch covering an OpenCL NDRange (NOTE [cuda launch
    geometry]); `local_size` None lets the runtime choose."""
    key = (global_size, local_size)
    geo = _GEOMETRY.get(key)
    if geo is None:
        if local_size is None:
            local_size = (_DEFAULT_BLOCK,) + (1,) * (len(global_size) - 1)
        if len(global_size) != len(local_size) or not 1 <= len(global_size) <= 3:
            raise ValueError(f"launch: global size {global_size} and local size "
                             f"{local_size} must have the same 1 to 3 dimensions")
        grid = tuple(-(-int(g) // int(b)) for g, b in zip(global_size, local_size))
        geo = (grid, tuple(int(b) for b in local_size))
        if len(_GEOMETRY) > 4096:
            _GEOMETRY.clear()
        _GEOMETRY[key] = geo
    return geo


# ----------------------------------------------------------------------------- the runtime

class Runtime(base.Runtime):
    """Everything the backend keeps for one CUDA device."""
    name = "cuda"
    kind = "gpu"
    fp64 = True

    def __init__(self, cp, index, pool, props, multi_device):
        super().__init__()
        self.cp = cp
        self.index = index
        self.pool = pool
        self.device_name = f"cuda:{index} ({props['name']})"
        self.fp16 = (props["major"], props["minor"]) >= (5, 3)
        self.compute_units = max(1, props["multi_processor_count"])
        self.props = props
        self.multi = multi_device
        self.peak = 0                     # most bytes the pool held for tensors (memory_stats)
        self.lock = threading.Lock()

    def device(self):
        """A context manager making this device current (with a single device, it always
        is, and nothing needs doing)."""
        return self.cp.cuda.Device(self.index) if self.multi else contextlib.nullcontext()

    # -- memory ------------------------------------------------------------------------
    def empty(self, numel, np_dtype):
        """A new 1-d CuPy array of `numel` elements of `np_dtype` from the pool (storage)."""
        cp = self.cp
        with self.device():
            if not numel:
                return cp.empty(0, np_dtype)
            nbytes = numel * np_dtype.itemsize
            try:
                mem = self.pool.malloc(nbytes)
            except cp.cuda.memory.OutOfMemoryError:
                # cached blocks of CuPy's default pool (CuPy's own temporaries) may be what
                # is missing: give them back once and try again
                cp.get_default_memory_pool().free_all_blocks()
                try:
                    mem = self.pool.malloc(nbytes)
                except cp.cuda.memory.OutOfMemoryError as e:
                    raise MemoryError(f"{self.device_name}: {e}") from e
            used = self.pool.used_bytes()
        if used > self.peak:
            with self.lock:
                self.peak = max(self.peak, used)
        return cp.ndarray((numel,), np_dtype, memptr=mem)

    def allocate(self, nbytes):
        return self.empty(max(int(nbytes), 1), np.dtype(np.uint8))

    def upload(self, array):
        buf = self.empty(array.size, array.dtype)
        if array.size:
            cp = self.cp
            with self.device():
                # NOTE [cuda transfers]: the driver has staged `array` when this returns
                buf.set(array.reshape(-1), stream=cp.cuda.get_current_stream())
        return buf

    def download(self, buf, offset_bytes, out):
        if out.nbytes:
            cp = self.cp
            with self.device():
                src = buf.view(np.uint8)[offset_bytes:offset_bytes + out.nbytes]
                src.get(stream=cp.cuda.get_current_stream(), out=out.reshape(-1).view(np.uint8),
                        blocking=True)
        return out

    def synchronize(self):
        with self.device():
            self.cp.cuda.runtime.deviceSynchronize()

    def tuning_key(self):
        p, cp = self.props, self.cp
        return {"name": p["name"], "compute_capability": f"{p['major']}.{p['minor']}",
                "multiprocessors": str(p["multi_processor_count"]),
                "driver": str(cp.cuda.runtime.driverGetVersion()),
                "nvrtc": ".".join(map(str, cp.cuda.nvrtc.getVersion()))}

    # -- programs ----------------------------------------------------------------------
    def build(self, source, options):
        cp = self.cp
        code = cuda_source(source)
        module = cp.RawModule(code=code, options=build_options(tuple(options)),
                              backend="nvrtc")
        with self.device():
            try:
                module.compile()
            except cp.cuda.compiler.CompileException as e:
                log = (e.get_message() if hasattr(e, "get_message") else str(e)).strip()
                if "cuda_fp16.h" in log:
                    log += ("\n(NVRTC needs the CUDA headers: pip install "
                            "nvidia-cuda-runtime-cu12)")
                raise KernelBuildError(log) from None
            except Exception as e:      # e.g. a driver too old for NVRTC's output
                raise KernelBuildError(f"{type(e).__name__}: {e}") from None
        return module

    def kernel(self, program, name, types):
        with self.device():
            try:
                fn = program.get_function(name).kernel     # CuPy's Function on this device
            except Exception as e:
                raise ValueError(f"the built program has no kernel {name}: {e}") from None
        return Kernel(fn, name, types)

    def launch(self, kernel, global_size, local_size, *args):
        grid, block = _GEOMETRY.get((global_size, local_size)) or launch_geometry(
            global_size, local_size)
        args = kernel.pack(args)
        if self.multi:
            with self.cp.cuda.Device(self.index):
                kernel.fn(grid, block, args)
        else:
            kernel.fn(grid, block, args)
