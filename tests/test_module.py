"""nn.Module API on the host: registration, names, state_dict, hooks, modes, conversion,
containers, repr, default initialisation and nn.init. Device behaviour is in the
conformance suite (plugtorch/testing/suite/test_nn_core.py)."""
import copy
import math
import pickle

import numpy as np
import pytest

import plugtorch
import plugtorch.nn as nn
from plugtorch.testing import assert_values, to_host


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.body = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
        self.register_buffer("steps", plugtorch.zeros((), dtype=plugtorch.int64))
        self.register_buffer("scratch", plugtorch.zeros(2), persistent=False)
        self.scale = nn.Parameter(plugtorch.ones(()))

    def forward(self, x):
        return self.body(self.fc(x)) * self.scale


# ----------------------------------------------------------------------------- names

def test_named_parameters_buffers_children_modules():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "fc.weight", "fc.bias", "body.0.weight", "body.0.bias", "body.2.weight",
        "body.2.bias"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in net.named_parameters(prefix="model")][:2] == ["model.scale",
                                                                      "model.fc.weight"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert [n for n, _ in net.named_children()] == ["fc", "body"]
    assert [n for n, _ in net.named_modules()] == ["", "fc", "body", "body.0", "body.1",
                                                   "body.2"]
    assert len(list(net.parameters())) == 7 and len(list(net.modules())) == 6
    assert all(isinstance(p, nn.Parameter) and isinstance(p, plugtorch.Tensor)
               for p in net.parameters())


def test_shared_parameters_and_modules_appear_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert [n for n, _ in seq.named_parameters(remove_duplicate=False)] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_get_submodule_parameter_buffer():
    net = Net()
    assert net.get_submodule("body.2") is net.body[2]
    assert net.get_submodule("") is net
    assert net.get_parameter("body.0.bias") is net.body[0].bias
    assert net.get_buffer("steps") is net.steps
    with pytest.raises(AttributeError, match="Sequential has no attribute `7`"):
        net.get_submodule("body.7")
    with pytest.raises(AttributeError, match="Linear has no parameter `nope`"):
        net.get_parameter("fc.nope")


# ----------------------------------------------------------------------------- registration

def test_setattr_routes_and_errors():
    m = nn.Module()
    m.w = nn.Parameter(plugtorch.ones(2))
    assert "w" in m._parameters and "w" not in m.__dict__
    with pytest.raises(TypeError, match=r"cannot assign 'plugtorch.*Tensor' as parameter 'w' "
                                        r"\(torch.nn.Parameter or None expected\)"):
        m.w = plugtorch.ones(2)
    m.w = None
    assert m.w is None and list(m.parameters()) == []
    m.sub = nn.ReLU()
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'sub'"):
        m.sub = 3
    m.register_buffer("b", plugtorch.zeros(1))
    m.b = plugtorch.ones(3)                       # a tensor for an existing buffer name
    assert m._buffers["b"].shape == (3,)
    m.plain = 5
    assert m.plain == 5 and "plain" in m.__dict__
    m.buf = nn.Buffer(plugtorch.ones(1), persistent=False)
    assert "buf" in m._buffers and "buf" not in m.state_dict()
    assert type(m.buf) is plugtorch.Tensor
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'foo'"):
        m.foo
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'foo'"):
        nn.Linear(1, 1).foo
    del m.sub
    assert "sub" not in m._modules
    assert {"w", "b", "buf", "plain", "forward"} <= set(dir(m))


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match="buffer name can.+t contain"):
        m.register_buffer("a.b", plugtorch.zeros(1))
    with pytest.raises(KeyError, match="empty string"):
        m.register_parameter("", None)
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        m.register_buffer("training", plugtorch.zeros(1))
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer 'x'"):
        m.register_buffer("x", [1])
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("x", 3)
    x = plugtorch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'p'"):
        m.register_parameter("p", _non_leaf_parameter(x))

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(plugtorch.ones(1))
    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Early()
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


def _non_leaf_parameter(x):
    p = nn.Parameter(plugtorch.ones(2))
    p._node = (x * 2)._node     # simulate a parameter with history
    return p


# ----------------------------------------------------------------------------- Parameter

