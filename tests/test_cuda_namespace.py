"""`plugtorch.cuda` on every machine: what it answers without a GPU, and its device,
seed, memory and stream logic over the cuda backend started on a fake CuPy."""
import importlib.util

import pytest

import plugtorch
from plugtorch.cuda import CudaUnavailableError

import _fake_cupy

NO_CUPY = importlib.util.find_spec("cupy") is None
INSTALL_HINT = "pip install 'plugtorch[cuda]'"


# ----------------------------------------------------------------------------- no GPU

@pytest.mark.skipif(plugtorch.cuda.is_available(), reason="a CUDA device is available")
def test_without_gpu_queries_answer_false_and_zero():
    assert plugtorch.cuda.is_available() is False
    assert plugtorch.cuda.device_count() == 0
    assert plugtorch.cuda.is_initialized() is False
    assert plugtorch.cuda.is_bf16_supported() is False
    plugtorch.cuda.empty_cache()                 # nothing to free: a no-op, as in PyTorch
    device = "cuda" if plugtorch.cuda.is_available() else "cpu"
    assert plugtorch.ones(2, device=device).sum().item() == 2.0


@pytest.mark.skipif(plugtorch.cuda.is_available(), reason="a CUDA device is available")
@pytest.mark.parametrize("call", [
    lambda c: c.current_device(), lambda c: c.set_device(0), lambda c: c.get_device_name(),
    lambda c: c.get_device_properties(0), lambda c: c.get_device_capability(),
    lambda c: c.synchronize(), lambda c: c.memory_allocated(),
    lambda c: c.max_memory_allocated(), lambda c: c.memory_reserved(),
    lambda c: c.reset_peak_memory_stats(), lambda c: c.Stream(), lambda c: c.current_stream(),
    lambda c: c.Event().record(), lambda c: c.init(), lambda c: c.device(0).__enter__()])
def test_without_gpu_calls_say_why(call):
    """Each call that needs a GPU raises CudaUnavailableError with the backend's reason:
    CuPy missing (with the install command), or CuPy's own message (no driver, no device)."""
    reason = next(b["reason"] for b in plugtorch.backends.list() if b["name"] == "cuda")
    with pytest.raises(CudaUnavailableError) as info:
        call(plugtorch.cuda)
    assert isinstance(info.value, RuntimeError) and reason and reason in str(info.value)
    if NO_CUPY:
        assert "CuPy is not installed" in str(info.value) and INSTALL_HINT in str(info.value)
    else:
        assert "CuPy cannot reach a CUDA device" in str(info.value)


def test_unavailability_reason_is_cupys_message(monkeypatch):
    _fake_cupy.install(monkeypatch, count_error="cudaErrorNoDevice: no CUDA-capable device")
    assert plugtorch.cuda.is_available() is False
    assert plugtorch.cuda.device_count() == 0
    with pytest.raises(CudaUnavailableError, match="get_device_name: .*cudaErrorNoDevice: "
                                                   "no CUDA-capable device"):
        plugtorch.cuda.get_device_name(0)


def test_unregistered_backend_is_explained(monkeypatch):
    monkeypatch.delitem(plugtorch.backends._entries, "cuda", raising=False)
    monkeypatch.setattr(plugtorch._tensor, "_DEVICES", {})
    assert plugtorch.cuda.is_available() is False
    with pytest.raises(CudaUnavailableError, match="synchronize: .*no backend is registered "
                                                   "for device type 'cuda'"):
        plugtorch.cuda.synchronize()


def test_event_needs_no_gpu_until_recorded():
    e = plugtorch.cuda.Event(enable_timing=True)
    assert e.query() is True                     # nothing recorded: nothing pending
    e.synchronize()
    with pytest.raises(RuntimeError, match="must be recorded"):
        e.elapsed_time(plugtorch.cuda.Event(enable_timing=True))


def test_seeding_works_without_gpu_and_reaches_cuda_generators():
    from plugtorch._generator import generator_for
    plugtorch.cuda.manual_seed(1234)
    assert plugtorch.cuda.initial_seed() == 1234
    assert generator_for(plugtorch.device("cuda", 0), None).initial_seed() == 1234
    plugtorch.cuda.manual_seed_all(99)
    assert plugtorch.cuda.initial_seed() == 99
    state = plugtorch.cuda.get_rng_state()
    plugtorch.cuda.manual_seed(5)
    plugtorch.cuda.set_rng_state(state)
    assert plugtorch.cuda.initial_seed() == 99
    s = plugtorch.cuda.seed()
    assert s is None and plugtorch.cuda.initial_seed() != 99
    with pytest.raises(TypeError, match="expected an int seed"):
        plugtorch.cuda.manual_seed(1.5)
    assert plugtorch.initial_seed() == plugtorch.default_generator.initial_seed()


