"""save / load round trips on the backend under test (NOTE [checkpoint format]).

The reference is the saved object itself: values compared bit for bit on the host (numpy),
geometry (shape, stride, offset) and storage sharing compared exactly.
"""
import collections
import io

import numpy as np
import pytest

import plugtorch
from plugtorch import _dtype as D
from plugtorch._tensor import resolve_device, host_array


def _round_trip(obj, **load_kwargs):
    buf = io.BytesIO()
    plugtorch.save(obj, buf)
    buf.seek(0)
    return plugtorch.load(buf, **load_kwargs)


def _values(dtype, rng):
    if dtype is D.bool:
        return rng.random((3, 4)) < 0.5
    if dtype.is_floating_point:
        v = rng.standard_normal((3, 4)).astype(dtype.np)
        v.flat[:3] = [np.inf, -0.0, np.nan]
        return v
    info = np.iinfo(dtype.np)
    v = rng.integers(info.min, info.max, (3, 4), dtype=dtype.np, endpoint=True)
    v.flat[:2] = [info.min, info.max]
    return v


def _same_bits(t, expected):
    got = np.asarray(host_array(t))
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got.view(np.uint8), np.ascontiguousarray(expected).view(
        np.uint8))


def _dtypes(device):
    backend = resolve_device(device)[1]
    return [d for d in D.ALL if d in backend.dtypes]


def test_round_trip_every_dtype(device):
    rng = np.random.default_rng(0)
    saved = {d.name: plugtorch.tensor(_values(d, rng), device=device) for d in _dtypes(device)}
    loaded = _round_trip(saved)
    assert list(loaded) == list(saved)
    for name, t in saved.items():
        back = loaded[name]
        assert back.device == t.device and back.dtype is t.dtype
        assert tuple(back.shape) == tuple(t.shape)
        _same_bits(back, np.asarray(host_array(t)))


def test_scalars_empty_and_requires_grad(device):
    x = plugtorch.tensor(2.5, device=device)
    e = plugtorch.zeros(0, 3, device=device)
    w = plugtorch.ones(2, device=device).requires_grad_()
    a, b, c = _round_trip([x, e, w])
    assert a.shape == () and a.item() == 2.5
    assert tuple(b.shape) == (0, 3)
    assert c.requires_grad and c.is_leaf and not a.requires_grad


def test_views_share_one_storage_after_load(device):
    base = plugtorch.arange(24.0, device=device).reshape(4, 6)
    views = {"base": base, "t": base.t(), "slice": base[1:, ::2],
             "narrow": base.narrow(1, 2, 3), "row": base[2]}
    loaded = _round_trip(views)
    storage = loaded["base"]._storage
    for name, v in views.items():
        back = loaded[name]
        assert back._storage is storage, name
        assert back.stride() == v.stride() and back.storage_offset() == v.storage_offset()
        np.testing.assert_array_equal(host_array(back), host_array(v))
    loaded["base"].fill_(-1.0)                   # a write through one is seen by all
    np.testing.assert_array_equal(host_array(loaded["slice"]), np.full((3, 3), -1.0))
    buf = io.BytesIO()
    plugtorch.save(views, buf)
    assert buf.getvalue().count(b"archive/data/") == 2     # one storage: local + central


def test_map_location_forms(device):
    t = plugtorch.arange(6, device=device).reshape(2, 3)
    location = str(t.device)
    forms = ["cpu", plugtorch.device("cpu"), {location: "cpu"},
             {t.device.type: "cpu"}, lambda storage, loc: storage]
    for form in forms:
        back = _round_trip(t, map_location=form)
        assert back.device.type == "cpu", form
        assert back.tolist() == [[0, 1, 2], [3, 4, 5]]
    back = _round_trip(t, map_location=lambda storage, loc: None)   # None: where it was
    assert back.device == t.device and back.tolist() == t.tolist()
    seen = []
    _round_trip(t, map_location=lambda storage, loc: seen.append(loc))
    assert seen == [location]
    on_device = _round_trip(t.cpu(), map_location=device)
    assert on_device.device == t.device and on_device.tolist() == t.tolist()
    assert _round_trip(t.cpu(), map_location={"cpu": device}).device == t.device


def test_state_dicts_round_trip(device):
    model = plugtorch.nn.Sequential(plugtorch.nn.Linear(3, 4), plugtorch.nn.ReLU(),
                                    plugtorch.nn.Linear(4, 2)).to(device)
    opt = plugtorch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = plugtorch.ones(5, 3, device=device)
    model(x).sum().backward()
    opt.step()
    state = {"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}
    loaded = _round_trip(state)
    assert isinstance(loaded["model"], collections.OrderedDict)
    assert list(loaded["model"]) == list(state["model"]) and loaded["epoch"] == 3
    for k, v in state["model"].items():
        assert loaded["model"][k].device == v.device
        np.testing.assert_array_equal(host_array(loaded["model"][k]), host_array(v))
    buf0 = state["optim"]["state"][0]["momentum_buffer"]
    np.testing.assert_array_equal(host_array(loaded["optim"]["state"][0]["momentum_buffer"]),
                                  host_array(buf0))
    assert loaded["optim"]["param_groups"][0]["lr"] == 0.1

    fresh = plugtorch.nn.Sequential(plugtorch.nn.Linear(3, 4), plugtorch.nn.ReLU(),
                                    plugtorch.nn.Linear(4, 2)).to(device)
    fresh.load_state_dict(loaded["model"])
    np.testing.assert_array_equal(host_array(fresh(x)), host_array(model(x)))


def test_parameters_and_whole_modules(device):
    lin = plugtorch.nn.Linear(2, 2).to(device)
    p = _round_trip({"w": lin.weight})["w"]
    assert isinstance(p, plugtorch.nn.Parameter) and p.requires_grad
    whole = _round_trip(lin, weights_only=False)
    assert isinstance(whole, plugtorch.nn.Linear) and whole.weight.device == lin.weight.device
    np.testing.assert_array_equal(host_array(whole.weight), host_array(lin.weight))
    with pytest.raises(Exception, match="weights_only=False"):
        _round_trip(lin)
