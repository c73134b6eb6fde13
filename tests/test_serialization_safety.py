"""load never runs code from a file by default, save is atomic, damage is detected
(NOTE [checkpoint format], NOTE [weights_only] in plugtorch/serialization.py).

Crafted files are built by hand here (a zip with the format entries and a hostile pickle),
so the tests do not depend on what `save` would write. They use the format of earlier
plugtorch versions, which `load` still reads; tests/test_torch_checkpoints.py crafts files in
PyTorch's format.
"""
import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import plugtorch
from plugtorch import serialization


def _archive(pkl, storages=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/format", b"plugtorch-checkpoint 1\n")
        zf.writestr("archive/byteorder", b"little")
        for key, raw in storages:
            zf.writestr("archive/data/" + key, raw)
        zf.writestr("archive/data.pkl", pkl)
    buf.seek(0)
    return buf


class RunsCommand:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.path}",))


class Plain:
    """A user class: loadable only with weights_only=False or add_safe_globals."""

    def __init__(self, x):
        self.x = x


class _Storage:
    def __init__(self, pid):
        self.pid = pid


class _PidPickler(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, _Storage) else None


def _pickle_with_storage(obj):
    buf = io.BytesIO()
    _PidPickler(buf, 2).dump(obj)
    return buf.getvalue()


class _OutOfBounds:
    """A tensor record whose view would read past its 4-element storage."""

    def __reduce__(self):
        return (serialization._rebuild_tensor,
                (_Storage(("storage", "0", "float32", "cpu", 4)), 2, (3,), (1,), "float32",
                 False, None))


class _TensorWithState:
    """A valid tensor record followed by BUILD, which would overwrite the tensor's shape."""

    def __reduce__(self):
        return (serialization._rebuild_tensor,
                (_Storage(("storage", "0", "float32", "cpu", 4)), 0, (4,), (1,), "float32",
                 False, None), {"_shape": (1000,)})


# ----------------------------------------------------------------------------- weights_only

def test_crafted_pickle_is_refused(tmp_path):
    marker = tmp_path / "marker"
    f = _archive(pickle.dumps(RunsCommand(marker), protocol=2))
    with pytest.raises(pickle.UnpicklingError) as e:
        plugtorch.load(f)
    assert "system" in str(e.value) and "weights_only=False would run code" in str(e.value)
    assert not marker.exists()
    f.seek(0)
    plugtorch.load(f, weights_only=False)     # the same file does run code when allowed:
    assert marker.read_text().strip() == "pwned"   # which is why the default refuses it


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_plain_data_loads_under_weights_only(protocol):
    obj = {"a": [1, 2.5, "s", None, True], "b": (b"xy", {3, 4}, bytearray(b"ab")),
           "c": collections.OrderedDict(z=1), "d": complex(1, 2)}
    assert plugtorch.load(_archive(pickle.dumps(obj, protocol=protocol))) == obj


