"""Training steps on OpenCL run entirely on the device: no CPU fallback and no host transfer
between the start of a step and the read of its loss (the transfer and fallback counters of
plugtorch.debug prove it). The first step may upload constant index tables (pooling), which
are cached per device; every step after it must transfer nothing."""
import pytest

import plugtorch as torch
from plugtorch import nn
from plugtorch import debug

if "opencl" not in torch.backends.available():
    pytest.skip("no OpenCL device (install pyopencl[pocl])", allow_module_level=True)

DEV = "opencl"


def _mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32),
                         nn.ReLU(), nn.Linear(32, 10))


def _cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        nn.Dropout(0.1), nn.Linear(32, 10))


def _steps(model, optimizer, n=3):
    torch.manual_seed(0)
    x = torch.randn(16, 1, 8, 8, device=DEV)
    y = torch.randint(0, 10, (16,), device=DEV)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(n):
        debug.reset_counters()
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        assert debug.fallbacks(DEV) == {}, f"CPU fallbacks in a training step: {debug.counters()}"
        if losses:
            assert debug.transfers(DEV) == 0, \
                f"host transfers in a training step: {debug.counters()}"
        losses.append(loss.item())       # the one read, after the step
    return losses


@pytest.mark.parametrize("make,opt", [
    (_mlp, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    (_cnn, lambda p: torch.optim.Adam(p, lr=1e-2)),
], ids=["mlp-sgd", "cnn-adam"])
def test_training_step_stays_on_device(make, opt):
    torch.manual_seed(0)
    model = make().to(DEV)
    losses = _steps(model, opt(model.parameters()))
    assert losses[-1] < losses[0]


def test_device_step_matches_cpu_step():
    torch.manual_seed(0)
    ref = _cnn()
    dev = _cnn()
    dev.load_state_dict(ref.state_dict())
    ref.eval()
    dev.eval()
    dev.to(DEV)
    x = torch.randn(4, 1, 8, 8)
    out_cpu = ref(x)
    out_dev = dev(x.to(DEV)).cpu()
    assert (out_cpu - out_dev).abs().max().item() < 1e-4