def test_cudnn_flags_are_accepted_and_restored():
    cudnn = plugtorch.backends.cudnn
    assert (cudnn.benchmark, cudnn.deterministic, cudnn.enabled, cudnn.allow_tf32) == \
        (False, False, True, True)
    with cudnn.flags(enabled=True, benchmark=True, deterministic=True, allow_tf32=False):
        assert (cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == (True, True, False)
    assert (cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == (False, False, True)
    assert cudnn.is_available() is False and cudnn.version() is None


# ----------------------------------------------------------------------------- fake devices

def test_devices_and_properties_over_fake_cupy(monkeypatch):
    _fake_cupy.install(monkeypatch, count=2)
    cuda = plugtorch.cuda
    assert cuda.is_available() and cuda.device_count() == 2 and cuda.is_initialized()
    assert cuda.get_device_name() == "Fake GPU 0"
    assert cuda.get_device_name("cuda:1") == "Fake GPU 1"
    p = cuda.get_device_properties(plugtorch.device("cuda", 1))
    assert (p.name, p.total_memory, p.major, p.minor, p.multi_processor_count) == \
        ("Fake GPU 1", 2 ** 31, 8, 1, 11)
    assert cuda.get_device_capability(1) == (8, 1)
    with pytest.raises(ValueError, match="invalid device index 2; there are 2 CUDA"):
        cuda.get_device_name(2)
    with pytest.raises(ValueError, match="expected a cuda device, got cpu"):
        cuda.get_device_name("cpu")


def test_set_device_changes_what_cuda_means(monkeypatch):
    fake, _ = _fake_cupy.install(monkeypatch, count=2)
    cuda = plugtorch.cuda
    from plugtorch._tensor import resolve_device
    assert cuda.current_device() == 0
    assert resolve_device("cuda")[0] == plugtorch.device("cuda:0")
    cuda.set_device(1)
    assert cuda.current_device() == 1 and fake.current[0] == 1
    assert resolve_device("cuda")[0] == plugtorch.device("cuda:1")
    with cuda.device(0):
        assert cuda.current_device() == 0
        assert resolve_device("cuda")[0] == plugtorch.device("cuda:0")
    assert cuda.current_device() == 1
    with cuda.device(None):
        assert cuda.current_device() == 1
    cuda.synchronize()
    cuda.synchronize(0)
    assert [c for c in fake.calls if c[0] == "deviceSynchronize"] == \
        [("deviceSynchronize", 1), ("deviceSynchronize", 0)]


def test_memory_stats_come_from_the_pool(monkeypatch):
    fake, backend = _fake_cupy.install(monkeypatch, count=2)
    cuda = plugtorch.cuda
    backend.pool.used[1], backend.pool.total[1] = 4096, 8192
    assert cuda.memory_allocated(1) == 4096 and cuda.memory_reserved(1) == 8192
    assert cuda.memory_allocated(0) == 0
    assert cuda.max_memory_allocated(1) == 4096
    backend.pool.used[1] = 1024                   # tensors freed: the peak stays
    assert cuda.memory_allocated(1) == 1024 and cuda.max_memory_allocated(1) == 4096
    cuda.reset_peak_memory_stats(1)
    assert cuda.max_memory_allocated(1) == 1024
    cuda.empty_cache()
    assert ("free_all_blocks", 0) in fake.calls and ("free_all_blocks", 1) in fake.calls
    assert cuda.memory_reserved(1) == 1024


def test_streams_and_events_over_fake_cupy(monkeypatch):
    fake, _ = _fake_cupy.install(monkeypatch, count=2)
    cuda = plugtorch.cuda
    s = cuda.Stream(device=1)
    assert s.device == plugtorch.device("cuda:1") and s.query() is True
    assert cuda.current_stream() == cuda.default_stream() and cuda.current_stream() != s
    with cuda.stream(s) as got:
        assert got is s and cuda.current_device() == 1
    assert cuda.current_device() == 0
    assert ("stream.enter", 1) in fake.calls and ("stream.exit", 1) in fake.calls
    start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
    start.record(s)
    end.record(s)
    assert end.elapsed_time(start) == -1.5 and start.elapsed_time(end) == 1.5
    s.wait_event(end)
    assert ("wait_event", 1, end._handle.event.time) in fake.calls
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        cuda.Event().elapsed_time(end)
    with cuda.stream(None) as none:
        assert none is None
