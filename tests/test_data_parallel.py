"""nn.DataParallel and its parts (scatter, replicate, parallel_apply, gather), checked against
the same model run on one device.

Tests that need two devices of one backend run their body (a `_two_*` function of this file)
in a fresh process where PoCL shows two OpenCL devices: POCL_DEVICES must be set before
pyopencl starts, so it cannot be set in this process.
"""
import collections
import copy
import os
import subprocess
import sys

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.nn.parallel import (data_parallel, gather, parallel_apply, replicate, scatter,
                                   scatter_kwargs)

D0, D1 = "opencl:0", "opencl:1"
_NO_TWO_DEVICES = 3        # a body's exit code when PoCL did not give two devices


def _np(t):
    return t.detach().cpu().numpy()


def _close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(_np(a) if isinstance(a, pt.Tensor) else a,
                               _np(b) if isinstance(b, pt.Tensor) else b, rtol=rtol, atol=atol)


def _on_two_devices(body):
    """Run `body` (a function of this file) in a process with two PoCL devices."""
    if "opencl" not in pt.backends.available():
        pytest.skip("the opencl backend cannot run here")
    code = (f"import runpy, sys; ns = runpy.run_path({os.path.abspath(__file__)!r}); "
            f"sys.exit(ns['_two_devices_main']({body.__name__!r}))")
    env = dict(os.environ, POCL_DEVICES="pthread pthread")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    if out.returncode == _NO_TWO_DEVICES:
        pytest.skip(out.stdout.strip())
    assert out.returncode == 0, out.stdout + out.stderr


def _two_devices_main(name):
    n = pt.backends.get("opencl").device_count()
    if n < 2:
        print(f"POCL_DEVICES='pthread pthread' gave {n} usable OpenCL device(s), not 2")
        return _NO_TWO_DEVICES
    globals()[name]()
    return 0


def _mlp():
    pt.manual_seed(0)
    return pt.nn.Sequential(pt.nn.Linear(5, 16), pt.nn.Tanh(), pt.nn.Linear(16, 3))


def _cnn():
    pt.manual_seed(1)
    return pt.nn.Sequential(pt.nn.Conv2d(2, 4, 3, padding=1), pt.nn.BatchNorm2d(4),
                            pt.nn.ReLU(), pt.nn.Flatten(), pt.nn.Linear(4 * 5 * 5, 3))


def _grads(model):
    return [_np(p.grad) for p in model.parameters()]


def _run_and_backward(model, x, weight):
    out = model(x)
    (out * weight.to(out.device)).sum().backward()
    return out


# --------------------------------------------------------------------- scatter and gather (cpu)

def test_scatter_splits_structures_along_dim():
    Pair = collections.namedtuple("Pair", "a b")
    x = pt.arange(15.).reshape(5, 3)
    pieces = scatter((x, [x.t(), "tag"], {"k": x, "n": 4}, Pair(x, None)), ["cpu", "cpu"])
    assert len(pieces) == 2
    ref = np.arange(15.).reshape(5, 3)
    for i, (a, (b, tag), d, pair) in enumerate(pieces):
        rows = ref[:3] if i == 0 else ref[3:]              # chunk: 3 rows, then 2
        np.testing.assert_array_equal(_np(a), rows)
        np.testing.assert_array_equal(_np(b), ref.T[:2] if i == 0 else ref.T[2:])
        assert tag == "tag" and d["n"] == 4 and pair.b is None and type(pair) is Pair
        np.testing.assert_array_equal(_np(d["k"]), rows)
        np.testing.assert_array_equal(_np(pair.a), rows)
    cols = scatter(x, ["cpu", "cpu"], dim=1)
    np.testing.assert_array_equal(_np(cols[0]), ref[:, :2])
    np.testing.assert_array_equal(_np(cols[1]), ref[:, 2:])
    # a batch smaller than the number of devices gives fewer pieces, as Tensor.chunk
    assert len(scatter(pt.ones(1, 3), ["cpu", "cpu"])) == 1


