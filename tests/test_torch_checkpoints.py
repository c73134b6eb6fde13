"""PyTorch's checkpoint format, both ways (NOTE [checkpoint format], NOTE [weights_only]).

The format tests craft PyTorch-format archives by hand (zipfile and a small pickler that
writes PyTorch's global names without importing it) and run everywhere; the tests marked
`torch` exchange files with the installed PyTorch and are skipped without it.
"""
import collections
import io
import pickle
import pickletools
import struct
import zipfile

import numpy as np
import pytest

import plugtorch
from plugtorch import _dtype as D
from plugtorch._tensor import host_array


# ----------------------------------------------------------------------------- crafting files

class _Global:
    """Pickles as the global `module name`, which need not exist here."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):
        raise AssertionError("only pickled")


class _Call:
    """Pickles as func(*args), with an optional BUILD state."""

    def __init__(self, func, *args, state=None):
        self.func, self.args, self.state = func, args, state


class _Pid:
    def __init__(self, *pid):
        self.pid = pid


class _Writer(pickle._Pickler):
    dispatch = dict(pickle._Pickler.dispatch)

    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, _Pid) else None

    def reducer_override(self, obj):
        if isinstance(obj, _Call):
            return (obj.func, obj.args) + ((obj.state,) if obj.state is not None else ())
        return NotImplemented

    def _save_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())

    dispatch[_Global] = _save_global


def _pickle(obj, protocol=2):
    buf = io.BytesIO()
    _Writer(buf, protocol).dump(obj)
    return buf.getvalue()


_V2 = _Global("torch._utils", "_rebuild_tensor_v2")


def _storage(key, kind, numel, location="cpu"):
    module = "torch.storage" if kind == "UntypedStorage" else "torch"
    return _Pid("storage", _Global(module, kind), key, location, numel)


def _tensor(storage, offset, size, stride, requires_grad=False):
    return _Call(_V2, storage, offset, size, stride, requires_grad, collections.OrderedDict())


def _checkpoint(obj, storages=(), prefix="archive/", byteorder=b"little", **entries):
    """The bytes of a PyTorch-format archive holding `obj` and the (key, bytes) storages."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(prefix + "data.pkl", obj if isinstance(obj, bytes) else _pickle(obj))
        if byteorder is not None:
            zf.writestr(prefix + "byteorder", byteorder)
        for key, raw in storages:
            zf.writestr(prefix + "data/" + key, raw)
        for name, raw in entries.items():
            zf.writestr(prefix + name, raw)
        zf.writestr(prefix + "version", b"3\n")
    return buf.getvalue()


def _load(data, **kwargs):
    return plugtorch.load(io.BytesIO(data), **kwargs)


_STORAGE_NAMES = {"bool": "BoolStorage", "uint8": "ByteStorage", "int8": "CharStorage",
                  "int16": "ShortStorage", "int32": "IntStorage", "int64": "LongStorage",
                  "float16": "HalfStorage", "float32": "FloatStorage",
                  "float64": "DoubleStorage"}


def _values(dtype, rng, n=6):
    if dtype is D.bool:
        return rng.random(n) < 0.5
    if dtype.is_floating_point:
        v = rng.standard_normal(n).astype(dtype.np)
        v[:3] = [np.inf, -0.0, np.nan]
        return v
    info = np.iinfo(dtype.np)
    v = rng.integers(info.min, info.max, n, dtype=dtype.np, endpoint=True)
    v[:2] = [info.min, info.max]
    return v


def _same_bits(t, expected):
    got = np.asarray(host_array(t))
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(np.ascontiguousarray(got).reshape(-1).view(np.uint8),
                                  np.ascontiguousarray(expected).reshape(-1).view(np.uint8))


# ----------------------------------------------------------------------------- format: load

def test_every_dtype_loads_from_a_crafted_file():
    rng = np.random.default_rng(0)
    values = {d.name: _values(d, rng) for d in D.ALL}
    obj = {name: _tensor(_storage(str(i), _STORAGE_NAMES[name], 6), 0, (2, 3), (3, 1))
           for i, name in enumerate(values)}
    raw = [(str(i), v.astype(v.dtype.newbyteorder("<")).tobytes())
           for i, v in enumerate(values.values())]
    loaded = _load(_checkpoint(obj, raw))
    assert list(loaded) == list(values)
    for name, v in values.items():
        assert loaded[name].dtype is D._NAMES[name]
        _same_bits(loaded[name], v.reshape(2, 3))


