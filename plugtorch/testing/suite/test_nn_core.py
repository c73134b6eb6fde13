"""nn core on the backend under test: activations, Linear, Bilinear, Embedding, dropout, pad,
one_hot, normalize, containers moved to the device, gradient clipping.

References are numpy float64 closed forms and finite differences (gradcheck in float64);
where PyTorch is installed, an extra test copies the same weights into torch modules.
"""
import math

import numpy as np
import pytest

import plugtorch
import plugtorch.nn as nn
import plugtorch.nn.functional as F
from plugtorch.autograd import gradcheck, gradgradcheck
from plugtorch.testing import assert_values, to_host

_SQRT2 = math.sqrt(2.0)
_ERF = np.vectorize(math.erf)
_SA, _SS = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(np.minimum(beta * x, threshold)))
                    / beta)


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name -> (plugtorch function, numpy float64 reference)
ACTIVATIONS = {
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    "selu": (F.selu, lambda x: _SS * np.where(x > 0, x, _SA * np.expm1(x))),
    "celu": (lambda x: F.celu(x, 1.5), lambda x: np.maximum(x, 0) +
             np.minimum(0, 1.5 * np.expm1(x / 1.5))),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + _ERF(x / _SQRT2))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: 0.5 * x * (1 + np.tanh(
        math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    "silu": (F.silu, lambda x: x * _np_sigmoid(x)),
    "mish": (F.mish, lambda x: x * np.tanh(_np_softplus(x))),
    "sigmoid": (F.sigmoid, _np_sigmoid),
    "tanh": (F.tanh, np.tanh),
    "softplus": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                 lambda x: _np_softplus(x, 2.0, 3.0)),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x)),
    "logsigmoid": (F.logsigmoid, lambda x: -_np_softplus(-x)),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5), lambda x: np.clip(x, -0.5, 1.5)),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "threshold": (lambda x: F.threshold(x, 0.3, -2.0), lambda x: np.where(x > 0.3, x, -2.0)),
    "softmax": (lambda x: F.softmax(x, dim=1), lambda x: np.exp(x) / np.exp(x).sum(
        1, keepdims=True)),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), lambda x: x - np.log(np.exp(x).sum(
        0, keepdims=True))),
    "softmin": (lambda x: F.softmin(x, dim=1), lambda x: np.exp(-x) / np.exp(-x).sum(
        1, keepdims=True)),
    "glu": (lambda x: F.glu(x, dim=1), lambda x: x[:, :2] * _np_sigmoid(x[:, 2:])),
}
INPLACE = {"relu": F.relu, "relu6": F.relu6, "elu": F.elu, "selu": F.selu,
           "leaky_relu": F.leaky_relu, "silu": F.silu, "hardtanh": F.hardtanh,
           "hardswish": F.hardswish}


def _x(rng, shape=(3, 4), scale=3.0):
    # keep values away from the kinks (0, thresholds) where finite differences break
    x = rng.uniform(-scale, scale, shape)
    return np.where(np.abs(x) < 0.1, 0.37, x)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_forward(device, name):
    fn, ref = ACTIVATIONS[name]
    x = _x(np.random.default_rng(0), (3, 4), 8.0).astype(np.float32)
    y = fn(plugtorch.tensor(x, device=device))
    assert y.dtype is plugtorch.float32 and y.device.type == device
    assert_values(y, ref(x.astype(np.float64)), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradcheck(device, name):
    fn, _ = ACTIVATIONS[name]
    x = plugtorch.tensor(_x(np.random.default_rng(1), (2, 4)), dtype=plugtorch.float64,
                         device=device, requires_grad=True)
    assert gradcheck(fn, (x,))


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "elu", "softplus", "silu", "mish"])
def test_activation_gradgradcheck(device, name):
    fn, _ = ACTIVATIONS[name]
    x = plugtorch.tensor(_x(np.random.default_rng(12), (2, 2)), dtype=plugtorch.float64,
                         device=device, requires_grad=True)
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_activation_inplace(device, name):
    fn = INPLACE[name]
    data = _x(np.random.default_rng(2), (2, 3))
    leaf = plugtorch.tensor(data, dtype=plugtorch.float64, device=device, requires_grad=True)
    expected = fn(leaf * 2)
    (g_out,) = plugtorch.autograd.grad(expected.sum(), leaf)
    h = leaf * 2                       # a non-leaf: in-place is allowed
    r = fn(h, inplace=True)
    assert r is h
    assert_values(h, to_host(expected))
    (g_in,) = plugtorch.autograd.grad(h.sum(), leaf)
    assert_values(g_in, to_host(g_out))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        fn(leaf, inplace=True)


