"""Saving and loading objects that hold tensors (`save` / `load`), and tensor pickling.

NOTE [checkpoint format]
`save` writes PyTorch's checkpoint format, so that ``torch.load(f, weights_only=True)``
reads plugtorch's files and `load` reads files written by ``torch.save``; PyTorch is never
imported, its global names are only written and matched as strings. A checkpoint is a zip
archive (stored, not compressed; zip64 when large) whose entries share one top-level folder
(``archive/`` when saving to a file object, the file's stem when PyTorch saves to a path):

    archive/data.pkl            a pickle (protocol 2) of the object
    archive/.format_version     b"1"
    archive/.storage_alignment  b"64": each data/<key> entry starts at a multiple of 64
    archive/byteorder           b"little" (optional when reading; b"big" is byteswapped)
    archive/data/<key>          the raw bytes of storage <key>
    archive/version             b"3\\n"

In data.pkl a tensor is ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, OrderedDict())``, a Parameter wraps that in ``torch._utils._rebuild_parameter
(tensor, requires_grad, OrderedDict())``, dtypes are the globals ``torch.float32`` ...,
devices ``torch.device(type[, index])`` and sizes ``torch.Size(tuple)``. A storage is the
persistent id ``("storage", torch.<Scalar>Storage, key, location, numel)`` (`_STORAGE_TYPES`);
`load` also reads ``torch.storage.UntypedStorage`` (numel in bytes), which PyTorch writes with
``_rebuild_tensor_v3(..., dtype)`` for dtypes that lack a storage class. `_TORCH_GLOBALS` maps
each name onto the plugtorch object that rebuilds it; a PyTorch name outside that table (a
whole torch module, a quantized or sparse tensor) is refused, and so is data of a dtype
plugtorch lacks (bfloat16, complex, uint16/32/64), naming the dtype.

Each storage is written once, keyed by the identity of its `Storage` object, so tensors that
were views of one storage are views of one storage again after loading. `location` is the
device the storage lived on ("cpu", "opencl:0"); `load` restores it there unless
`map_location` says otherwise (``torch.load`` needs ``map_location="cpu"`` for a storage saved
on a plugtorch-only device). Every entry carries the zip CRC-32, which `load` checks, so a
truncated or corrupted file raises an error instead of returning a half-loaded object.
`load` checks what it reads (`_Archive` in _serialization_files.py): each entry once and
stored, never compressed, its size checked against the file and, for a storage, against the
storage's declared numel * itemsize before anything is read or allocated; storages are
streamed into their arrays.

Why PyTorch's format rather than a format of plugtorch's own: a checkpoint is exchanged
between frameworks more often than anything else, and PyTorch's layout already holds all
plugtorch needs (typed storages, views, locations). Files written by earlier plugtorch versions
(an ``archive/format`` entry b"plugtorch-checkpoint 1\\n"; tensors as
``plugtorch.serialization._rebuild_tensor(storage, offset, shape, stride, dtype name,
requires_grad, kind)``, storages as ``("storage", key, dtype name, location, numel)``) still
load. PyTorch's legacy non-zip format is not read.

NOTE [weights_only] (plugtorch/_weights_only.py) says what `load` refuses by default.

Plain pickling (copy, multiprocessing, DataLoader workers) does not go through `save`: a tensor
pickles as its values (a host copy), dtype, device, requires_grad and class (`_reduce_tensor`).
"""
import collections
import contextlib
import io
import os
import pickle
import struct
import tempfile
import zipfile

import numpy as np

from . import _dtype as D
from ._serialization_files import (_PREFIX, _Archive, _corrupt, _file_mode, _fsync_dir,
                                   _open_archive, _remove_stale_temporaries,
                                   _temporary_prefix)
from ._weights_only import (WeightsUnpickler, add_safe_globals, get_safe_globals,  # noqa
                            clear_safe_globals, safe_globals)

__all__ = ["save", "load"]

DEFAULT_PROTOCOL = 2
_FORMAT = b"plugtorch-checkpoint 1\n"       # the format record of earlier plugtorch files
_ALIGNMENT = 64


