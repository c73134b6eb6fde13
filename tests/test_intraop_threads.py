"""set_num_threads / get_num_threads, and the cpu backend's split kernels (NOTE [intra-op
threads] in plugtorch_cpu/threads.py): results are bit for bit those of one thread, for
inputs of every layout, from several user threads at once and in a forked child; errors in
a worker reach the caller."""
import multiprocessing
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import plugtorch as pt
from plugtorch_cpu import threads as T

# big enough that the kernels below are split (COSTLY: 2 x 2^18 elements; CHEAP: 2 x 2^21)
ROWS, COLS = 1024, 1024
BIG = 2 * T.CHEAP + 4096


@pytest.fixture
def restore_threads():
    old = pt.get_num_threads()
    yield
    pt.set_num_threads(old)


def _both(fn):
    """fn() with one thread and with 2 and 3, as numpy arrays. The results stay alive until
    all three ran, so no run's output lands in a buffer that holds an earlier result."""
    kept = []
    for n in (1, 2, 3):
        pt.set_num_threads(n)
        kept.append(fn())
    return [t.numpy().copy() for t in kept]


def _rng():
    return np.random.default_rng(7)


def _assert_bitwise(results):
    first = results[0]
    for r in results[1:]:
        assert r.dtype == first.dtype and r.shape == first.shape
        np.testing.assert_array_equal(r.view(np.uint8), first.view(np.uint8))


# layouts whose reduction numpy runs another way when a part holds a single row, or whose
# reduced dims are not the last contiguous ones: these must stay whole (or match anyway)
CASES_REDUCING = {
    "softmax over dim 0 of a tall 2-column input": lambda x, y: pt.softmax(
        x.reshape(-1, 2).repeat(2, 1), 0),
    "log_softmax over dim 0 of a tall 2-column input": lambda x, y: pt.log_softmax(
        x.reshape(-1, 2).repeat(2, 1), 0),
    "row sum of a transposed input": lambda x, y: x.reshape(-1, 2).repeat(4, 1).t().sum(1),
    "row mean of a transposed 3-row input": lambda x, y: x.reshape(-1, 4)[:, :3]
    .repeat(8, 1).t().mean(1),
    "row sum of 2 long rows": lambda x, y: x.reshape(2, -1).repeat(1, 4).sum(1),
}

