"""load never runs code from a file by default, save is atomic, damage is detected
(NOTE [checkpoint format], NOTE [weights_only] in plugtorch/serialization.py).

Crafted files are built by hand here (a zip with the format entries and a hostile pickle),
so the tests do not depend on what `save` would write.
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
    obj = {"a": [1, 2.5, "s", None, True], "b": (b"xy", {3, 4}, frozenset([5])),
           "c": collections.OrderedDict(z=1), "d": complex(1, 2), "e": slice(1, 5)}
    assert plugtorch.load(_archive(pickle.dumps(obj, protocol=protocol))) == obj


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
    with pytest.raises(RuntimeError, match="archive/format' is missing"):
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