def test_activation_modules_match_functional(device):
    x = plugtorch.tensor(_x(np.random.default_rng(3), (2, 3, 4)), device=device)
    pairs = [(nn.ReLU(), F.relu(x)), (nn.ReLU6(), F.relu6(x)), (nn.ELU(0.5), F.elu(x, 0.5)),
             (nn.SELU(), F.selu(x)), (nn.LeakyReLU(0.3), F.leaky_relu(x, 0.3)),
             (nn.GELU("tanh"), F.gelu(x, approximate="tanh")), (nn.SiLU(), F.silu(x)),
             (nn.Sigmoid(), x.sigmoid()), (nn.Tanh(), x.tanh()),
             (nn.Softplus(2.0, 5.0), F.softplus(x, 2.0, 5.0)), (nn.Softmax(dim=-1),
                                                                F.softmax(x, -1)),
             (nn.LogSoftmax(dim=1), F.log_softmax(x, 1)), (nn.Hardtanh(-2, 2),
                                                            x.clamp(-2, 2))]
    for module, expected in pairs:
        assert_values(module(x), to_host(expected), msg=repr(module))


def test_prelu(device):
    rng = np.random.default_rng(4)
    x = _x(rng, (2, 3, 4))
    m = nn.PReLU(3).to(device).double()
    with plugtorch.no_grad():
        m.weight.copy_(plugtorch.tensor([0.1, -0.2, 0.5], dtype=plugtorch.float64))
    xt = plugtorch.tensor(x, device=device, requires_grad=True)
    y = m(xt)
    a = np.array([0.1, -0.2, 0.5]).reshape(3, 1)
    assert_values(y, np.where(x > 0, x, a * x))
    y.sum().backward()
    assert_values(m.weight.grad, np.where(x > 0, 0, x).sum((0, 2)))
    assert_values(xt.grad, np.where(x > 0, 1.0, np.broadcast_to(a, x.shape)))
    assert gradcheck(lambda t, w: F.prelu(t, w), (xt, m.weight))


# ----------------------------------------------------------------------------- linear

def test_linear_forward_backward(device):
    rng = np.random.default_rng(5)
    x, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    m = nn.Linear(3, 4).to(device)
    w, b = to_host(m.weight).astype(np.float64), to_host(m.bias).astype(np.float64)
    xt = plugtorch.tensor(x, dtype=plugtorch.float32, device=device, requires_grad=True)
    y = m(xt)
    assert_values(y, x @ w.T + b, atol=1e-5, rtol=1e-5)
    y.backward(plugtorch.tensor(g, dtype=plugtorch.float32, device=device))
    assert_values(m.weight.grad, g.T @ x, atol=1e-5, rtol=1e-5)
    assert_values(m.bias.grad, g.sum(0), atol=1e-5, rtol=1e-5)
    assert_values(xt.grad, g @ w, atol=1e-5, rtol=1e-5)
    # leading batch dims and no bias
    m2 = nn.Linear(3, 2, bias=False).to(device)
    x3 = rng.standard_normal((2, 5, 3)).astype(np.float32)
    assert_values(m2(plugtorch.tensor(x3, device=device)),
                 x3 @ to_host(m2.weight).T.astype(np.float64), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("k, o", [(0, 3), (3, 0), (0, 0)])
def test_linear_with_no_features_has_gradients(device, k, o, create_graph):
    """Zero input or output features: the bias gradient counts the rows, the others are
    empty (the backward reshapes by the row count, never -1)."""
    x = plugtorch.zeros(4, k, device=device, requires_grad=True)
    w = plugtorch.zeros(o, k, device=device, requires_grad=True)
    b = plugtorch.zeros(o, device=device, requires_grad=True)
    gx, gw, gb = plugtorch.autograd.grad(F.linear(x, w, b).sum(), (x, w, b),
                                         create_graph=create_graph)
    assert tuple(gx.shape) == (4, k) and tuple(gw.shape) == (o, k)
    np.testing.assert_array_equal(to_host(gb), np.full(o, 4.0))


def test_linear_and_bilinear_gradcheck(device):
    rng = np.random.default_rng(6)

    def t(*shape):
        return plugtorch.tensor(rng.standard_normal(shape), device=device, requires_grad=True)
    x, w, b = t(2, 3), t(4, 3), t(4)
    assert gradcheck(F.linear, (x, w, b))
    x1, x2, wb, bb = t(2, 3), t(2, 2), t(4, 3, 2), t(4)
    assert gradcheck(F.bilinear, (x1, x2, wb, bb))


def test_bilinear_forward(device):
    rng = np.random.default_rng(7)
    x1, x2 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 2))
    m = nn.Bilinear(3, 2, 4).to(device).double()
    w, b = to_host(m.weight), to_host(m.bias)
    y = m(plugtorch.tensor(x1, device=device), plugtorch.tensor(x2, device=device))
    assert_values(y, np.einsum("...i,kij,...j->...k", x1, w, x2) + b)