# ----------------------------------------------------------------------------- plain pickling

def _rebuild(array, dtype_name, device, requires_grad, cls=None):
    from . import _dtype as D
    from ._tensor import resolve_device, from_numpy_on
    dev, backend = resolve_device(device)
    t = from_numpy_on(np.asarray(array, dtype=D.to_dtype(dtype_name).np), dev, backend)
    if cls is not None:
        t.__class__ = cls
    if requires_grad:
        t.requires_grad = True
    return t


def _reduce_tensor(t):
    """Tensor.__reduce_ex__: the values (host copy), dtype, device, requires_grad, class."""
    from ._tensor import Tensor, host_array
    if t._node is not None:
        raise RuntimeError("Can't pickle a non-leaf tensor that requires grad; detach() it first")
    cls = None if type(t) is Tensor else type(t)
    args = (np.array(host_array(t)), t._dtype.name, str(t.device), bool(t.requires_grad), cls)
    extra = _subclass_state(t) if cls is not None else None
    return (_rebuild, args, extra) if extra else (_rebuild, args)


def _subclass_state(t):
    """The attributes a Tensor subclass instance adds (restored by pickle's BUILD)."""
    from ._tensor import Tensor
    return {k: v for k, v in t.__dict__.items()
            if k not in _TENSOR_FIELDS and not hasattr(Tensor, k)}


_TENSOR_FIELDS = frozenset(("_storage", "_shape", "_stride", "_offset", "_dtype"))


# ----------------------------------------------------------------------------- PyTorch's names

class _Name:
    """A global of PyTorch's, pickled as GLOBAL `module name` without importing it."""
    __slots__ = ("module", "name")
    _interned = {}

    def __new__(cls, module, name):
        obj = cls._interned.get((module, name))
        if obj is None:
            obj = cls._interned[(module, name)] = super().__new__(cls)
            obj.module, obj.name = module, name
        return obj

    def __call__(self, *args):      # pickle writes only callables as a record's function
        raise TypeError(f"{self.module}.{self.name} is PyTorch's; plugtorch only pickles it")


class _StorageType:
    """What a ``torch.<Scalar>Storage`` global loads as: the dtype of its elements (None:
    ``torch.storage.UntypedStorage``, bytes typed later by `_rebuild_tensor_v3`)."""
    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype


# the storage class PyTorch names for each dtype ("FloatStorage")
_STORAGE_TYPES = {d: D.scalar_name(d) + "Storage" for d in D.ALL}
# PyTorch dtypes and storages plugtorch has no dtype for
_MISSING_DTYPES = frozenset((
    "bfloat16", "complex32", "complex64", "complex128", "chalf", "cfloat", "cdouble",
    "uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2",
    "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2", "quint8", "qint8", "qint32",
    "quint4x2", "quint2x4", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2"))
_MISSING_STORAGES = frozenset((
    "BFloat16Storage", "ComplexHalfStorage", "ComplexFloatStorage", "ComplexDoubleStorage",
    "QUInt8Storage", "QInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage"))


def _torch_global(module, name):
    """The plugtorch object that PyTorch's global `module.name` loads as, or None when the
    name is not one `load` knows (NOTE [checkpoint format])."""
    if module == "torch":
        if name in D._NAMES:
            return D._NAMES[name]
        if name in _MISSING_DTYPES or name in _MISSING_STORAGES:
            raise pickle.UnpicklingError(
                f"load: the file holds data of PyTorch type torch.{name}, which plugtorch has "
                f"no dtype for (it has {', '.join(d.name for d in D.ALL)}); convert it with "
                f"PyTorch before saving, e.g. t.float()")
    entry = _TORCH_GLOBALS.get((module, name))
    return entry() if entry is not None else None


def _parameter_class():
    from . import nn
    p = getattr(nn, "Parameter", None)
    return p if isinstance(p, type) else None


class _TensorType:
    """PyTorch's Tensor or Parameter class as a subclass record names it: a name only, which
    `_rebuild_from_type_v2` resolves, so that a file cannot call the class itself."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def resolve(self):
        from ._tensor import Tensor
        return Tensor if self.name == "Tensor" else _parameter_class()


# ----------------------------------------------------------------------------- save

class _Pickler(pickle._Pickler):
    """Writes PyTorch's records for tensors, dtypes, devices and sizes; collects the storages
    to write. The pure-Python pickler, since only it can write a global it cannot import."""
    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages = {}          # id(Storage) -> (key, Storage); keeps them alive

    def persistent_id(self, obj):
        from ._tensor import Storage
        if not isinstance(obj, Storage):
            return None
        entry = self.storages.get(id(obj))
        if entry is None:
            entry = self.storages[id(obj)] = (str(len(self.storages)), obj)
        return ("storage", _Name("torch", _STORAGE_TYPES[obj.dtype]), entry[0],
                str(obj.device), obj.numel)

    def reducer_override(self, obj):
        from ._tensor import Tensor, _wrap
        from ._device import device
        from ._size import Size
        if isinstance(obj, Tensor):
            cls = type(obj)
            plain = obj if cls is Tensor else _wrap(obj._storage, obj._shape, obj._stride,
                                                    obj._offset)
            args = (plain._storage, plain._offset, tuple(plain._shape), tuple(plain._stride),
                    bool(plain.requires_grad) if cls is Tensor else False,
                    collections.OrderedDict())
            if cls is Tensor:
                return (_Name("torch._utils", "_rebuild_tensor_v2"), args)
            if cls is _parameter_class():
                return (_Name("torch._utils", "_rebuild_parameter"),
                        (plain, bool(obj.requires_grad), collections.OrderedDict()))
            args = args[:4] + (bool(obj.requires_grad),) + args[5:]
            return (_Name("torch._tensor", "_rebuild_from_type_v2"),
                    (_Name("torch._utils", "_rebuild_tensor_v2"), cls, args,
                     _subclass_state(obj)))
        if type(obj) is device:
            return (_Name("torch", "device"),
                    (obj.type,) if obj.index is None else (obj.type, obj.index))
        if type(obj) is Size:
            return (_Name("torch", "Size"), (tuple(obj),))
        return NotImplemented

    def _save_name(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("ascii"))
        self.memoize(obj)

    def _save_dtype(self, obj):
        self.save(_Name("torch", obj.name))

    dispatch[_Name] = _save_name
    dispatch[D.dtype] = _save_dtype


def _storage_bytes(storage):
    from ._tensor import _wrap, host_array
    arr = np.ascontiguousarray(host_array(_wrap(storage, (storage.numel,), (1,), 0)))
    return arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()


def _write_entry(zf, name, data, align=False):
    """Write one stored entry, its data padded (PyTorch's way: an extra field) to start at a
    multiple of _ALIGNMENT bytes when `align`."""
    info = zipfile.ZipInfo(_PREFIX + name, date_time=(1980, 1, 1, 0, 0, 0))
    if align:
        zip64 = len(data) * 1.05 > zipfile.ZIP64_LIMIT     # as zipfile decides it
        start = zf.fp.tell() + 30 + len(info.filename) + (20 if zip64 else 0) + 4
        pad = -start % _ALIGNMENT
        info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
    zf.writestr(info, data)


def _write(obj, fh, protocol):
    buf = io.BytesIO()
    pickler = _Pickler(buf, protocol)
    pickler.dump(obj)
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        _write_entry(zf, "data.pkl", buf.getvalue())
        _write_entry(zf, ".format_version", b"1")
        _write_entry(zf, ".storage_alignment", str(_ALIGNMENT).encode())
        _write_entry(zf, "byteorder", b"little")
        for key, storage in pickler.storages.values():
            _write_entry(zf, "data/" + key, _storage_bytes(storage), align=True)
        _write_entry(zf, "version", b"3\n")


def save(obj, f, pickle_protocol=DEFAULT_PROTOCOL):
    """Save an object holding tensors to a file, in PyTorch's format (NOTE [checkpoint format]).

    ``torch.load(f, weights_only=True)`` reads what this writes, as long as the object holds
    only tensors, dtypes, devices, sizes, numbers, strings and plain containers (state dicts
    of modules and optimizers); storages saved on a device PyTorch lacks need its
    ``map_location="cpu"``.

    Saving to a path is atomic: the checkpoint is written to a temporary file in the same
    directory, flushed to disk and renamed over `f`, so a crash mid-save leaves any old file
    intact. A save that fails removes its temporary file; one that was killed leaves it, and
    the next save of the same path removes it (NOTE [save temporary files]).

    Args:
        obj: what to save: tensors, containers, state dicts, or any picklable object
            (loading arbitrary objects then needs ``load(..., weights_only=False)``).
        f: a path (str or os.PathLike) or a binary file object opened for writing.
        pickle_protocol: the pickle protocol of the object structure.

    Example:
        >>> import io, plugtorch as torch
        >>> buf = io.BytesIO()
        >>> torch.save({"w": torch.ones(2)}, buf)
        >>> _ = buf.seek(0)
        >>> torch.load(buf)["w"]
        tensor([1., 1.])
    """
    if not isinstance(f, (str, os.PathLike)):
        if not hasattr(f, "write"):
            raise AttributeError(f"save: expected a path or a file object with write(), got "
                                 f"{type(f).__name__}")
        _write(obj, f, pickle_protocol)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RuntimeError(f"save: parent directory {directory} does not exist")
    mode = _file_mode(path)
    _remove_stale_temporaries(directory, os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(os.path.basename(path)),
                               suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write(obj, fh, pickle_protocol)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


# ----------------------------------------------------------------------------- load

def _checked_view(storage, offset, shape, stride, requires_grad, what, valid=True):
    """A tensor viewing `storage`, its geometry checked to stay inside it."""
    from ._tensor import Storage, _wrap
    from ._size import Size
    if not isinstance(storage, Storage):
        raise pickle.UnpicklingError(f"load: a tensor record does not refer to a storage "
                                     f"({type(storage).__name__})")
    ok = (valid and type(offset) is int and offset >= 0 and isinstance(shape, tuple) and
          isinstance(stride, tuple) and len(shape) == len(stride) and
          all(type(n) is int and n >= 0 for n in shape) and
          all(type(s) is int and s >= 0 for s in stride))
    if ok and 0 not in shape:
        ok = offset + sum((n - 1) * s for n, s in zip(shape, stride)) < storage.numel
    if not ok:
        raise pickle.UnpicklingError(
            f"load: invalid tensor record (shape {shape}, stride {stride}, offset {offset}, "
            f"{what}) for a storage of {storage.numel} {storage.dtype.name} elements; the "
            f"file is corrupted")
    t = _wrap(storage, Size(shape), tuple(stride), offset)
    t.requires_grad = bool(requires_grad)
    return t


def _rebuild_tensor(storage, offset, shape, stride, dtype_name, requires_grad, kind):
    """The tensor record of earlier plugtorch files (NOTE [checkpoint format])."""
    from ._tensor import Tensor
    t = _checked_view(storage, offset, shape, stride, False, f"dtype {dtype_name}",
                      valid=dtype_name == getattr(getattr(storage, "dtype", None), "name", None))
    if kind == "parameter":
        cls = _parameter_class()
        if cls is not None:
            t.__class__ = cls
    elif isinstance(kind, type) and issubclass(kind, Tensor):
        t.__class__ = kind
    elif kind is not None:
        raise pickle.UnpicklingError(f"load: unknown tensor kind {kind!r}")
    t.requires_grad = bool(requires_grad)
    return t


class _UntypedStorage:
    """A ``torch.storage.UntypedStorage`` reference: bytes, read once a dtype types them."""
    __slots__ = ("load", "nbytes")

    def __init__(self, load, nbytes):
        self.load, self.nbytes = load, nbytes


def _check_hooks(backward_hooks, metadata):
    if not isinstance(backward_hooks, dict) or backward_hooks:
        raise pickle.UnpicklingError("load: a tensor record holds backward hooks; plugtorch "
                                     "restores none")
    if metadata and (not isinstance(metadata, dict) or any(metadata.values())):
        raise pickle.UnpicklingError(f"load: a tensor record holds the metadata {metadata!r} "
                                     f"(conjugate or negative bits), which plugtorch lacks")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       metadata=None):
    """PyTorch's tensor record (NOTE [checkpoint format])."""
    _check_hooks(backward_hooks, metadata)
    if isinstance(storage, _UntypedStorage):
        storage = storage.load(D.uint8)
    return _checked_view(storage, storage_offset, size, stride, requires_grad,
                         "torch._utils._rebuild_tensor_v2")


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    """PyTorch's tensor record with an explicit dtype, for an untyped storage."""
    _check_hooks(backward_hooks, metadata)
    if not isinstance(dtype, D.dtype):
        raise pickle.UnpicklingError(f"load: a tensor record has dtype {dtype!r}")
    if isinstance(storage, _UntypedStorage):
        storage = storage.load(dtype)
    if getattr(storage, "dtype", dtype) is not dtype:
        raise pickle.UnpicklingError(f"load: a tensor record of dtype {dtype.name} refers to "
                                     f"a storage of {storage.dtype.name}")
    return _checked_view(storage, storage_offset, size, stride, requires_grad,
                         "torch._utils._rebuild_tensor_v3")


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    """PyTorch's Parameter record (and its `_with_state` form, state restored on the
    Parameter as `_set_state` allows)."""
    from ._tensor import Tensor
    _check_hooks(backward_hooks, None)
    if type(data) is not Tensor:
        raise pickle.UnpicklingError(f"load: a Parameter record wraps a "
                                     f"{type(data).__name__}, not a tensor")
    p = _parameter_class()(data, bool(requires_grad))
    _set_state(p, state)
    return p


def _rebuild_from_type_v2(func, new_type, args, state):
    """PyTorch's record of a Tensor subclass instance: func(*args) as `new_type`."""
    from ._tensor import Tensor
    if isinstance(new_type, _TensorType):
        new_type = new_type.resolve()
    if func not in (_rebuild_tensor_v2, _rebuild_tensor_v3) or not isinstance(args, tuple) \
            or not (isinstance(new_type, type) and issubclass(new_type, Tensor)):
        raise pickle.UnpicklingError(f"load: a tensor subclass record calls {func!r} to make "
                                     f"a {new_type!r}")
    t = func(*args)
    if new_type is not Tensor:
        t.__class__ = new_type
    _set_state(t, state)
    return t


def _set_state(t, state):
    """Restore the attributes a Tensor subclass adds; never a field of the tensor itself."""
    from ._tensor import Tensor
    if isinstance(state, tuple) and len(state) == 2 and not state[1]:
        state = state[0]                            # (dict state, empty slots state)
    if not state:
        return
    if not isinstance(state, dict) or any(
            type(k) is not str or k in _TENSOR_FIELDS or hasattr(Tensor, k) for k in state):
        raise pickle.UnpicklingError(f"load: a tensor record sets the attributes "
                                     f"{list(state) if isinstance(state, dict) else state!r}; "
                                     f"only new attributes of a subclass can be restored")
    t.__dict__.update(state)


def _device_class():
    from ._device import device
    return device


def _size_class():
    from ._size import Size
    return Size


def _constant(obj):
    return lambda: obj


# PyTorch's globals `load` maps onto plugtorch objects, besides its dtypes (`_torch_global`);
# each value returns the object (imports deferred until a file asks)
_TORCH_GLOBALS = {
    ("torch._utils", "_rebuild_tensor_v2"): lambda: _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): lambda: _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): lambda: _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): lambda: _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): lambda: _rebuild_from_type_v2,
    ("torch._tensor", "Tensor"): _constant(_TensorType("Tensor")),
    ("torch", "Tensor"): _constant(_TensorType("Tensor")),
    ("torch.nn.parameter", "Parameter"): _constant(_TensorType("Parameter")),
    ("torch", "device"): _device_class,
    ("torch", "Size"): _size_class,
    ("torch.storage", "UntypedStorage"): _constant(_StorageType(None)),
    ("torch", "UntypedStorage"): _constant(_StorageType(None)),
    **{("torch", name): _constant(_StorageType(d)) for d, name in _STORAGE_TYPES.items()},
}