def test_parameter_basics():
    data = plugtorch.arange(4.0)
    p = nn.Parameter(data)
    assert isinstance(p, plugtorch.Tensor) and p.requires_grad and p.is_leaf
    data[0] = 7.0
    assert p[0].item() == 7.0                        # shares data's storage
    assert repr(p) == "Parameter containing:\ntensor([7., 1., 2., 3.], requires_grad=True)"
    assert type(p * 2) is plugtorch.Tensor and type(p.detach()) is plugtorch.Tensor
    assert not nn.Parameter(plugtorch.ones(1), requires_grad=False).requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(plugtorch.ones(2, dtype=plugtorch.int64))
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and q is not p
    assert_values(q, to_host(p.detach()))
    r = pickle.loads(pickle.dumps(p))
    assert type(r) is nn.Parameter and r.requires_grad


# ----------------------------------------------------------------------------- state dict

def test_state_dict_round_trip_and_sharing():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["scale", "steps", "fc.weight", "fc.bias", "body.0.weight",
                        "body.0.bias", "body.2.weight", "body.2.bias"]
    assert not sd["fc.weight"].requires_grad and type(sd["fc.weight"]) is plugtorch.Tensor
    sd["fc.bias"][0] = 42.0                          # shares storage with the parameter
    assert net.fc.bias[0].item() == 42.0
    assert net.state_dict(keep_vars=True)["fc.bias"] is net.fc.bias
    assert list(net.fc.state_dict(prefix="x."))[0] == "x.weight"
    other = Net()
    result = other.load_state_dict(net.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (k, a), b in zip(net.state_dict().items(), other.state_dict().values()):
        assert_values(b, to_host(a), msg=k)
    assert other.fc.weight is not net.fc.weight      # copied, not assigned


def test_load_state_dict_reports_like_pytorch():
    net = Net()
    sd = net.state_dict()
    del sd["fc.bias"]
    sd["body.9.weight"] = plugtorch.zeros(1)
    sd["extra"] = plugtorch.zeros(1)
    sd["fc.weight"] = plugtorch.zeros(5, 3)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(sd)
    assert str(e.value) == (
        'Error(s) in loading state_dict for Net:\n'
        '\tMissing key(s) in state_dict: "fc.bias". \n'
        '\tUnexpected key(s) in state_dict: "extra", "body.9.weight". \n'
        '\tsize mismatch for fc.weight: copying a param with shape plugtorch.Size([5, 3]) '
        'from checkpoint, the shape in current model is plugtorch.Size([4, 3]).')
    del sd["fc.weight"]
    before = to_host(net.body[0].weight)
    sd["body.0.weight"] = plugtorch.ones(4, 4)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc.weight", "fc.bias"]
    assert result.unexpected_keys == ["extra", "body.9.weight"]
    assert_values(net.body[0].weight, np.ones((4, 4)))
    assert not np.allclose(before, 1.0)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        net.load_state_dict([1, 2])


def test_load_state_dict_assign_and_dtype_cast():
    lin = nn.Linear(2, 2)
    w = lin.weight
    new = {"weight": plugtorch.ones(2, 2, dtype=plugtorch.float64), "bias": plugtorch.zeros(2)}
    lin.load_state_dict(new)                        # copy_ casts into the float32 parameter
    assert lin.weight is w and lin.weight.dtype is plugtorch.float32
    lin.load_state_dict(new, assign=True)
    assert lin.weight is not w and isinstance(lin.weight, nn.Parameter)
    assert lin.weight.dtype is plugtorch.float64 and lin.weight.requires_grad


def test_extra_state():
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.counter = 0

        def get_extra_state(self):
            return {"counter": self.counter}

        def set_extra_state(self, state):
            self.counter = state["counter"]

    a, b = WithExtra(), WithExtra()
    a.counter = 5
    b.load_state_dict(a.state_dict())
    assert b.counter == 5


# ----------------------------------------------------------------------------- hooks

def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(("post", out.shape)))
    h3 = lin.register_forward_hook(lambda m, args, out: out + 1)
    h4 = lin.register_forward_hook(lambda m, args, out: calls.append("first"), prepend=True)
    out = lin(plugtorch.ones(1, 2))
    assert_values(out, to_host(lin.bias.detach()).reshape(1, 2) + 1)
    assert calls == ["first", ("post", (1, 2))]
    for h in (h1, h2, h3, h4):
        h.remove()
    assert_values(lin(plugtorch.zeros(1, 2)), to_host(lin.bias.detach()).reshape(1, 2))

    def pre_kw(m, args, kwargs):
        return args, {"scale": 3.0}

    class Scaled(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale
    s = Scaled()
    seen = []
    with s.register_forward_pre_hook(pre_kw, with_kwargs=True):
        s.register_forward_hook(lambda m, a, kw, out: seen.append(kw), with_kwargs=True)
        assert s(plugtorch.ones(1)).item() == 3.0
    assert seen == [{"scale": 3.0}]
    assert s(plugtorch.ones(1)).item() == 1.0       # the context manager removed the pre-hook


def _hook_run(lib, with_hooks):
    """A Linear(2, 1) with fixed weights, a full backward pre-hook doubling grad_output and
    a full backward hook adding 1 to grad_input; returns what the hooks saw and the grads."""
    lin = lib.nn.Linear(2, 1).double()
    with lib.no_grad():
        lin.weight.copy_(lib.tensor([[1.0, -2.0]], dtype=lib.float64))
        lin.bias.fill_(0.5)
    seen = []
    if with_hooks:
        lin.register_full_backward_pre_hook(
            lambda m, gout: seen.append(("pre", gout[0].tolist())) or (gout[0] * 2,))
        lin.register_full_backward_hook(
            lambda m, gin, gout: seen.append(("post", gin[0].tolist(), gout[0].tolist()))
            or (gin[0] + 1,))
    x = lib.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=lib.float64, requires_grad=True)
    (lin(x) ** 2).sum().backward()
    return seen, x.grad.tolist(), lin.weight.grad.tolist()