def test_scatter_kwargs_pads_the_shorter_side():
    x = pt.arange(4.)
    args, kwargs = scatter_kwargs((x,), {"scale": 2.0}, ["cpu", "cpu"])
    assert [a[0].tolist() for a in args] == [[0.0, 1.0], [2.0, 3.0]]
    assert kwargs == ({"scale": 2.0}, {"scale": 2.0})
    args, kwargs = scatter_kwargs((), {"x": x}, ["cpu", "cpu"])
    assert args == ((), ()) and [k["x"].tolist() for k in kwargs] == [[0.0, 1.0], [2.0, 3.0]]


def test_gather_joins_structures_and_is_differentiable():
    a = pt.arange(6., requires_grad=True)
    pieces = [(a[:4].reshape(2, 2), {"s": a[:2], "none": None}), (a[4:].reshape(1, 2),
                                                                    {"s": a[2:5], "none": None})]
    out, d = gather(pieces, "cpu")
    np.testing.assert_array_equal(_np(out), np.arange(6.).reshape(3, 2))
    np.testing.assert_array_equal(_np(d["s"]), [0., 1., 2., 3., 4.])
    assert d["none"] is None
    (out.sum() * 2 + (d["s"] * pt.arange(5.)).sum()).backward()
    np.testing.assert_array_equal(_np(a.grad), [2., 3., 4., 5., 6., 2.])
    with pytest.warns(UserWarning, match="scalars"):
        v = gather([pt.tensor(1.), pt.tensor(2.)], "cpu")
    assert v.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="gather"):
        gather([pt.ones(1), 3], "cpu")


# ------------------------------------------------------------ replicate, parallel_apply (cpu)

def test_replicas_send_gradients_to_the_original_and_share_tied_weights():
    lin = pt.nn.Linear(3, 3)
    model = pt.nn.Sequential(lin, pt.nn.Tanh(), lin)        # the same layer twice: tied
    ref = copy.deepcopy(model)
    x = pt.randn(5, 3)
    r0, r1 = replicate(model, ["cpu", "cpu"])
    assert r0[0].weight is lin.weight                       # the first replica uses originals
    assert r1[0].weight is not lin.weight and r1[2].weight is r1[0].weight
    assert r1[0] is r1[2] and model[0] is lin               # the original is left as it was
    outs = parallel_apply([r0, r1], [(x[:3],), (x[3:],)])
    (pt.cat(outs) ** 2).sum().backward()
    (ref(x) ** 2).sum().backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        _close(p.grad, q.grad)
    detached = replicate(model, ["cpu", "cpu"], detach=True)
    assert not any(p.requires_grad for r in detached for p in r.parameters())


def test_replica_buffers_are_copies_except_on_the_first():
    bn = pt.nn.BatchNorm1d(2)
    r0, r1 = replicate(bn, ["cpu", "cpu"])
    assert r0.running_mean is bn.running_mean
    r1(pt.tensor([[10., 20.], [12., 24.]]))
    np.testing.assert_array_equal(_np(bn.running_mean), [0., 0.])
    r0(pt.tensor([[10., 20.], [12., 24.]]))
    np.testing.assert_allclose(_np(bn.running_mean), [1.1, 2.2], rtol=1e-6)


def test_parallel_apply_keeps_grad_mode_and_reraises_with_the_replica():
    lin = pt.nn.Linear(2, 1)
    with pt.no_grad():
        outs = parallel_apply([lin, lin], [(pt.ones(1, 2),), (pt.ones(2, 2),)])
    assert [o.shape for o in outs] == [pt.Size([1, 1]), pt.Size([2, 1])]
    assert not any(o.requires_grad for o in outs)
    with pytest.raises(RuntimeError, match="replica 1 on device cpu"):
        try:
            parallel_apply([lin, lin], [(pt.ones(1, 2),), (pt.ones(1, 3),)])
        except RuntimeError as e:
            raise RuntimeError(" ".join(e.__notes__)) from e
    with pytest.raises(ValueError, match="2 modules but 1 inputs"):
        parallel_apply([lin, lin], [(pt.ones(1, 2),)])


