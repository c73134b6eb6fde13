"""PyTorch API that public programs use beyond the ops: legacy tensor types and type names,
default device, in-place view ops, storages, module paths, nn.parallel, checkpointing,
autograd.functional."""
import pickle

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd import functional as AF
from plugtorch.utils.checkpoint import checkpoint, checkpoint_sequential

LEGACY = {"FloatTensor": pt.float32, "DoubleTensor": pt.float64, "HalfTensor": pt.float16,
          "LongTensor": pt.int64, "IntTensor": pt.int32, "ShortTensor": pt.int16,
          "CharTensor": pt.int8, "ByteTensor": pt.uint8, "BoolTensor": pt.bool}


def _np(t):
    return t.detach().cpu().numpy()


# ----------------------------------------------------------------------------- legacy types

@pytest.mark.parametrize("name", sorted(LEGACY))
def test_legacy_constructors_and_isinstance(name):
    cls, dtype = getattr(pt, name), LEGACY[name]
    e = cls(2, 3)
    assert e.shape == (2, 3) and e.dtype is dtype and e.device.type == "cpu"
    assert cls(pt.Size([4])).shape == (4,) and cls().shape == (0,)
    d = cls([1, 0, 1])
    assert d.dtype is dtype and d.tolist() == np.array([1, 0, 1]).astype(dtype.np).tolist()
    assert isinstance(d, cls) and isinstance(d, pt.Tensor)
    assert not any(isinstance(d, getattr(pt, other)) for other in LEGACY if other != name)
    assert cls(d) is d
    assert d.type() == f"torch.{name}"
    with pytest.raises(TypeError, match="data must be a sequence"):
        cls(2.5)


def test_legacy_types_match_pytorch():
    torch = pytest.importorskip("torch")
    for name, dtype in LEGACY.items():
        ours, theirs = getattr(pt, name), getattr(torch, name)
        assert ours.dtype is dtype and str(theirs.dtype) == "torch." + dtype.name
        assert issubclass(ours, pt.Tensor) == issubclass(theirs, torch.Tensor)
        x = pt.zeros(2, dtype=dtype)
        assert x.type() == torch.zeros(2, dtype=getattr(torch, dtype.name)).type()
        for other in LEGACY:
            t = torch.zeros(2, dtype=getattr(torch, dtype.name))
            assert isinstance(x, getattr(pt, other)) == isinstance(t, getattr(torch, other))


def test_isinstance_and_type_names_off_the_cpu(device):
    x = pt.ones(3, device=device)
    assert isinstance(x, pt.FloatTensor) == (device == "cpu")
    want = "torch.FloatTensor" if device == "cpu" else f"torch.{device}.FloatTensor"
    assert x.type() == want and x.long().type() == want.replace("Float", "Long")
    back = x.type("torch.DoubleTensor")       # PyTorch: a cpu type name moves to the cpu
    assert back.device.type == "cpu" and back.dtype is pt.float64
    assert x.type(pt.DoubleTensor).tolist() == [1.0, 1.0, 1.0]
    assert x.type(f"torch.{device}.IntTensor".replace("torch.cpu.", "torch.")).device == x.device
    assert x.type(pt.int16).device == x.device and x.type(pt.int16).dtype is pt.int16


def test_type_conversion_returns_self_when_unchanged_and_rejects_bad_names():
    x = pt.tensor([1.5, -2.0])
    assert x.type(pt.FloatTensor) is x and x.type("torch.FloatTensor") is x
    assert x.type(pt.LongTensor).tolist() == [1, -2]
    with pytest.raises(ValueError, match="invalid type: 'torch.NopeTensor'"):
        x.type("torch.NopeTensor")


def test_set_default_tensor_type_and_dtype():
    try:
        pt.set_default_tensor_type(pt.DoubleTensor)
        assert pt.get_default_dtype() is pt.float64 and pt.zeros(1).dtype is pt.float64
        assert pt.tensor([1.5]).dtype is pt.float64
        pt.set_default_tensor_type("torch.FloatTensor")
        assert pt.zeros(1).dtype is pt.float32
        with pytest.raises(TypeError, match="only floating-point"):
            pt.set_default_tensor_type(pt.LongTensor)
    finally:
        pt.set_default_dtype(pt.float32)
        pt.set_default_device("cpu")


def test_default_device_and_device_context(device):
    try:
        pt.set_default_device(device)
        assert pt.zeros(2).device.type == device and pt.tensor([1.0]).device.type == device
    finally:
        pt.set_default_device("cpu")
    with pt.device(device):
        assert pt.ones(2).device.type == device and pt.arange(3).device.type == device
        with pt.device("cpu"):
            assert pt.ones(1).device.type == "cpu"
        assert pt.randn(2).device.type == device
    assert pt.zeros(1).device.type == "cpu"


