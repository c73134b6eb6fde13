"""The backend contract: what a device plugin provides, and the primitive kernels it may implement.

NOTE [backend contract]
A backend is an object with a `name` (the device type users write, e.g. "opencl"), the
dtypes it supports, storage functions and a `kernels` dict from primitive name to callable.
The frontend does every check (shapes, dtypes, devices, index ranges) before a kernel runs,
so a kernel may assume valid input:

- Every tensor argument is a `plugtorch.Tensor` on this backend's device. Its buffer is
  `t._storage.data` (whatever `empty` returned); its geometry is `t.shape`, `t._stride`
  (in elements) and `t._offset` (in elements). Inputs may be arbitrary strided views,
  including stride 0 (broadcast); they never alias an output unless the primitive says so.
- The first `PRIMITIVES[name][0]` arguments are outputs, allocated by the frontend with the
  result's shape and dtype. Outputs are contiguous, except for in-place primitives
  (`copy`, `fill`, `scatter`, `uniform`) whose output may be any strided view.
- Elementwise inputs already have the output's shape (the frontend broadcast them with
  stride-0 views) and one common dtype (the frontend cast them); a binary operand may also be
  a Python scalar of that dtype's kind.
- A backend need not implement every primitive: the dispatcher runs a missing one on the
  CPU backend and copies the result back (counted and warned once). `copy` and the storage
  functions are required.
"""
from .._dtype import ALL

UNARY = ("neg abs sign exp log log1p expm1 sqrt rsqrt sin cos tan tanh sigmoid relu erf "
         "floor ceil round trunc reciprocal logical_not isnan isinf isfinite bitwise_not").split()
BINARY = ("add sub mul div floor_divide remainder pow maximum minimum atan2 eq ne lt le gt ge "
          "logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor").split()
REDUCTIONS = "sum prod amax amin any all".split()

#: primitive name -> (number of leading output arguments, signature)
PRIMITIVES = {}
for _n in UNARY:
    PRIMITIVES[_n] = (1, "(out, x)")
for _n in BINARY:
    PRIMITIVES[_n] = (1, "(out, a, b)  a or b may be a Python scalar")
for _n in REDUCTIONS:
    PRIMITIVES[_n] = (1, "(out, x, dims)  out has x's shape with size 1 at each of dims")
PRIMITIVES.update({
    "where": (1, "(out, cond, a, b)  cond is bool"),
    "copy": (1, "(out, src)  strided copy with a cast to out.dtype; out may be any view"),
    "fill": (1, "(out, value)  out may be any view"),
    "arange": (1, "(out, start, step)  out[i] = start + i * step, out is 1-d"),
    "argmax": (1, "(out, x, dim)  out is int64 with size 1 at dim; first index of the maximum"),
    "argmin": (1, "(out, x, dim)  as argmax"),
    "cumsum": (1, "(out, x, dim)"),
    "bmm": (1, "(out, a, b)  a is (B, M, K), b is (B, K, N), out is (B, M, N)"),
    "gather": (1, "(out, src, dim, index)  out[..i..] = src[..index[..i..]..] along dim"),
    "scatter": (1, "(out, dim, index, src, reduce)  in place on out; src is a tensor shaped "
                   "like index or a scalar; reduce is None, 'sum' or 'prod'"),
    "sort": (2, "(values, indices, x, dim, descending, stable)"),
    "nonzero": (0, "(x) -> new int64 tensor of shape (n, x.dim()) on x's device"),
    "uniform": (1, "(out, seed, offset)  Philox4x32-10 counter-based uniform [0, 1), "
                   "see plugtorch.ops.random"),
})


class Backend:
    """Base class for device backends; subclass it and fill in the storage functions.

    Attributes:
        name: the device type, e.g. "opencl". Devices are named "<name>" or "<name>:<index>".
        dtypes: the dtypes this backend stores and computes; others are rejected with an error.
        kernels: primitive (or composite op) name -> kernel callable, see NOTE [backend contract].
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

    def availability(self):
        """Return (available, reason). Called once; a backend that cannot run says why."""
        return True, ""

    def device_count(self):
        return 1

    def default_index(self):
        return 0 if self.multi_device else None

    def empty(self, numel, dtype, index):
        """Return a new buffer holding `numel` elements of `dtype` on device `index`."""
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

    def describe(self):
        """A list of dicts describing each device, for `plugtorch info`."""
        return [{"device": self.name if not self.multi_device else f"{self.name}:{i}"}
                for i in range(self.device_count())]