# -------------------------------------------------------------------- one device, any backend

def test_data_parallel_on_one_device_calls_the_module(device):
    lin = pt.nn.Linear(3, 2).to(device)
    x = pt.randn(4, 3, device=device)
    for ids in (None, [device]):
        dp = pt.nn.DataParallel(lin, device_ids=ids)
        assert dp.module is lin
        _close(dp(x), lin(x))
        assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    _close(data_parallel(lin, x), lin(x))
    # on one named device, the module moves there (its inputs too), as PyTorch's does
    moved = pt.nn.Linear(3, 2)
    out = pt.nn.DataParallel(moved, device_ids=[device])(x.cpu())
    assert moved.weight.device == x.device and out.device == x.device
    _close(out, moved(x))


def test_data_parallel_on_cpu_falls_back_to_calling_the_module():
    seen = []

    class Echo(pt.nn.Module):
        def forward(self, x, k=None):
            seen.append(k)
            return x
    x = pt.ones(4, 2)
    # device indices mean the accelerator's devices; without one, the module is just called
    indices = [] if pt.accelerator.is_available() else [[0, 1]]
    for ids in [None, ["cpu"], []] + indices:
        dp = pt.nn.DataParallel(Echo(), device_ids=ids)
        assert dp(x, k="kw") is x and dp.device_ids == []
    assert seen == ["kw"] * (3 + len(indices))
    assert data_parallel(Echo(), x, device_ids=["cpu"], module_kwargs={"k": 1}) is x
    assert seen[-1] == 1


def test_devices_of_different_backends_are_refused():
    with pytest.raises(ValueError, match=r"one backend, got \['cpu', 'minimal'\]"):
        pt.nn.DataParallel(pt.nn.Linear(2, 2), device_ids=["cpu", "minimal"])
    with pytest.raises(ValueError, match="data_parallel: device_ids must be devices of one"):
        data_parallel(pt.nn.Linear(2, 2), pt.ones(1, 2), device_ids=["minimal", "cpu"])


# ---------------------------------------------------------------------------- two devices

def _two_copies():
    from plugtorch import _dtype as D
    rng = np.random.default_rng(0)
    for dt in D.ALL:
        a = (rng.standard_normal((4, 6, 5)) * 50 if dt.is_floating_point else
             rng.integers(-100, 100, (4, 6, 5))).astype(dt.np)
        x = pt.tensor(a, device=D0)
        views = ((x, a), (x.transpose(0, 2), a.swapaxes(0, 2)), (x[1:, ::2, 3:], a[1:, ::2, 3:]),
                 (x[:, 2], a[:, 2]), (x.expand(2, 4, 6, 5), np.broadcast_to(a, (2, 4, 6, 5))))
        for view, ref in views:
            y = view.to(D1)
            assert y.device == pt.device(D1) and y.dtype is dt and y.shape == ref.shape
            z = y.to("cpu")
            assert z.device == pt.device("cpu")
            np.testing.assert_array_equal(z.numpy(), ref)
            np.testing.assert_array_equal(y.to(D0).cpu().numpy(), ref)
        # copy_ from one device into a strided view on the other
        dst = pt.zeros(5, 6, 4, dtype=dt, device=D1)
        dst.transpose(0, 2).copy_(x)
        np.testing.assert_array_equal(dst.cpu().numpy(), a.swapaxes(0, 2))
    # gradients cross back to the device the tensor came from
    w = pt.arange(6., device=D0, requires_grad=True)
    (w[::2].to(D1) * pt.tensor([1., 2., 3.], device=D1)).sum().backward()
    assert w.grad.device == pt.device(D0)
    np.testing.assert_array_equal(w.grad.cpu().numpy(), [1., 0., 2., 0., 3., 0.])


