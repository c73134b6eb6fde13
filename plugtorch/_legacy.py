"""PyTorch's legacy tensor types (`FloatTensor`, `LongTensor`, …), `Tensor.type()`, and the
storage objects `Tensor.storage()` / `untyped_storage()` return.

NOTE [legacy type names]
A legacy type is a (dtype, device type) pair, named as PyTorch names it: "torch.FloatTensor"
on cpu and "torch.<device type>.FloatTensor" elsewhere ("torch.cuda.FloatTensor" in PyTorch,
"torch.opencl.FloatTensor" here), so code that compares `x.type()` with PyTorch's strings
works unchanged. The cpu types are `plugtorch.FloatTensor` and friends; a type for another
device comes from `tensor_type(dtype, device_type)`. `isinstance(x, plugtorch.FloatTensor)` is
true exactly for float32 cpu tensors; the types are not subclasses of `Tensor`, as in PyTorch.
"""
import numbers
import weakref

from . import _dtype as D
from ._tensor import Tensor

__all__ = ["tensor_type", "type_method", "set_default_tensor_type", "TypedStorage",
           "UntypedStorage", "storage", "untyped_storage", "data_ptr", "LEGACY_TYPES"]


class _TensorType(type):
    """The metaclass of the legacy types: calling one makes a tensor, isinstance checks the
    tensor's dtype and device type."""

    def __instancecheck__(cls, obj):
        return (isinstance(obj, Tensor) and obj._dtype is cls.dtype
                and obj._storage.device.type == cls.device_type)

    def __call__(cls, *args, device=None):
        """FloatTensor(2, 3): an uninitialised tensor of that shape; FloatTensor([1, 2]): a
        copy of the data; FloatTensor(t): t itself when it has this type."""
        from .ops.creation import empty, tensor
        if device is None and cls.device_type != "cpu":
            device = cls.device_type
        if len(args) == 1 and isinstance(args[0], Tensor):
            t = args[0]
            if not isinstance(t, cls):
                raise TypeError(f"{cls.__name__}(): expected a tensor of dtype {cls.dtype} on "
                                f"{cls.device_type}, got dtype {t.dtype} on {t.device}")
            return t
        if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
            return empty(*args, dtype=cls.dtype, device=device) if args else \
                empty(0, dtype=cls.dtype, device=device)
        if len(args) == 1:
            data = args[0]
            if isinstance(data, tuple) and all(isinstance(a, int) for a in data):
                return empty(data, dtype=cls.dtype, device=device)   # a Size or shape tuple
            if isinstance(data, numbers.Number):
                raise TypeError(f"{cls.__name__}(): data must be a sequence (got "
                                f"{type(data).__name__})")
            return tensor(data, dtype=cls.dtype, device=device)
        raise TypeError(f"{cls.__name__}(): expected sizes (ints) or one sequence of data, "
                        f"got {tuple(type(a).__name__ for a in args)}")

    def __repr__(cls):
        return f"<class '{cls.type_name}'>"


_TYPES = {}     # (dtype, device type) -> legacy type


def tensor_type(dtype, device_type="cpu"):
    """The legacy type of tensors of `dtype` on devices of `device_type` (NOTE [legacy type
    names]); one class per pair."""
    key = (dtype, device_type)
    cls = _TYPES.get(key)
    if cls is None:
        name = D.scalar_name(dtype) + "Tensor"
        where = "" if device_type == "cpu" else device_type + "."
        cls = _TensorType(name, (), {
            "dtype": dtype, "device_type": device_type, "type_name": f"torch.{where}{name}",
            "is_cuda": device_type == "cuda", "is_sparse": False,
            "__module__": "plugtorch", "__qualname__": name,
            "__doc__": f"Legacy type and constructor of {dtype.name} tensors on {device_type}."})
        _TYPES[key] = cls
    return cls


LEGACY_TYPES = {D.scalar_name(d) + "Tensor": tensor_type(d) for d in D.ALL}


def _parse_type_name(spec):
    """'torch.FloatTensor', 'torch.opencl.LongTensor' (or 'plugtorch.…') -> legacy type."""
    parts = spec.split(".")
    if parts[0] in ("torch", "plugtorch"):
        parts = parts[1:]
    name = parts[-1] if parts else ""
    if len(parts) <= 2 and name in LEGACY_TYPES:
        return tensor_type(LEGACY_TYPES[name].dtype, parts[0] if len(parts) == 2 else "cpu")
    raise ValueError(f"invalid type: {spec!r}")


