"""The Runtime protocol: what the kernel launchers need from one device.

A backend implements the abstract methods for its API (pyopencl in plugtorch_opencl; CuPy
and NVRTC next) and inherits the program cache. Launchers never touch the API: they get a
program's kernels with `program(key)` (keys come from registry.py), allocate scratch with
`allocate`, and queue work with `launch` / `launch_n`.

NOTE [program cache]
Kernel sources are generated per (program, dtypes, flags) and built once per device; the
built program's kernels are kept in `Runtime.programs` under the registry key, so a hit
costs one dict lookup and no source generation (launchers try `rt.programs.get(key)`
first). `program(key)` refuses a key the registry does not list, so every program a
launcher can build is one the compile checks (check.py) compile too. Builds take
`build_lock`: threads missing the same program build it once.
"""
import abc
import threading

from . import registry
from .args import arg_types, kernel_names
from .geometry import global_size
from .tuning import LOCAL

BUILD_OPTIONS = ("-cl-mad-enable",)


class KernelBuildError(RuntimeError):
    """A generated kernel failed to compile; the message holds the op, dtype and log."""


class Runtime(abc.ABC):
    """One device as the launchers see it.

    Attributes a runtime sets: `name` (the backend, for messages), `device_name`, `kind`
    ("cpu", "gpu" or "other": picks tuning.py's numbers), `compute_units` (cores or
    multiprocessors), `fp64` and `fp16` (the device computes in double / has native half).
    """
    name = "?"
    device_name = "?"
    kind = "other"
    compute_units = 1
    fp64 = False
    fp16 = False

    def __init__(self):
        self.programs = {}        # registry key -> {kernel name: kernel}
        self.plans = {}           # launch plans of this device (launch/elementwise.py)
        self.tuned = {}           # tuning results of this device (autotune.py)
        self.build_lock = threading.Lock()
        self.builds = 0           # programs built in this process (for tests)

    # -- what a runtime implements ---------------------------------------------------------
    @abc.abstractmethod
    def allocate(self, nbytes):
        """A device buffer of at least `nbytes` bytes (at least one byte).

        Raises MemoryError, with the reason, when the device cannot hold it (the frontend
        turns that into plugtorch.OutOfMemoryError)."""

    @abc.abstractmethod
    def upload(self, array):
        """A new buffer holding C-contiguous numpy `array`. May return before the copy is
        done; the runtime keeps `array` alive until it is."""

    @abc.abstractmethod
    def download(self, buf, offset_bytes, out):
        """Copy `out.nbytes` bytes from byte `offset_bytes` of `buf` into numpy `out`, after
        all queued work; returns `out`."""

    @abc.abstractmethod
    def build(self, source, options):
        """Compile kernel `source` with compiler `options`; returns a program handle.

        Raises KernelBuildError holding the compiler's log when it fails."""

    @abc.abstractmethod
    def kernel(self, program, name, types):
        """The launchable kernel `name` of `program`; `types` are its argument types
        (args.arg_types: a numpy dtype per by-value argument, None per buffer), so the
        runtime can declare them once. Raises ValueError when they do not match."""

    @abc.abstractmethod
    def launch(self, kernel, global_size, local_size, *args):
        """Queue `kernel` over `global_size` work-items in groups of `local_size` (tuples,
        OpenCL's NDRange meaning) with `args`: buffers, Python numbers and `bytes` structs
        (args.py). Never waits; work runs in the order it was queued."""

    @abc.abstractmethod
    def synchronize(self):
        """Wait until all queued work is done."""

    def tuning_key(self):
        """{name: str} naming this device and its driver, under which tuning results are
        kept on disk (NOTE [matmul tuning] in autotune.py); None keeps them in memory."""
        return None

    # -- shared --------------------------------------------------------------------------
    def launch_n(self, kernel, n, *args):
        """Launch `kernel` over n work-items (1-d) with the fixed local size; never waits."""
        if n > 0:
            self.launch(kernel, global_size(n), LOCAL, *args)

    def program(self, key):
        """{kernel name: kernel} of registered program `key` (registry.py), built on first
        use (NOTE [program cache])."""
        ks = self.programs.get(key)
        if ks is None:
            entry = registry.lookup(key)
            ks = self.kernels(key, lambda: entry.source(*key[1:]), entry.what(*key[1:]),
                              entry.kernels)
        return ks

    def kernels(self, key, make_source, what, names=None):
        """The kernels of the program cached under `key`, building `make_source()` on a miss.

        `what` names the op and dtype for the error raised when the build fails; `names`
        are the kernels the program must define (default: those in its source).
        """
        ks = self.programs.get(key)
        if ks is None:
            with self.build_lock:     # one build per key, even when threads miss together
                ks = self.programs.get(key)
                if ks is None:
                    ks = self.programs[key] = self._build(make_source(), what, names)
        return ks

    def _build(self, source, what, names):
        found = kernel_names(source)
        if names is not None and sorted(found) != sorted(names):
            raise KernelBuildError(f"{self.name}: the source of {what} defines kernels "
                                   f"{sorted(found)}, the registry lists {sorted(names)}")
        try:
            prg = self.build(source, BUILD_OPTIONS)
        except KernelBuildError as e:
            raise KernelBuildError(f"{self.name}: building the kernel for {what} failed on "
                                   f"{self.device_name}:\n{e}") from None
        self.builds += 1
        types = arg_types(source)
        out = {}
        for name in found:
            t = types.get(name)
            try:
                if t is None:
                    raise ValueError("an argument type args.py does not know")
                out[name] = self.kernel(prg, name, t)
            except ValueError as e:
                raise KernelBuildError(f"{self.name}: cannot read the signature of kernel "
                                       f"{name} of {what} ({e})") from None
        return out