def test_full_backward_hooks_closed_form():
    seen, xg, wg = _hook_run(plugtorch, True)
    # y = x W^T + b = [-2.5, 5.5]; dL/dy = 2y, doubled by the pre-hook: [-10, 22]
    gy = np.array([[-10.0], [22.0]])
    assert seen == [("pre", [[-5.0], [11.0]]),
                    ("post", (gy @ [[1.0, -2.0]]).tolist(), gy.tolist())]
    assert_values(plugtorch.tensor(xg), gy @ [[1.0, -2.0]] + 1)     # hook's +1 reaches x
    assert_values(plugtorch.tensor(wg), gy.T @ [[1.0, 2.0], [3.0, -1.0]])  # uses doubled gy
    assert _hook_run(plugtorch, False)[1] == (np.array([[-5.0], [11.0]]) @
                                              [[1.0, -2.0]]).tolist()


def test_full_backward_hooks_match_pytorch():
    torch = pytest.importorskip("torch")
    assert _hook_run(plugtorch, True) == _hook_run(torch, True)


def test_full_backward_hook_tuple_io_and_removal():
    torch = pytest.importorskip("torch")

    def run(lib):
        class M(lib.nn.Module):
            def forward(self, a, k, b):
                return a * b, (a + b).detach(), k
        m, seen = M(), []
        f = lambda t: None if t is None else t.tolist()     # noqa: E731
        h = m.register_full_backward_hook(
            lambda mod, gin, gout: seen.append(([f(g) for g in gin], [f(g) for g in gout])))
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0])
        out = m(a, 3, b)
        assert out[0].grad_fn.name() == "BackwardHookFunctionBackward"
        assert not out[1].requires_grad and out[2] == 3
        out[0].sum().backward()
        h.remove()
        m(a, 3, b)[0].sum().backward()                      # removed: not called again
        return seen, a.grad.tolist()
    assert run(plugtorch) == run(torch)
    assert run(plugtorch)[0] == [([[3.0, 4.0], None, [0.0, 0.0]], [[1.0, 1.0], None, None])]


def test_backward_hook_without_input_grad_and_errors():
    lin = nn.Linear(2, 1)
    seen = []
    lin.register_full_backward_hook(lambda m, gin, gout: seen.append((gin, gout[0].shape)))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        lin(plugtorch.ones(3, 2)).sum().backward()          # only the parameters need grad
    assert seen == [((None,), (3, 1))]
    with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks and full"):
        lin.register_backward_hook(lambda *a: None)
    bad = nn.Linear(2, 1)
    bad.register_full_backward_hook(lambda m, gin, gout: (gin[0], gin[0]))
    with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of "
                                           "grad_input, got 2, but expected 1"):
        bad(plugtorch.ones(1, 2, requires_grad=True)).sum().backward()
    bad = nn.Linear(2, 1)
    bad.register_full_backward_pre_hook(lambda m, gout: (gout[0], gout[0]))
    with pytest.raises(RuntimeError, match="Backward pre hook returned an invalid number of "
                                           "grad_output, got 2, but expected 1"):
        bad(plugtorch.ones(1, 2, requires_grad=True)).sum().backward()
    legacy = nn.Linear(2, 1)
    calls = []
    legacy.register_backward_hook(lambda m, gin, gout: calls.append(len(gin)))
    legacy(plugtorch.ones(1, 2, requires_grad=True)).sum().backward()
    assert calls == [1]


