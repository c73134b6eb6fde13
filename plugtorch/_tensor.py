"""The Tensor: a strided view of a backend's storage, plus autograd fields.

Ops and most methods are attached by the modules in `plugtorch.ops`; this file holds the
tensor model itself: storage, geometry, device and dtype resolution, host transfers.
"""
import numpy as np

from . import _capture
from . import _dtype as D
from . import _deferred
from ._counters import COUNTERS
from ._device import device as Device

__all__ = ["Tensor", "Storage", "OutOfMemoryError"]


class Storage:
    """A backend buffer shared by a tensor and its views. `version` counts in-place writes."""
    __slots__ = ("data", "backend", "device", "dtype", "numel", "version", "range",
                 "__weakref__")

    def __init__(self, data, backend, device, dtype, numel):
        self.data, self.backend, self.device, self.dtype, self.numel = (
            data, backend, device, dtype, numel)
        self.version = 0
        self.range = None     # (version, min, max) of all values, when the host knows them

    def nbytes(self):
        return self.numel * self.dtype.itemsize


_STRIDES = {}


def contiguous_strides(shape):
    s = _STRIDES.get(shape)
    if s is None:
        acc, out = 1, []
        for n in reversed(shape):
            out.append(acc)
            acc *= n if n > 1 else 1
        s = tuple(reversed(out))
        if len(_STRIDES) > 4096:
            _STRIDES.clear()
        _STRIDES[shape] = s
    return s


def numel_of(shape):
    n = 1
    for s in shape:
        n *= s
    return n


# ----------------------------------------------------------------------------- devices

_DEVICES = {}   # user spec -> (device, backend)
_CANONICAL = {}


def resolve_device(spec):
    """Turn None, "opencl", "opencl:1" or a device into (device, backend), cached."""
    try:
        return _DEVICES[spec]
    except (KeyError, TypeError):
        pass
    if spec is None:
        from . import _default_device
        return resolve_device(_default_device[0])
    from . import backends   # the registry sits above the tensor layer
    dev = spec if isinstance(spec, Device) else Device(spec)
    backend = backends.get(dev.type)
    if backend.multi_device:
        index = backend.default_index() if dev.index is None else dev.index
        count = backend.device_count()
        if index >= count:
            raise RuntimeError(f"device {dev.type}:{index} does not exist: backend "
                               f"{dev.type!r} has {count} device(s)")
        dev = Device(dev.type, index)
    else:
        if dev.index not in (None, 0):
            raise RuntimeError(f"device {dev}: backend {dev.type!r} has a single device")
        dev = Device(dev.type)
    # one device object per (type, index), so the hot path can compare devices with `is`
    dev = _CANONICAL.setdefault((dev.type, dev.index), dev)
    try:
        _DEVICES[spec] = (dev, backend)
    except TypeError:
        pass
    return dev, backend


def _clear_device_cache():
    _DEVICES.clear()


# ----------------------------------------------------------------------------- construction

_new_object = object.__new__
_NUMEL = {}


def _numel_cached(shape):
    n = _NUMEL.get(shape)
    if n is None:
        n = numel_of(shape)
        if len(_NUMEL) > 4096:
            _NUMEL.clear()
        _NUMEL[shape] = n
    return n

def _wrap(storage, shape, stride, offset):
    t = _new_object(Tensor)          # not Tensor.__new__: that is the legacy constructor
    t._storage = storage
    t._shape = shape
    t._stride = stride
    t._offset = offset
    t._dtype = storage.dtype
    return t


def _unsupported_dtype(dtype, dev, backend):
    return TypeError(f"dtype {dtype} is not supported on device {dev} "
                     f"(backend {backend.name!r} supports "
                     f"{', '.join(d.name for d in D.ALL if d in backend.dtypes)})")


class OutOfMemoryError(RuntimeError):
    """A device (or the host, for cpu) cannot hold a requested buffer."""


def _human_bytes(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} bytes" if unit == "bytes" else f"{n:.2f} {unit}"
        n /= 1024