class _Call:
    """Pickles as func(*args): a record pickle itself never writes for these builtins."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


# small enough that a regression returns quickly instead of exhausting memory
_BOMBS = {
    "set(range)": _Call(set, range(10 ** 7)),
    "bytearray(n)": _Call(bytearray, 10 ** 8),
    "codecs": _Call(__import__("_codecs").encode, "x" * 10, "rot13"),
    "frozenset": frozenset([5]),
    "range": range(10 ** 12),
    "slice": slice(1, 5),
}


@pytest.mark.parametrize("what", sorted(_BOMBS))
@pytest.mark.parametrize("protocol", [2, 4])
def test_globals_outside_the_allowlist_and_bombs_are_refused(what, protocol):
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        plugtorch.load(_archive(pickle.dumps(_BOMBS[what], protocol=protocol)))


def test_user_classes_need_opt_in():
    f = _archive(pickle.dumps(Plain(3), protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="Plain"):
        plugtorch.load(f)
    f.seek(0)
    with serialization.safe_globals([Plain]):
        assert plugtorch.load(f).x == 3
    assert Plain not in serialization.get_safe_globals()
    f.seek(0)
    assert plugtorch.load(f, weights_only=False).x == 3


def test_out_of_bounds_tensor_record_is_refused():
    raw = np.arange(4, dtype="<f4").tobytes()
    f = _archive(_pickle_with_storage(_OutOfBounds()), [("0", raw)])
    with pytest.raises(pickle.UnpicklingError, match="invalid tensor record"):
        plugtorch.load(f)


def test_setting_state_of_a_tensor_is_refused():
    raw = np.arange(4, dtype="<f4").tobytes()
    f = _archive(_pickle_with_storage(_TensorWithState()), [("0", raw)])
    with pytest.raises(pickle.UnpicklingError, match="setting the state of a Tensor"):
        plugtorch.load(f)


def test_bad_storage_reference_is_refused():
    f = _archive(_pickle_with_storage(_Storage(("storage", "../x", "float32", "cpu", 1))))
    with pytest.raises(pickle.UnpicklingError, match="invalid storage reference"):
        plugtorch.load(f)


class _OnMissingDevice:
    def __reduce__(self):
        return (serialization._rebuild_tensor,
                (_Storage(("storage", "0", "float32", "nosuchdevice:0", 2)), 0, (2,), (1,),
                 "float32", False, None))


def test_unavailable_device_names_map_location():
    raw = np.array([1.5, 2.5], dtype="<f4").tobytes()
    f = _archive(_pickle_with_storage(_OnMissingDevice()), [("0", raw)])
    with pytest.raises(RuntimeError, match="saved on 'nosuchdevice:0'.*map_location='cpu'"):
        plugtorch.load(f)
    f.seek(0)
    assert plugtorch.load(f, map_location="cpu").tolist() == [1.5, 2.5]
    f.seek(0)
    assert plugtorch.load(f, map_location={"nosuchdevice": "cpu"}).tolist() == [1.5, 2.5]


class _Rebuild:
    """A tensor record with the given arguments."""

    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return (serialization._rebuild_tensor, self.args)


def _pid(*pid):
    return _Storage(pid)


_RAW4 = [("0", np.arange(4, dtype="<f4").tobytes())]
_MALFORMED_RECORDS = {
    "key not a str": _pid("storage", 0, "float32", "cpu", 4),
    "dtype unhashable": _pid("storage", "0", ["float32"], "cpu", 4),
    "dtype unknown": _pid("storage", "0", "float99", "cpu", 4),
    "location not a str": _pid("storage", "0", "float32", None, 4),
    "numel not an int": _pid("storage", "0", "float32", "cpu", "4"),
    "numel negative": _pid("storage", "0", "float32", "cpu", -4),
    "pid a list": _pid(["storage", "0", "float32", "cpu", 4]),
    "one key two dtypes": [_pid("storage", "0", "float32", "cpu", 4),
                           _pid("storage", "0", "int32", "cpu", 4)],
    "too few arguments": _Rebuild(_pid("storage", "0", "float32", "cpu", 4), 0),
    "kind not a tensor class": _Rebuild(_pid("storage", "0", "float32", "cpu", 4), 0, (4,),
                                        (1,), "float32", False, plugtorch.Size),
    "requires_grad on int": _Rebuild(_pid("storage", "0", "int32", "cpu", 4), 0, (4,),
                                     (1,), "int32", True, None),
    "unknown dtype name": _Call(__import__("plugtorch._dtype")._dtype._by_name, "float99"),
}


@pytest.mark.parametrize("what", sorted(_MALFORMED_RECORDS))
def test_malformed_object_records_raise_unpickling_error(what):
    f = _archive(_pickle_with_storage(_MALFORMED_RECORDS[what]), _RAW4)
    with pytest.raises(pickle.UnpicklingError, match="^(load: |Weights only)"):
        plugtorch.load(f)


def _zip(entries, compression=zipfile.ZIP_STORED):
    """A zip of (name, bytes or a number of zero bytes); only the zeros get `compression`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, raw in entries:
            if isinstance(raw, int):             # that many zero bytes, written in pieces
                with zf.open(name, "w", force_zip64=True) as out:
                    for _ in range(raw >> 20):
                        out.write(bytes(1 << 20))
            else:
                zf.writestr(name, raw, zipfile.ZIP_STORED)
    return buf.getvalue()