def test_backward_hooks_in_nested_modules_fire_outer_last():
    order = []
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    for name, m in [("net", net), ("0", net[0]), ("2", net[2])]:
        m.register_full_backward_pre_hook(lambda m, g, n=name: order.append("pre " + n))
        m.register_full_backward_hook(lambda m, gi, go, n=name: order.append("post " + n))
    x = plugtorch.ones(4, 2, requires_grad=True)
    net(x).sum().backward()
    assert order == ["pre net", "pre 2", "post 2", "pre 0", "post 0", "post net"]
    net2 = copy.deepcopy(net)
    assert len(net2[0]._backward_hooks) == 1


# ----------------------------------------------------------------------------- modes, grads

def test_train_eval_zero_grad_apply_requires_grad():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(), nn.Sequential(nn.Dropout()))
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    net(plugtorch.ones(3, 2)).sum().backward()
    w = net[0].weight
    net.zero_grad(set_to_none=False)
    assert_values(w.grad, np.zeros((2, 2)))
    net.zero_grad()
    assert w.grad is None
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "Dropout", "Dropout", "Sequential", "Sequential"]
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_float_double_half_type_and_to_errors():
    net = Net()
    w = net.fc.weight
    net.double()
    assert w.dtype is plugtorch.float64 and net.fc.weight is w
    assert net.steps.dtype is plugtorch.int64       # integer buffers keep their dtype
    net.half()
    assert w.dtype is plugtorch.float16
    net.float()
    assert w.dtype is plugtorch.float32
    net.to(plugtorch.zeros(1, dtype=plugtorch.float64))
    assert w.dtype is plugtorch.float64
    net.to(dtype=plugtorch.float32, device="cpu")
    assert w.dtype is plugtorch.float32
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point"):
        net.to(plugtorch.int64)


def test_deepcopy_and_pickle_module():
    net = Net()
    net2 = copy.deepcopy(net)
    assert net2.fc.weight is not net.fc.weight and isinstance(net2.fc.weight, nn.Parameter)
    x = plugtorch.randn(2, 3)
    assert_values(net2(x), to_host(net(x)))
    shared = nn.Linear(1, 1)
    seq = copy.deepcopy(nn.Sequential(shared, shared))
    assert seq[0] is seq[1]
    net3 = pickle.loads(pickle.dumps(net))
    assert_values(net3(x), to_host(net(x)))


# ----------------------------------------------------------------------------- containers

