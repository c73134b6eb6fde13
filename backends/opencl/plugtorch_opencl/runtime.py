"""One OpenCL device: context, in-order queue, memory pool, program and kernel caches, and
the launch helper every kernel module uses.

NOTE [program cache]
Kernel sources are generated per (op, dtypes) and built once per device; the built program
and its `cl.Kernel` objects are kept in `Runtime.programs` under a key the caller chooses
(so a hit costs one dict lookup and no source generation). Fetching a kernel as
`program.name` costs ~1 ms in pyopencl, so Kernel objects are created once with
`cl.Kernel(program, name)`. PoCL keeps compiled binaries in its own disk cache, so a
second process pays ~30 ms per program instead of a cold build.

NOTE [launch geometry]
PoCL compiles a kernel again for every new work-group size, so every 1-d launch uses a
fixed local size (`LOCAL_SIZE`) and a global size rounded up to it; kernels take the real
element count and return early past it.

NOTE [launch cost]
pyopencl's untyped argument path sets each scalar (a numpy scalar or array) through the
buffer protocol at ~6-8 us per argument, so a 7-argument launch cost ~60 us. `_build`
therefore reads every kernel's signature from its source (`arg_types`) and declares the
scalar argument types with `Kernel.set_scalar_arg_dtypes`; pyopencl then packs all scalars
of a launch with `struct` in one call (~0.5 us). Callers pass plain Python numbers (numpy
scalars still take a slower conversion, ~2-3 us each) and struct arguments (geo_t, dims_t)
as `bytes` of the struct's size (geometry.geo_struct / dims_struct). A launch
creates no event wait and never blocks: the returned event is dropped (a plain
`cl.Event`, whose release does not wait).

NOTE [threads]
A Runtime is shared by every Python thread using its device, and pyopencl leaves the
locking to us. A `cl.Kernel` holds its arguments between `clSetKernelArg` and the enqueue,
so two threads launching the same kernel could run one with the other's buffers: each
cached kernel is wrapped in a `LockedKernel` that makes set-arguments-then-enqueue one
step (one uncontended lock, ~0.2 us per launch). Pool allocations and the list of pending
uploads take `Runtime.lock` (pool frees run in buffer destructors, which the GIL already
serializes); program builds take `build_lock`, so threads missing the same program build
it once; backend._Runtimes creates each Runtime under a lock, so threads share one context
and pool. OpenCL queues are thread-safe, so threads share the one in-order queue: each
thread's ops still run in the order it issued them.
"""
import re
import threading

import numpy as np
import pyopencl as cl
import pyopencl.tools as cl_tools

from .cl_source import MAXD

LOCAL_SIZE = 64
BUILD_OPTIONS = ("-cl-mad-enable",)


class KernelBuildError(RuntimeError):
    """A generated kernel failed to compile; the message holds the op, dtype and log."""


#: C scalar type -> numpy dtype of the by-value kernel argument
_SCALARS = {"char": np.int8, "uchar": np.uint8, "short": np.int16, "ushort": np.uint16,
            "int": np.int32, "uint": np.uint32, "long": np.int64, "ulong": np.uint64,
            "half": np.float16, "float": np.float32, "double": np.float64}
#: struct types of cl_source.HEADER -> their size in bytes (passed as bytes)
_STRUCTS = {"geo_t": 8 * (MAXD + 1), "dims_t": 8 * MAXD}
_SIGNATURE = re.compile(r"(?:\bKERNEL|\b__kernel|\bkernel)\s+void\s+(\w+)\s*\(([^)]*)\)")
_QUALIFIERS = {"const", "unsigned", "volatile", "restrict", "__restrict"}


def arg_types(source):
    """{kernel name: [numpy dtype of each by-value argument, None for pointers]}.

    Read from the kernel signatures in `source`; a kernel with an argument type this table
    does not know is left out (`_build` then reports it).
    """
    out = {}
    for name, params in _SIGNATURE.findall(source):
        types = []
        for p in params.split(","):
            p = p.strip()
            if not p:
                continue
            if "*" in p:
                types.append(None)
                continue
            words = [w for w in p.split()[:-1] if w not in _QUALIFIERS]
            t = words[-1] if words else ""
            if t in _SCALARS:
                types.append(np.dtype(_SCALARS[t]))
            elif t in _STRUCTS:
                types.append(np.dtype((np.void, _STRUCTS[t])))
            else:
                types = None
                break
        if types is not None:
            out[name] = types
    return out


_OOM_CODES = frozenset({cl.status_code.MEM_OBJECT_ALLOCATION_FAILURE,
                        cl.status_code.OUT_OF_RESOURCES, cl.status_code.OUT_OF_HOST_MEMORY,
                        cl.status_code.INVALID_BUFFER_SIZE})