def test_linear_shape_error(device):
    m = nn.Linear(3, 4).to(device)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied "
                                           r"\(2x5 and 3x4\)"):
        m(plugtorch.ones(2, 5, device=device))


# ----------------------------------------------------------------------------- embedding

def test_embedding_lookup_and_padding_gradient(device):
    idx = np.array([[1, 2, 1], [4, 0, 1]])
    e = nn.Embedding(5, 3, padding_idx=1).to(device)
    w = to_host(e.weight)
    assert np.all(w[1] == 0)
    out = e(plugtorch.tensor(idx, device=device))
    assert_values(out, w[idx])
    g = np.random.default_rng(8).standard_normal((2, 3, 3))
    out.backward(plugtorch.tensor(g, dtype=plugtorch.float32, device=device))
    expected = np.zeros((5, 3))
    np.add.at(expected, idx.ravel(), g.reshape(-1, 3))
    expected[1] = 0.0                     # no gradient to the padding row
    assert_values(e.weight.grad, expected, atol=1e-5, rtol=1e-5)


def test_embedding_scale_grad_by_freq_and_max_norm(device):
    idx = plugtorch.tensor([0, 0, 2, 0], device=device)
    w0 = np.array([[3.0, 4.0], [0.1, 0.1], [0.3, 0.4]])
    w = plugtorch.tensor(w0, device=device, requires_grad=True)
    F.embedding(idx, w, scale_grad_by_freq=True).sum().backward()
    assert_values(w.grad, [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]])   # 3 uses / frequency 3
    e = nn.Embedding.from_pretrained(plugtorch.tensor(w0, device=device), max_norm=1.0)
    out = e(idx)
    assert not e.weight.requires_grad
    assert_values(out[0], [0.6, 0.8], atol=1e-6)                 # row 0 renormalised to 1
    assert_values(e.weight, [[0.6, 0.8], [0.1, 0.1], [0.3, 0.4]], atol=1e-6)


def test_embedding_index_errors(device):
    w = plugtorch.ones(3, 2, device=device)
    with pytest.raises(IndexError):
        F.embedding(plugtorch.tensor([3], device=device), w)
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices'"):
        F.embedding(plugtorch.ones(2, device=device), w)