def test_copies_between_two_devices_of_one_backend():
    _on_two_devices(_two_copies)


def _two_mlp():
    model = _mlp().to(D0)
    ref = copy.deepcopy(model)
    dp = pt.nn.DataParallel(model, device_ids=[D0, D1])
    assert dp.module is model and dp.device_ids == [pt.device(D0), pt.device(D1)]
    assert list(dp.state_dict())[0] == "module.0.weight"
    for n in (8, 7, 1):                                    # even, uneven, fewer than devices
        x, w = pt.randn(n, 5), pt.randn(n, 3)
        model.zero_grad(), ref.zero_grad()
        out = _run_and_backward(dp, x, w)
        assert out.device == pt.device(D0) and out.shape == (n, 3)
        _close(out, _run_and_backward(ref, x.to(D0), w))
        for g, r in zip(_grads(model), _grads(ref)):
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)
    # device indices refer to the module's backend; None means all its devices
    assert pt.nn.DataParallel(model, device_ids=[0, 1]).device_ids == dp.device_ids
    assert pt.nn.DataParallel(model).device_ids == dp.device_ids
    x = pt.randn(6, 5, device=D1)
    for where, expect in ((D1, D1), ("cpu", "cpu"), (-1, "cpu"), (1, D1)):
        out = pt.nn.DataParallel(model, device_ids=[0, 1], output_device=where)(x)
        assert out.device == pt.device(expect)
        _close(out, ref(x.to(D0)))
    out = data_parallel(model, x, device_ids=[D0, D1], output_device="cpu")
    assert out.device == pt.device("cpu")
    _close(out, ref(x.to(D0)))
    with pt.no_grad():
        assert not dp(x).requires_grad
    # the input's gradient comes back through the scatter, to the input's device
    x = pt.randn(5, 5, requires_grad=True)
    xr = x.detach().to(D0).requires_grad_()
    dp(x).square().sum().backward()
    ref(xr).square().sum().backward()
    assert x.grad.device == pt.device("cpu")
    _close(x.grad, xr.grad)


def test_mlp_matches_one_device():
    _on_two_devices(_two_mlp)


class _Columns(pt.nn.Module):
    """Takes (features, batch) inputs, keyword arguments and nested structures."""

    def __init__(self):
        super().__init__()
        pt.manual_seed(2)
        self.lin = pt.nn.Linear(4, 2)

    def forward(self, x, pair, extra, scale=1.0, mask=None):
        a, b = pair
        y = self.lin((x + a * extra["w"]).t()).t() * scale
        if mask is not None:
            y = y * mask
        return {"y": y, "parts": (b * 2, [x.sum(0, keepdim=True)]), "tag": None}


def _two_structures():
    model = _Columns().to(D0)
    ref = copy.deepcopy(model)
    dp = pt.nn.DataParallel(model, device_ids=[D0, D1], dim=1)
    x, a, b = pt.randn(4, 5), pt.randn(4, 5), pt.randn(3, 5)
    mask = pt.tensor([[1., 0., 1., 1., 0.]]).expand(2, 5)
    extra = {"w": 0.5}
    out = dp(x, (a, b), extra, scale=3.0, mask=mask)
    want = ref(x.to(D0), (a.to(D0), b.to(D0)), extra, scale=3.0, mask=mask.to(D0))
    assert out["tag"] is None and out["y"].shape == (2, 5)
    _close(out["y"], want["y"])
    _close(out["parts"][0], want["parts"][0])
    _close(out["parts"][1][0], want["parts"][1][0])
    out["y"].sum().backward()
    want["y"].sum().backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        _close(p.grad, q.grad)


def test_dim_1_kwargs_and_nested_structures_match_one_device():
    _on_two_devices(_two_structures)


