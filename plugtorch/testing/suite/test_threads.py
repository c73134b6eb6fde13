"""A backend is used from several threads at once (DataLoader workers feeding a training
thread, DataParallel replicas, serving): each thread's results are the ones it gets alone."""
import threading

import numpy as np

import plugtorch
from plugtorch.testing import to_host

THREADS = 4


def _work(device, seed):
    """A mix of kernel families (elementwise, casts, reductions, matmul, indexing, sort,
    random numbers, autograd) on values that depend on `seed`; returns host arrays."""
    rng = np.random.default_rng(seed)
    a = plugtorch.tensor(rng.standard_normal((24, 16)).astype(np.float32), device=device,
                         requires_grad=True)
    b = plugtorch.tensor(rng.standard_normal((16, 8)).astype(np.float32), device=device)
    idx = plugtorch.tensor(rng.integers(0, 24, 10), device=device)
    h = (a @ b).tanh()
    loss = (h[idx] * h[idx]).sum() + a.exp().mean()
    loss.backward()
    ints = (plugtorch.tensor(rng.integers(-50, 50, 64), device=device) // 7).to(plugtorch.int16)
    sorted_vals, order = a.detach().sort(dim=1)
    g = plugtorch.Generator(device=device)
    g.manual_seed(seed)
    r = plugtorch.rand(32, device=device, generator=g)
    return [to_host(t) for t in (h.detach(), loss.detach(), a.grad, ints, sorted_vals, order, r,
                                 a.detach().amax(0), h.detach().cumsum(1))]


def test_threads_get_the_results_they_get_alone(device):
    expected = [_work(device, seed) for seed in range(THREADS)]
    for _ in range(3):
        results, errors = [None] * THREADS, []
        start = threading.Barrier(THREADS)

        def run(k):
            try:
                start.wait(10)
                for _ in range(4):
                    results[k] = _work(device, k)
            except BaseException as e:            # reported below, with the thread's number
                errors.append((k, e))
        threads = [threading.Thread(target=run, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "a thread did not finish in 120 s"
        assert not errors, f"thread {errors[0][0]} raised {errors[0][1]!r}"
        for k in range(THREADS):
            for got, want in zip(results[k], expected[k]):
                np.testing.assert_array_equal(got, want)