def test_one_hot(device):
    idx = np.array([[0, 3], [2, 1]])
    y = F.one_hot(plugtorch.tensor(idx, device=device))
    assert y.dtype is plugtorch.int64
    assert_values(y, np.eye(4, dtype=np.int64)[idx])
    assert tuple(F.one_hot(plugtorch.tensor([1], device=device), 5).shape) == (1, 5)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(plugtorch.tensor([3], device=device), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(plugtorch.tensor([-1], device=device))



def test_normalize(device):
    x = np.array([[3.0, -4.0, 0.0], [0.0, 0.0, 0.0]])
    t = plugtorch.tensor(x, device=device)
    assert_values(F.normalize(t), x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True),
                                                 1e-12))   # the zero row stays zero
    assert_values(F.normalize(t, p=1, dim=0, eps=0.5),
                 x / np.maximum(np.abs(x).sum(0, keepdims=True), 0.5))
    w = plugtorch.tensor([[0.3, -1.2, 2.0], [1.0, 0.5, -0.2]], dtype=plugtorch.float64,
                         device=device, requires_grad=True)
    assert gradcheck(lambda a: F.normalize(a, dim=1), (w,))
    with pytest.raises(RuntimeError, match="floating point"):
        F.normalize(plugtorch.tensor([1, 2], device=device), dim=0)


# ----------------------------------------------------------------------------- dropout

def test_dropout_train_eval_and_seed(device):
    x = plugtorch.ones(40, 50, device=device)
    m = nn.Dropout(0.25)
    plugtorch.manual_seed(123)
    y = to_host(m(x))
    assert set(np.unique(y).tolist()) <= {0.0, np.float32(1 / 0.75)}
    assert 0.15 < (y == 0).mean() < 0.35
    # the mask is plugtorch's bernoulli draw: the same seed gives the same mask everywhere
    plugtorch.manual_seed(123)
    mask = to_host(plugtorch.empty(40, 50, device=device).bernoulli_(0.75))
    assert np.array_equal(y != 0, mask != 0)
    plugtorch.manual_seed(123)
    assert np.array_equal(to_host(F.dropout(plugtorch.ones(40, 50), 0.25)), y)
    assert m.eval()(x) is x
    assert_values(F.dropout(x, 1.0), np.zeros((40, 50)))
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, "
                                         "but got 1.5"):
        nn.Dropout(1.5)


def test_dropout_gradient_uses_mask(device):
    x = plugtorch.ones(6, 7, device=device, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    assert_values(x.grad, to_host(y))


def test_dropout2d_zeroes_whole_channels(device):
    plugtorch.manual_seed(0)
    y = to_host(nn.Dropout2d(0.5)(plugtorch.ones(4, 8, 3, 2, device=device)))
    per_channel = y.reshape(4, 8, -1)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))
    assert set(np.unique(per_channel).tolist()) == {0.0, 2.0}


# ----------------------------------------------------------------------------- pad

@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad(device, mode):
    x = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
    pads = (2, 1, 1, 2)
    kw = {"value": -1.5} if mode == "constant" else {}
    y = F.pad(plugtorch.tensor(x, device=device), pads, mode=mode, **kw)
    np_mode = {"circular": "wrap", "replicate": "edge"}.get(mode, mode)
    np_kw = {"constant_values": -1.5} if mode == "constant" else {}
    assert_values(y, np.pad(x, ((0, 0), (1, 2), (2, 1)), mode=np_mode, **np_kw))
    xt = plugtorch.tensor(x[:1, :2, :3] / 7, device=device, requires_grad=True)
    assert gradcheck(lambda t: F.pad(t, (1, 2, 1, 0), mode=mode), (xt,))


def test_pad_negative_crops(device):
    x = np.arange(12.0).reshape(3, 4)
    assert_values(F.pad(plugtorch.tensor(x, device=device), (-1, 2)),
                 np.pad(x[:, 1:], ((0, 0), (0, 2))))


# ----------------------------------------------------------------------------- modules

def test_sequential_on_device_trains_like_numpy(device):
    plugtorch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Flatten(0), nn.Unflatten(0, (2, 4)),
                        nn.Identity())
    ws = {k: to_host(v).astype(np.float64) for k, v in net.state_dict().items()}
    net.to(device)
    assert all(p.device.type == device for p in net.parameters())
    x = np.random.default_rng(9).standard_normal((2, 3))
    y = net(plugtorch.tensor(x, dtype=plugtorch.float32, device=device))
    h = np.tanh(x @ ws["0.weight"].T + ws["0.bias"])
    assert_values(y, h, atol=1e-5, rtol=1e-5)
    y.sum().backward()
    assert_values(net[0].bias.grad, (1 - h ** 2).sum(0), atol=1e-5, rtol=1e-5)
    # a state dict taken on the device loads into a cpu model
    cpu = nn.Sequential(nn.Linear(3, 4))
    cpu.load_state_dict({k: v for k, v in net.state_dict().items()})
    assert_values(cpu[0].weight, ws["0.weight"])