@pytest.mark.parametrize("byteorder", [b"little", b"big", None])
def test_byteorder(byteorder):
    order = ">" if byteorder == b"big" else "<"      # no record: little, as PyTorch reads it
    f = np.array([1.5, -2.0, 3.25], dtype=order + "f8")
    i = np.array([-3, 2 ** 40], dtype=order + "i8")
    obj = [_tensor(_storage("0", "DoubleStorage", 3), 0, (3,), (1,)),
           _tensor(_storage("1", "LongStorage", 2), 0, (2,), (1,))]
    a, b = _load(_checkpoint(obj, [("0", f.tobytes()), ("1", i.tobytes())],
                             byteorder=byteorder))
    assert a.tolist() == [1.5, -2.0, 3.25] and b.tolist() == [-3, 2 ** 40]


def test_views_share_one_storage():
    base = np.arange(24, dtype="<f4")
    s = _storage("0", "FloatStorage", 24)
    views = {"base": ((4, 6), (6, 1), 0), "t": ((6, 4), (1, 6), 0),
             "slice": ((3, 3), (6, 2), 6), "row": ((6,), (1,), 12), "scalar": ((), (), 5)}
    obj = {k: _tensor(s, off, size, stride) for k, (size, stride, off) in views.items()}
    loaded = _load(_checkpoint(obj, [("0", base.tobytes())]))
    for k, (size, stride, off) in views.items():
        t = loaded[k]
        assert t._storage is loaded["base"]._storage, k
        assert tuple(t.shape) == size and t.stride() == stride and t.storage_offset() == off
        ref = np.lib.stride_tricks.as_strided(base[off:], size, tuple(4 * x for x in stride))
        np.testing.assert_array_equal(host_array(t), ref)
    loaded["base"].fill_(-1.0)
    np.testing.assert_array_equal(host_array(loaded["slice"]), np.full((3, 3), -1.0))


