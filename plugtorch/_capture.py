"""Step capture: record the kernel calls of a piece of code once, replay them without it.

NOTE [step capture]
Every kernel call goes through the dispatch tables (NOTE [dispatch]), so recording needs no
cooperation from ops or backends: while a `Recorder` is active, each backend's table is
swapped for a `_RecordingTable` whose entries append `(kernel, args)` to the recorder's
trace before (optionally) running the kernel. The tensors in `args` keep their storages
alive, so the buffers a trace writes are its own for as long as it lives, and a replay is
`for fn, args in trace: fn(*args)`: no shape checks, no dtype rules, no allocation, no
autograd graph.

What the frontend does besides calling kernels must be made replayable or refused:
- host reads (`.item()`, `.tolist()`, `.numpy()`, printing, `bool(t)`): the code's next step
  depends on the values, which a replay would not read again. Refused (`CaptureError`), or,
  in a recording that also runs the code (`execute=True`), the recording is abandoned and
  the code goes on eagerly.
- value checks (index bounds, integer division by zero: `check_values`) are trace entries:
  a replay checks its own values, raising the same error as eager code (at once in host
  memory, at the next host read on a device, NOTE [deferred index checks]). Shortcuts that
  trust a range the host remembers are off while recording: a replay writes storages
  without the frontend knowing.
- uploads of host data (a `tensor([...])` literal, `.to(device)` of a cpu tensor) are
  entries that upload again: what a replay uploads is what the host holds then.
- random numbers: `fill_uniform` records its generator and count; a replay reserves fresh
  counters, so each replay draws new numbers, as eager steps do.
- a kernel that returns a new tensor (`nonzero`: the shape depends on the values) is
  refused.
Python state is not replayed: numbers a step computes on the host (a learning rate, a step
count) are constants of the trace. `plugtorch.graphs.compile_step` records a step twice and
compares the traces to catch the ones that change between steps.

Kernels called by a kernel (a decomposition's parts, a fallback's copies) are not recorded:
replaying the outer call runs them again. Capture is per process: another thread calling
kernels while a recorder is active is refused.
"""
import threading

__all__ = ["CaptureError", "Recorder", "ACTIVE"]

ACTIVE = None         # the active Recorder, or None (checked by the hooks in the frontend)


class CaptureError(RuntimeError):
    """Something a captured step does cannot be replayed (or capture was misused)."""


class _Abandon(Exception):
    pass


class Recorder:
    """Records kernel calls into `self.trace` while active (`with Recorder(): ...`).

    execute: also run every call (the recording is a real step); otherwise calls are only
    recorded and their outputs stay unwritten until a replay, as in CUDA graph capture.
    """

    def __init__(self, execute=False):
        self.execute = execute
        self.trace = []           # [(fn, args)]
        self.names = []           # the primitive (or what) of each entry, for messages
        self.allocated = set()    # storages made while recording (compare() tells them apart)
        self.depth = 0            # > 0 while a recorded call runs: its inner calls are its own
        self.abandoned = None     # why an executing recording gave up
        self.thread = threading.get_ident()
        self.saved_tables = []

    # -- activation --------------------------------------------------------------------
    def __enter__(self):
        global ACTIVE
        if ACTIVE is not None:
            raise CaptureError("capture: a capture is already in progress (captures do not "
                               "nest)")
        from . import _dispatch
        self.saved_tables = _dispatch.wrap_tables(self.table)
        ACTIVE = self
        return self

    def table(self, inner):
        """The recording table wrapping dispatch table `inner`."""
        return _RecordingTable(inner, self)

    def __exit__(self, *exc):
        global ACTIVE
        ACTIVE = None
        from . import _dispatch
        _dispatch.restore_tables(self.saved_tables)
        self.saved_tables = []
        return False

    # -- recording ---------------------------------------------------------------------
    def _guard(self, what):
        if threading.get_ident() != self.thread:
            raise CaptureError(f"{what}: called from another thread while a step is being "
                               f"captured; capture records one thread's work")

    def call(self, name, fn, args):
        """Record `fn(*args)` (and run it when executing); the hooks' common path."""
        if self.depth:
            return fn(*args)
        self._guard(name)
        if self.abandoned is None:
            self.trace.append((fn, args))
            self.names.append(name)
        if self.execute or self.abandoned is not None:
            self.depth += 1
            try:
                return fn(*args)
            finally:
                self.depth -= 1
        return None

    def refuse(self, what):
        """The code did something no replay can repeat: stop recording (an executing
        recording goes on eagerly, the caller then reads `abandoned`), or raise."""
        if self.depth or self.abandoned is not None:
            return
        self._guard(what)
        if self.execute:
            self.abandoned = what
            self.trace, self.names = [], []
            return
        raise CaptureError(f"capture: {what}; a captured step must not depend on tensor "
                           f"values on the host (see plugtorch.graphs)")

    def host_read(self, t):
        self.refuse(f"a host read of a {tuple(t._shape)} {t._dtype.name} tensor on "
                    f"{t._storage.device} (.item(), .tolist(), .numpy(), printing or "
                    f"bool())")