CASES = {**CASES_REDUCING, 
    "exp": lambda x, y: x.exp(),
    "tanh of a transposed input": lambda x, y: x.t().tanh(),
    "sigmoid of a row slice": lambda x, y: x[1::2].sigmoid(),
    "softmax rows": lambda x, y: pt.softmax(x, 1),
    "softmax columns": lambda x, y: pt.softmax(x, 0),
    "softmax last dim, negative": lambda x, y: pt.softmax(x.reshape(4, 256, 1024), -1),
    "log_softmax columns of a 3-d input": lambda x, y: pt.log_softmax(x.reshape(4, 256, 1024), 1),
    "pow": lambda x, y: x.abs() ** y,
    "row sum": lambda x, y: x.repeat(4, 1).sum(1),
    "row amax of a transposed input": lambda x, y: x.repeat(4, 1).t().amax(0),
    "sum over the last two dims": lambda x, y: x.repeat(4, 1).reshape(16, 256, 1024).sum((1, 2)),
    "row prod, keepdim": lambda x, y: (1 + x.repeat(4, 1) * 1e-3).prod(1, keepdim=True),
    "float16 row sum": lambda x, y: x.repeat(4, 1).half().sum(1),
    "int row sum": lambda x, y: (x.repeat(4, 1) * 100).long().sum(1),
    "column sum": lambda x, y: x.repeat(4, 1).sum(0),
    "strided copy (transpose)": lambda x, y: x.repeat(4, 1).t().contiguous(),
    "strided copy (im2col)": lambda x, y: pt.nn.functional.unfold(
        x.reshape(16, 1, 256, 256), 3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_costly_kernels_match_one_thread(case, restore_threads):
    rng = _rng()
    x = pt.tensor(rng.standard_normal((ROWS, COLS)).astype(np.float32))
    y = pt.tensor(rng.standard_normal((ROWS, COLS)).astype(np.float32))
    results = _both(lambda: CASES[case](x, y))
    _assert_bitwise(results)
    # and the values are right, against numpy in float64 for the plain ones
    if case == "exp":
        np.testing.assert_allclose(results[0], np.exp(x.numpy().astype(np.float64)),
                                   rtol=2e-6)
    if case == "row sum":
        np.testing.assert_allclose(results[0], np.tile(x.numpy().astype(np.float64), (4, 1))
                                   .sum(1), rtol=1e-4, atol=1e-3)
    if case == "softmax rows":
        ref = np.exp(x.numpy().astype(np.float64))
        np.testing.assert_allclose(results[0], ref / ref.sum(1, keepdims=True), rtol=1e-5,
                                   atol=1e-9)


def test_cheap_kernels_match_one_thread(restore_threads):
    rng = _rng()
    a = pt.tensor(rng.standard_normal(BIG).astype(np.float32))
    b = pt.tensor(rng.standard_normal(BIG).astype(np.float32))
    row = pt.tensor(rng.standard_normal((1, 2048)).astype(np.float32))
    m = a.reshape(-1, 2048)
    for fn in (lambda: a + b, lambda: a * b, lambda: pt.maximum(a, b), lambda: a / 3.0,
               lambda: m - row, lambda: pt.where(a > 0, a, b), lambda: (a > b),
               lambda: pt.full((BIG,), 2.5), lambda: a.relu()):
        results = _both(fn)
        _assert_bitwise(results)
    np.testing.assert_array_equal(_both(lambda: m - row)[1], m.numpy() - row.numpy())


def test_in_place_and_overlapping_writes_match_numpy(restore_threads):
    rng = _rng()
    base = rng.standard_normal(BIG + 1).astype(np.float32)
    other = rng.standard_normal(BIG + 1).astype(np.float32)
    for n in (1, 2):
        pt.set_num_threads(n)
        x = pt.tensor(base)
        x += pt.tensor(other)           # the output is an input, element for element
        np.testing.assert_array_equal(x.numpy(), base + other)
        y = pt.tensor(base)
        y[1:] = y[:-1]                  # overlapping shifted copy: must run whole
        expect = base.copy()
        expect[1:] = base[:-1]
        np.testing.assert_array_equal(y.numpy(), expect)


def test_training_step_is_identical_with_threads(restore_threads):
    def run():
        pt.manual_seed(0)
        model = pt.nn.Sequential(pt.nn.Linear(512, 1024), pt.nn.Tanh(), pt.nn.Linear(1024, 10))
        opt = pt.optim.SGD(model.parameters(), lr=0.1)
        x = pt.randn(512, 512)
        t = pt.randint(0, 10, (512,))
        for _ in range(2):
            opt.zero_grad()
            loss = pt.nn.functional.cross_entropy(model(x), t)
            loss.backward()
            opt.step()
        return pt.cat([p.detach().reshape(-1) for p in model.parameters()])
    _assert_bitwise(_both(run))


def test_kernels_from_several_threads_at_once(restore_threads):
    pt.set_num_threads(2)
    rng = _rng()
    xs = [pt.tensor(rng.standard_normal((ROWS, COLS)).astype(np.float32)) for _ in range(3)]
    expect = [pt.softmax(x, 1).numpy().copy() for x in xs]
    got, errors = [None] * 3, []

    def work(k):
        try:
            for _ in range(5):
                got[k] = pt.softmax(xs[k], 1).numpy().copy()
        except BaseException as e:
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for g, e in zip(got, expect):
        np.testing.assert_array_equal(g, e)


def test_an_error_in_a_worker_reaches_the_caller(restore_threads):
    pt.set_num_threads(2)
    o = np.zeros(4 * T.COSTLY, np.float32)
    seen = []

    def call(part):
        seen.append(threading.current_thread().name)
        if threading.current_thread() is not threading.main_thread():
            raise ValueError("from the worker")
        part[...] = 1

    with pytest.raises(ValueError, match="from the worker"):
        T.split(call, o, ())
    assert len(seen) == 2
    # the pool still works afterwards
    T.split(lambda part: part.fill(3), o, ())
    assert (o == 3).all()


def _child(q):
    x = pt.tensor(np.linspace(-3, 3, ROWS * COLS, dtype=np.float32).reshape(ROWS, COLS))
    q.put(pt.softmax(x, 1).numpy().sum(1).tolist())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_split_kernels(restore_threads):
    pt.set_num_threads(2)
    x = pt.randn(ROWS, COLS)
    pt.softmax(x, 1)                   # the parent's workers exist before the fork
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    sums = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0
    np.testing.assert_allclose(sums, 1.0, rtol=1e-5)


def test_set_num_threads_checks_its_argument(restore_threads):
    for bad in (0, -1, 1.5, "2", None):
        with pytest.raises(RuntimeError, match="positive integer"):
            pt.set_num_threads(bad)
    pt.set_num_threads(np.int64(2))
    assert pt.get_num_threads() == 2 and type(pt.get_num_threads()) is int
    pt.set_num_threads(3)
    assert pt.get_num_threads() == 3
    assert T.POOL.threads == 3
    assert pt.backends.get("cpu").describe()[0]["threads"] == 3     # plugtorch info


def test_default_follows_omp_num_threads():
    code = "import plugtorch as pt; pt.zeros(1); print(pt.get_num_threads())"
    env = dict(os.environ, OMP_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "3"
    env.pop("OMP_NUM_THREADS")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert int(out) == len(os.sched_getaffinity(0))


def test_an_interrupted_wait_does_not_leak_into_the_next_kernel(restore_threads):
    pt.set_num_threads(2)
    o = np.zeros(4 * T.COSTLY, np.float32)
    release = threading.Event()

    def slow(part):
        if threading.current_thread() is not threading.main_thread():
            release.wait(10)
        part[...] = 1

    # the caller's wait is interrupted while the worker still runs its part
    real_wait = T._Worker.wait
    T._Worker.wait = lambda self: (_ for _ in ()).throw(KeyboardInterrupt())
    try:
        with pytest.raises(KeyboardInterrupt):
            T.split(slow, o, ())
    finally:
        T._Worker.wait = real_wait
    # the next kernel must not take the old worker's late answer for its own
    o2 = np.zeros(4 * T.COSTLY, np.float32)

    def fill2(part):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.2)            # an early answer would return before this part
        part[...] = 2
    release.set()
    time.sleep(0.1)                    # the old worker has finished and answered by now
    T.split(fill2, o2, ())
    assert (o2 == 2).all()


def test_an_output_that_repeats_elements_is_not_split(restore_threads):
    """fill_/masked_fill_ may write an expanded view; an in-place op an overlapping one: parts
    would race on the shared elements (found in review: 0.0 vs 5.0 by thread count)."""
    mask = pt.tensor(np.arange(BIG) % 3 == 0)
    results = []
    for n in (1, 2, 3):
        pt.set_num_threads(n)
        base = pt.zeros(1)
        base.expand(BIG).masked_fill_(mask, 5.0)
        x = pt.zeros(BIG + 1)
        x.as_strided((BIG, 2), (1, 1)).add_(1.0)
        results.append((base.item(), x.numpy().copy()))
    for r in results[1:]:
        assert r[0] == results[0][0]
        np.testing.assert_array_equal(r[1], results[0][1])


def test_workers_use_the_callers_numpy_error_state(restore_threads):
    """Under np.errstate(invalid="raise") an invalid value in any part raises, as on one
    thread (numpy's error state is per thread)."""
    x = np.ones(4 * T.COSTLY, np.float32)
    x[-1] = -1.0                        # log(-1): in the last part, run by a worker
    t = pt.tensor(x)
    for n in (1, 2):
        pt.set_num_threads(n)
        with np.errstate(invalid="raise"):
            with pytest.raises(FloatingPointError):
                t.log()


def test_dataloader_workers_run_on_one_thread(restore_threads):
    pt.set_num_threads(2)

    class Threads(pt.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return pt.tensor([pt.get_num_threads()])
    loader = pt.utils.data.DataLoader(Threads(), batch_size=1, num_workers=1)
    assert [int(b.item()) for b in loader] == [1, 1]
    assert pt.get_num_threads() == 2