def test_parameters_and_state_dicts():
    w = np.arange(6, dtype="<f4")
    b = np.array([0.5, -0.5], dtype="<f4")
    n = np.array([7], dtype="<i8")
    param = _Call(_Global("torch._utils", "_rebuild_parameter"),
                  _tensor(_storage("0", "FloatStorage", 6), 0, (2, 3), (3, 1)), True,
                  collections.OrderedDict())
    state_dict = collections.OrderedDict(
        weight=_tensor(_storage("0", "FloatStorage", 6), 0, (2, 3), (3, 1)),
        bias=_tensor(_storage("1", "FloatStorage", 2), 0, (2,), (1,)),
        num_batches_tracked=_tensor(_storage("2", "LongStorage", 1), 0, (), ()))
    state_dict._metadata = collections.OrderedDict({"": {"version": 1}})   # as PyTorch has
    optim = {"state": {0: {"step": _tensor(_storage("3", "FloatStorage", 1), 0, (), ()),
                           "exp_avg": _tensor(_storage("0", "FloatStorage", 6), 0, (2, 3),
                                              (3, 1))}},
             "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                               "amsgrad": False, "foreach": None, "params": [0, 1]}]}
    raw = [("0", w.tobytes()), ("1", b.tobytes()), ("2", n.tobytes()),
           ("3", np.array([4.0], "<f4").tobytes())]
    loaded = _load(_checkpoint({"p": param, "model": state_dict, "optim": optim}, raw))
    p = loaded["p"]
    assert isinstance(p, plugtorch.nn.Parameter) and p.requires_grad and p.is_leaf
    assert p.tolist() == [[0, 1, 2], [3, 4, 5]]
    model = loaded["model"]
    assert isinstance(model, collections.OrderedDict) and list(model) == list(state_dict)
    assert model._metadata == {"": {"version": 1}}
    assert model["num_batches_tracked"].dtype is plugtorch.int64
    assert model["num_batches_tracked"].item() == 7 and model["bias"].tolist() == [0.5, -0.5]
    assert model["weight"]._storage is p._storage is loaded["optim"]["state"][0]["exp_avg"]._storage
    group = loaded["optim"]["param_groups"][0]
    assert group == {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False,
                     "foreach": None, "params": [0, 1]}
    assert loaded["optim"]["state"][0]["step"].item() == 4.0


def test_untyped_storage_is_typed_by_the_record():
    raw = np.array([1.0, 2.0, 3.0], "<f4").tobytes()
    v3 = _Call(_Global("torch._utils", "_rebuild_tensor_v3"),
               _storage("0", "UntypedStorage", 12), 1, (2,), (1,), False,
               collections.OrderedDict(), _Global("torch", "float32"))
    t = _load(_checkpoint(v3, [("0", raw)]))
    assert t.dtype is plugtorch.float32 and t.tolist() == [2.0, 3.0]
    as_bytes = _tensor(_storage("0", "UntypedStorage", 12), 0, (12,), (1,))
    assert _load(_checkpoint(as_bytes, [("0", raw)])).tolist() == list(raw)


def test_subclass_record_of_plain_tensor_and_parameter():
    rebuild = _Global("torch._tensor", "_rebuild_from_type_v2")
    args = (_storage("0", "FloatStorage", 2), 0, (2,), (1,), True, collections.OrderedDict())
    t, p = _load(_checkpoint(
        [_Call(rebuild, _V2, _Global("torch._tensor", "Tensor"), args, {}),
         _Call(rebuild, _V2, _Global("torch.nn.parameter", "Parameter"), args, None)],
        [("0", np.array([1.0, 2.0], "<f4").tobytes())]))
    assert type(t) is plugtorch.Tensor and t.requires_grad and t.tolist() == [1.0, 2.0]
    assert type(p) is plugtorch.nn.Parameter and p._storage is t._storage


def test_dtypes_plugtorch_lacks_are_named():
    bf16 = _tensor(_storage("0", "BFloat16Storage", 2), 0, (2,), (1,))
    with pytest.raises(pickle.UnpicklingError, match="torch.BFloat16Storage, which plugtorch "
                                                     "has no dtype for"):
        _load(_checkpoint(bf16, [("0", bytes(4))]))
    u16 = _Call(_Global("torch._utils", "_rebuild_tensor_v3"),
                _storage("0", "UntypedStorage", 4), 0, (2,), (1,), False,
                collections.OrderedDict(), _Global("torch", "uint16"))
    for weights_only in (True, False):
        with pytest.raises(pickle.UnpicklingError, match="torch.uint16, which plugtorch"):
            _load(_checkpoint(u16, [("0", bytes(4))]), weights_only=weights_only)


def test_entries_under_the_file_stem_and_dtypes_devices_sizes():
    # torch.save(obj, "model.pt") puts its entries under "model/"
    obj = [_Global("torch", "float16"), _Global("torch", "long"),
           _Call(_Global("torch", "device"), "cpu"),
           _Call(_Global("torch", "device"), "opencl", 1),
           _Call(_Global("torch", "Size"), (2, 3)),
           _tensor(_storage("0", "IntStorage", 1), 0, (1,), (1,))]
    got = _load(_checkpoint(obj, [("0", b"\x05\0\0\0")], prefix="model/"))
    assert got[:2] == [plugtorch.float16, plugtorch.int64]
    assert got[2] == plugtorch.device("cpu") and got[3] == plugtorch.device("opencl", 1)
    assert type(got[4]) is plugtorch.Size and got[4] == (2, 3) and got[5].tolist() == [5]


def test_map_location(device):
    obj = _tensor(_storage("0", "FloatStorage", 2, location="cuda:3"), 0, (2,), (1,))
    data = _checkpoint(obj, [("0", np.array([1.5, 2.5], "<f4").tobytes())])
    with pytest.raises(RuntimeError, match="saved on 'cuda:3'.*map_location='cpu'"):
        _load(data)
    t = _load(data, map_location=device)
    assert t.device == plugtorch.empty(0, device=device).device and t.tolist() == [1.5, 2.5]
    assert _load(data, map_location={"cuda": "cpu"}).device.type == "cpu"


def test_legacy_non_zip_format_is_named():
    legacy = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03."
    with pytest.raises(RuntimeError, match="PyTorch's legacy non-zip format"):
        _load(legacy)


# ----------------------------------------------------------------------------- format: save

def _globals_of(pkl):
    out, strings = set(), []
    for op, arg, _ in pickletools.genops(pkl):
        if op.name == "GLOBAL":
            out.add(arg.replace(" ", "."))
        assert op.name != "STACK_GLOBAL", "PyTorch's names are written as GLOBAL"
    return out


def test_save_writes_pytorch_layout(device):
    base = plugtorch.arange(12.0, device=device).reshape(3, 4)
    lin = plugtorch.nn.Linear(2, 3).to(device)
    obj = {"base": base, "t": base.t(), "w": lin.weight, "sd": lin.state_dict(),
           "i": plugtorch.tensor([1, 2], dtype=plugtorch.int16, device=device),
           "dtype": plugtorch.float16, "dev": plugtorch.device("cpu"),
           "size": plugtorch.Size([2, 3])}
    buf = io.BytesIO()
    plugtorch.save(obj, buf)
    data = buf.getvalue()
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = [i.filename for i in zf.infolist()]
    assert names == ["archive/data.pkl", "archive/.format_version",
                     "archive/.storage_alignment", "archive/byteorder", "archive/data/0",
                     "archive/data/1", "archive/data/2", "archive/data/3", "archive/version"]
    assert zf.read("archive/byteorder") == b"little" and zf.read("archive/version") == b"3\n"
    assert zf.read("archive/.storage_alignment") == b"64"
    for info in zf.infolist():
        assert info.compress_type == zipfile.ZIP_STORED
        if "/data/" in info.filename:
            n, m = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
            assert (info.header_offset + 30 + n + m) % 64 == 0, info.filename
    assert zf.read("archive/data/0") == np.arange(12, dtype="<f4").tobytes()
    assert _globals_of(zf.read("archive/data.pkl")) == {
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch.FloatStorage", "torch.ShortStorage", "collections.OrderedDict",
        "torch.float16", "torch.device", "torch.Size"}
    loaded = plugtorch.load(io.BytesIO(data))
    assert loaded["t"]._storage is loaded["base"]._storage
    assert loaded["sd"]["weight"]._storage is loaded["w"]._storage
    assert loaded["dtype"] is plugtorch.float16 and loaded["size"] == (2, 3)
    assert loaded["base"].device == base.device


class Tagged(plugtorch.Tensor):
    """A Tensor subclass with an attribute of its own."""


def test_tensor_subclass_round_trips_with_its_attributes():
    t = plugtorch.ones(3)
    t.__class__ = Tagged
    t.tag = "x"
    buf = io.BytesIO()
    plugtorch.save([t], buf)
    assert "torch._tensor._rebuild_from_type_v2" in _globals_of(
        zipfile.ZipFile(buf).read("archive/data.pkl"))
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="Tagged"):
        plugtorch.load(buf)
    buf.seek(0)
    (back,) = plugtorch.load(buf, weights_only=False)
    assert type(back) is Tagged and back.tag == "x" and back.tolist() == [1.0, 1.0, 1.0]


