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
"""
import numpy as np
import pyopencl as cl
import pyopencl.tools as cl_tools

LOCAL_SIZE = 64
BUILD_OPTIONS = ("-cl-mad-enable",)


class KernelBuildError(RuntimeError):
    """A generated kernel failed to compile; the message holds the op, dtype and log."""


class Runtime:
    """Everything the backend keeps for one device."""

    def __init__(self, device, index):
        self.device = device
        self.index = index
        self.ctx = cl.Context([device])
        self.queue = cl.CommandQueue(self.ctx)        # in order: ops run as enqueued
        self.pool = cl_tools.MemoryPool(cl_tools.ImmediateAllocator(self.queue))
        self.programs = {}        # key -> {kernel name: cl.Kernel}
        self.pending = []         # events of non-blocking uploads (keep host arrays alive)
        ext = device.extensions.split()
        self.fp64 = "cl_khr_fp64" in ext
        self.fp16 = "cl_khr_fp16" in ext
        self.builds = 0           # programs built in this process (for tests)

    # -- memory ------------------------------------------------------------------------
    def alloc(self, nbytes):
        return self.pool.allocate(max(int(nbytes), 1))

    def upload(self, array):
        buf = self.alloc(array.nbytes)
        if array.nbytes:
            # the NannyEvent holds `array` until the copy is done; keeping the event keeps
            # the upload asynchronous (dropping it would wait)
            ev = cl.enqueue_copy(self.queue, buf, array, is_blocking=False)
            self.pending = [e for e in self.pending if
                            e.command_execution_status != cl.command_execution_status.COMPLETE]
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
        return {k.function_name: k for k in prg.all_kernels()}

    def launch(self, kernel, n, *args):
        """Run `kernel` over n work-items (1-d) with the fixed local size."""
        if n <= 0:
            return
        g = (n + LOCAL_SIZE - 1) // LOCAL_SIZE * LOCAL_SIZE
        kernel(self.queue, (g,), (LOCAL_SIZE,), *args)


def int64(v):
    return np.int64(v)
