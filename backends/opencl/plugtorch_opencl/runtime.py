"""One OpenCL device: the pyopencl Runtime the kernel library's launchers run on
(plugtorch_kernels.runtime.Runtime): context, in-order queue, memory pool, and kernels
typed once.

NOTE [launch cost]
pyopencl's untyped argument path sets each scalar (a numpy scalar or array) through the
buffer protocol at ~6-8 us per argument, so a 7-argument launch cost ~60 us. `kernel`
therefore declares the scalar argument types the library read from the kernel's signature
(plugtorch_kernels.args.arg_types) with `Kernel.set_scalar_arg_dtypes`; pyopencl then
packs all scalars of a launch with `struct` in one call (~0.5 us). Launchers pass plain
Python numbers (numpy scalars still take a slower conversion, ~2-3 us each) and struct
arguments (geo_t, dims_t) as `bytes`. Fetching a kernel as `program.name` costs ~1 ms in
pyopencl, so Kernel objects are created once with `cl.Kernel(program, name)` and cached
(NOTE [program cache] in plugtorch_kernels/runtime.py). A launch creates no event wait and
never blocks: the returned event is dropped (a plain `cl.Event`, whose release does not
wait). PoCL keeps compiled binaries in its own disk cache, so a second process pays ~30 ms
per program instead of a cold build.

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
import threading

import pyopencl as cl
import pyopencl.tools as cl_tools

from plugtorch_kernels import runtime as base
from plugtorch_kernels.args import arg_types  # noqa: F401  (tests read signatures here)
from plugtorch_kernels.runtime import KernelBuildError  # noqa: F401

_OOM_CODES = frozenset({cl.status_code.MEM_OBJECT_ALLOCATION_FAILURE,
                        cl.status_code.OUT_OF_RESOURCES, cl.status_code.OUT_OF_HOST_MEMORY,
                        cl.status_code.INVALID_BUFFER_SIZE})


class LockedKernel:
    """A cl.Kernel whose calls (set the arguments, then enqueue) never interleave across
    threads (NOTE [threads]). `Runtime.launch` takes the lock itself, one Python call less
    per launch."""
    __slots__ = ("kernel", "acquire", "release")

    def __init__(self, kernel):
        self.kernel = kernel
        lock = threading.Lock()
        self.acquire, self.release = lock.acquire, lock.release     # ~50 ns less than `with`

    def __call__(self, *args):
        self.acquire()
        try:
            return self.kernel(*args)
        finally:
            self.release()


class Runtime(base.Runtime):
    """Everything the backend keeps for one device."""
    name = "opencl"

    def __init__(self, device, index):
        super().__init__()
        self.device = device
        self.device_name = device.name
        self.index = index
        self.ctx = cl.Context([device])
        self.queue = cl.CommandQueue(self.ctx)        # in order: ops run as enqueued
        self.pool = cl_tools.MemoryPool(cl_tools.ImmediateAllocator(self.queue))
        self.pending = []         # events of non-blocking uploads (keep host arrays alive)
        self.lock = threading.RLock()          # pool and pending (NOTE [threads])
        ext = device.extensions.split()
        self.fp64 = "cl_khr_fp64" in ext
        self.fp16 = "cl_khr_fp16" in ext
        self.kind = ("cpu" if device.type & cl.device_type.CPU else
                     "gpu" if device.type & cl.device_type.GPU else "other")
        self.compute_units = max(1, device.max_compute_units)
        self.max_alloc = device.max_mem_alloc_size      # a device query costs ~0.7 us

    # -- memory ------------------------------------------------------------------------
    def allocate(self, nbytes):
        if nbytes > self.max_alloc:
            raise MemoryError(f"{nbytes} bytes is over the device's largest buffer "
                              f"({self.max_alloc} bytes)")
        try:
            with self.lock:
                return self.pool.allocate(max(int(nbytes), 1))
        except cl.Error as e:
            if e.code not in _OOM_CODES:
                raise
            raise MemoryError(str(e)) from e

    def upload(self, array):
        buf = self.allocate(array.nbytes)
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

    def synchronize(self):
        self.queue.finish()
        self.pending.clear()

    def tuning_key(self):
        d, p = self.device, self.device.platform
        return {"name": d.name.strip(), "vendor": d.vendor.strip(),
                "version": d.version.strip(), "driver": d.driver_version.strip(),
                "platform": p.name.strip(), "platform_version": p.version.strip(),
                "compute_units": str(d.max_compute_units)}

    # -- programs ----------------------------------------------------------------------
    def build(self, source, options):
        prg = cl.Program(self.ctx, source)
        try:
            prg.build(options=list(options))
        except cl.Error as e:
            try:
                log = prg.get_build_info(self.device, cl.program_build_info.LOG)
            except cl.Error:
                log = ""
            raise KernelBuildError((log or "").strip() or str(e)) from None
        return prg

    def kernel(self, program, name, types):
        try:
            k = cl.Kernel(program, name)
        except cl.Error as e:
            raise ValueError(f"the built program has no kernel {name}: {e}") from None
        if len(types) != k.num_args:
            raise ValueError(f"{len(types)} arguments read, {k.num_args} built")
        k.set_scalar_arg_dtypes(types)        # see NOTE [launch cost]
        return LockedKernel(k)

    def launch(self, kernel, global_size, local_size, *args):
        kernel.acquire()
        try:
            kernel.kernel(self.queue, global_size, local_size, *args)
        finally:
            kernel.release()
