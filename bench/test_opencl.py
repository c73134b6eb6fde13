"""OpenCL benchmarks beside their CPU counterparts: SGEMM, a large elementwise add, tiny-op
launch overhead and an MLP forward + backward. Every timed round ends with a device sync, so
a round measures finished work, not just enqueued work. Compare ratios within one run: the
machine is shared and noisy.

    pytest bench/test_opencl.py --benchmark-only --benchmark-group-by=group \
        --benchmark-columns=median,min,rounds

GFLOP/s (SGEMM) and GB/s (add) are in each case's extra_info (`--benchmark-json`).
"""
import os

import numpy as np
import pytest

import plugtorch

torch = None
try:  # comparison only; plugtorch never depends on PyTorch
    import torch  # noqa: F811
except ImportError:
    pass

if "opencl" not in plugtorch.backends.available():
    pytest.skip("no OpenCL device", allow_module_level=True)

OPENCL = plugtorch.backends.get("opencl")


def _sync(dev):
    """Wait for every op queued on `dev` (a no-op on the synchronous cpu backend)."""
    if dev != "cpu":
        plugtorch.backends.get(dev).synchronize(0)


def _run(benchmark, fn, rounds, warmup=1):
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=warmup)


def _rate(benchmark, key, amount):
    """Record amount / median time (e.g. GFLOP/s) in the case's extra_info."""
    if benchmark.stats is not None:
        benchmark.extra_info[key] = round(amount / benchmark.stats.stats.median, 2)


# ----------------------------------------------------------------------------- SGEMM 1024

N = 1024
GFLOP = 2 * N ** 3 / 1e9


def _mats():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((N, N), dtype=np.float32),
            rng.standard_normal((N, N), dtype=np.float32))


@pytest.mark.benchmark(group="sgemm-1024")
def test_sgemm_opencl(benchmark):
    A, B = _mats()
    a, b = plugtorch.tensor(A, device="opencl"), plugtorch.tensor(B, device="opencl")
    c = a @ b
    # correctness of what is timed: same product as numpy in float64, to float32 rounding
    np.testing.assert_allclose(c.cpu().numpy(), A.astype(np.float64) @ B, rtol=1e-3, atol=1e-2)

    def step():
        a @ b
        _sync("opencl")
    _run(benchmark, step, rounds=8)
    _rate(benchmark, "gflops", GFLOP)


@pytest.mark.benchmark(group="sgemm-1024")
def test_sgemm_numpy(benchmark):
    A, B = _mats()
    _run(benchmark, lambda: A @ B, rounds=8)
    _rate(benchmark, "gflops", GFLOP)


@pytest.mark.benchmark(group="sgemm-1024")
def test_sgemm_torch(benchmark):
    if torch is None:
        pytest.skip("PyTorch not installed")
    A, B = _mats()
    a, b = torch.from_numpy(A), torch.from_numpy(B)
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        _run(benchmark, lambda: a @ b, rounds=8)
    finally:
        torch.set_num_threads(threads)
    _rate(benchmark, "gflops", GFLOP)


# ----------------------------------------------------------------------------- add, 16M float32

BIG = 1 << 24
GB_MOVED = 3 * 4 * BIG / 1e9     # read two operands, write one


@pytest.mark.benchmark(group="add-16M")
def test_add16m_opencl(benchmark):
    x = plugtorch.ones(BIG, device="opencl")
    y = plugtorch.ones(BIG, device="opencl")

    def step():
        x + y
        _sync("opencl")
    _run(benchmark, step, rounds=10)
    _rate(benchmark, "GB/s", GB_MOVED)


@pytest.mark.benchmark(group="add-16M")
def test_add16m_numpy(benchmark):
    x = np.ones(BIG, np.float32)
    y = np.ones(BIG, np.float32)
    _run(benchmark, lambda: x + y, rounds=10)
    _rate(benchmark, "GB/s", GB_MOVED)


# ----------------------------------------------------------------------------- tiny-op overhead

BATCH = 100     # ops per round; divide the round's time by this for the per-op cost


@pytest.mark.benchmark(group="add-10-x100")
@pytest.mark.parametrize("dev", ["cpu", "opencl"])
def test_tiny_add(benchmark, dev):
    """100 adds of 10-element tensors, then one sync: per-op cost = time / 100."""
    rng = np.random.default_rng(0)
    a = plugtorch.tensor(rng.standard_normal(10), dtype=plugtorch.float32, device=dev)
    b = plugtorch.tensor(rng.standard_normal(10), dtype=plugtorch.float32, device=dev)

    def step():
        for _ in range(BATCH):
            a + b
        _sync(dev)
    _run(benchmark, step, rounds=200, warmup=5)


# ----------------------------------------------------------------------------- MLP fwd + bwd

def _mlp(dev):
    """Weights of a 784-256-256-10 MLP, a batch of 128 inputs and labels, on `dev`."""
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in ((784, 256), (256, 256), (256, 10)):
        w = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32)
        params += [plugtorch.tensor(w, device=dev, requires_grad=True),
                   plugtorch.zeros(fan_out, device=dev, requires_grad=True)]
    x = plugtorch.tensor(rng.standard_normal((128, 784)).astype(np.float32), device=dev)
    y = plugtorch.tensor(rng.integers(0, 10, (128, 1)), device=dev)
    return params, x, y


def _mlp_step(params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    h = (x @ w1 + b1).relu()
    h = (h @ w2 + b2).relu()
    logp = (h @ w3 + b3).log_softmax(1)
    loss = -logp.gather(1, y).sum() / 128
    for p in params:
        p.grad = None
    loss.backward()
    return loss


@pytest.mark.benchmark(group="mlp-784-256-256-10-b128-fwd-bwd")
@pytest.mark.parametrize("dev", ["cpu", "opencl"])
def test_mlp_forward_backward(benchmark, dev):
    params, x, y = _mlp(dev)
    ref = _mlp(dev if dev == "cpu" else "cpu")
    # the timed step computes the same loss and gradients on both devices
    lo, lc = _mlp_step(params, x, y), _mlp_step(*ref)
    np.testing.assert_allclose(lo.item(), lc.item(), rtol=1e-4)
    np.testing.assert_allclose(params[0].grad.cpu().numpy(), ref[0][0].grad.numpy(),
                               rtol=1e-3, atol=1e-5)

    def step():
        _mlp_step(params, x, y)
        _sync(dev)
    _run(benchmark, step, rounds=30, warmup=3)
