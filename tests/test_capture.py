"""Step capture (plugtorch.graphs, NOTE [step capture]): replayed steps give exactly the eager
results, and what a replay could not repeat is refused or runs eagerly."""
import threading
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.graphs import CaptureError, CaptureWarning, CapturedStep

DEVICES = [d for d in ("cpu", "opencl") if d in pt.backends.available()]


def _model(dev, dropout=0.1):
    pt.manual_seed(0)
    return pt.nn.Sequential(pt.nn.Linear(12, 16), pt.nn.ReLU(), pt.nn.Dropout(dropout),
                            pt.nn.Linear(16, 4)).to(dev)


def _batches(dev, n=7, b=8, classes=4):
    rng = np.random.default_rng(1)
    return [(pt.tensor(rng.standard_normal((b, 12), dtype=np.float32)).to(dev),
             pt.tensor(rng.integers(0, classes, b)).to(dev)) for _ in range(n)]


def _train(dev, wrap, batches, make_opt=None):
    m = _model(dev)
    opt = (make_opt or (lambda p: pt.optim.SGD(p, lr=0.1, momentum=0.9)))(m.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = pt.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss
    step = wrap(step)
    losses = [step(x, y) for x, y in batches]
    return ([loss.item() for loss in losses],
            [p.detach().cpu().numpy().copy() for p in m.parameters()], step)


def _assert_same_training(a, b):
    assert a[0] == b[0]                               # bitwise: the same kernels in order
    for p, q in zip(a[1], b[1]):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("dev", DEVICES)
def test_replayed_training_steps_equal_eager_steps_bitwise(dev):
    batches = _batches(dev)
    eager = _train(dev, lambda f: f, batches)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptureWarning)
        captured = _train(dev, lambda f: pt.compile(f, mode="reduce-overhead"), batches)
    _assert_same_training(eager, captured)
    # one eager warm-up, two recorded steps, then replays (dropout draws new masks each time)
    assert captured[2].replays == len(batches) - 3


@pytest.mark.parametrize("dev", DEVICES)
def test_a_new_batch_shape_is_captured_separately(dev):
    batches = _batches(dev, n=5) + _batches(dev, n=5, b=3)
    eager = _train(dev, lambda f: f, batches)
    captured = _train(dev, lambda f: pt.compile(f, mode="reduce-overhead"), batches)
    _assert_same_training(eager, captured)
    assert captured[2].replays == 4


def test_compile_other_modes_and_modules_run_eagerly():
    def f(x):
        return x + 1
    assert pt.compile(f) is f
    assert pt.compile(mode="max-autotune")(f) is f
    m = pt.nn.Linear(2, 2)
    with pytest.warns(CaptureWarning, match="whole step"):
        assert pt.compile(m, mode="reduce-overhead") is m


@pytest.mark.parametrize("dev", DEVICES)
def test_graph_capture_records_without_running_and_replays(dev):
    x = pt.zeros(5, device=dev)
    g = pt.cuda.CUDAGraph()
    with pt.cuda.graph(g):
        y = x * 2 + 1
        x.add_(1)                          # an in-place update: replayed each time
    np.testing.assert_array_equal(x.cpu().numpy(), np.zeros(5))   # nothing ran
    x.copy_(pt.tensor([1.0, 2, 3, 4, 5]))
    g.replay()
    np.testing.assert_array_equal(y.cpu().numpy(), [3, 5, 7, 9, 11])
    np.testing.assert_array_equal(x.cpu().numpy(), [2, 3, 4, 5, 6])
    g.replay()
    np.testing.assert_array_equal(y.cpu().numpy(), [5, 7, 9, 11, 13])
    assert len(g) > 0
    g.reset()
    with pytest.raises(CaptureError, match="nothing was captured"):
        g.replay()