class LockedKernel:
    """A cl.Kernel whose calls (set the arguments, then enqueue) never interleave across
    threads (NOTE [threads])."""
    __slots__ = ("kernel", "_acquire", "_release")

    def __init__(self, kernel):
        self.kernel = kernel
        lock = threading.Lock()
        self._acquire, self._release = lock.acquire, lock.release     # ~50 ns less than `with`

    def __call__(self, *args):
        self._acquire()
        try:
            return self.kernel(*args)
        finally:
            self._release()


class Runtime:
    """Everything the backend keeps for one device."""

    def __init__(self, device, index):
        self.device = device
        self.index = index
        self.ctx = cl.Context([device])
        self.queue = cl.CommandQueue(self.ctx)        # in order: ops run as enqueued
        self.pool = cl_tools.MemoryPool(cl_tools.ImmediateAllocator(self.queue))
        self.programs = {}        # key -> {kernel name: LockedKernel}
        self.pending = []         # events of non-blocking uploads (keep host arrays alive)
        self.lock = threading.RLock()          # pool and pending (NOTE [threads])
        self.build_lock = threading.Lock()
        ext = device.extensions.split()
        self.fp64 = "cl_khr_fp64" in ext
        self.fp16 = "cl_khr_fp16" in ext
        self.builds = 0           # programs built in this process (for tests)
        self.local = (LOCAL_SIZE,)
        self.globals = {}         # work-item count -> global size tuple (rounded up)

    # -- memory ------------------------------------------------------------------------
    def alloc(self, nbytes):
        # the frontend turns MemoryError into plugtorch.OutOfMemoryError (size and device)
        if nbytes > self.device.max_mem_alloc_size:
            raise MemoryError(f"{nbytes} bytes is over the device's largest buffer "
                              f"({self.device.max_mem_alloc_size} bytes)")
        try:
            with self.lock:
                return self.pool.allocate(max(int(nbytes), 1))
        except cl.Error as e:
            if e.code not in _OOM_CODES:
                raise
            raise MemoryError(str(e)) from e

    def upload(self, array):
        buf = self.alloc(array.nbytes)
        if array.nbytes:
            # the NannyEvent holds `array` until the copy is done; keeping the event keeps
            # the upload asynchronous (dropping it would wait)
            ev = cl.enqueue_copy(self.queue, buf, array, is_blocking=False)
            with self.lock:
                self.pending = [e for e in self.pending if e.command_execution_status
                                != cl.command_execution_status.COMPLETE]
                self.pending.append(ev)
        return buf

    def download(self, buf, offset_bytes, out):
        if out.nbytes:
            cl.enqueue_copy(self.queue, out, buf, src_offset=offset_bytes, is_blocking=True)
        self.pending.clear()
        return out

    def finish(self):
        self.queue.finish()
        self.pending.clear()

    # -- programs ----------------------------------------------------------------------
    def kernels(self, key, make_source, what):
        """The kernels of the program cached under `key`, building `make_source()` on a miss.

        `what` names the op and dtype for the error raised when the build fails.
        """
        ks = self.programs.get(key)
        if ks is None:
            with self.build_lock:     # one build per key, even when threads miss together
                ks = self.programs.get(key)
                if ks is None:
                    ks = self.programs[key] = self._build(make_source(), what)
        return ks

    def _build(self, source, what):
        prg = cl.Program(self.ctx, source)
        try:
            prg.build(options=list(BUILD_OPTIONS))
        except cl.Error as e:
            try:
                log = prg.get_build_info(self.device, cl.program_build_info.LOG)
            except cl.Error:
                log = ""
            log = (log or "").strip() or str(e)
            raise KernelBuildError(f"opencl: building the kernel for {what} failed on "
                                   f"{self.device.name}:\n{log}") from None
        self.builds += 1
        types = arg_types(source)
        kernels = {k.function_name: k for k in prg.all_kernels()}
        missing = sorted(set(types) - set(kernels))
        if missing:
            raise KernelBuildError(f"opencl: building the kernel for {what} on "
                                   f"{self.device.name} produced no kernel "
                                   f"{', '.join(missing)}")
        for name, k in kernels.items():
            t = types.get(name)
            if t is None or len(t) != k.num_args:
                raise KernelBuildError(f"opencl: cannot read the signature of kernel {name} "
                                       f"of {what}")
            k.set_scalar_arg_dtypes(t)        # see NOTE [launch cost]
        return {name: LockedKernel(k) for name, k in kernels.items()}

    def gsize(self, n):
        """The 1-d global size for n work-items: n rounded up to the local size (cached)."""
        g = self.globals.get(n)
        if g is None:
            if len(self.globals) > 4096:
                self.globals.clear()
            g = self.globals[n] = ((n + LOCAL_SIZE - 1) // LOCAL_SIZE * LOCAL_SIZE,)
        return g

    def launch(self, kernel, n, *args):
        """Enqueue `kernel` over n work-items (1-d) with the fixed local size; never waits."""
        if n <= 0:
            return
        kernel(self.queue, self.gsize(n), self.local, *args)

