"""Per-op framework cost beside its floor: the cached kernel lookup of the dispatcher, and
numpy doing the `add-10-x100` workload's adds directly (plugtorch on each backend and PyTorch
run that workload in test_workloads.py, in the same group).

    pytest bench/ --benchmark-only --benchmark-group-by=group
"""
import numpy as np
import pytest

import plugtorch
from plugtorch import _dispatch


@pytest.mark.benchmark(group="add-10-x100")
def test_add_numpy(benchmark):
    a = np.ones(10, np.float32)
    b = np.ones(10, np.float32)

    def run():
        for _ in range(100):
            c = a + b
        return c
    benchmark(run)


@pytest.mark.benchmark(group="dispatch")
def test_dispatch_lookup(benchmark):
    """The per-op dispatch cost itself: the cached lookup of the kernel for a tensor."""
    a = plugtorch.ones(10)
    benchmark(_dispatch.kernel, "add", a)


# ----------------------------------------------------------------------------- device launch

def _opencl_add_kernel():
    """(runtime, cached kernel, its arguments) of the OpenCL float32 add on 10 elements."""
    if "opencl" not in plugtorch.backends.available():
        pytest.skip("no OpenCL device")
    from plugtorch.backends import buffer
    from plugtorch_kernels.tuning import LOCAL
    a = plugtorch.ones(10, device="opencl")
    rt = a._storage.backend.runtimes[a.device.index]
    ks = rt.program(("binary", "add", plugtorch.float32, plugtorch.float32, "tt"))
    return rt, ks["k_c"], ((64,), LOCAL, buffer(a), 0, buffer(a), 0, buffer(a), 0, 10, 1)


@pytest.mark.benchmark(group="launch")
def test_opencl_launch_x100(benchmark):
    """100 `Runtime.launch` calls of a cached kernel on 10 floats, then one synchronize:
    the cost of one launch is a round / 100 (the goal is at most 8 us)."""
    rt, k, args = _opencl_add_kernel()
    launch = rt.launch

    def run():
        for _ in range(100):
            launch(k, *args)
        rt.synchronize()
    benchmark(run)


@pytest.mark.benchmark(group="launch")
def test_opencl_launch_and_wait(benchmark):
    """One launch and a synchronize: the latency of a round trip to the device."""
    rt, k, args = _opencl_add_kernel()

    def run():
        rt.launch(k, *args)
        rt.synchronize()
    benchmark(run)