@pytest.mark.parametrize("dev", DEVICES)
def test_graph_api_training_loop_equals_eager(dev):
    """PyTorch's whole-network capture recipe: warm up, capture once, copy data in, replay."""
    batches = _batches(dev)
    eager = _train(dev, lambda f: f, batches)

    m = _model(dev)
    opt = pt.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    sx, sy = batches[0][0].clone(), batches[0][1].clone()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = pt.nn.functional.cross_entropy(m(sx), sy)
        loss.backward()
        opt.step()
        return loss
    losses = [step().item()]                       # warm-up: momentum buffers appear
    before = [p.detach().cpu().numpy().copy() for p in m.parameters()]
    g = pt.graphs.Graph()
    with pt.graphs.graph(g):
        static_loss = step()
    for p, q in zip(before, m.parameters()):       # capture ran no step
        np.testing.assert_array_equal(p, q.detach().cpu().numpy())
    for x, y in batches[1:]:
        sx.copy_(x)
        sy.copy_(y)
        g.replay()
        losses.append(static_loss.item())
    _assert_same_training(eager, (losses, [p.detach().cpu().numpy() for p in m.parameters()]))


@pytest.mark.parametrize("dev", DEVICES)
def test_each_replay_draws_new_random_numbers(dev):
    def draws(wrap):
        pt.manual_seed(3)
        f = wrap(lambda: pt.rand(4, device=dev) + pt.randn(2, device=dev).sum())
        return [f().cpu().numpy() for _ in range(6)]
    eager = draws(lambda f: f)
    captured = draws(lambda f: CapturedStep(f))
    np.testing.assert_array_equal(np.stack(eager), np.stack(captured))
    assert len({tuple(v) for v in captured}) == 6


def test_a_host_read_during_graph_capture_raises():
    x = pt.ones(3)
    g = pt.graphs.Graph()
    with pytest.raises(CaptureError, match=r"host read.*\.item\(\)"):
        with pt.graphs.graph(g):
            (x * 2).sum().item()
    with pytest.raises(CaptureError, match="nothing was captured"):
        g.replay()
    assert (x * 2).sum().item() == 6.0           # capture is over: reads work again


def test_a_value_dependent_shape_is_refused():
    x = pt.tensor([0.0, 1.0, 2.0])
    with pytest.raises(CaptureError, match="nonzero: its result's shape depends"):
        with pt.graphs.graph(pt.graphs.Graph()):
            pt.nonzero(x)


@pytest.mark.parametrize("dev", DEVICES)
def test_steps_that_cannot_be_replayed_run_eagerly_with_a_warning(dev):
    x = pt.arange(4.0, device=dev)
    reads = []

    def reads_host(t):
        reads.append((t * 2).sum().item())
        return t + reads[-1]

    f = pt.compile(reads_host, mode="reduce-overhead")
    with pytest.warns(CaptureWarning, match="host read"):
        outs = [f(x).cpu().numpy() for _ in range(4)]
    np.testing.assert_array_equal(outs[-1], np.arange(4.0) + 12)
    assert f.replays == 0 and len(reads) == 4

    count = [0]

    def changes(t):                       # a Python number that differs from step to step
        count[0] += 1
        return t * count[0]
    g = pt.compile(changes, mode="reduce-overhead")
    with pytest.warns(CaptureWarning, match="two consecutive steps did different work"):
        outs = [g(x).cpu().numpy() for _ in range(5)]
    np.testing.assert_array_equal(outs[-1], np.arange(4.0) * 5)

    w = pt.ones(3, requires_grad=True)
    h = pt.compile(lambda t: w * t, mode="reduce-overhead")
    with pytest.warns(CaptureWarning, match="autograd graph"):
        for _ in range(3):
            h(pt.ones(3))


def test_check_every_catches_a_changed_learning_rate():
    p = pt.nn.Parameter(pt.ones(3))
    opt = pt.optim.SGD([p], lr=0.5)

    def step(x):
        opt.zero_grad()
        (p * x).sum().backward()
        opt.step()
    f = CapturedStep(step, check_every=1)      # every call after the capture is checked
    for _ in range(5):
        f(pt.ones(3))
    assert f.replays > 0
    opt.param_groups[0]["lr"] = 0.25
    with pytest.warns(CaptureWarning, match="changed since it was captured"):
        f(pt.ones(3))                    # the checked step itself ran eagerly
    f(pt.ones(3))                        # eager from now on: the new rate applies
    f(pt.ones(3))
    ref = 1 - 0.5 * 5 - 0.25 * 3
    np.testing.assert_allclose(p.detach().numpy(), [ref] * 3)