# ----------------------------------------------------------------------------- tensor API

def test_inplace_view_ops_match_pytorch_shapes(device):
    torch = pytest.importorskip("torch")
    steps = [("squeeze_", ()), ("unsqueeze_", (1,)), ("swapdims_", (0, 2)),
             ("transpose_", (0, 1)), ("squeeze_", (0,)), ("t_", ()), ("swapaxes_", (0, 1)),
             ("unsqueeze_", (-1,))]
    a = np.arange(6.0).reshape(2, 1, 3)
    x, t = pt.tensor(a, device=device), torch.tensor(a)
    for name, args in steps:
        assert getattr(x, name)(*args) is x
        getattr(t, name)(*args)
        assert tuple(x.shape) == tuple(t.shape) and x.stride() == t.stride(), name
        np.testing.assert_array_equal(_np(x), t.numpy())


def test_inplace_view_ops_under_autograd(device):
    w = pt.tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.t_()
    with pt.no_grad():
        w.t_()                                  # allowed without recording
    assert w.shape == (3, 2)
    v = pt.tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    y = v * 2
    y.t_()
    assert y.shape == (3, 2) and y.grad_fn is not None
    wt = pt.tensor(np.arange(6.0).reshape(3, 2), device=device)
    (y * wt).sum().backward()
    np.testing.assert_allclose(_np(v.grad), 2 * np.arange(6.0).reshape(3, 2).T)
    u = v * 1
    u.unsqueeze_(0)
    u.sum().backward()
    assert u.shape == (1, 2, 3)