def test_sequential_indexing():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[0] is layers[0] and seq[-1] is layers[2]
    assert list(seq) == layers
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and type(seq[3]).__name__ == "Sigmoid"
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is layers[2]
    seq[0] = nn.Identity()
    assert type(seq[0]) is nn.Identity
    with pytest.raises(IndexError):
        seq[5]
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict([("enc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert [n for n, _ in named.named_parameters()] == ["enc.weight", "enc.bias"]


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    ml.append(nn.Tanh())
    ml += [nn.Sigmoid()]
    assert len(ml) == 4 and isinstance(ml[1:3], nn.ModuleList)
    ml.insert(0, nn.Identity())
    assert type(ml[0]) is nn.Identity and list(ml._modules)[-1] == "4"
    del ml[0]
    assert type(ml[0]) is nn.Linear
    md = nn.ModuleDict({"a": nn.Linear(1, 2)})
    md["b"] = nn.ReLU()
    assert list(md) == ["a", "b"] and "a" in md and len(md) == 2
    assert md.pop("a") is not None and list(md.keys()) == ["b"]


def test_parameter_list_and_dict():
    pl = nn.ParameterList([plugtorch.zeros(2), nn.Parameter(plugtorch.ones(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 2
    pl.append(plugtorch.ones(1))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    pd = nn.ParameterDict({"a": plugtorch.ones(2)})
    pd["b"] = nn.Parameter(plugtorch.zeros(1))
    assert list(pd.keys()) == ["a", "b"] and isinstance(pd["a"], nn.Parameter)
    assert [n for n, _ in pd.named_parameters()] == ["a", "b"]
    assert "b" in pd and len(pd) == 2


# ----------------------------------------------------------------------------- repr

def test_repr_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 2, bias=False),
                                                                   nn.Dropout(0.1)),
                         nn.LeakyReLU(0.2, inplace=True), nn.Embedding(10, 3, padding_idx=0),
                         nn.Flatten(), nn.GELU(), nn.Softmax(dim=1), nn.ELU(),
                         nn.Hardtanh(-2.0, 2.0), nn.ReLU6(), nn.PReLU(3), nn.Softplus())
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Sequential(
            torch.nn.Linear(3, 2, bias=False), torch.nn.Dropout(0.1)),
        torch.nn.LeakyReLU(0.2, inplace=True), torch.nn.Embedding(10, 3, padding_idx=0),
        torch.nn.Flatten(), torch.nn.GELU(), torch.nn.Softmax(dim=1), torch.nn.ELU(),
        torch.nn.Hardtanh(-2.0, 2.0), torch.nn.ReLU6(), torch.nn.PReLU(3),
        torch.nn.Softplus())
    assert repr(ours) == repr(theirs)
    ml = [nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()]
    tl = [torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.ReLU()]
    assert repr(nn.ModuleList(ml)) == repr(torch.nn.ModuleList(tl))


def test_repr_without_pytorch():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    assert repr(net) == ("Sequential(\n  (0): Linear(in_features=4, out_features=3, "
                         "bias=True)\n  (1): ReLU()\n)")
    assert repr(nn.Module()) == "Module()"


# ----------------------------------------------------------------------------- init

def test_default_init_bounds_and_statistics():
    plugtorch.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = to_host(lin.weight), to_host(lin.bias)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound     # U(-k, k): std k/sqrt(3)
    assert abs(w.mean()) < 0.01 * bound
    bil = nn.Bilinear(16, 5, 3)
    assert np.abs(to_host(bil.weight)).max() <= 1 / math.sqrt(16)
    emb = nn.Embedding(200, 50)
    e = to_host(emb.weight)
    assert abs(e.std() - 1.0) < 0.03 and abs(e.mean()) < 0.03
    assert_values(nn.PReLU(4).weight, np.full(4, 0.25))


def test_init_functions():
    plugtorch.manual_seed(0)
    t = plugtorch.empty(200, 300)
    fan_in, fan_out = 300, 200
    nn.init.xavier_uniform_(t, gain=2.0)
    assert np.abs(to_host(t)).max() <= 2.0 * math.sqrt(6 / (fan_in + fan_out))
    nn.init.xavier_normal_(t)
    assert abs(to_host(t).std() - math.sqrt(2 / (fan_in + fan_out))) < 0.002
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(to_host(t).std() - math.sqrt(2 / fan_out)) < 0.003
    nn.init.kaiming_uniform_(t, nonlinearity="relu")
    assert np.abs(to_host(t).max()) <= math.sqrt(6 / fan_in)
    nn.init.trunc_normal_(t, std=1.0, a=-0.5, b=0.3)
    assert to_host(t).min() >= -0.5 and to_host(t).max() <= 0.3
    nn.init.constant_(t, 0.5)
    assert np.all(to_host(t) == 0.5)
    assert_values(nn.init.eye_(plugtorch.empty(2, 3)), np.eye(2, 3))
    d = nn.init.dirac_(plugtorch.empty(2, 2, 3))
    assert_values(d, np.array([[[0, 1, 0], [0, 0, 0]], [[0, 0, 0], [0, 1, 0]]]))
    p = nn.Parameter(plugtorch.zeros(3, 3))
    nn.init.normal_(p)                       # works on a leaf that requires grad (no_grad)
    assert p.requires_grad and p.grad_fn is None
    g1 = plugtorch.Generator().manual_seed(5)
    g2 = plugtorch.Generator().manual_seed(5)
    a = nn.init.uniform_(plugtorch.empty(4), generator=g1)
    assert_values(nn.init.uniform_(plugtorch.empty(4), generator=g2), to_host(a))
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed"):
        nn.init.xavier_uniform_(plugtorch.empty(3))
    with pytest.raises(ValueError, match="Mode fan_up not supported"):
        nn.init.kaiming_uniform_(plugtorch.empty(3, 3), mode="fan_up")
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("swish")


def test_calculate_gain_matches_pytorch():
    torch = pytest.importorskip("torch")
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                        ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.3),
                        ("selu", None)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param))


def test_functional_errors():
    F = nn.functional
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(plugtorch.ones(1), approximate="fast")
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel"):
        F.prelu(plugtorch.ones(2, 3), plugtorch.ones(2))
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(plugtorch.ones(2, 2), (1,))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        F.softmax(plugtorch.ones(2, 2))