@pytest.mark.parametrize("dev", DEVICES)
def test_replays_check_their_own_targets(dev):
    """A replay checks the values it is given: an out-of-range target raises the eager
    error (on a device at the next host read), and never reads outside the tensor."""
    m = pt.nn.Linear(3, 4).to(dev)
    f = pt.compile(lambda x, y: pt.nn.functional.cross_entropy(m(x), y).detach(),
                   mode="reduce-overhead")
    x = pt.ones(2, 3, device=dev)
    for _ in range(4):
        f(x, pt.tensor([1, 2], device=dev))
    assert f.replays == 1
    with pytest.raises(IndexError, match="Target 9 is out of bounds"):
        f(x, pt.tensor([1, 9], device=dev)).item()
    assert f.replays == 2
    with pytest.raises(IndexError, match="Target 9 is out of bounds"):
        pt.nn.functional.cross_entropy(m(x), pt.tensor([1, 9], device=dev)).item()


@pytest.mark.parametrize("dev", DEVICES)
def test_replayed_gather_checks_its_index(dev):
    src = pt.arange(6.0, device=dev).reshape(2, 3)
    f = CapturedStep(lambda i: src.gather(1, i) * 1)
    good = pt.tensor([[0, 2], [1, 1]], device=dev)
    outs = [f(good).cpu().numpy() for _ in range(4)]
    np.testing.assert_array_equal(outs[-1], [[0, 2], [4, 4]])
    with pytest.raises(RuntimeError, match="out of bounds"):
        f(pt.tensor([[0, 3], [1, 1]], device=dev)).cpu()


def test_another_thread_cannot_launch_during_capture():
    x = pt.ones(3)
    errors = []
    g = pt.graphs.Graph()
    with pt.graphs.graph(g):
        def other():
            try:
                x + 1
            except CaptureError as e:
                errors.append(str(e))
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert errors and "another thread" in errors[0]


def test_uploads_inside_a_step_are_replayed():
    """A literal made inside the step and changed in place there is fresh at each replay;
    from_numpy reads the array's values at each replay, as an eager step would."""
    arr = np.zeros(2, np.float32)

    def step(x):
        c = pt.tensor([1.0, 1.0])
        c.add_(x)
        return c + pt.from_numpy(arr)
    f = CapturedStep(step)
    for i in range(5):
        arr[:] = i
        out = f(pt.ones(2)).numpy()
    assert f.replays == 2
    np.testing.assert_array_equal(out, [6.0, 6.0])


@pytest.mark.parametrize("dev", DEVICES)
def test_capturable_adam_is_captured_and_matches_the_host_counter(dev):
    """Adam reads its step count on the host (the capture falls back to eager); with
    capturable=True the count and bias corrections stay on the device and replay."""
    batches = _batches(dev, n=8)
    host = _train(dev, lambda f: f, batches, lambda p: pt.optim.AdamW(p, lr=0.01))
    with pytest.warns(CaptureWarning, match="host read"):
        _train(dev, lambda f: pt.compile(f, mode="reduce-overhead"), batches,
               lambda p: pt.optim.Adam(p, lr=0.01))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptureWarning)
        eager = _train(dev, lambda f: f, batches,
                       lambda p: pt.optim.AdamW(p, lr=0.01, capturable=True))
        captured = _train(dev, lambda f: pt.compile(f, mode="reduce-overhead"), batches,
                          lambda p: pt.optim.AdamW(p, lr=0.01, capturable=True))
    _assert_same_training(eager, captured)
    assert captured[2].replays == len(batches) - 3
    np.testing.assert_allclose(eager[0], host[0], rtol=1e-5)     # device float32 corrections
    for p, q in zip(eager[1], host[1]):
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dev", DEVICES)
def test_capturable_adam_keeps_its_counter_on_the_device(dev):
    w = pt.nn.Parameter(pt.ones(3, device=dev))
    opt = pt.optim.Adam([w], lr=0.1, capturable=True)
    (w * w).sum().backward()
    opt.step()
    step = opt.state[w]["step"]
    assert step.device == w.device and step.dtype == pt.float32 and step.item() == 1
    opt2 = pt.optim.Adam([w], lr=0.1, capturable=True)
    opt2.load_state_dict(opt.state_dict())
    assert opt2.state[w]["step"].device == w.device
