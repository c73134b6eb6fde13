"""Python threads may use one device at once, as in PyTorch: each thread's results equal a
sequential run bit for bit, and an index error raises in the thread whose op made it
(NOTE [threads] in the OpenCL runtime, NOTE [deferred index checks] in plugtorch/_deferred.py).
"""
import threading

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import _dispatch
from plugtorch import nn


def _run_threads(fns):
    """Run each fn in its own thread, started together; return results, re-raising errors."""
    out, errors = [None] * len(fns), []
    start = threading.Barrier(len(fns))

    def run(k):
        try:
            start.wait()
            out[k] = fns[k]()
        except BaseException as e:           # reported in the main thread
            errors.append(e)
    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


def _train(device, seed, steps=12):
    """A small MLP trained with SGD+momentum from numpy-made data and weights (no shared
    random generator); returns the final weights."""
    rng = np.random.default_rng(seed)
    x = pt.from_numpy(rng.standard_normal((32, 16)).astype(np.float32)).to(device)
    y = pt.from_numpy(rng.integers(0, 4, 32)).to(device)
    model = nn.Sequential(nn.Linear(16, 24), nn.ReLU(), nn.Linear(24, 4))
    with pt.no_grad():
        for p in model.parameters():
            p.copy_(pt.from_numpy(rng.standard_normal(p.shape).astype(np.float32) * 0.3))
    model.to(device)
    opt = pt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return [p.detach().cpu().numpy() for p in model.parameters()]


def _ops(device, seed):
    """A fixed sequence of many small ops (elementwise, reductions, matmul, indexing)."""
    rng = np.random.default_rng(seed)
    a = pt.from_numpy(rng.standard_normal((8, 8)).astype(np.float32)).to(device)
    idx = pt.from_numpy(rng.integers(0, 8, 8)).to(device)
    for _ in range(30):
        a = (a @ a.t()).tanh() * 0.5 + a.sum(0) * 0.01
        a = a.index_select(0, idx) + a[idx].flip(0) * 0.1
    return a.cpu().numpy()


@pytest.mark.parametrize("work", [_train, _ops], ids=["train", "ops"])
def test_threads_match_the_sequential_run(device, work):
    seeds = (1, 2, 3)
    ref = [work(device, s) for s in seeds]
    for _ in range(3):
        got = _run_threads([lambda s=s: work(device, s) for s in seeds])
        for g, r in zip(got, ref):
            for a, b in zip(g if isinstance(g, list) else [g], r if isinstance(r, list) else [r]):
                np.testing.assert_array_equal(a, b)


def test_first_use_of_a_device_from_threads(device):
    """Threads that build the same kernels at once (a new dtype) get one working build."""
    def work():
        x = pt.arange(64, dtype=pt.int16, device=device)
        return ((x * 3 + 1) % 7).cpu().numpy()
    ref = (np.arange(64, dtype=np.int16) * 3 + 1) % 7
    for got in _run_threads([work] * 4):
        np.testing.assert_array_equal(got, ref)


# device backends that run every primitive natively (a CPU fallback reads the host inside
# the op, which flushes the check there)
DEVICES = [d for d in pt.backends.available()
           if d != "cpu" and not _dispatch.coverage(pt.backends.get(d))["fallback"]]


@pytest.mark.parametrize("dev", DEVICES)
def test_deferred_index_error_raises_in_the_thread_that_made_it(dev):
    made = threading.Event()
    read = threading.Event()

    def bad():
        x = pt.arange(12.0, device=dev).reshape(4, 3)
        y = x.index_select(0, pt.tensor([0, 1, 2], device=dev) * 5)  # range known on device
        made.set()
        read.wait(10)                  # the other thread reads the host first
        with pytest.raises(IndexError, match="index 10 is out of bounds"):
            y.cpu()
        return True

    def good():
        made.wait(10)
        try:
            x = pt.arange(12.0, device=dev).reshape(4, 3)
            return x.index_select(0, pt.tensor([3, 1], device=dev) * 1).cpu().tolist()
        finally:
            read.set()

    assert _run_threads([bad, good]) == [True, [[9.0, 10.0, 11.0], [3.0, 4.0, 5.0]]]


def test_threads_drawing_random_numbers_get_disjoint_counters():
    """Generator counters are reserved under a lock: threads drawing at once (dropout in
    DataParallel replicas) never share a counter, so never repeat each other's numbers."""
    import copy
    import pickle
    g = pt.Generator()
    g.manual_seed(3)
    taken = []

    def draw():
        for _ in range(3000):
            taken.append(g._take(4)[1])

    workers = [threading.Thread(target=draw) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(set(taken)) == len(taken) == 12000 and g.get_offset() == 48000
    assert copy.deepcopy(g).get_offset() == pickle.loads(pickle.dumps(g)).get_offset() == 48000