# ----------------------------------------------------------------------------- safety

def test_crafted_pytorch_file_never_runs_code(tmp_path):
    marker = tmp_path / "marker"
    evil = _Call(_Global("os", "system"), f"echo pwned > {marker}")
    data = _checkpoint({"w": evil})
    with pytest.raises(pickle.UnpicklingError, match="'os.system'.*weights_only=False would"):
        _load(data)
    assert not marker.exists()


@pytest.mark.parametrize("weights_only", [True, False])
def test_pytorch_objects_outside_the_table_are_refused(weights_only):
    whole = _Call(_Global("torch.nn.modules.linear", "Linear"))
    match = "Weights only load failed" if weights_only else "PyTorch object plugtorch cannot"
    with pytest.raises(pickle.UnpicklingError, match=match):
        _load(_checkpoint(whole), weights_only=weights_only)


def test_oversize_storage_is_refused_before_allocating():
    obj = _tensor(_storage("0", "DoubleStorage", 10 ** 12), 0, (2,), (1,))
    with pytest.raises(RuntimeError, match="holds 16 bytes, expected 8000000000000"):
        _load(_checkpoint(obj, [("0", bytes(16))]))
    untyped = _tensor(_storage("0", "UntypedStorage", 2 ** 62), 0, (2,), (1,))
    with pytest.raises(RuntimeError, match="expected 4611686018427387904"):
        _load(_checkpoint(untyped, [("0", bytes(16))]))