def _target_of(map_location, location):
    """Where a storage saved on `location` goes, unless map_location is a callable."""
    from ._device import device as Device
    if map_location is None:
        return location
    if isinstance(map_location, (str, Device)):
        return str(map_location)
    if isinstance(map_location, dict):
        table = {str(k): v for k, v in map_location.items()}
        target = table.get(location, table.get(location.split(":")[0], location))
        return str(target)
    raise TypeError(f"load: map_location should be a string, a device, a dict or a callable, "
                    f"got {type(map_location).__name__}")


def _place(array, target, location):
    from ._tensor import resolve_device, from_numpy_on
    try:
        dev, backend = resolve_device(target)
    except Exception as e:
        raise RuntimeError(
            f"load: the file holds a storage saved on '{location}' to be restored on "
            f"'{target}', which is not available here ({e}); pass map_location='cpu' (or a "
            f"dict or callable) to load it on another device") from e
    return from_numpy_on(array, dev, backend)._storage


def _restore_storage(array, location, map_location):
    from ._tensor import Storage, Tensor
    from ._device import device as Device
    if not callable(map_location) or isinstance(map_location, Device):
        return _place(array, _target_of(map_location, location), location)
    cpu = _place(array, "cpu", location)
    result = map_location(cpu, location)
    if result is None:
        return _place(array, location, location)
    if isinstance(result, Tensor):
        result = result._storage
    if isinstance(result, (str, Device)):
        return _place(array, str(result), location)
    if not isinstance(result, Storage) or result.numel != cpu.numel or \
            result.dtype is not cpu.dtype:
        raise RuntimeError(f"load: map_location returned {type(result).__name__}; expected "
                           f"a storage like the one it was given, a device, or None")
    return result