def test_inplace_view_ops_match_pytorch_autograd_errors():
    torch = pytest.importorskip("torch")
    for mod in (pt, torch):
        w = mod.ones(2, 3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable"):
            w.squeeze_()
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            w.resize_as_(mod.zeros(3, 2))
        with pytest.raises(RuntimeError, match=r"t_\(\) expects a tensor with <= 2 dim"):
            mod.zeros(2, 3, 4).t_()


def test_resize_as_(device):
    x = pt.arange(6.0, device=device)
    assert x.resize_as_(pt.zeros(2, 3)) is x and x.shape == (2, 3)
    np.testing.assert_array_equal(_np(x), np.arange(6.0).reshape(2, 3))


def test_module_level_inplace_functions(device):
    torch = pytest.importorskip("torch")
    a = np.array([0.25, 0.5, 0.75])
    for name in pt.ops._tensor_methods.TORCH_INPLACE:
        assert hasattr(torch, name), name
    for name in ("sin_", "exp_", "relu_", "sqrt_", "sigmoid_", "log1p_", "square_", "exp2_"):
        x = pt.tensor(a, device=device)
        assert getattr(pt, name)(x) is x
        np.testing.assert_allclose(_np(x), getattr(torch, name)(torch.tensor(a)).numpy(),
                                   rtol=1e-6)


def test_inplace_of_a_float_result_into_an_integer_tensor_raises(device):
    x = pt.arange(3, device=device)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        x.exp2_()


def test_storages_share_addresses_across_views(device):
    x = pt.zeros(4, 3, device=device)
    v = x[1]
    assert x.untyped_storage().data_ptr() == v.untyped_storage().data_ptr()
    assert v.data_ptr() - x.data_ptr() == 3 * 4
    assert x.storage().size() == 12 and x.untyped_storage().nbytes() == 48
    assert x.storage().element_size() == 4 and x.storage().dtype is pt.float32
    assert len(x.untyped_storage()) == 48 and x.untyped_storage() == v.untyped_storage()
    y = pt.zeros(4, 3, device=device)
    assert not (x.data_ptr() <= y.data_ptr() < x.data_ptr() + 48)
    assert x.data_ptr() == x.data_ptr()
    x[0, 0] = 5.0
    assert x.storage()[0] == 5.0 and x.storage().tolist()[:2] == [5.0, 0.0]


def test_cpu_data_ptr_is_the_numpy_address():
    x = pt.zeros(5, dtype=pt.float64)
    assert x[2].data_ptr() == x.numpy().ctypes.data + 16


def test_device_and_layout_flags(device):
    torch = pytest.importorskip("torch")
    x, t = pt.zeros(2, device=device), torch.zeros(2)
    assert x.is_cpu == (device == "cpu")
    for flag in ("is_cuda", "is_xpu", "is_mps", "is_meta", "is_quantized", "is_sparse"):
        assert getattr(x, flag) is False and getattr(t, flag) is False, flag
    assert (x.element_size(), x.nbytes, x.itemsize) == (4, 8, 4)


# ----------------------------------------------------------------------------- namespaces

def test_module_classes_at_pytorch_paths():
    torch = pytest.importorskip("torch")
    import importlib
    import inspect
    for name in dir(pt.nn):
        ours, theirs = getattr(pt.nn, name), getattr(torch.nn, name, None)
        if not inspect.isclass(ours) or theirs is None:
            continue
        path = theirs.__module__.replace("torch", "plugtorch", 1)
        assert ours.__module__ == path, name
        assert getattr(importlib.import_module(path), name) is ours, name
    from plugtorch.nn.modules.linear import NonDynamicallyQuantizableLinear
    from plugtorch.nn.modules.batchnorm import _BatchNorm
    assert issubclass(NonDynamicallyQuantizableLinear, pt.nn.Linear)
    assert isinstance(pt.nn.BatchNorm1d(3), _BatchNorm)


def test_modules_pickle_by_pytorch_path():
    m = pt.nn.Sequential(pt.nn.BatchNorm2d(2), pt.nn.PixelShuffle(2))
    blob = pickle.dumps(m)
    assert b"plugtorch.nn.modules.batchnorm" in blob and b"pixelshuffle" in blob
    back = pickle.loads(blob)
    assert type(back[0]) is pt.nn.BatchNorm2d


def test_data_parallel_on_one_device(device):
    lin = pt.nn.Linear(3, 2).to(device)
    dp = pt.nn.DataParallel(lin)
    x = pt.randn(4, 3, device=device)
    np.testing.assert_allclose(_np(dp(x)), _np(lin(x)))
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    with pytest.raises(RuntimeError, match="call init_process_group"):
        pt.nn.parallel.DistributedDataParallel(lin)      # no process group in this process


def test_grad_mode_and_worker_info_paths():
    from plugtorch.autograd.grad_mode import no_grad, enable_grad, set_grad_enabled
    from plugtorch.autograd.grad_mode import inference_mode
    from plugtorch.utils.data import get_worker_info
    assert no_grad is pt.no_grad and enable_grad and set_grad_enabled and inference_mode
    assert get_worker_info() is None


# ----------------------------------------------------------------------------- checkpoint

def _net(device):
    pt.manual_seed(0)
    return pt.nn.Sequential(pt.nn.Linear(4, 8), pt.nn.Dropout(0.5), pt.nn.Tanh(),
                            pt.nn.Linear(8, 2)).to(device)


def _grads(net, x):
    return [_np(p.grad) for p in net.parameters()] + ([_np(x.grad)] if x.requires_grad else [])


@pytest.mark.parametrize("input_grad", [True, False])
def test_checkpoint_gradients_equal_plain_ones_with_dropout(device, input_grad):
    net = _net(device)
    x = pt.randn(5, 4, device=device).requires_grad_(input_grad)
    pt.manual_seed(1)
    plain = net(x)
    (plain ** 2).sum().backward()
    want = _grads(net, x)
    net.zero_grad()
    x.grad = None
    pt.manual_seed(1)
    out = checkpoint(net, x, use_reentrant=False)
    pt.manual_seed(7)          # backward's recomputation must replay the first run's dropout
    (out ** 2).sum().backward()
    np.testing.assert_allclose(_np(out), _np(plain), rtol=1e-6)
    for g, w in zip(_grads(net, x), want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_checkpoint_with_autograd_grad_and_sequential(device):
    net = _net(device).eval()
    x = pt.randn(3, 4, device=device, requires_grad=True)
    ref = pt.autograd.grad(net(x).sum(), [x, *net.parameters()])
    got = pt.autograd.grad(checkpoint(net, x).sum(), [x, *net.parameters()])
    seq = pt.autograd.grad(checkpoint_sequential(net, 2, x).sum(), [x, *net.parameters()])
    for r, g, s in zip(ref, got, seq):
        np.testing.assert_allclose(_np(g), _np(r), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_np(s), _np(r), rtol=1e-5, atol=1e-6)


def test_checkpoint_keeps_no_intermediate_graph():
    x = pt.randn(3, requires_grad=True)
    out = checkpoint(lambda t: t.exp().sin(), x)
    assert out.grad_fn.name() == "CheckpointFunctionBackward"
    (edge,) = out.grad_fn.next_functions          # straight to x: no exp or sin node kept
    assert edge[0].name() == "AccumulateGrad" and edge[0].variable is x


# ----------------------------------------------------------------------------- autograd.functional

def _f(x, y):
    return x.exp() * y.sin(), (x * y).sum()


def _s(x, y):
    return (x.exp() * y.sin()).sum() + (x ** 2 * y).sum()


_X, _Y = np.array([0.3, -0.7, 1.1]), np.array([0.5, 0.2, -1.3])


def _closed_form_hessian(x, y):
    # s = sum(exp(x) sin(y) + x^2 y): the Hessian is diagonal in each block
    hxx = np.diag(np.exp(x) * np.sin(y) + 2 * y)
    hxy = np.diag(np.exp(x) * np.cos(y) + 2 * x)
    hyy = np.diag(-np.exp(x) * np.sin(y))
    return ((hxx, hxy), (hxy, hyy))


def test_jacobian_and_hessian_against_closed_forms(device):
    x, y = pt.tensor(_X, device=device), pt.tensor(_Y, device=device)
    (jxx, jxy), (jsx, jsy) = AF.jacobian(_f, (x, y))
    np.testing.assert_allclose(_np(jxx), np.diag(np.exp(_X) * np.sin(_Y)), rtol=1e-6)
    np.testing.assert_allclose(_np(jxy), np.diag(np.exp(_X) * np.cos(_Y)), rtol=1e-6)
    np.testing.assert_allclose(_np(jsx), _Y, rtol=1e-6)
    np.testing.assert_allclose(_np(jsy), _X, rtol=1e-6)
    h = AF.hessian(_s, (x, y))
    for row, want_row in zip(h, _closed_form_hessian(_X, _Y)):
        for got, want in zip(row, want_row):
            np.testing.assert_allclose(_np(got), want, rtol=1e-6, atol=1e-12)
    single = AF.hessian(lambda t: (t ** 3).sum(), x)
    np.testing.assert_allclose(_np(single), np.diag(6 * _X), rtol=1e-6)


def test_vector_products_against_closed_forms(device):
    x, y = pt.tensor(_X, device=device), pt.tensor(_Y, device=device)
    vx, vy = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    v = (pt.tensor(vx, device=device), pt.tensor(vy, device=device))
    (hxx, hxy), (_, hyy) = _closed_form_hessian(_X, _Y)
    hv = (hxx @ vx + hxy @ vy, hxy @ vx + hyy @ vy)
    for fn in (AF.vhp, AF.hvp):
        value, got = fn(_s, (x, y), v)
        np.testing.assert_allclose(_np(value), np.sum(np.exp(_X) * np.sin(_Y) + _X ** 2 * _Y))
        for g, w in zip(got, hv):
            np.testing.assert_allclose(_np(g), w, rtol=1e-6)
    (o1, o2), (j1, j2) = AF.jvp(_f, (x, y), v)
    np.testing.assert_allclose(_np(j1), np.exp(_X) * np.sin(_Y) * vx
                               + np.exp(_X) * np.cos(_Y) * vy, rtol=1e-6)
    np.testing.assert_allclose(_np(j2), _Y @ vx + _X @ vy, rtol=1e-6)
    u = (pt.tensor(vx, device=device), pt.tensor(2.0, device=device))
    _, (gx, gy) = AF.vjp(_f, (x, y), u)
    np.testing.assert_allclose(_np(gx), np.exp(_X) * np.sin(_Y) * vx + 2 * _Y, rtol=1e-6)
    np.testing.assert_allclose(_np(gy), np.exp(_X) * np.cos(_Y) * vx + 2 * _X, rtol=1e-6)


def test_functional_strict_create_graph_and_structure(device):
    x, y = pt.tensor(_X, device=device), pt.tensor(_Y, device=device)
    jx, jy = AF.jacobian(lambda a, b: a * 2, (x, y))
    np.testing.assert_array_equal(_np(jy), np.zeros((3, 3)))
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.jacobian(lambda a, b: a * 2, (x, y), strict=True)
    j = AF.jacobian(lambda a: a.exp(), x)
    assert isinstance(j, pt.Tensor) and j.shape == (3, 3) and not j.requires_grad
    xr = pt.tensor(_X, device=device, requires_grad=True)
    AF.jacobian(lambda a: a ** 3, xr, create_graph=True).sum().backward()
    np.testing.assert_allclose(_np(xr.grad), 6 * _X, rtol=1e-6)
    with pytest.raises(RuntimeError, match="single element"):
        AF.vjp(lambda a: a * 2, x)


def test_functional_matches_pytorch():
    torch = pytest.importorskip("torch")
    tf = torch.autograd.functional
    x, y = pt.tensor(_X), pt.tensor(_Y)
    tx, ty = torch.tensor(_X), torch.tensor(_Y)
    v, tv = (x * 0.5, y - 1), (tx * 0.5, ty - 1)
    pairs = [(AF.jacobian(_f, (x, y)), tf.jacobian(_f, (tx, ty))),
             (AF.hessian(_s, (x, y)), tf.hessian(_s, (tx, ty))),
             (AF.hvp(_s, (x, y), v), tf.hvp(_s, (tx, ty), tv)),
             (AF.jvp(_f, (x, y), v), tf.jvp(_f, (tx, ty), tv))]

    def flat(r):
        return [a for b in r for a in flat(b)] if isinstance(r, tuple) else [r]

    for ours, theirs in pairs:
        ours, theirs = flat(ours), flat(theirs)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_allclose(_np(a), b.detach().numpy(), rtol=1e-10)
