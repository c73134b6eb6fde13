"""plugtorch.accelerator: PyTorch's "the accelerator, if any" API over the backends that say
they are accelerators."""
import pytest

import plugtorch
import plugtorch_minimal   # on sys.path through conftest.py


@pytest.fixture
def fake_accelerator():
    """A backend named "npu" that calls itself an accelerator, registered for one test."""
    synced = []

    class Npu(plugtorch_minimal.MinimalBackend):
        name = "npu"
        accelerator = True

        def synchronize(self, index):
            synced.append(index)

    plugtorch.backends.register(Npu())
    yield synced
    plugtorch.backends.unregister("npu")


def test_no_accelerator_here_means_cpu():
    """cpu and PoCL's CPU device are not accelerators (this machine has no GPU)."""
    acc = plugtorch.accelerator
    if any(plugtorch.backends.get(n).accelerator for n in plugtorch.backends.available()):
        pytest.skip("this machine has an accelerator")
    assert acc.is_available() is False and acc.current_accelerator() is None
    assert acc.device_count() == 0
    device = acc.current_accelerator().type if acc.is_available() else "cpu"
    assert plugtorch.ones(2, device=device).device.type == "cpu"
    with pytest.raises(RuntimeError, match="no accelerator is available here"):
        acc.synchronize()


def test_a_backend_that_is_an_accelerator_is_offered(fake_accelerator):
    acc = plugtorch.accelerator
    assert acc.is_available() and acc.device_count() == 1
    dev = acc.current_accelerator()
    assert dev == plugtorch.device("npu") and dev.type == "npu"
    assert acc.current_device_index() == 0
    x = plugtorch.ones(3, device=dev.type) * 2
    assert x.device.type == "npu" and x.tolist() == [2.0, 2.0, 2.0]
    acc.synchronize()
    assert fake_accelerator == [0]
    with pytest.raises(RuntimeError, match="no current-device setting"):
        acc.set_device_index(1)


def test_preference_order_puts_cuda_first():
    assert plugtorch.accelerator.PREFERENCE[0] == "cuda"
    assert plugtorch.backends.get("cpu").accelerator is False