_RAW = [("0", np.arange(4, dtype="<f4").tobytes())]
_F4 = _storage("0", "FloatStorage", 4)
_HOOKS = collections.OrderedDict()
_BAD_RECORDS = {
    "view out of bounds": (_tensor(_F4, 2, (3,), (1,)), "invalid tensor record"),
    "negative stride": (_tensor(_F4, 3, (2,), (-1,)), "invalid tensor record"),
    "storage type a string": (_tensor(_Pid("storage", "FloatStorage", "0", "cpu", 4), 0,
                                      (4,), (1,)), "invalid storage reference"),
    "key a path": (_tensor(_storage("../0", "FloatStorage", 4), 0, (4,), (1,)),
                   "invalid storage reference"),
    "one key two dtypes": ([_tensor(_F4, 0, (4,), (1,)),
                            _tensor(_storage("0", "IntStorage", 4), 0, (4,), (1,))],
                           "storage 0 is referred to both"),
    "state on a tensor": (_Call(_V2, _F4, 0, (4,), (1,), False, _HOOKS,
                                state={"_shape": (1000,)}), "setting the state of a Tensor"),
    "subclass state sets a field": (
        _Call(_Global("torch._tensor", "_rebuild_from_type_v2"), _V2,
              _Global("torch._tensor", "Tensor"), (_F4, 0, (4,), (1,), False, _HOOKS),
              {"_shape": (1000,)}), "only new attributes"),
    "untyped bytes not whole elements": (
        _Call(_Global("torch._utils", "_rebuild_tensor_v3"), _storage("0", "UntypedStorage",
                                                                       6), 0, (1,), (1,),
              False, _HOOKS, _Global("torch", "float32")), "does not hold whole float32"),
    "parameter of a non-tensor": (_Call(_Global("torch._utils", "_rebuild_parameter"), 5,
                                        True, _HOOKS), "wraps a int"),
    "calling the Tensor class": (_Call(_Global("torch._tensor", "Tensor"), 10 ** 9),
                                 "malformed: TypeError"),
    "conjugate bit": (_Call(_V2, _F4, 0, (4,), (1,), False, _HOOKS, {"conj": True}),
                      "conjugate or negative"),
}


@pytest.mark.parametrize("what", sorted(_BAD_RECORDS))
def test_malformed_pytorch_records_are_refused(what):
    obj, match = _BAD_RECORDS[what]
    raw = _RAW if what != "untyped bytes not whole elements" else [("0", bytes(6))]
    with pytest.raises(pickle.UnpicklingError, match="^(load: |Weights only).*" + match):
        _load(_checkpoint(obj, raw))


def test_compressed_pytorch_entry_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", _pickle(_tensor(_F4, 0, (4,), (1,))))
        zf.writestr("archive/data/0", _RAW[0][1])
    with pytest.raises(RuntimeError, match="'archive/data.pkl' is compressed"):
        _load(buf.getvalue())


# ----------------------------------------------------------------------------- with PyTorch

def _torch():
    return pytest.importorskip("torch")


def _torch_dtypes(torch):
    return {d: getattr(torch, d.name) for d in D.ALL}


def test_torch_save_loads_in_plugtorch_every_dtype(tmp_path):
    torch = _torch()
    rng = np.random.default_rng(1)
    saved = {d.name: torch.from_numpy(_values(d, rng, 12).reshape(3, 4))
             for d in _torch_dtypes(torch)}
    saved["view"] = saved["float32"][1:, ::2]
    torch.save(saved, tmp_path / "all.pt")                # entries under "all/"
    loaded = plugtorch.load(tmp_path / "all.pt")
    for name, t in saved.items():
        _same_bits(loaded[name], t.numpy())
    assert loaded["view"]._storage is loaded["float32"]._storage
    assert loaded["view"].stride() == saved["view"].stride()


def test_plugtorch_save_loads_in_torch_every_dtype(tmp_path):
    torch = _torch()
    rng = np.random.default_rng(2)
    saved = {d.name: plugtorch.tensor(_values(d, rng, 12).reshape(3, 4)) for d in D.ALL}
    saved["view"] = saved["float64"].t()[1:]
    saved["param"] = plugtorch.nn.Parameter(plugtorch.ones(2))
    saved["frozen"] = plugtorch.nn.Parameter(plugtorch.ones(2), requires_grad=False)
    saved["meta"] = [plugtorch.float16, plugtorch.device("cpu"), plugtorch.Size([4])]
    plugtorch.save(saved, tmp_path / "p.pt")
    for mmap in (False, True):
        loaded = torch.load(tmp_path / "p.pt", weights_only=True, mmap=mmap)
        for d, td in _torch_dtypes(torch).items():
            assert loaded[d.name].dtype == td
            _same_bits_torch(loaded[d.name], host_array(saved[d.name]))
        assert loaded["view"].untyped_storage().data_ptr() == \
            loaded["float64"].untyped_storage().data_ptr()
        assert loaded["view"].stride() == saved["view"].stride()
        _same_bits_torch(loaded["view"], host_array(saved["view"]))
        assert isinstance(loaded["param"], torch.nn.Parameter)
        assert loaded["param"].requires_grad and not loaded["frozen"].requires_grad
        assert loaded["meta"] == [torch.float16, torch.device("cpu"), torch.Size([4])]


