"""Optimizers on the backend under test: trajectories, state, state_dict, errors.

Each optimizer runs a few steps on a small Rosenbrock-like problem,
``f(x, y) = sum((1 - x)^2) + 5 sum((y - x^2)^2)``, and the parameters are compared with a
float64 numpy re-implementation of the update rule (written from the published
algorithms, independently of plugtorch.optim) and, where PyTorch is installed, with
torch.optim run from the same initial values.
"""
import numpy as np
import pytest

import plugtorch
from plugtorch.testing import assert_values, to_host
from plugtorch.testing.suite._common import widest_float

X0 = np.array([[-1.2, 0.5, 1.5], [0.3, -0.7, 2.0]])
Y0 = np.array([[1.0, -0.5, 0.8], [0.2, 1.1, -1.3]])
STEPS = 5


def _loss(x, y):
    # written with operators only, so plugtorch and torch tensors both work
    return ((1 - x) ** 2).sum() + 5 * ((y - x * x) ** 2).sum()


def _grads_np(x, y):
    r = y - x * x
    return -2 * (1 - x) - 20 * x * r, 10 * r


# ----------------------------------------------------------------------------- numpy rules
# One function per algorithm: (param, grad, state dict, hyper-parameters, step t) -> param.

def _np_sgd(p, g, s, h, t):
    if h["maximize"]:
        g = -g
    g = g + h["weight_decay"] * p
    if h["momentum"]:
        s["b"] = g.copy() if t == 1 else h["momentum"] * s["b"] + (1 - h["dampening"]) * g
        g = g + h["momentum"] * s["b"] if h["nesterov"] else s["b"]
    return p - h["lr"] * g


def _np_adam(p, g, s, h, t, decoupled=False):
    if h["maximize"]:
        g = -g
    if decoupled:
        p = p * (1 - h["lr"] * h["weight_decay"])
    else:
        g = g + h["weight_decay"] * p
    b1, b2 = h["betas"]
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    v = s["v"]
    if h["amsgrad"]:
        s["vmax"] = v = np.maximum(s.get("vmax", 0.0), v)
    m_hat = s["m"] / (1 - b1 ** t)
    return p - h["lr"] * m_hat / (np.sqrt(v / (1 - b2 ** t)) + h["eps"])


def _np_adagrad(p, g, s, h, t):
    if h["maximize"]:
        g = -g
    g = g + h["weight_decay"] * p
    s["sum"] = s.get("sum", h["initial_accumulator_value"]) + g * g
    lr = h["lr"] / (1 + (t - 1) * h["lr_decay"])
    return p - lr * g / (np.sqrt(s["sum"]) + h["eps"])


def _np_rmsprop(p, g, s, h, t):
    if h["maximize"]:
        g = -g
    g = g + h["weight_decay"] * p
    a = h["alpha"]
    s["v"] = a * s.get("v", 0.0) + (1 - a) * g * g
    var = s["v"]
    if h["centered"]:
        s["ga"] = a * s.get("ga", 0.0) + (1 - a) * g
        var = var - s["ga"] ** 2
    d = np.sqrt(var) + h["eps"]
    if h["momentum"]:
        s["b"] = h["momentum"] * s.get("b", 0.0) + g / d
        return p - h["lr"] * s["b"]
    return p - h["lr"] * g / d


# the documented defaults of each optimizer
_RULES = {
    "SGD": (_np_sgd, dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                          maximize=False)),
    "Adam": (_np_adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                            amsgrad=False, maximize=False)),
    "AdamW": (lambda *a: _np_adam(*a, decoupled=True),
              dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                   maximize=False)),
    "Adagrad": (_np_adagrad, dict(lr=1e-2, lr_decay=0, weight_decay=0,
                                  initial_accumulator_value=0, eps=1e-10, maximize=False)),
    "RMSprop": (_np_rmsprop, dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                                  centered=False, maximize=False)),
}