def _two_cnn():
    model = _cnn().to(D0)
    ref = copy.deepcopy(model)
    dp = pt.nn.DataParallel(model, device_ids=[D0, D1])
    x, w = pt.randn(5, 2, 5, 5), pt.randn(5, 3)
    # train: each replica normalises its own chunk (3 + 2 samples), as PyTorch's does, and
    # only the first replica's running statistics are kept
    out = _run_and_backward(dp, x, w)
    bn = ref[1]
    first = ref(x[:3].to(D0))
    stats = {name: getattr(bn, name).clone() for name in ("running_mean", "running_var",
                                                           "num_batches_tracked")}
    want = pt.cat([first, ref(x[3:].to(D0))])
    with pt.no_grad():
        for name, value in stats.items():       # the second chunk's update is not kept
            getattr(bn, name).copy_(value)
    (want * w.to(D0)).sum().backward()
    _close(out, want, rtol=1e-4, atol=1e-5)
    for g, r in zip(_grads(model), _grads(ref)):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        _close(getattr(model[1], name), getattr(ref[1], name))
    # eval: running statistics, so the whole batch matches one device exactly
    model.eval(), ref.eval()
    model.zero_grad(), ref.zero_grad()
    out = _run_and_backward(dp, x, w)
    _close(out, _run_and_backward(ref, x.to(D0), w), rtol=1e-4, atol=1e-5)
    for g, r in zip(_grads(model), _grads(ref)):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5)


def test_cnn_with_batchnorm_matches_one_device_in_train_and_eval():
    _on_two_devices(_two_cnn)


def _two_training():
    model = _mlp().to(D0)
    ref = copy.deepcopy(model)
    dp = pt.nn.DataParallel(model, device_ids=[D0, D1])
    opts = [pt.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (model, ref)]
    pt.manual_seed(3)
    data = [(pt.randn(9, 5), pt.randint(0, 3, (9,))) for _ in range(5)]
    for x, y in data:
        for m, opt in zip((dp, ref), opts):
            opt.zero_grad()
            loss = pt.nn.functional.cross_entropy(m(x.to(D0)), y.to(D0))
            loss.backward()
            opt.step()
        for p, q in zip(model.parameters(), ref.parameters()):
            _close(p, q, rtol=1e-4, atol=1e-5)
    assert all(p.device == pt.device(D0) for p in model.parameters())


def test_five_sgd_steps_match_one_device_training():
    _on_two_devices(_two_training)


class _Lookup(pt.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = pt.nn.Embedding(4, 2)

    def forward(self, i):
        return self.emb(i * 3)      # an index made on the device: its range is checked later


def _two_errors():
    model = _mlp().to(D1)
    with pytest.raises(RuntimeError, match=r"parameters and buffers on device opencl:0 "
                       r"\(device_ids\[0\]\), but found one of them on device opencl:1"):
        pt.nn.DataParallel(model, device_ids=[D0, D1])(pt.ones(2, 5))
    with pytest.raises(RuntimeError, match="found one of them on device cpu"):
        data_parallel(_mlp(), pt.ones(2, 5), device_ids=[D0, D1])
    with pytest.raises(ValueError, match=r"one backend, got \['opencl:0', 'cpu'\]"):
        pt.nn.DataParallel(model, device_ids=[D0, "cpu"])
    with pytest.raises(RuntimeError, match="opencl:2 does not exist"):
        pt.nn.DataParallel(model, device_ids=[0, 2])
    # an error in a replica is raised again, naming where it happened
    dp = pt.nn.DataParallel(_mlp().to(D0), device_ids=[D0, D1])
    with pytest.raises(RuntimeError) as info:
        dp(pt.ones(4, 6))
    assert "replica 0 on device opencl:0" in " ".join(info.value.__notes__)
    # a check a replica's device defers is raised in the caller, as without threads
    dp = pt.nn.DataParallel(_Lookup().to(D0), device_ids=[D0, D1])
    with pytest.raises(IndexError, match="index 6 is out of bounds for dimension 0 with size 4"):
        dp(pt.tensor([0, 1, 2, 0])).cpu()


def test_errors_name_the_devices():
    _on_two_devices(_two_errors)