def type_method(self, dtype=None, non_blocking=False, **kwargs):
    """With no argument, the tensor's legacy type name ("torch.FloatTensor", or
    "torch.opencl.FloatTensor" off the cpu: NOTE [legacy type names]); with a dtype, a legacy
    type or such a name, the tensor converted to it (itself when it already has that type).

    Example:
        >>> import plugtorch as torch
        >>> torch.ones(2).type()
        'torch.FloatTensor'
        >>> torch.ones(2).type(torch.LongTensor).dtype
        plugtorch.int64
        >>> torch.ones(2).type("torch.DoubleTensor").dtype
        plugtorch.float64
    """
    from .ops.creation import to
    if dtype is None:
        return tensor_type(self._dtype, self._storage.device.type).type_name
    if isinstance(dtype, str):
        dtype = _parse_type_name(dtype)
    if isinstance(dtype, _TensorType):
        if isinstance(self, dtype):
            return self
        device = self.device if self.device.type == dtype.device_type else dtype.device_type
        return to(self, device, dtype.dtype, non_blocking=non_blocking)
    return to(self, D.to_dtype(dtype), non_blocking=non_blocking)


def set_default_tensor_type(t):
    """Set the default floating dtype (and device type) from a legacy type or its name;
    prefer `set_default_dtype` and `set_default_device`.

    Example:
        >>> import plugtorch as torch
        >>> torch.set_default_tensor_type(torch.DoubleTensor)
        >>> torch.zeros(1).dtype
        plugtorch.float64
        >>> torch.set_default_tensor_type("torch.FloatTensor")
    """
    import plugtorch
    if isinstance(t, str):
        t = _parse_type_name(t)
    if not isinstance(t, _TensorType):
        raise TypeError(f"set_default_tensor_type: expected a legacy tensor type such as "
                        f"torch.FloatTensor or its name, got {t!r}")
    if not t.dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    plugtorch.set_default_dtype(t.dtype)
    plugtorch.set_default_device(t.device_type)


# ----------------------------------------------------------------------------- storage

_VIRTUAL = weakref.WeakKeyDictionary()    # Storage -> (buffer object, address)
_NEXT = [1 << 44]


def _storage_address(st):
    """The address of a storage's first byte: the real one for host numpy buffers, else a
    stable address unique to the storage's buffer (ranges never overlap)."""
    data = st.data
    iface = getattr(data, "__array_interface__", None)
    if iface is not None:
        return iface["data"][0]
    entry = _VIRTUAL.get(st)
    if entry is None or entry[0] is not data:
        size = max(st.numel * st.dtype.itemsize, 1)
        entry = (data, _NEXT[0])
        _NEXT[0] += (size + 255) // 256 * 256 + 256
        _VIRTUAL[st] = entry
    return entry[1]


def data_ptr(self):
    """The address of the tensor's first element: its storage's address plus its offset."""
    return _storage_address(self._storage) + self._offset * self._dtype.itemsize


class UntypedStorage:
    """The bytes behind a tensor and its views, as `Tensor.untyped_storage()` returns them.
    Views of one tensor give storages with the same `data_ptr()`."""

    def __init__(self, storage):
        self._storage = storage

    @property
    def device(self):
        return self._storage.device

    def nbytes(self):
        return self._storage.numel * self._storage.dtype.itemsize

    size = nbytes

    def __len__(self):
        return self.nbytes()

    def element_size(self):
        return 1

    def data_ptr(self):
        return _storage_address(self._storage)

    def __eq__(self, other):
        return type(other) is type(self) and other._storage is self._storage

    def __hash__(self):
        return id(self._storage)

    def __repr__(self):
        return f"plugtorch.UntypedStorage(device={self.device}) of size {self.nbytes()}"


class TypedStorage(UntypedStorage):
    """A storage seen as elements of its dtype, as `Tensor.storage()` returns it."""

    @property
    def dtype(self):
        return self._storage.dtype

    def size(self):
        return self._storage.numel

    def __len__(self):
        return self._storage.numel

    def element_size(self):
        return self._storage.dtype.itemsize

    def untyped(self):
        return UntypedStorage(self._storage)

    def _flat(self):
        from ._tensor import _wrap
        st = self._storage
        return _wrap(st, (st.numel,), (1,), 0)

    def tolist(self):
        return self._flat().tolist()

    def __getitem__(self, i):
        return self._flat()[i].item()

    def __repr__(self):
        return (f"plugtorch.TypedStorage(dtype={self.dtype}, device={self.device}) of size "
                f"{len(self)}")


def storage(self):
    return TypedStorage(self._storage)


def untyped_storage(self):
    return UntypedStorage(self._storage)
