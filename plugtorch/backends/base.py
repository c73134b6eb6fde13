"""The backend contract: what a device plugin provides, and the primitive kernels it may implement.

NOTE [backend contract]
A backend is an object with a `name` (the device type users write, e.g. "opencl"), the
dtypes it supports, storage functions and a `kernels` dict from primitive name to callable.
Primitives come in two tiers:

- REQUIRED (at most 24): a backend that implements these runs every op on its own device.
- OPTIONAL: every other primitive. Each has a decomposition into other primitives
  (`plugtorch/ops/decompositions/`) that the dispatcher uses when the backend has no kernel
  for it, on the backend's own device, so an optional kernel is only ever a speed-up.

A required primitive a backend lacks runs on the CPU backend with host copies (counted,
warned once; an error in strict mode, see `plugtorch.debug.strict`).

The frontend does every check (shapes, dtypes, devices, index ranges) before a kernel runs,
so a kernel may assume valid input:

- Every tensor argument is a `plugtorch.Tensor` on this backend's device. A kernel reads its
  buffer and geometry through `plugtorch.backends.buffer(t)` (whatever `empty` returned),
  `shape(t)`, `strides(t)` and `offset(t)` (both in elements) and `dtype(t)` (a
  `plugtorch.dtype`; `.np` is the numpy dtype, `.itemsize` its size in bytes).
- Inputs may be arbitrary strided views, including stride 0 (broadcast). The first
  `PRIMITIVES[name].n_out` arguments are outputs with the result's shape and dtype; they are
  contiguous unless the primitive says "out may be any view". The output of an elementwise
  primitive (unary, binary, `where`) may be any view without internal overlap, and may be
  the same tensor as one of its inputs (in-place ops: `x.add_(y)` on a slice calls
  `add(x, x, y)`); no other aliasing happens.
- Elementwise inputs already have the output's shape (the frontend broadcast them with
  stride-0 views) and one common dtype (the frontend cast them); a binary operand may also be
  a Python scalar (bool, int or float) of that dtype's kind whose value the dtype can hold.
  Comparisons (`eq`, `lt`, ...) receive inputs of one dtype and write bool.
- Integer arithmetic wraps around (two's complement) as in C; float arithmetic follows IEEE 754
  (NaN and inf propagate, no exception is raised).
"""
from .._dtype import ALL

__all__ = ["Primitive", "PRIMITIVES", "REQUIRED", "OPTIONAL", "UNARY", "BINARY", "REDUCTIONS",
           "Backend"]


class Primitive:
    """One primitive of the contract.

    Attributes:
        name: the kernel name a backend registers.
        params: argument names, outputs first.
        n_out: how many leading arguments are outputs.
        required: whether it is in the required tier.
        doc: what it computes and what the kernel may assume.
    """
    __slots__ = ("name", "params", "n_out", "required", "doc", "returns")

    def __init__(self, name, params, n_out, required, doc, returns=False):
        self.name, self.params, self.n_out = name, tuple(params.split()), n_out
        self.required, self.doc, self.returns = required, doc, returns

    @property
    def signature(self):
        return f"{self.name}({', '.join(self.params)})"

    def __repr__(self):
        return f"Primitive({self.signature}, {'required' if self.required else 'optional'})"


PRIMITIVES = {}


def _p(names, params, doc, required=False, n_out=1, returns=False):
    for name in names.split():
        PRIMITIVES[name] = Primitive(name, params, n_out, required, doc, returns)


# ----------------------------------------------------------------------------- required tier
_p("copy", "out src", "out[i] = src[i] converted to out's dtype (floats to ints truncate toward "
   "zero, as C; anything to bool is != 0). out may be any view (never overlapping src).",
   required=True)
_p("fill", "out value", "out[i] = value, a Python scalar out's dtype can hold. out may be any "
   "view.", required=True)
_p("arange", "out start step", "out[i] = start + i * step; out is 1-d and contiguous; start and "
   "step are Python numbers of out's kind (computed in float64 for floats).", required=True)
_p("where", "out cond a b", "out[i] = a[i] if cond[i] else b[i]; cond is bool, a and b have "
   "out's dtype.", required=True)
_p("add mul", "out a b", "elementwise a + b, a * b in out's dtype (for bool: or, and).",
   required=True)
_p("div", "out a b", "elementwise a / b: true division for floats; floor division (rounding "
   "toward -inf) for integers, where a zero divisor gives 0 and MIN / -1 wraps.",
   required=True)
_p("fmod", "out a b", "elementwise C fmod: a - trunc(a / b) * b with the sign of a, exact for "
   "floats; for integers the truncated remainder, 0 for a zero divisor and for MIN % -1.",
   required=True)
_p("pow", "out a b", "elementwise a ** b (C pow for floats; for integers exact repeated "
   "multiplication wrapping like C, and for b < 0: 1 where a == 1, 1 or -1 (b even or odd) "
   "where a == -1, else 0).", required=True)
_p("eq lt", "out a b", "elementwise comparison a == b, a < b; out is bool; any NaN compares "
   "false.", required=True)
_p("bitwise_and", "out a b", "elementwise a & b on integers and bool.", required=True)
_p("exp log sin erf", "out x", "elementwise on floats (C's exp, log, sin, erf).", required=True)
_p("atan2", "out a b", "elementwise atan2(a, b) on floats.", required=True)
_p("sum amax", "out x dims", "reduce x over the sorted dims (a tuple, possibly empty); out has "
   "x's shape with size 1 at each of dims; sum accumulates in out's dtype, amax propagates NaN. "
   "amax never sees an empty reduction.", required=True)
