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