class _RecordingTable(dict):
    """A dispatch table whose kernels record themselves into a Recorder."""
    __slots__ = ("inner", "recorder")

    def __init__(self, inner, recorder):
        super().__init__()
        self.inner, self.recorder = inner, recorder

    def clear(self):              # _dispatch.invalidate(): forget the wrapped resolutions too
        super().clear()
        self.inner.clear()

    def __missing__(self, name):
        fn = self.inner[name]
        if fn is None:
            return None
        wrapped = _recording(name, fn, self.recorder)
        self[name] = wrapped
        return wrapped


def _recording(name, fn, rec):
    from .backends.base import PRIMITIVES
    prim = PRIMITIVES.get(name)
    if prim is not None and prim.returns:
        def refusing(*args):
            if rec.depth:
                return fn(*args)
            rec.refuse(f"{name}: its result's shape depends on the values")
            return fn(*args)
        return refusing

    def recording(*args):
        return rec.call(name, fn, args)
    recording.raw = fn
    return recording


# ----------------------------------------------------------------------------- replay

def replay(trace):
    """Run a trace's calls in order."""
    from ._counters import COUNTERS
    COUNTERS[("capture", "replays")] += 1
    for fn, args in trace:
        fn(*args)


# ----------------------------------------------------------------------------- comparison

def compare(a, b):
    """None when recordings `a` and `b` (Recorders) did the same work, else where they
    differ. Storages made during a recording correspond by first use; others must be the
    same objects. Numbers must be equal; callables (checks) must run the same code."""
    if len(a.trace) != len(b.trace):
        return (f"the step made {len(a.trace)} kernel calls when recorded first and "
                f"{len(b.trace)} the next time")
    mapping = {}
    for i, ((fa, xa), (fb, xb)) in enumerate(zip(a.trace, b.trace)):
        if _code(fa) is not _code(fb):
            return (f"call {i}: {a.names[i]} the first time, {b.names[i]} the next")
        why = _same(xa, xb, a, b, mapping)
        if why:
            return f"call {i} ({a.names[i]}): {why}"
    return None


def _code(fn):
    return getattr(fn, "__code__", fn)


def _same(x, y, ra, rb, mapping):
    from ._tensor import Tensor
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        if not (isinstance(x, Tensor) and isinstance(y, Tensor)):
            return "a tensor argument became something else"
        if (x._shape, x._stride, x._offset, x._dtype) != (y._shape, y._stride, y._offset,
                                                          y._dtype):
            return (f"a tensor argument changed geometry or dtype ({tuple(x._shape)} "
                    f"{x._dtype.name} -> {tuple(y._shape)} {y._dtype.name})")
        sx, sy = x._storage, y._storage
        known = mapping.get(id(sx))
        if known is None:
            if (sx in ra.allocated) != (sy in rb.allocated) or (
                    sx not in ra.allocated and sx is not sy):
                return "a tensor argument is another tensor's memory than the first time"
            mapping[id(sx)] = sy
        elif known is not sy:
            return "a tensor argument is another tensor's memory than the first time"
        return None
    if isinstance(x, _Shared):
        return None if x.array is y.array else "from_numpy of another array than the first time"
    if isinstance(x, (tuple, list)):
        if type(x) is not type(y) or len(x) != len(y):
            return f"an argument changed from {x!r} to {y!r}"
        for u, v in zip(x, y):
            why = _same(u, v, ra, rb, mapping)
            if why:
                return why
        return None
    if callable(x) and not isinstance(x, type):
        if _code(x) is not _code(y):
            return "a different check function"
        cx = getattr(x, "__closure__", None) or ()
        cy = getattr(y, "__closure__", None) or ()
        for u, v in zip(cx, cy):
            why = _same(u.cell_contents, v.cell_contents, ra, rb, mapping)
            if why:
                return why
        return None
    try:
        import numpy as np
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            ok = (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and
                  x.dtype == y.dtype and x.shape == y.shape and
                  np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"))
            return None if ok else "uploaded host data changed"
        same = type(x) is type(y) and (x == y or (x != x and y != y))
    except Exception:
        same = x is y
    return None if same else f"an argument changed from {x!r} to {y!r}"


# ----------------------------------------------------------------------------- hooks

def record_upload(t, array):
    """`t` was just made from host `array` while recording: a replay uploads what `array`
    holds then (for a literal, the same values; for `from_numpy(a)`, a's values then)."""
    from ._tensor import upload_host
    ACTIVE.call("upload", upload_host, (t, array))


class _Shared:
    """A numpy array a tensor shares memory with (`from_numpy`): replays read its memory, so
    two recordings agree only when they used the very same array."""
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _nothing(shared):
    pass


def record_shared(storage, array):
    """`from_numpy(array)` while recording (`storage` is the array's memory)."""
    if ACTIVE.depth:
        return
    ACTIVE.allocated.add(storage)
    ACTIVE.call("from_numpy", _nothing, (_Shared(array),))


def record_random(kernel, out, generator, n):
    """fill_uniform while recording: a replay draws fresh counters from `generator`."""
    raw = getattr(kernel, "raw", kernel)
    ACTIVE.call("uniform", _draw, (raw, out, generator, n))


def _draw(kernel, out, generator, n):
    seed, offset = generator._take(n)
    kernel(out, seed, offset)