def new_storage(n, dtype, dev, backend):
    """A Storage of `n` elements; a backend's MemoryError becomes OutOfMemoryError."""
    try:
        data = backend.empty(n, dtype, dev.index)
    except MemoryError as e:
        raise OutOfMemoryError(
            f"out of memory: tried to allocate {_human_bytes(n * dtype.itemsize)} "
            f"({n} elements of {dtype.name}) on device {dev}") from e
    st = Storage(data, backend, dev, dtype, n)
    if _capture.ACTIVE is not None:
        _capture.ACTIVE.allocated.add(st)
    return st


def empty_on(shape, dtype, dev, backend):
    """A new contiguous tensor; `dev`/`backend` come from resolve_device."""
    if dtype not in backend.dtypes:
        raise _unsupported_dtype(dtype, dev, backend)
    st = new_storage(numel_of(shape), dtype, dev, backend)
    return _wrap(st, shape, contiguous_strides(shape), 0)


def empty_like_meta(t, shape=None, dtype=None):
    """A new contiguous tensor on t's device: t's shape and dtype unless given (the hot path
    of every op's output, so the caches are read inline)."""
    st = t._storage
    backend = st.backend
    if dtype is None or dtype is t._dtype:
        dtype = t._dtype
    elif dtype not in backend.dtypes:
        raise _unsupported_dtype(dtype, st.device, backend)
    if shape is None:
        shape = t._shape
    n = _NUMEL.get(shape)
    if n is None:
        n = _numel_cached(shape)
    try:
        data = backend.empty(n, dtype, st.device.index)
    except MemoryError:
        return _wrap(new_storage(n, dtype, st.device, backend), shape,
                     contiguous_strides(shape), 0)     # raises OutOfMemoryError
    new = _new_object(Storage)       # Storage's __init__, inline (the hot path)
    new.data = data
    new.backend = backend
    new.device = st.device
    new.dtype = dtype
    new.numel = n
    new.version = 0
    new.range = None
    if _capture.ACTIVE is not None:
        _capture.ACTIVE.allocated.add(new)
    stride = _STRIDES.get(shape)
    if stride is None:
        stride = contiguous_strides(shape)
    out = _new_object(Tensor)
    out._storage = new
    out._shape = shape
    out._stride = stride
    out._offset = 0
    out._dtype = dtype
    return out


def from_numpy_on(array, dev, backend):
    """Copy a host array onto a device (shares memory on cpu when it can, see from_numpy)."""
    dtype = D.from_numpy_dtype(array.dtype)
    if dtype not in backend.dtypes:
        raise _unsupported_dtype(dtype, dev, backend)
    given = array
    if not array.flags.c_contiguous:
        array = np.array(array, order="C")
    shape = tuple(array.shape)
    st = Storage(backend.from_numpy(array, dev.index), backend, dev, dtype, array.size)
    t = _wrap(st, shape, contiguous_strides(shape), 0)
    rec = _capture.ACTIVE
    if rec is not None and not rec.depth:
        rec.allocated.add(st)
        _capture.record_upload(t, given)    # NOTE [step capture]
        return t
    if not backend.host_memory:
        COUNTERS[("to_device", backend.name)] += 1
        if dtype.kind == 1 and 0 < array.size <= _RANGE_LIMIT:
            # the host knows this tensor's range now: index checks need no device read
            # (NOTE [deferred index checks])
            st.range = (0, int(array.min()), int(array.max()))
    return t


_RANGE_LIMIT = 1 << 22


def host_array(t):
    """The values of `t` as a numpy array (a view on cpu, a copy elsewhere). A read of device
    memory first raises any error a device check found since the last such read (NOTE
    [deferred index checks]); a read of host memory (an optimizer's step counter) neither
    waits for a device nor raises its errors."""
    if _deferred.LOCAL.pending and not t._storage.backend.host_memory:
        _deferred.flush()
    return host_array_nocheck(t)


def host_array_nocheck(t):
    if _capture.ACTIVE is not None:
        _capture.ACTIVE.host_read(t)
    backend = t._storage.backend
    if not backend.host_memory:
        COUNTERS[("to_host", backend.name)] += 1
    return backend.to_numpy(t)