def _entries(pkl=None, storages=_RAW4, **replace):
    """The entries of a valid one-storage checkpoint, some replaced (None: left out)."""
    pkl = pkl if pkl is not None else _pickle_with_storage(
        _Rebuild(_pid("storage", "0", "float32", "cpu", 4), 0, (4,), (1,), "float32",
                 False, None))
    entries = {"format": b"plugtorch-checkpoint 1\n", "byteorder": b"little",
               **{"data/" + k: v for k, v in storages}, "data.pkl": pkl}
    entries.update(replace)
    return [("archive/" + k, v) for k, v in entries.items() if v is not None]


def test_crafted_archive_baseline_loads():
    assert plugtorch.load(io.BytesIO(_zip(_entries()))).tolist() == [0.0, 1.0, 2.0, 3.0]


def test_compressed_huge_entry_is_refused_before_reading():
    size = 64 << 20                                  # 64 MB of zeros: a file of ~64 KB
    pid = _pid("storage", "0", "float32", "cpu", size // 4)
    pkl = _pickle_with_storage(_Rebuild(pid, 0, (size // 4,), (1,), "float32", False, None))
    data = _zip(_entries(pkl, [("0", size)]), zipfile.ZIP_DEFLATED)
    assert len(data) < size // 100
    with pytest.raises(RuntimeError, match="entry 'archive/data/0' is compressed"):
        plugtorch.load(io.BytesIO(data))
    data = _zip(_entries(**{"data.pkl": size}), zipfile.ZIP_DEFLATED)
    with pytest.raises(RuntimeError, match="entry 'archive/data.pkl' is compressed"):
        plugtorch.load(io.BytesIO(data))


def _set_central_sizes(data, name, size):
    """Make the central directory claim `size` bytes for entry `name`."""
    data = bytearray(data)
    at = data.index(b"PK\x01\x02")
    while True:
        n = int.from_bytes(data[at + 28:at + 30], "little")
        if data[at + 46:at + 46 + n] == name.encode():
            data[at + 20:at + 28] = size.to_bytes(4, "little") * 2
            return bytes(data)
        at = data.index(b"PK\x01\x02", at + 4)


@pytest.mark.parametrize("what, entries, match", [
    ("missing byteorder", _entries(byteorder=None), "entry 'archive/byteorder' is missing"),
    ("missing data.pkl", _entries(**{"data.pkl": None}), "'archive/data.pkl' is missing"),
    ("missing storage", _entries(storages=()), "entry 'archive/data/0' is missing"),
    ("bad byteorder", _entries(byteorder=b"garbage"), "byteorder record b'garbage'"),
    ("bad format", _entries(format=b"plugtorch-checkpoint 9\n"), "unknown format record"),
    ("storage too short", _entries(storages=[("0", b"\0" * 12)]),
     "'archive/data/0' holds 12 bytes, expected 16"),
    ("duplicate entry", _entries() + [("archive/data/0", b"\0" * 16)],
     "entry 'archive/data/0' appears more than once"),
])
def test_malformed_archives_raise_runtime_error(what, entries, match):
    with pytest.warns(UserWarning) if what == "duplicate entry" else _no_warning():
        data = _zip(entries)
    with pytest.raises(RuntimeError, match=match + ".*truncated or corrupted"):
        plugtorch.load(io.BytesIO(data))


def test_missing_format_record_reads_as_pytorch_format():
    # without its format record a file of an earlier plugtorch is read as PyTorch's format,
    # whose storage references differ
    with pytest.raises(pickle.UnpicklingError, match="invalid storage reference"):
        plugtorch.load(io.BytesIO(_zip(_entries(format=None))))


def _no_warning():
    import contextlib
    return contextlib.nullcontext()


def test_huge_declared_sizes_are_refused_before_allocating():
    pid = _pid("storage", "0", "float32", "cpu", 10 ** 12)
    pkl = _pickle_with_storage(_Rebuild(pid, 0, (4,), (1,), "float32", False, None))
    with pytest.raises(RuntimeError, match="holds 16 bytes, expected 4000000000000"):
        plugtorch.load(io.BytesIO(_zip(_entries(pkl))))
    data = _set_central_sizes(_zip(_entries()), "archive/data/0", 2 ** 32 - 2)
    with pytest.raises(RuntimeError, match="declares 4294967294 bytes, more than the file"):
        plugtorch.load(io.BytesIO(data))


def test_big_endian_checkpoint_loads():
    raw = np.array([1.5, -2.0], dtype=">f4").tobytes()
    pkl = _pickle_with_storage(_Rebuild(_pid("storage", "0", "float32", "cpu", 2), 0, (2,),
                                        (1,), "float32", False, None))
    data = _zip(_entries(pkl, [("0", raw)], byteorder=b"big"))
    assert plugtorch.load(io.BytesIO(data)).tolist() == [1.5, -2.0]


# ----------------------------------------------------------------------------- atomic save

class Bomb:
    def __reduce__(self):
        raise RuntimeError("pickling failed half way")


def _leftovers(directory, keep):
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


def test_crash_while_pickling_keeps_the_old_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    plugtorch.save({"w": plugtorch.ones(3)}, path)
    with pytest.raises(RuntimeError, match="pickling failed half way"):
        plugtorch.save([plugtorch.zeros(100), Bomb()], path)
    assert plugtorch.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
    assert _leftovers(tmp_path, "ckpt.pt") == []


def test_crash_while_writing_storages_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    plugtorch.save({"w": plugtorch.ones(3)}, str(path))
    calls = []
    real = serialization._storage_bytes

    def failing(storage):
        calls.append(storage)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(storage)

    monkeypatch.setattr(serialization, "_storage_bytes", failing)
    with pytest.raises(OSError, match="disk full"):
        plugtorch.save([plugtorch.zeros(10), plugtorch.zeros(20)], str(path))
    monkeypatch.undo()
    assert plugtorch.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
    assert _leftovers(tmp_path, "ckpt.pt") == []


def test_save_replaces_and_keeps_permissions(tmp_path):
    path = tmp_path / "ckpt.pt"
    plugtorch.save(plugtorch.ones(2), path)
    os.chmod(path, 0o640)
    plugtorch.save(plugtorch.zeros(2), path)
    assert plugtorch.load(path).tolist() == [0.0, 0.0]
    assert os.stat(path).st_mode & 0o777 == 0o640
    with pytest.raises(RuntimeError, match="parent directory .* does not exist"):
        plugtorch.save(1, tmp_path / "missing" / "x.pt")


def _dead_pid():
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_killed_save_leaves_a_temporary_file_the_next_save_removes(tmp_path):
    import signal
    import subprocess
    import sys
    path = tmp_path / "ckpt.pt"
    plugtorch.save({"w": plugtorch.ones(3)}, path)
    killed = subprocess.run([sys.executable, "-c", f"""
import os, signal, plugtorch
class Killed:
    def __reduce__(self):
        os.kill(os.getpid(), signal.SIGKILL)
plugtorch.save([plugtorch.zeros(1000), Killed()], {str(path)!r})
"""], timeout=60)
    assert killed.returncode == -signal.SIGKILL
    left = _leftovers(tmp_path, "ckpt.pt")
    assert len(left) == 1 and left[0].startswith(".ckpt.pt.") and left[0].endswith(".tmp")
    assert plugtorch.load(path)["w"].tolist() == [1.0, 1.0, 1.0]       # the save was atomic
    plugtorch.save({"w": plugtorch.zeros(2)}, path)
    assert _leftovers(tmp_path, "ckpt.pt") == []
    assert plugtorch.load(path)["w"].tolist() == [0.0, 0.0]


def test_save_removes_only_stale_temporaries_of_its_target(tmp_path):
    import socket
    host, dead = socket.gethostname(), _dead_pid()
    stale = [f".ckpt.pt.{host}.{dead}.abcd_123.tmp", f".ckpt.pt.{host}.{dead}.zzzzzzzz.tmp"]
    kept = [f".ckpt.pt.{host}.{os.getpid()}.abcd_123.tmp",     # a save running here
            f".ckpt.pt.{host}.{os.getppid()}.abcd_123.tmp",    # ... or in another process
            f".ckpt.pt.other-host.{dead}.abcd_123.tmp",        # a shared file system
            f".other.pt.{host}.{dead}.abcd_123.tmp",           # another target
            f".ckpt.pt.x.{host}.{dead}.abcd_123.tmp",          # ... whose name extends ours
            f".ckpt.pt.{host}.{dead}.notours.tmp", "notes.txt"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"partial")
    plugtorch.save(plugtorch.ones(2), tmp_path / "ckpt.pt")
    assert _leftovers(tmp_path, "ckpt.pt") == sorted(kept)
    assert plugtorch.load(tmp_path / "ckpt.pt").tolist() == [1.0, 1.0]


# ----------------------------------------------------------------------------- damage

def _saved_bytes():
    buf = io.BytesIO()
    plugtorch.save({"w": plugtorch.arange(64.0), "b": plugtorch.ones(8)}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("keep", [0, 10, 0.5, -1])
def test_truncated_file_raises(tmp_path, keep):
    data = _saved_bytes()
    n = keep if isinstance(keep, int) and keep >= 0 else (
        len(data) - 1 if keep == -1 else int(len(data) * keep))
    path = tmp_path / "cut.pt"
    path.write_bytes(data[:n])
    with pytest.raises(RuntimeError, match="truncated or corrupted"):
        plugtorch.load(path)


def test_flipped_byte_in_tensor_data_raises():
    data = bytearray(_saved_bytes())
    at = data.index(np.arange(64, dtype=np.float32).tobytes()[160:168])   # inside storage "w"
    data[at] ^= 0xFF
    with pytest.raises(RuntimeError, match="Bad CRC-32.*truncated or corrupted"):
        plugtorch.load(io.BytesIO(bytes(data)))


def test_foreign_files_raise():
    with pytest.raises(RuntimeError, match="not a readable zip archive"):
        plugtorch.load(io.BytesIO(pickle.dumps({"a": 1})))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("other/file", b"x")
    buf.seek(0)
    with pytest.raises(RuntimeError, match="other/data.pkl' is missing"):
        plugtorch.load(buf)


# ----------------------------------------------------------------------------- file objects

class _Stream:
    """A read-only, non-seekable stream (like a pipe)."""

    def __init__(self, data):
        self._buf = io.BytesIO(data)

    def read(self, n=-1):
        return self._buf.read(n)

    def seekable(self):
        return False


def test_file_objects_and_paths(tmp_path):
    x = plugtorch.arange(5)
    assert plugtorch.load(_Stream(_saved_bytes()))["b"].tolist() == [1.0] * 8
    with open(tmp_path / "f.pt", "wb") as fh:
        plugtorch.save(x, fh)
    with open(tmp_path / "f.pt", "rb") as fh:
        assert plugtorch.load(fh).tolist() == [0, 1, 2, 3, 4]
    plugtorch.save(x, tmp_path / "p.pt")                       # os.PathLike
    assert plugtorch.load(str(tmp_path / "p.pt")).tolist() == [0, 1, 2, 3, 4]