_p("bmm", "out a b", "batched matmul: a is (B, M, K), b is (B, K, N), out is (B, M, N); "
   "integers exact (wrapping), K may be 0.", required=True)
_p("gather", "out src dim index", "out[..i..] = src[..index[..i..]..] along dim; index is int64 "
   "and in range.", required=True)
_p("scatter", "out dim index src reduce", "in place on out (any view): out[..index[..i..]..] "
   "(op)= src[..i..] along dim, src a tensor at least as large as index in every dim or a "
   "scalar; reduce is None (assign; with duplicate indices any one value wins), 'sum' or "
   "'prod' (every duplicate counts).", required=True)
_p("sort", "values indices x dim descending stable", "sort along dim; NaN is the largest "
   "value; indices are int64; stable keeps equal keys in input order.", required=True, n_out=2)
_p("uniform", "out seed offset", "Philox4x32-10 counter-based uniform [0, 1) (see "
   "plugtorch.ops.random): out may be any view; element i takes counter offset + i.",
   required=True)

# ----------------------------------------------------------------------------- optional tier
_p("neg abs sign sqrt rsqrt log1p expm1 cos tan tanh sigmoid relu floor ceil round trunc "
   "reciprocal", "out x", "elementwise, out's dtype (floats for the transcendental ones; "
   "round is half to even).")
_p("logical_not isnan isinf isfinite", "out x", "elementwise; out is bool.")
_p("bitwise_not", "out x", "elementwise ~x on integers and bool.")
_p("sub floor_divide remainder maximum minimum bitwise_or bitwise_xor", "out a b",
   "elementwise in out's dtype; maximum/minimum propagate NaN; floor_divide on floats is "
   "Python's // (floor of the exact quotient); remainder is Python's % (the sign of b).")
_p("ne le gt ge logical_and logical_or logical_xor", "out a b", "elementwise; out is bool.")
_p("prod amin any all", "out x dims", "reductions as sum/amax; any/all write bool.")
_p("argmax argmin", "out x dim", "out is int64 with size 1 at dim; the first index of the "
   "extreme value, NaN counting as the extreme.")
_p("cumsum", "out x dim", "inclusive prefix sum along dim in out's dtype.")
_p("nonzero", "x", "a new int64 tensor (n, x.dim()) on x's device with the indices of the "
   "non-zero elements in row-major order.", n_out=0, returns=True)

#: the elementwise families, for backends that generate their kernels from one template
UNARY = tuple(n for n, p in PRIMITIVES.items() if p.params == ("out", "x"))
BINARY = tuple(n for n, p in PRIMITIVES.items() if p.params == ("out", "a", "b") and n != "bmm")
REDUCTIONS = tuple(n for n, p in PRIMITIVES.items() if p.params == ("out", "x", "dims"))

REQUIRED = tuple(n for n, p in PRIMITIVES.items() if p.required)
OPTIONAL = tuple(n for n, p in PRIMITIVES.items() if not p.required)
assert len(REQUIRED) <= 24, REQUIRED


class Backend:
    """Base class for device backends; subclass it and fill in the storage functions.

    Attributes:
        name: the device type, e.g. "opencl". Devices are named "<name>" or "<name>:<index>".
        dtypes: the dtypes this backend stores and computes; others are rejected with an error.
        kernels: primitive (or overridable op) name -> kernel callable, see
            NOTE [backend contract].
        multi_device: whether devices carry an index ("opencl:0") or not ("cpu").
        host_memory: whether the storage is host memory that can be read without a transfer.
    """
    name = None
    dtypes = frozenset(ALL)
    kernels = {}
    multi_device = True
    #: True when tensors live in host memory and reading them costs nothing (the cpu
    #: backend): no host transfers are counted and index checks read values directly.
    host_memory = False
    #: True for a backend whose devices are accelerators (GPUs): `plugtorch.accelerator`
    #: offers it to programs that ask for "the accelerator, if any"
    accelerator = False

    def availability(self):
        """Return (available, reason). Called once; a backend that cannot run says why."""
        return True, ""

    def device_count(self):
        return 1

    def default_index(self):
        return 0 if self.multi_device else None

    def empty(self, numel, dtype, index):
        """Return a new buffer holding `numel` elements of `dtype` on device `index`.
        Raise MemoryError when the device cannot hold it (plugtorch reports it to the user as
        `plugtorch.OutOfMemoryError`, naming the size and the device)."""
        raise NotImplementedError

    def from_numpy(self, array, index):
        """Return a new buffer holding a copy of the C-contiguous numpy `array`."""
        raise NotImplementedError

    def to_numpy(self, tensor):
        """Return a numpy array with the values of `tensor` (any strided view), waiting for
        pending work. May share memory with the tensor only on a host backend."""
        raise NotImplementedError

    def synchronize(self, index):
        """Wait until all work queued on device `index` is done."""

    def set_num_threads(self, n):
        """Use up to `n` host threads to run one kernel (intra-op parallelism). Called with
        `plugtorch.get_num_threads()` when the backend starts and on every
        `plugtorch.set_num_threads(n)`; a backend without host threads ignores it."""

    def describe(self):
        """A list of dicts describing each device, for `plugtorch info`."""
        return [{"device": self.name if not self.multi_device else f"{self.name}:{i}"}
                for i in range(self.device_count())]