def test_module_to_keeps_parameter_objects(device):
    m = nn.Linear(2, 3)
    w, b = m.weight, m.bias
    m(plugtorch.ones(1, 2)).sum().backward()
    g = w.grad
    m.to(device, plugtorch.float64)
    assert m.weight is w and m.bias is b and w.grad is g
    assert isinstance(w, nn.Parameter) and w.requires_grad and w.is_leaf
    assert w.device.type == device and w.dtype is plugtorch.float64
    assert g.device.type == device and g.dtype is plugtorch.float64
    assert_values(g, np.ones((3, 2)))


def test_clip_grad_norm_closed_form(device):
    rng = np.random.default_rng(10)
    gs = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    ps = []
    for g in gs:
        p = nn.Parameter(plugtorch.zeros(g.shape, dtype=plugtorch.float64, device=device))
        p.grad = plugtorch.tensor(g, device=device)
        ps.append(p)
    total = math.sqrt(sum((g ** 2).sum() for g in gs))
    out = nn.utils.clip_grad_norm_(ps, 1.0)
    assert_values(out, total)
    for p, g in zip(ps, gs):
        assert_values(p.grad, g * (1.0 / (total + 1e-6)))
    # below the limit: unchanged; inf norm is the largest magnitude
    before = [to_host(p.grad) for p in ps]
    assert_values(nn.utils.clip_grad_norm_(ps, 10.0, norm_type=math.inf),
                 max(np.abs(b).max() for b in before))
    for p, b in zip(ps, before):
        assert_values(p.grad, b)
    nn.utils.clip_grad_value_(ps, 0.1)
    for p, b in zip(ps, before):
        assert_values(p.grad, np.clip(b, -0.1, 0.1))


def test_parameters_to_vector_round_trip(device):
    m = nn.Linear(3, 2).to(device)
    vec = nn.utils.parameters_to_vector(m.parameters())
    expected = np.concatenate([to_host(m.weight).ravel(), to_host(m.bias)])
    assert_values(vec, expected)
    nn.utils.vector_to_parameters(vec * 2, m.parameters())
    assert_values(m.bias, expected[6:] * 2)
    assert isinstance(m.weight, nn.Parameter)


# ----------------------------------------------------------------------------- torch oracle

def test_layers_match_torch(device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    pairs = [(nn.Linear(3, 5), torch.nn.Linear(3, 5)),
             (nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2), nn.LogSoftmax(1)),
              torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GELU(),
                                  torch.nn.Linear(4, 2), torch.nn.LogSoftmax(1))),
             (nn.Sequential(nn.PReLU(), nn.ELU(), nn.Softplus(2.0), nn.SELU(), nn.Mish()),
              torch.nn.Sequential(torch.nn.PReLU(), torch.nn.ELU(), torch.nn.Softplus(2.0),
                                  torch.nn.SELU(), torch.nn.Mish()))]
    for ours, theirs in pairs:
        theirs.load_state_dict({k: torch.from_numpy(to_host(v))
                                for k, v in ours.state_dict().items()})
        ours.to(device)
        xo = plugtorch.tensor(x, device=device, requires_grad=True)
        xt = torch.from_numpy(x).requires_grad_()
        yo, yt = ours(xo), theirs(xt)
        assert_values(yo, yt.detach().numpy(), atol=1e-5, rtol=1e-4, msg=repr(ours))
        (yo * yo).sum().backward()
        (yt * yt).sum().backward()
        assert_values(xo.grad, xt.grad.numpy(), atol=1e-5, rtol=1e-4)
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
            assert_values(p.grad, q.grad.numpy(), atol=1e-5, rtol=1e-4, msg=name)
