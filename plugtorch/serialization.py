"""Saving and loading objects that hold tensors (`save` / `load`), and tensor pickling.

NOTE [checkpoint format]
A checkpoint is a zip archive (stored, not compressed; zip64 when large) with the entries

    archive/format      b"plugtorch-checkpoint 1\\n"
    archive/byteorder   b"little"
    archive/data.pkl    a pickle of the object; every tensor in it reduces to
                        _rebuild_tensor(storage, offset, shape, stride, dtype, requires_grad, kind)
                        where `storage` is a persistent id ("storage", key, dtype, location, numel)
    archive/data/<key>  the raw little-endian bytes of storage <key>

Each storage is written once, keyed by the identity of its `Storage` object, so tensors that
were views of one storage are views of one storage again after loading. `location` is the
device the storage lived on ("cpu", "opencl:0"); `load` restores it there unless
`map_location` says otherwise. Every entry carries the zip CRC-32, which `load` checks, so a
truncated or corrupted file raises an error instead of returning a half-loaded object.
`load` accepts only what `save` writes (`_Archive` in _serialization_files.py): each entry once and stored, never
compressed, its size checked against the file and, for a storage, against the storage's
declared numel * itemsize before anything is read or allocated; storages are streamed into
their arrays.

NOTE [weights_only] (plugtorch/_weights_only.py) says what `load` refuses by default.

Plain pickling (copy, multiprocessing, DataLoader workers) does not go through `save`: a tensor
pickles as its values (a host copy), dtype, device, requires_grad and class (`_reduce_tensor`).
"""
import contextlib
import io
import os
import pickle
import tempfile
import zipfile

import numpy as np

from ._serialization_files import (_PREFIX, _Archive, _corrupt, _file_mode, _fsync_dir,
                                   _open_archive, _remove_stale_temporaries,
                                   _temporary_prefix)
from ._weights_only import (WeightsUnpickler, add_safe_globals, get_safe_globals,  # noqa
                            clear_safe_globals, safe_globals)

__all__ = ["save", "load"]

DEFAULT_PROTOCOL = 2
_FORMAT = b"plugtorch-checkpoint 1\n"


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


# ----------------------------------------------------------------------------- save

def _parameter_class():
    from . import nn
    p = getattr(nn, "Parameter", None)
    return p if isinstance(p, type) else None


class _Pickler(pickle.Pickler):
    """Writes tensors as (storage reference, geometry); collects the storages to write."""

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
        return ("storage", entry[0], obj.dtype.name, str(obj.device), obj.numel)

    def reducer_override(self, obj):
        from ._tensor import Tensor
        if not isinstance(obj, Tensor):
            return NotImplemented
        cls = type(obj)
        kind = None if cls is Tensor else "parameter" if cls is _parameter_class() else cls
        args = (obj._storage, obj._offset, tuple(obj._shape), tuple(obj._stride),
                obj._dtype.name, bool(obj.requires_grad), kind)
        if kind is None or kind == "parameter":
            return (_rebuild_tensor, args)
        return (_rebuild_tensor, args, _subclass_state(obj) or None)


def _storage_bytes(storage):
    from ._tensor import _wrap, host_array
    arr = np.ascontiguousarray(host_array(_wrap(storage, (storage.numel,), (1,), 0)))
    return arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()


def _write(obj, fh, protocol):
    buf = io.BytesIO()
    pickler = _Pickler(buf, protocol)
    pickler.dump(obj)
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_PREFIX + "format", _FORMAT)
        zf.writestr(_PREFIX + "byteorder", b"little")
        for key, storage in pickler.storages.values():
            zf.writestr(_PREFIX + "data/" + key, _storage_bytes(storage))
        zf.writestr(_PREFIX + "data.pkl", buf.getvalue())


def save(obj, f, pickle_protocol=DEFAULT_PROTOCOL):
    """Save an object holding tensors to a file (NOTE [checkpoint format]).

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

def _rebuild_tensor(storage, offset, shape, stride, dtype_name, requires_grad, kind):
    """The tensor of a checkpoint: a view of `storage`, checked to stay inside it."""
    from ._tensor import Storage, Tensor, _wrap
    from ._size import Size
    if not isinstance(storage, Storage):
        raise pickle.UnpicklingError("load: a tensor record does not refer to a storage")
    ok = (isinstance(offset, int) and offset >= 0 and isinstance(shape, tuple) and
          isinstance(stride, tuple) and len(shape) == len(stride) and
          all(isinstance(n, int) and n >= 0 for n in shape) and
          all(isinstance(s, int) and s >= 0 for s in stride))
    if ok and 0 not in shape:
        ok = offset + sum((n - 1) * s for n, s in zip(shape, stride)) < storage.numel
    if not ok or dtype_name != storage.dtype.name:
        raise pickle.UnpicklingError(
            f"load: invalid tensor record (shape {shape}, stride {stride}, offset {offset}, "
            f"dtype {dtype_name}) for a storage of {storage.numel} {storage.dtype.name} "
            f"elements; the file is corrupted")
    t = _wrap(storage, Size(shape), tuple(stride), offset)
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
    """Full unpickler (weights_only=False) that reads storages from the archive."""

    def __init__(self, file, loader):
        super().__init__(file)
        self._loader = loader

    def persistent_load(self, pid):
        return self._loader(pid)


def load(f, map_location=None, *, weights_only=True):
    """Load an object saved with `save` (NOTE [checkpoint format]).

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
            writes, or holds an invalid tensor or storage record.
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


def _unpickle(archive, map_location, weights_only):
    from . import _dtype as D
    name = archive.name
    if archive.read("format", limit=len(_FORMAT)) != _FORMAT:
        raise _corrupt(name, "unknown format record")
    byteorder = archive.read("byteorder", limit=8)
    if byteorder not in (b"little", b"big"):
        raise _corrupt(name, f"byteorder record {byteorder[:8]!r} is neither b'little' nor "
                             f"b'big'")
    order = "<" if byteorder == b"little" else ">"
    storages = {}

    def load_storage(pid):
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] == "storage" and
                type(pid[1]) is str and pid[1].isdigit() and pid[1].isascii() and
                type(pid[2]) is str and pid[2] in D._NAMES and type(pid[3]) is str and
                type(pid[4]) is int and pid[4] >= 0):
            raise pickle.UnpicklingError(f"load: invalid storage reference {pid!r}; expected "
                                         f"('storage', key, dtype name, location, numel)")
        _, key, dtype_name, location, numel = pid
        if key in storages:
            storage, declared = storages[key]
            if declared != pid[1:]:
                raise pickle.UnpicklingError(f"load: storage {key} is referred to both as "
                                             f"{declared} and as {pid[1:]}")
            return storage
        dt = D._NAMES[dtype_name].np.newbyteorder(order)
        archive.info("data/" + key, expected_size=numel * dt.itemsize)   # before allocating
        array = np.empty(numel, dt)
        archive.read_into("data/" + key, array)
        array = array.astype(dt.newbyteorder("="), copy=False)
        storages[key] = (_restore_storage(array, location, map_location), pid[1:])
        return storages[key][0]

    data = io.BytesIO(archive.read("data.pkl"))
    unpickler = (WeightsUnpickler if weights_only else _Unpickler)(data, load_storage)
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