# (optimizer, options, options of a second parameter group holding y, or None: one group)
CASES = [
    ("SGD", dict(lr=0.004), None),
    ("SGD", dict(lr=0.004, momentum=0.9), None),
    ("SGD", dict(lr=0.004, momentum=0.9, dampening=0.3, weight_decay=0.1), None),
    ("SGD", dict(lr=0.004, momentum=0.8, nesterov=True, weight_decay=0.05), None),
    ("SGD", dict(lr=0.0005, momentum=0.5, maximize=True), None),
    ("SGD", dict(lr=0.004, momentum=0.9), dict(lr=0.001, nesterov=True)),
    ("Adam", dict(lr=0.1), None),
    ("Adam", dict(lr=0.1, amsgrad=True), None),
    ("Adam", dict(lr=0.05, weight_decay=0.1, maximize=True), None),
    ("Adam", dict(lr=0.1, betas=(0.8, 0.99), eps=1e-3, amsgrad=True, weight_decay=0.05), None),
    ("Adam", dict(lr=0.1), dict(lr=0.02, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.1), None),
    ("AdamW", dict(lr=0.1, amsgrad=True, weight_decay=0.2), None),
    ("AdamW", dict(lr=0.05, maximize=True), dict(weight_decay=0.0, betas=(0.5, 0.9))),
    ("Adagrad", dict(lr=0.1), None),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5,
                     eps=1e-3), None),
    ("Adagrad", dict(lr=0.05, maximize=True), dict(lr=0.3, lr_decay=0.05)),
    ("RMSprop", dict(lr=0.01), None),
    ("RMSprop", dict(lr=0.01, centered=True), None),
    ("RMSprop", dict(lr=0.01, momentum=0.9), None),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, alpha=0.9), None),
    ("RMSprop", dict(lr=0.005, maximize=True, eps=1e-4), dict(lr=0.02, centered=True)),
]
IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]


def _run(lib, device, name, options, group2, dtype, steps=STEPS):
    """Run optimizer `name` of library `lib` (plugtorch or torch); the final (x, y)."""
    x = lib.tensor(X0, dtype=dtype, device=device, requires_grad=True)
    y = lib.tensor(Y0, dtype=dtype, device=device, requires_grad=True)
    params = [x, y] if group2 is None else [{"params": [x]}, {"params": [y], **group2}]
    opt = getattr(lib.optim, name)(params, **options)
    for _ in range(steps):
        opt.zero_grad()
        _loss(x, y).backward()
        opt.step()
    return x.detach().cpu().numpy(), y.detach().cpu().numpy()


def _run_numpy(name, options, group2, steps=STEPS):
    rule, defaults = _RULES[name]
    h0 = {**defaults, **options}
    hyper = [h0, h0 if group2 is None else {**h0, **group2}]
    params, states = [X0.copy(), Y0.copy()], [{}, {}]
    for t in range(1, steps + 1):
        grads = _grads_np(*params)
        params = [rule(p, g, s, h, t) for p, g, s, h in zip(params, grads, states, hyper)]
    return params


@pytest.mark.parametrize("name, options, group2", CASES, ids=IDS)
def test_trajectory_matches_numpy(device, name, options, group2):
    dtype = widest_float(device)
    got = _run(plugtorch, device, name, options, group2, dtype)
    want = _run_numpy(name, options, group2)
    # the problem is well posed: the parameters moved, and stayed finite and moderate
    assert all(np.abs(w - w0).max() > 0.05 and np.abs(w).max() < 10
               for w, w0 in zip(want, (X0, Y0)))
    tol = dict(atol=1e-10, rtol=1e-10) if dtype is plugtorch.float64 else \
        dict(atol=1e-4, rtol=1e-4)
    for g, w in zip(got, want):
        assert_values(g, w, **tol)


@pytest.mark.parametrize("name, options, group2", CASES, ids=IDS)
def test_trajectory_matches_torch(device, name, options, group2):
    torch = pytest.importorskip("torch")
    dtype = widest_float(device)
    got = _run(plugtorch, device, name, options, group2, dtype)
    want = _run(torch, "cpu", name, options, group2, getattr(torch, dtype.name))
    tol = dict(atol=1e-12, rtol=1e-12) if dtype is plugtorch.float64 else \
        dict(atol=1e-5, rtol=1e-5)
    for g, w in zip(got, want):
        assert_values(g, w, **tol)