def to_cpu_copy(t):
    dev, backend = resolve_device("cpu")
    return from_numpy_on(np.array(host_array(t), copy=True), dev, backend)


def to_device_copy(t, device):
    dev, backend = resolve_device(device)
    rec = _capture.ACTIVE
    if rec is not None and not rec.depth and t._storage.backend.host_memory:
        # NOTE [step capture]: a replay uploads what the host tensor holds then
        out = empty_on(t._shape, t._dtype, dev, backend)
        rec.call("upload", upload_host, (out, t))
        return out
    return from_numpy_on(host_array(t), dev, backend)


def upload_host(dst, src):
    """Write host values `src` (a numpy array or a tensor in host memory) into contiguous
    tensor `dst` (a step-capture entry)."""
    if not isinstance(src, np.ndarray):
        src = src._storage.backend.to_numpy(src)
    if dst._storage.backend.host_memory:
        np.copyto(dst._storage.backend.to_numpy(dst), src.reshape(dst._shape), casting="unsafe")
        return
    st = dst._storage
    dev, backend = st.device, st.backend
    tmp = Storage(backend.from_numpy(np.ascontiguousarray(src), dev.index), backend, dev,
                  dst._dtype, src.size)
    from ._dispatch import backend_kernel
    backend_kernel("copy", backend)(dst, _wrap(tmp, dst._shape, dst._stride, 0))


def upload_into(dst, src_cpu):
    """Write the values of cpu tensor `src_cpu` into `dst` (any device, any view)."""
    st = dst._storage
    tmp = from_numpy_on(host_array(src_cpu), st.device, st.backend)
    from ._dispatch import backend_kernel
    backend_kernel("copy", st.backend)(dst, tmp)