class _Unpickler(pickle.Unpickler):
    """Full unpickler (weights_only=False) that reads storages from the archive. It maps
    PyTorch's names like the restricted one and never imports PyTorch itself."""

    def __init__(self, file, loader, names):
        super().__init__(file)
        self._loader, self._names = loader, names

    def persistent_load(self, pid):
        return self._loader(pid)

    def find_class(self, module, name):
        found = self._names(module, name)
        if found is not None:
            return found
        if module == "torch" or module.startswith("torch."):
            raise pickle.UnpicklingError(
                f"load: the file refers to '{module}.{name}', a PyTorch object plugtorch "
                f"cannot build; save tensors and state_dict()s rather than whole objects")
        return super().find_class(module, name)


def load(f, map_location=None, *, weights_only=True):
    """Load an object saved with `save` or with ``torch.save`` (NOTE [checkpoint format]).

    Args:
        f: a path (str or os.PathLike) or a binary file object positioned at the checkpoint.
        map_location: where storages go: None (the device they were saved on), a device or
            string (everything there), a dict mapping saved locations to new ones
            (``{"opencl:0": "cpu"}``), or a callable ``(storage, location)`` given a cpu
            storage that returns a storage, a device string, or None for `location`.
        weights_only: unpickle only tensors, dtypes, devices, numbers, strings and plain
            containers (NOTE [weights_only]). Set it False to load whole modules or other
            objects from files you trust: that runs whatever code the file asks for.

    Raises:
        pickle.UnpicklingError: the object record is refused or malformed: it needs a global
            outside the weights_only allowlist, calls one with arguments pickle never
            writes, holds an invalid tensor or storage record, or data of a PyTorch dtype
            plugtorch lacks (bfloat16, complex, uint16/32/64).
        RuntimeError: the archive is truncated or corrupted (an entry missing, duplicated,
            compressed or of the wrong size; an unknown format or byteorder record), or a
            device is unavailable.

    Example:
        >>> import io, plugtorch as torch
        >>> buf = io.BytesIO()
        >>> torch.save([torch.arange(3)], buf)
        >>> _ = buf.seek(0)
        >>> torch.load(buf, map_location="cpu")
        [tensor([0, 1, 2])]
    """
    name = repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else "the file object"
    fh, owned = _open_archive(f)
    try:
        archive = _Archive(fh, name)
        with archive.zf:
            return _unpickle(archive, map_location, weights_only)
    finally:
        if owned is not None:
            owned.close()