@pytest.mark.parametrize("name, options", [
    ("SGD", dict(lr=0.004, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
])
def test_float32_trajectory(device, name, options):
    got = _run(plugtorch, device, name, options, None, plugtorch.float32, steps=10)
    want = _run_numpy(name, options, None, steps=10)
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        assert_values(g, w, atol=2e-4, rtol=2e-4)


def test_closure_and_skipped_params(device):
    x = plugtorch.tensor([1.0, 2.0], device=device, requires_grad=True)
    frozen = plugtorch.tensor([5.0], device=device, requires_grad=True)   # never gets a grad
    opt = plugtorch.optim.Adam([x, frozen], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    assert_values(x, [0.9, 1.9], atol=1e-6, rtol=1e-6)    # first Adam step: lr * sign(g)
    assert_values(frozen, [5.0])
    assert frozen not in opt.state and len(opt.state[x]) == 3


# ----------------------------------------------------------------------------- state

def _make(name, device, **kw):
    x = plugtorch.tensor(X0, dtype=plugtorch.float32, device=device, requires_grad=True)
    y = plugtorch.tensor(Y0, dtype=plugtorch.float32, device=device, requires_grad=True)
    return (x, y), getattr(plugtorch.optim, name)([{"params": [x]}, {"params": [y],
                                                                     "lr": 0.003}], **kw)


def _steps(params, opt, n):
    for _ in range(n):
        opt.zero_grad()
        _loss(*params).backward()
        opt.step()


STATEFUL = [("SGD", dict(lr=0.01, momentum=0.9)), ("Adam", dict(lr=0.05, amsgrad=True)),
            ("AdamW", dict(lr=0.05)), ("Adagrad", dict(lr=0.05, lr_decay=0.01)),
            ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9))]


@pytest.mark.parametrize("name, options", STATEFUL, ids=[s[0] for s in STATEFUL])
def test_state_dict_round_trip_resumes_identically(device, name, options):
    params_a, opt_a = _make(name, device, **options)
    _steps(params_a, opt_a, 3)
    saved = opt_a.state_dict()
    params_b, opt_b = _make(name, device, **options)
    with plugtorch.no_grad():
        for a, b in zip(params_a, params_b):
            b.copy_(a)
    opt_b.load_state_dict(saved)
    _steps(params_a, opt_a, 3)
    _steps(params_b, opt_b, 3)
    for a, b in zip(params_a, params_b):
        np.testing.assert_array_equal(to_host(a), to_host(b))   # same ops, same bits
    for p in params_b:     # loaded state is a copy placed on the parameter's device
        for key, value in opt_b.state[p].items():
            assert value.device == (plugtorch.device("cpu") if key == "step" else p.device)
            assert all(value is not v for v in opt_a.state[params_a[0]].values())


def test_state_dict_survives_save_and_load_to_cpu(device, tmp_path):
    params_a, opt_a = _make("Adam", device, lr=0.05, amsgrad=True)
    _steps(params_a, opt_a, 2)
    plugtorch.save(opt_a.state_dict(), tmp_path / "opt.pt")
    saved = plugtorch.load(tmp_path / "opt.pt", map_location="cpu")
    params_b, opt_b = _make("Adam", device, lr=0.05, amsgrad=True)
    with plugtorch.no_grad():
        for a, b in zip(params_a, params_b):
            b.copy_(a)
    opt_b.load_state_dict(saved)      # state moves back onto the parameters' device
    assert opt_b.state[params_b[1]]["exp_avg"].device == params_b[1].device
    _steps(params_a, opt_a, 2)
    _steps(params_b, opt_b, 2)
    for a, b in zip(params_a, params_b):
        np.testing.assert_array_equal(to_host(a), to_host(b))


@pytest.mark.parametrize("name, options", STATEFUL, ids=[s[0] for s in STATEFUL])
def test_resumes_from_a_torch_state_dict(device, name, options):
    """A state dict written by torch.optim (tensors converted) continues torch's run."""
    torch = pytest.importorskip("torch")
    dtype = widest_float(device)
    tx = torch.tensor(X0, dtype=getattr(torch, dtype.name), requires_grad=True)
    ty = torch.tensor(Y0, dtype=getattr(torch, dtype.name), requires_grad=True)
    topt = getattr(torch.optim, name)([tx, ty], **options)
    _steps((tx, ty), topt, 3)
    sd = topt.state_dict()
    sd["state"] = {i: {k: plugtorch.tensor(v.numpy()) for k, v in st.items()}
                   for i, st in sd["state"].items()}
    x = plugtorch.tensor(tx.detach().numpy(), device=device, requires_grad=True)
    y = plugtorch.tensor(ty.detach().numpy(), device=device, requires_grad=True)
    opt = getattr(plugtorch.optim, name)([x, y], **options)
    opt.load_state_dict(sd)
    _steps((tx, ty), topt, 3)
    _steps((x, y), opt, 3)
    tol = 1e-12 if dtype is plugtorch.float64 else 1e-5
    assert_values(x, tx.detach().numpy(), atol=tol, rtol=tol)
    assert_values(y, ty.detach().numpy(), atol=tol, rtol=tol)


def test_state_dict_format(device):
    (x, y), opt = _make("Adam", device, lr=0.1, amsgrad=True)
    _steps((x, y), opt, 2)
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.1, 0.003]
    assert sorted(sd["state"][1]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert sd["state"][0]["step"].item() == 2.0 and sd["state"][0]["exp_avg"] is \
        opt.state[x]["exp_avg"]


def test_load_state_dict_restores_hyperparameters_and_checks_groups(device):
    (x, y), opt = _make("SGD", device, lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    sd["param_groups"][1]["lr"] = 0.5
    opt.load_state_dict(sd)
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["params"][0] is y
    other = plugtorch.optim.SGD([x, y], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        other.load_state_dict(sd)
    sd["param_groups"] = [sd["param_groups"][0], {**sd["param_groups"][1], "params": [1, 2]}]
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(sd)


def test_updates_in_place_and_state_on_device(device):
    base = plugtorch.zeros(2, 3, device=device)
    (x, y), opt = _make("RMSprop", device, lr=0.01, momentum=0.9, centered=True)
    storage, version = x._storage, x._storage.version
    _steps((x, y), opt, 1)
    assert x._storage is storage and x._storage.version > version and x.is_leaf
    for key, value in opt.state[x].items():
        if key != "step":
            assert value.device == base.device and value.dtype == x.dtype
            assert value.shape == x.shape


def test_step_makes_no_host_transfer(device):
    """A step only enqueues kernels: nothing is read back from (or sent to) the device."""
    for name, options in STATEFUL:
        params, opt = _make(name, device, **options)
        _steps(params, opt, 1)
        opt.zero_grad()
        _loss(*params).backward()
        plugtorch.debug.reset_counters()
        opt.step()
        backend = params[0]._storage.backend.name
        if not plugtorch.debug.fallbacks(backend):   # a CPU fallback copies by design
            assert plugtorch.debug.transfers(backend) == 0, name


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(device, set_to_none):
    x = plugtorch.ones(3, device=device, requires_grad=True)
    opt = plugtorch.optim.SGD([x], lr=0.1)
    (x * 2).sum().backward()
    grad = x.grad
    opt.zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert x.grad is None
    else:
        assert x.grad is grad
        assert_values(x.grad, [0.0, 0.0, 0.0])


def test_step_on_a_zero_grad_still_applies_momentum(device):
    x = plugtorch.ones(2, device=device, requires_grad=True)
    opt = plugtorch.optim.SGD([x], lr=0.1, momentum=0.5)
    x.sum().backward()
    opt.step()                          # buf = 1, x = 0.9
    opt.zero_grad(set_to_none=False)
    opt.step()                          # buf = 0.5, x = 0.85
    assert_values(x, [0.85, 0.85], atol=1e-6, rtol=1e-6)


# ----------------------------------------------------------------------------- arguments

@pytest.mark.parametrize("make, message", [
    (lambda p: plugtorch.optim.SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: plugtorch.optim.SGD(p, momentum=-1), "Invalid momentum value: -1"),
    (lambda p: plugtorch.optim.SGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: plugtorch.optim.SGD(p, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: plugtorch.optim.Adam(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: plugtorch.optim.Adam(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: plugtorch.optim.Adam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
    (lambda p: plugtorch.optim.AdamW(p, betas=(0.9, -0.1)),
     "Invalid beta parameter at index 1"),
    (lambda p: plugtorch.optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda p: plugtorch.optim.Adagrad(p, initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    (lambda p: plugtorch.optim.RMSprop(p, alpha=-1), "Invalid alpha value: -1"),
    pytest.param(lambda p: plugtorch.optim.RMSprop(p, momentum=-1), "Invalid momentum value: -1",
                 id="RMSprop-momentum"),
    (lambda p: plugtorch.optim.SGD([], lr=0.1), "optimizer got an empty parameter list"),
    (lambda p: plugtorch.optim.SGD([{"params": p}, {"params": p}]),
     "some parameters appear in more than one parameter group"),
    (lambda p: plugtorch.optim.SGD([(p[0] * 2)]), "can't optimize a non-leaf Tensor"),
])
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make([plugtorch.zeros(2, requires_grad=True)])


def test_params_must_be_an_iterable_of_tensors():
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        plugtorch.optim.SGD(plugtorch.zeros(2, requires_grad=True))
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        plugtorch.optim.SGD([1.0])
    with pytest.raises(TypeError, match="ordered collections"):
        plugtorch.optim.SGD([{"params": {plugtorch.zeros(2, requires_grad=True)}}])


def test_add_param_group_fills_defaults():
    a, b = plugtorch.zeros(2, requires_grad=True), plugtorch.zeros(3, requires_grad=True)
    opt = plugtorch.optim.RMSprop([a], lr=0.1, momentum=0.3)
    opt.add_param_group({"params": b, "centered": True})
    g = opt.param_groups[1]
    assert g["params"] == [b] and g["lr"] == 0.1 and g["momentum"] == 0.3 and g["centered"]
    assert opt.defaults["centered"] is False
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


@pytest.mark.parametrize("name, options", [("SGD", dict(lr=0.1, momentum=0.9)),
                                           ("Adam", dict(amsgrad=True)), ("AdamW", {}),
                                           ("Adagrad", dict(lr_decay=0.1)),
                                           ("RMSprop", dict(centered=True))])
def test_repr_and_groups_match_torch(name, options):
    torch = pytest.importorskip("torch")
    ours = getattr(plugtorch.optim, name)([plugtorch.zeros(2, requires_grad=True)], **options)
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **options)
    assert repr(ours) == repr(theirs)
    assert ours.defaults == theirs.defaults
