"""Per-op framework overhead on tiny tensors (10 float32): plugtorch on each backend, numpy,
and PyTorch where installed. Compare ratios within one run: the machine is shared and noisy.

    pytest bench/test_overhead.py --benchmark-only --benchmark-group-by=group
"""
import numpy as np
import pytest

import plugtorch
from plugtorch import _dispatch

torch = None
try:  # comparison only; plugtorch never depends on PyTorch
    import torch  # noqa: F811
    torch.set_num_threads(1)
except ImportError:
    pass

N = 10
BACKENDS = plugtorch.backends.available()


def _pair(dev):
    rng = np.random.default_rng(0)
    a = plugtorch.tensor(rng.standard_normal(N), dtype=plugtorch.float32, device=dev)
    b = plugtorch.tensor(rng.standard_normal(N), dtype=plugtorch.float32, device=dev)
    return a, b


@pytest.mark.benchmark(group="add-10")
@pytest.mark.parametrize("dev", BACKENDS)
def test_add_plugtorch(benchmark, dev):
    a, b = _pair(dev)
    benchmark(lambda: a + b)


@pytest.mark.benchmark(group="add-10")
def test_add_numpy(benchmark):
    a = np.ones(N, np.float32)
    b = np.ones(N, np.float32)
    benchmark(lambda: a + b)


@pytest.mark.benchmark(group="add-10")
def test_add_torch(benchmark):
    if torch is None:
        pytest.skip("PyTorch not installed")
    a, b = torch.ones(N), torch.ones(N)
    benchmark(lambda: a + b)


@pytest.mark.benchmark(group="mul-sum-backward-10")
@pytest.mark.parametrize("dev", BACKENDS)
def test_fwd_bwd_plugtorch(benchmark, dev):
    a, b = _pair(dev)
    a.requires_grad_()

    def step():
        (a * b).sum().backward()
    benchmark(step)


@pytest.mark.benchmark(group="mul-sum-backward-10")
def test_fwd_bwd_torch(benchmark):
    if torch is None:
        pytest.skip("PyTorch not installed")
    a = torch.ones(N, requires_grad=True)
    b = torch.ones(N)

    def step():
        (a * b).sum().backward()
    benchmark(step)


@pytest.mark.benchmark(group="dispatch")
def test_dispatch_lookup(benchmark):
    """The per-op dispatch cost itself: the cached lookup of the kernel for a tensor."""
    a, _ = _pair("cpu")
    benchmark(_dispatch.kernel, "add", a)
