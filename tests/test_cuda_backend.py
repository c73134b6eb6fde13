"""The cuda backend (backends/cuda/plugtorch_cuda): registration and honest availability on
any machine (CuPy faked where needed), and storage, kernels and memory on a real GPU."""
import sys

import numpy as np
import pytest

import plugtorch
from plugtorch import _dispatch
from plugtorch_cuda.backend import CudaBackend, NOT_INSTALLED

import _fake_cupy

requires_gpu = pytest.mark.skipif(not plugtorch.cuda.is_available(),
                                  reason="needs a CUDA device and CuPy")


def _entry(name):
    return next(b for b in plugtorch.backends.list() if b["name"] == name)


# ----------------------------------------------------------------------------- availability

def test_registered_through_its_entry_point():
    from importlib import metadata
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="plugtorch.backends")}
    assert eps.get("cuda") == "plugtorch_cuda"
    entry = _entry("cuda")
    assert entry["plugin"] == "cuda (plugtorch_cuda)"
    assert entry["available"] == plugtorch.cuda.is_available()


@pytest.mark.skipif(plugtorch.cuda.is_available(), reason="a CUDA device is available")
def test_listed_unavailable_with_reason_and_to_cuda_names_it():
    entry = _entry("cuda")
    assert entry["available"] is False and entry["devices"] == 0
    assert "CuPy" in entry["reason"]
    for make in (lambda: plugtorch.ones(2).to("cuda"), lambda: plugtorch.ones(2).cuda(),
                 lambda: plugtorch.tensor([1.0], device="cuda:0")):
        with pytest.raises(RuntimeError) as info:
            make()
        assert isinstance(info.value, plugtorch.backends.BackendUnavailable)
        assert f"backend 'cuda' is not available: {entry['reason']}" == str(info.value)


def test_cupy_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)       # `import cupy` raises ImportError
    b = CudaBackend()
    assert b.availability() == (False, NOT_INSTALLED)
    assert NOT_INSTALLED == "CuPy is not installed (pip install 'plugtorch[cuda]')"
    assert b.device_count() == 0 and b.describe() == [] and b.kernels == {}


def test_no_driver_reports_cupys_message(monkeypatch):
    msg = "cudaErrorInsufficientDriver: CUDA driver version is insufficient"
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy.make(count_error=msg))
    ok, reason = CudaBackend().availability()
    assert not ok and reason == f"CuPy cannot reach a CUDA device: {msg}"


def test_no_device_and_no_nvrtc(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy.make(count=0))
    assert CudaBackend().availability() == (False, "CuPy found no CUDA device")
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy.make(nvrtc_error="libnvrtc.so.12: "
                                                                         "cannot open"))
    ok, reason = CudaBackend().availability()
    assert not ok and "NVRTC" in reason and "libnvrtc.so.12: cannot open" in reason \
        and "pip install nvidia-cuda-nvrtc-cu12" in reason


def test_fake_devices_are_described_and_started_by_the_registry(monkeypatch):
    _, backend = _fake_cupy.install(monkeypatch, count=2)
    assert plugtorch.backends.get("cuda") is backend     # availability + kernel check passed
    assert backend.device_count() == 2 and backend.multi_device
    assert backend.describe() == [
        {"device": "cuda:0", "name": "Fake GPU 0", "memory": 2 ** 30,
         "compute_capability": "8.0", "multiprocessors": 10},
        {"device": "cuda:1", "name": "Fake GPU 1", "memory": 2 ** 31,
         "compute_capability": "8.1", "multiprocessors": 11}]
    entry = _entry("cuda")
    assert entry["available"] and entry["devices"] == 2
    with pytest.raises(RuntimeError, match="device cuda:2 does not exist: backend 'cuda' has 2"):
        plugtorch.ones(1, device="cuda:2")


def test_kernel_table_obeys_the_contract(monkeypatch):
    _, backend = _fake_cupy.install(monkeypatch, count=1)
    assert sorted(backend.kernels) == ["copy", "fill"]
    _dispatch.validate_kernels(backend, "plugtorch_cuda")
    report = _dispatch.coverage(backend)
    assert report["required"] == ["copy", "fill"]
    assert "add" in report["fallback"] and "sub" in report["decomposed"]


# ----------------------------------------------------------------------------- on a GPU

DTYPES = [plugtorch.bool, plugtorch.uint8, plugtorch.int8, plugtorch.int16, plugtorch.int32,
          plugtorch.int64, plugtorch.float16, plugtorch.float32, plugtorch.float64]


def _values(dtype, n=24):
    rng = np.random.default_rng(0)
    if dtype is plugtorch.bool:
        return rng.random(n) > 0.5
    if dtype.is_floating_point:
        return (rng.standard_normal(n) * 100).astype(dtype.np)
    info = np.iinfo(dtype.np)
    return rng.integers(info.min, info.max, n, dtype=dtype.np, endpoint=True)