def _is_key(key):
    return type(key) is str and key.isdigit() and key.isascii()


def _unpickle(archive, map_location, weights_only):
    name = archive.name
    earlier = archive.has("format")         # a file of an earlier plugtorch version
    if earlier and archive.read("format", limit=len(_FORMAT)) != _FORMAT:
        raise _corrupt(name, "unknown format record")
    byteorder = archive.read("byteorder", limit=8) if earlier or archive.has("byteorder") \
        else b"little"
    if byteorder not in (b"little", b"big"):
        raise _corrupt(name, f"byteorder record {byteorder[:8]!r} is neither b'little' nor "
                             f"b'big'")
    order = "<" if byteorder == b"little" else ">"
    storages = {}

    def storage(key, dtype, location, numel):
        declared = (dtype.name, location, numel)
        if key in storages:
            if storages[key][1] != declared:
                raise pickle.UnpicklingError(f"load: storage {key} is referred to both as "
                                             f"{storages[key][1]} and as {declared}")
            return storages[key][0]
        dt = dtype.np.newbyteorder(order)
        archive.info("data/" + key, expected_size=numel * dt.itemsize)   # before allocating
        array = np.empty(numel, dt)
        archive.read_into("data/" + key, array)
        array = array.astype(dt.newbyteorder("="), copy=False)
        storages[key] = (_restore_storage(array, location, map_location), declared)
        return storages[key][0]

    def earlier_storage(pid):
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] == "storage" and
                _is_key(pid[1]) and type(pid[2]) is str and pid[2] in D._NAMES and
                type(pid[3]) is str and type(pid[4]) is int and pid[4] >= 0):
            raise pickle.UnpicklingError(f"load: invalid storage reference {pid!r}; expected "
                                         f"('storage', key, dtype name, location, numel)")
        return storage(pid[1], D._NAMES[pid[2]], pid[3], pid[4])

    def torch_storage(pid):
        if type(pid) is tuple and len(pid) == 5 and type(pid[3]) is bytes:
            pid = pid[:3] + (pid[3].decode("ascii", "replace"),) + pid[4:]
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] == "storage" and
                type(pid[1]) is _StorageType and _is_key(pid[2]) and type(pid[3]) is str and
                type(pid[4]) is int and pid[4] >= 0):
            raise pickle.UnpicklingError(f"load: invalid storage reference {pid!r}; expected "
                                         f"('storage', torch.<Scalar>Storage, key, location, "
                                         f"numel)")
        _, kind, key, location, numel = pid
        if kind.dtype is not None:
            return storage(key, kind.dtype, location, numel)

        def typed(dtype):
            if numel % dtype.itemsize:
                raise pickle.UnpicklingError(f"load: storage {key} of {numel} bytes does not "
                                             f"hold whole {dtype.name} elements")
            return storage(key, dtype, location, numel // dtype.itemsize)
        return _UntypedStorage(typed, numel)

    data = io.BytesIO(archive.read("data.pkl"))
    loader = earlier_storage if earlier else torch_storage
    unpickler = (WeightsUnpickler if weights_only else _Unpickler)(data, loader, _torch_global)
    try:
        return unpickler.load()
    except (EOFError, pickle.UnpicklingError) as e:
        if "Weights only" in str(e) or "load:" in str(e):
            raise
        raise _corrupt(name, f"the object record is damaged ({e})") from e
    except Exception as e:
        if not weights_only or (isinstance(e, RuntimeError) and str(e).startswith("load:")):
            raise       # code the caller chose to run; a corrupt entry; a missing device
        raise pickle.UnpicklingError(
            f"load: the object record is malformed: {type(e).__name__}: {e}") from e
