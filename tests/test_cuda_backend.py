"""The cuda backend (backends/cuda/plugtorch_cuda): registration, honest availability and its
kernel table on any machine (CuPy faked where needed). The runtime is tested in
test_cuda_runtime.py, ops over the fake CuPy in test_cuda_ops.py, a real GPU in
test_gpu_cuda.py."""
import sys

import pytest

import plugtorch
from plugtorch import _dispatch
from plugtorch_cuda.backend import CudaBackend, NOT_INSTALLED

import _fake_cupy


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
    assert plugtorch.ones(2).is_cuda is False
    for make in (lambda: plugtorch.ones(2).to("cuda"), lambda: plugtorch.ones(2).cuda(),
                 lambda: plugtorch.tensor([1.0], device="cuda:0"),
                 lambda: plugtorch.nn.Linear(2, 2).cuda()):
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


def test_kernel_table_is_the_library_launchers_plus_cublas(monkeypatch):
    """Every launcher of the shared kernel library is in the cuda table (matmul of floats
    goes to cuBLAS, of integers to the library's kernel), and every primitive has a kernel
    of its own: nothing falls back to the CPU or decomposes."""
    from plugtorch_kernels.launch import kernel_table
    _, backend = _fake_cupy.install(monkeypatch, count=1)
    library = kernel_table(backend)
    assert set(library) <= set(backend.kernels)
    assert all(backend.kernels[n].__module__ == library[n].__module__ for n in library
               if n != "bmm")
    assert backend.kernels["bmm"].__module__ == "plugtorch_cuda.kernels"
    _dispatch.validate_kernels(backend, "plugtorch_cuda")
    report = _dispatch.coverage(backend)
    assert report["fallback"] == [] and report["decomposed"] == []
    assert sorted(report["required"]) == sorted(plugtorch.backends.REQUIRED)
    assert backend.dtypes == frozenset(DTYPES)


def test_every_runtime_method_of_the_protocol_is_implemented():
    from plugtorch_kernels.runtime import Runtime as Protocol
    from plugtorch_cuda.runtime import Runtime
    assert not Runtime.__abstractmethods__
    assert set(Protocol.__abstractmethods__) <= set(vars(Runtime))


DTYPES = [plugtorch.bool, plugtorch.uint8, plugtorch.int8, plugtorch.int16, plugtorch.int32,
          plugtorch.int64, plugtorch.float16, plugtorch.float32, plugtorch.float64]