@requires_gpu
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_gpu_round_trip(dtype):
    host = _values(dtype).reshape(4, 6)
    t = plugtorch.from_numpy(host).to("cuda")
    assert t.device == plugtorch.device("cuda", plugtorch.cuda.current_device())
    np.testing.assert_array_equal(t.cpu().numpy(), host)
    # strided views read back through the copy kernel
    np.testing.assert_array_equal(t.t().cpu().numpy(), host.T)
    np.testing.assert_array_equal(t[1:, ::2].cpu().numpy(), host[1:, ::2])
    np.testing.assert_array_equal(t[2].cpu().numpy(), host[2])


@requires_gpu
def test_gpu_fill_and_copy_follow_the_contract():
    t = plugtorch.zeros(4, 5, device="cuda")
    t[:, 1::2].fill_(2.5)
    ref = np.zeros((4, 5), np.float32)
    ref[:, 1::2] = 2.5
    np.testing.assert_array_equal(t.cpu().numpy(), ref)
    x = plugtorch.tensor([-2.7, -0.5, 0.0, 0.5, 3.9], device="cuda")
    assert x.to(plugtorch.int32).cpu().tolist() == [-2, 0, 0, 0, 3]     # truncation
    assert x.to(plugtorch.bool).cpu().tolist() == [True, True, False, True, True]
    big = plugtorch.full((3,), 2 ** 62 + 1, dtype=plugtorch.int64, device="cuda")
    assert big.cpu().tolist() == [2 ** 62 + 1] * 3


@requires_gpu
def test_gpu_memory_stats_follow_allocations():
    plugtorch.cuda.synchronize()
    before = plugtorch.cuda.memory_allocated()
    t = plugtorch.empty(1 << 20, dtype=plugtorch.float32, device="cuda")
    assert plugtorch.cuda.memory_allocated() - before >= 4 << 20
    assert plugtorch.cuda.max_memory_allocated() >= before + (4 << 20)
    assert plugtorch.cuda.memory_reserved() >= plugtorch.cuda.memory_allocated()
    del t
    assert plugtorch.cuda.memory_allocated() == before
    plugtorch.cuda.reset_peak_memory_stats()
    assert plugtorch.cuda.max_memory_allocated() == before
    plugtorch.cuda.empty_cache()
    assert plugtorch.cuda.memory_reserved() >= plugtorch.cuda.memory_allocated()


@requires_gpu
def test_gpu_streams_events_and_device_info():
    s = plugtorch.cuda.Stream()
    start, end = plugtorch.cuda.Event(enable_timing=True), plugtorch.cuda.Event(enable_timing=True)
    with plugtorch.cuda.stream(s):
        start.record()
        t = plugtorch.ones(1 << 16, device="cuda")
        end.record()
    end.synchronize()
    assert end.query() and s.query()
    assert start.elapsed_time(end) >= 0.0
    assert t.cpu().numpy().sum() == 1 << 16
    p = plugtorch.cuda.get_device_properties()
    assert p.total_memory > 0 and p.major >= 3 and p.multi_processor_count > 0
    assert plugtorch.cuda.get_device_name() == p.name


# ----------------------------------------------------------------------------- fake memory
# The fake CuPy's device memory is host memory, so these check the backend's own logic
# (allocation, uploads, downloads of strided views, the copy and fill kernels' view
# arithmetic) on any machine; test_gpu_* check the same on a real device.

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_round_trip_over_fake_memory(monkeypatch, dtype):
    _, backend = _fake_cupy.install(monkeypatch, count=1)
    host = _values(dtype).reshape(4, 6)
    t = plugtorch.from_numpy(host).to("cuda")
    assert t.device == plugtorch.device("cuda:0") and t.dtype is dtype
    np.testing.assert_array_equal(t.cpu().numpy(), host)
    np.testing.assert_array_equal(t.t().cpu().numpy(), host.T)
    np.testing.assert_array_equal(t[1:, ::2].cpu().numpy(), host[1:, ::2])
    np.testing.assert_array_equal(t[2].cpu().numpy(), host[2])
    assert plugtorch.cuda.memory_allocated() >= host.nbytes
    assert plugtorch.empty(0, 3, dtype=dtype, device="cuda").cpu().numpy().shape == (0, 3)


def test_fill_and_copy_over_fake_memory(monkeypatch):
    _fake_cupy.install(monkeypatch, count=1)
    t = plugtorch.zeros(4, 5, device="cuda")
    t[:, 1::2].fill_(2.5)
    ref = np.zeros((4, 5), np.float32)
    ref[:, 1::2] = 2.5
    np.testing.assert_array_equal(t.cpu().numpy(), ref)
    x = plugtorch.tensor([-2.7, -0.5, 0.0, 0.5, 3.9], device="cuda")
    assert x.to(plugtorch.int32).cpu().tolist() == [-2, 0, 0, 0, 3]
    assert x.to(plugtorch.bool).cpu().tolist() == [True, True, False, True, True]
    big = plugtorch.full((3,), 2 ** 62 + 1, dtype=plugtorch.int64, device="cuda")
    assert big.cpu().tolist() == [2 ** 62 + 1] * 3