class Tensor:
    """An n-dimensional array on a device, with autograd.

    Create tensors with `plugtorch.tensor`, `zeros`, `randn`, … rather than this class.
    """
    # autograd defaults; set per instance only when they differ. `_rg` is requires_grad:
    # internal code reads and writes it directly; the public property validates writes.
    _rg = False
    _node = None          # grad_fn
    _output_nr = 0
    grad = None
    _base = None
    _vnode = None         # a view's: its base's grad_fn when the view's history was recorded
    _view = None          # backend-private cache of a host view (cpu: numpy ndarray)
    _retains_grad = False
    _hooks = None
    _post_accumulate_hooks = None
    __array_priority__ = 1000

    def __new__(cls, *args, **kwargs):
        if cls is not Tensor or not (args or kwargs):
            return object.__new__(cls)      # internal construction (_wrap) and subclasses
        # the legacy constructor: Tensor(2, 3) is an uninitialised float tensor,
        # Tensor([1, 2]) a float copy of the data; prefer the factories
        from .ops.creation import empty, tensor
        device = kwargs.pop("device", None)
        if kwargs:
            raise TypeError(f"Tensor(): unexpected keyword arguments {sorted(kwargs)}")
        if len(args) == 1 and not isinstance(args[0], int):
            arg = args[0]
            if isinstance(arg, tuple) and all(isinstance(a, int) for a in arg):
                return empty(*arg, device=device)
            return tensor(arg, dtype=D.get_default_dtype(), device=device)
        return empty(*args, device=device)

    def __init__(self, *args, **kwargs):
        if not args and not kwargs and "_storage" not in self.__dict__:
            # Tensor(): an empty 1-d float tensor, as PyTorch
            from .ops.creation import empty
            e = empty(0)
            self._set_geometry(e._storage, e._shape, e._stride, e._offset)

    # -- metadata ----------------------------------------------------------------------
    @property
    def shape(self):
        from ._size import Size
        return Size(self._shape)

    def size(self, dim=None):
        if dim is None:
            return self.shape
        return self._shape[self._wrap_dim(dim, "size")]

    def dim(self):
        return len(self._shape)

    ndimension = dim

    @property
    def ndim(self):
        return len(self._shape)

    def numel(self):
        return numel_of(self._shape)

    nelement = numel

    def stride(self, dim=None):
        if dim is None:
            return self._stride
        return self._stride[self._wrap_dim(dim, "stride")]

    def storage_offset(self):
        return self._offset

    @property
    def dtype(self):
        return self._dtype

    @property
    def device(self):
        return self._storage.device

    @property
    def is_cpu(self):
        return self._storage.device.type == "cpu"

    @property
    def is_cuda(self):
        return self._storage.device.type == "cuda"

    @property
    def is_xpu(self):
        return self._storage.device.type == "xpu"

    @property
    def is_mps(self):
        return self._storage.device.type == "mps"

    @property
    def is_meta(self):
        return self._storage.device.type == "meta"

    # every tensor is dense, strided and not quantized
    is_sparse = is_quantized = is_mkldnn = is_nested = False

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def requires_grad(self):
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        from .autograd._methods import set_requires_grad
        set_requires_grad(self, value)

    def is_floating_point(self):
        return self._dtype.is_floating_point

    def element_size(self):
        return self._dtype.itemsize

    @property
    def itemsize(self):
        return self._dtype.itemsize

    @property
    def nbytes(self):
        return self.numel() * self._dtype.itemsize

    @property
    def _version(self):
        return self._storage.version

    def is_contiguous(self, memory_format=None):
        expected = 1
        for n, s in zip(reversed(self._shape), reversed(self._stride)):
            if n == 1:
                continue
            if s != expected:
                return 0 in self._shape     # an empty tensor is contiguous, whatever its strides
            expected *= n
        return True

    def _wrap_dim(self, dim, op, ndim=None):
        n = len(self._shape) if ndim is None else ndim
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
        lo, hi = (-n, n - 1) if n else (-1, 0)
        if not lo <= dim <= hi:
            raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                             f"[{lo}, {hi}], but got {dim})")
        return dim + n if dim < 0 else dim

    def _set_geometry(self, storage, shape, stride, offset):
        self._storage, self._shape, self._stride, self._offset = storage, shape, stride, offset
        self._dtype = storage.dtype
        self._view = None

    # -- host access -------------------------------------------------------------------
    def numpy(self, *, force=False):
        """The tensor's values as a numpy array. On cpu it shares memory with the tensor."""
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        if self._storage.backend.name != "cpu":
            if not force:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. "
                                f"Use Tensor.cpu() to copy the tensor to host memory first.")
            return np.array(host_array(self))
        return host_array(self)

    # __array__, __dlpack__ and __dlpack_device__ are bound by plugtorch._interop

    def item(self):
        if numel_of(self._shape) != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted "
                               f"to Scalar")
        return host_array(self).reshape(()).item()

    def tolist(self):
        return host_array(self).tolist()

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        if numel_of(self._shape) != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is "
                               "ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def _scalar(self):
        """The value of a one-element tensor for float() and int() (ValueError otherwise, as
        Python's own conversions; item() raises RuntimeError, as PyTorch)."""
        if numel_of(self._shape) != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __index__(self):
        if self._dtype.kind == 2 or numel_of(self._shape) != 1:
            raise TypeError("only integer tensors of a single element can be converted "
                            "to an index")
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __hash__(self):
        return id(self)

    def __repr__(self, *, tensor_contents=None):
        from ._format import tensor_repr
        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec):
        if not self._shape:
            return self.item().__format__(spec)
        return object.__format__(self, spec) if spec else repr(self)

    def __reduce_ex__(self, protocol):
        from .serialization import _reduce_tensor
        return _reduce_tensor(self)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        new = _wrap(self._storage, self._shape, self._stride, self._offset).clone()
        if type(self) is not Tensor:
            new.__class__ = type(self)
            new.__dict__.update({k: v for k, v in self.__dict__.items() if k not in
                                 ("_storage", "_shape", "_stride", "_offset", "_dtype",
                                  "_view", "grad", "_node", "_base")})
        new.requires_grad = self.requires_grad
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new