def _same_bits_torch(t, expected):
    got = t.detach().numpy()
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_array_equal(np.ascontiguousarray(got).reshape(-1).view(np.uint8),
                                  np.ascontiguousarray(expected).reshape(-1).view(np.uint8))


def _cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def test_model_and_optimizer_state_dicts_both_ways(tmp_path):
    torch = _torch()
    torch.manual_seed(0)
    tmodel = _cnn(torch.nn)
    topt = torch.optim.Adam(tmodel.parameters(), lr=1e-2)
    x = torch.randn(2, 1, 8, 8)
    for _ in range(2):
        topt.zero_grad()
        tmodel(x).square().mean().backward()
        topt.step()
    torch.save({"model": tmodel.state_dict(), "optim": topt.state_dict()}, tmp_path / "t.pt")

    loaded = plugtorch.load(tmp_path / "t.pt")
    pmodel = _cnn(plugtorch.nn)
    pmodel.load_state_dict(loaded["model"])
    for k, v in tmodel.state_dict().items():
        _same_bits(pmodel.state_dict()[k], v.numpy())
    tmodel.eval()
    pmodel.eval()
    np.testing.assert_allclose(host_array(pmodel(plugtorch.tensor(x.numpy()))),
                               tmodel(x).detach().numpy(), rtol=1e-5, atol=1e-6)

    # back to PyTorch, through plugtorch's own model and the loaded optimizer state
    plugtorch.save({"model": pmodel.state_dict(), "optim": loaded["optim"]}, tmp_path / "p.pt")
    back = torch.load(tmp_path / "p.pt", weights_only=True)
    fresh = _cnn(torch.nn)
    fresh.load_state_dict(back["model"])
    for k, v in tmodel.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v) and fresh.state_dict()[k].dtype == v.dtype
    tstate = topt.state_dict()
    assert back["optim"]["param_groups"] == tstate["param_groups"]
    assert back["optim"]["state"].keys() == tstate["state"].keys()
    for i, s in tstate["state"].items():
        assert back["optim"]["state"][i].keys() == s.keys()
        for k, v in s.items():
            assert torch.equal(back["optim"]["state"][i][k], v), (i, k)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=1e-2)
    fresh_opt.load_state_dict(back["optim"])
    fresh_opt.step()                            # the state is usable, not just readable


def test_plugtorch_optimizer_state_loads_into_torch(tmp_path):
    torch = _torch()
    pmodel = plugtorch.nn.Linear(3, 2)
    popt = plugtorch.optim.SGD(pmodel.parameters(), lr=0.1, momentum=0.9)
    pmodel(plugtorch.ones(4, 3)).sum().backward()
    popt.step()
    plugtorch.save({"model": pmodel.state_dict(), "optim": popt.state_dict()},
                   tmp_path / "o.pt")
    back = torch.load(tmp_path / "o.pt", weights_only=True)
    tmodel = torch.nn.Linear(3, 2)
    tmodel.load_state_dict(back["model"])
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    topt.load_state_dict(back["optim"])
    buf = popt.state_dict()["state"][0]["momentum_buffer"]
    _same_bits_torch(topt.state_dict()["state"][0]["momentum_buffer"], host_array(buf))
    assert topt.param_groups[0]["lr"] == 0.1 and topt.param_groups[0]["momentum"] == 0.9


def test_device_tensors_load_in_torch_on_cpu(device):
    torch = _torch()
    t = plugtorch.arange(6.0, device=device).reshape(2, 3)
    buf = io.BytesIO()
    plugtorch.save({"t": t}, buf)
    assert str(t.device).encode() in zipfile.ZipFile(buf).read("archive/data.pkl")
    buf.seek(0)
    back = torch.load(buf, weights_only=True, map_location="cpu")["t"]
    assert torch.equal(back, torch.arange(6.0).reshape(2, 3))
