"""Adamax, NAdam, RAdam, ASGD, Rprop, SparseAdam and LBFGS: trajectories, state, devices.

Every optimizer is checked three ways: against a float64 numpy re-implementation of its
update rule (written from the published algorithms, so it runs without PyTorch and on
every device), against torch.optim run from the same initial values (where PyTorch is
installed), and for a state_dict round trip that must resume bit for bit.
"""
import math

import numpy as np
import pytest

import plugtorch
from plugtorch.testing import assert_values, to_host
from plugtorch.testing.suite._common import widest_float

RNG = np.random.default_rng(7)
X0 = RNG.uniform(-1.5, 1.5, (3, 4))
Y0 = RNG.uniform(-1.0, 1.0, (4,))


def _loss(x, y):
    # operators only, so plugtorch and torch tensors both work
    return ((1 - x) ** 2).sum() + 5 * ((y - (x * x).sum(0)) ** 2).sum() + 0.1 * (x ** 4).sum()


def _grads_np(x, y):
    r = y - (x * x).sum(0)
    return -2 * (1 - x) - 20 * x * r + 0.4 * x ** 3, 10 * r


# ----------------------------------------------------------------------------- numpy rules
# (param, grad, state dict, hyper-parameters, step t) -> new param

def _np_adamax(p, g, s, h, t):
    g = (-g if h["maximize"] else g) + h["weight_decay"] * p
    b1, b2 = h["betas"]
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["u"] = np.maximum(b2 * s.get("u", 0), np.abs(g) + h["eps"])
    return p - h["lr"] / (1 - b1 ** t) * s["m"] / s["u"]


def _np_nadam(p, g, s, h, t):
    g = -g if h["maximize"] else g
    if h["decoupled_weight_decay"]:
        p = p * (1 - h["lr"] * h["weight_decay"])
    else:
        g = g + h["weight_decay"] * p
    b1, b2 = h["betas"]
    mu = [b1 * (1 - 0.5 * 0.96 ** (k * h["momentum_decay"])) for k in (t, t + 1)]
    # the product of the mu's is kept as a float32 scalar (PyTorch's state format)
    s["prod"] = float(np.float32(s.get("prod", 1.0)) * np.float32(mu[0]))
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
    d = np.sqrt(s["v"] / (1 - b2 ** t)) + h["eps"]
    return (p - h["lr"] * (1 - mu[0]) / (1 - s["prod"]) * g / d
            - h["lr"] * mu[1] / (1 - s["prod"] * mu[1]) * s["m"] / d)


def _np_radam(p, g, s, h, t):
    g = -g if h["maximize"] else g
    if h["decoupled_weight_decay"]:
        p = p * (1 - h["lr"] * h["weight_decay"])
    else:
        g = g + h["weight_decay"] * p
    b1, b2 = h["betas"]
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
    m_hat = s["m"] / (1 - b1 ** t)
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
    if rho <= 5:
        return p - h["lr"] * m_hat
    r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return p - h["lr"] * m_hat * r * math.sqrt(1 - b2 ** t) / (np.sqrt(s["v"]) + h["eps"])


def _np_asgd(p, g, s, h, t):
    g = (-g if h["maximize"] else g) + h["weight_decay"] * p
    # eta and mu are kept as float32 scalars (PyTorch's state format)
    eta, mu = float(np.float32(s.get("eta", h["lr"]))), float(np.float32(s.get("mu", 1.0)))
    p = p * (1 - h["lambd"] * eta) - eta * g
    s["ax"] = p.copy() if mu == 1 else s["ax"] + mu * (p - s["ax"])
    s["eta"] = h["lr"] / (1 + h["lambd"] * h["lr"] * t) ** h["alpha"]
    s["mu"] = 1 / max(1, t - h["t0"])
    return p


def _np_rprop(p, g, s, h, t):
    g = -g if h["maximize"] else g
    lo, hi = h["etas"]
    prev = s.get("prev", np.zeros_like(p))
    size = s.get("size", np.full_like(p, h["lr"]))
    agree = g * prev
    size = np.clip(size * np.where(agree > 0, hi, np.where(agree < 0, lo, 1.0)),
                   *h["step_sizes"])
    g = np.where(agree < 0, 0.0, g)
    s["prev"], s["size"] = g, size
    return p - np.sign(g) * size


def _np_sparse_adam(p, g, s, h, t):
    on = g != 0
    g = -g if h["maximize"] else g
    b1, b2 = h["betas"]
    s["m"] = np.where(on, b1 * s.get("m", 0) + (1 - b1) * g, s.get("m", 0))
    s["v"] = np.where(on, b2 * s.get("v", 0) + (1 - b2) * g * g, s.get("v", 0))
    step = h["lr"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return np.where(on, p - step * s["m"] / (np.sqrt(s["v"]) + h["eps"]), p)


_ADAM = dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False)
_RULES = {
    "Adamax": (_np_adamax, dict(_ADAM, lr=2e-3)),
    "NAdam": (_np_nadam, dict(_ADAM, lr=2e-3, momentum_decay=4e-3,
                              decoupled_weight_decay=False)),
    "RAdam": (_np_radam, dict(_ADAM, lr=1e-3, decoupled_weight_decay=False)),
    "ASGD": (_np_asgd, dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                            maximize=False)),
    "Rprop": (_np_rprop, dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50),
                              maximize=False)),
    "SparseAdam": (_np_sparse_adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                         maximize=False)),
}

# (optimizer, options, options of a second parameter group holding y, or None)
CASES = [
    ("Adamax", dict(lr=0.05), None),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1), None),
    ("Adamax", dict(lr=0.02, maximize=True), dict(lr=0.05, weight_decay=0.2)),
    ("NAdam", dict(lr=0.05), None),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.05), None),
    ("NAdam", dict(lr=0.05, weight_decay=0.3, decoupled_weight_decay=True), None),
    ("NAdam", dict(lr=0.01, maximize=True), dict(lr=0.04, betas=(0.5, 0.9))),
    ("RAdam", dict(lr=0.01), None),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1), None),
    ("RAdam", dict(lr=0.01, weight_decay=0.3, decoupled_weight_decay=True, eps=1e-4), None),
    ("RAdam", dict(lr=0.002, maximize=True), dict(lr=0.01, betas=(0.5, 0.8))),
    ("ASGD", dict(lr=0.01), None),
    ("ASGD", dict(lr=0.01, lambd=0.05, alpha=0.5, t0=4, weight_decay=0.1), None),
    ("ASGD", dict(lr=0.005, maximize=True), dict(lr=0.01, t0=0)),
    ("Rprop", dict(lr=0.01), None),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2)), None),
    ("Rprop", dict(lr=0.01, maximize=True), dict(lr=0.03, etas=(0.6, 1.1))),
    ("SparseAdam", dict(lr=0.05), None),
    ("SparseAdam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-4), dict(lr=0.02)),
]
IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]
STEPS = 25


def _params(lib, device, dtype, group2):
    x = lib.tensor(X0, dtype=dtype, device=device, requires_grad=True)
    y = lib.tensor(Y0, dtype=dtype, device=device, requires_grad=True)
    return (x, y), ([x, y] if group2 is None else [{"params": [x]}, {"params": [y], **group2}])


def _steps(lib, params, opt, n):
    # a maximizing optimizer climbs -loss: the same well-posed problem
    sign = -1 if opt.defaults.get("maximize") else 1
    for _ in range(n):
        opt.zero_grad()
        (sign * _loss(*params)).backward()
        if type(opt).__name__ == "SparseAdam" and lib.__name__ == "torch":
            for p in params:        # torch's SparseAdam takes sparse gradients only
                p.grad = p.grad.to_sparse()
        opt.step()


def _run(lib, device, name, options, group2, dtype, steps=STEPS):
    params, groups = _params(lib, device, dtype, group2)
    opt = getattr(lib.optim, name)(groups, **options)
    _steps(lib, params, opt, steps)
    return [p.detach().cpu().numpy() for p in params]


def _run_numpy(name, options, group2, steps=STEPS):
    rule, defaults = _RULES[name]
    h0 = {**defaults, **options}
    hyper = [h0, h0 if group2 is None else {**h0, **group2}]
    params, states = [X0.copy(), Y0.copy()], [{}, {}]
    sign = -1 if h0["maximize"] else 1
    for t in range(1, steps + 1):
        grads = [sign * g for g in _grads_np(*params)]
        params = [rule(p, g, s, h, t) for p, g, s, h in zip(params, grads, states, hyper)]
    return params


@pytest.mark.parametrize("name, options, group2", CASES, ids=IDS)
def test_trajectory_matches_numpy(device, name, options, group2):
    dtype = widest_float(device)
    steps = STEPS if dtype is plugtorch.float64 else 5    # float32 rounding compounds
    got = _run(plugtorch, device, name, options, group2, dtype, steps)
    want = _run_numpy(name, options, group2, steps)
    assert all(np.abs(w - w0).max() > 0.01 and np.isfinite(w).all() and np.abs(w).max() < 10
               for w, w0 in zip(want, (X0, Y0)))
    tol = 1e-10 if dtype is plugtorch.float64 else 2e-4
    for g, w in zip(got, want):
        assert_values(g, w, atol=tol, rtol=tol)


@pytest.mark.parametrize("name, options, group2", CASES, ids=IDS)
def test_trajectory_matches_torch(name, options, group2):
    torch = pytest.importorskip("torch")
    got = _run(plugtorch, "cpu", name, options, group2, plugtorch.float64)
    want = _run(torch, "cpu", name, options, group2, torch.float64)
    for g, w in zip(got, want):
        assert_values(g, w, atol=1e-12, rtol=1e-10)


# ----------------------------------------------------------------------------- MLP

def _mlp_run(lib, name, options, steps=20):
    rng = np.random.default_rng(3)
    xs, ys = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    init = [rng.standard_normal((3, 8)) * 0.5, np.zeros(8), rng.standard_normal((8, 2)) * 0.5,
            np.zeros(2)]
    w1, b1, w2, b2 = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in init]
    inp, target = lib.tensor(xs, dtype=lib.float64), lib.tensor(ys, dtype=lib.float64)
    opt = getattr(lib.optim, name)([w1, b1, w2, b2], **options)
    losses = []
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            loss = (((inp @ w1 + b1).tanh() @ w2 + b2 - target) ** 2).mean()
            loss.backward()
            return loss
        losses.append(float(opt.step(closure).detach()))
    return [p.detach().numpy() for p in (w1, b1, w2, b2)], losses


@pytest.mark.parametrize("name, options", [
    ("Adamax", dict(lr=0.02)), ("NAdam", dict(lr=0.02, weight_decay=0.01)),
    ("RAdam", dict(lr=0.02, decoupled_weight_decay=True, weight_decay=0.1)),
    ("ASGD", dict(lr=0.1, t0=5)), ("Rprop", dict(lr=0.01)),
    ("LBFGS", dict(lr=0.5, max_iter=4)), ("LBFGS", dict(line_search_fn="strong_wolfe",
                                                        max_iter=4, history_size=5)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_mlp_regression_matches_torch(name, options):
    torch = pytest.importorskip("torch")
    got, losses = _mlp_run(plugtorch, name, options)
    want, torch_losses = _mlp_run(torch, name, options)
    assert losses[-1] < 0.9 * losses[0]          # it trains
    # LBFGS's line search amplifies rounding differences of the dot products a little
    np.testing.assert_allclose(losses, torch_losses, rtol=1e-7)
    for g, w in zip(got, want):
        assert_values(g, w, atol=1e-7, rtol=1e-6)


# ----------------------------------------------------------------------------- SparseAdam

def _embedding_run(lib, device, steps=20, **options):
    """Rows of a table looked up by a few indices per step: the gradient touches only
    those rows (torch: nn.functional.embedding(sparse=True) gives a sparse gradient)."""
    rng = np.random.default_rng(5)
    table = lib.tensor(rng.standard_normal((6, 3)), dtype=lib.float64, device=device,
                       requires_grad=True)
    opt = lib.optim.SparseAdam([table], **options)
    for _ in range(steps):
        idx = rng.integers(0, 6, 3)
        target = lib.tensor(rng.standard_normal((3, 3)), dtype=lib.float64, device=device)
        opt.zero_grad()
        if lib is plugtorch:
            rows = table[plugtorch.tensor(idx, device=device)]
        else:
            rows = lib.nn.functional.embedding(lib.tensor(idx), table, sparse=True)
        ((rows - target) ** 2).sum().backward()
        opt.step()
    return to_host(table.detach()) if lib is plugtorch else table.detach().numpy()


def test_sparse_adam_matches_torch_embedding_rows():
    torch = pytest.importorskip("torch")
    got = _embedding_run(plugtorch, "cpu", lr=0.1)
    want = _embedding_run(torch, "cpu", lr=0.1)
    assert_values(got, want, atol=1e-12, rtol=1e-10)


def test_sparse_adam_leaves_untouched_rows_alone(device):
    table = plugtorch.ones(4, 2, device=device, requires_grad=True)
    opt = plugtorch.optim.SparseAdam([table], lr=0.1)
    for rows, want in (([0, 2], [0.9, 1.0, 0.9, 1.0]), ([2], [0.9, 1.0, 0.8, 1.0])):
        opt.zero_grad()
        table[plugtorch.tensor(rows, device=device)].sum().backward()
        opt.step()                      # a first touch moves a row by lr, whatever its step
        assert_values(table[:, 0], want, atol=1e-6, rtol=1e-6)
    exp_avg = to_host(opt.state[table]["exp_avg"])
    assert (exp_avg[[1, 3]] == 0).all() and opt.state[table]["step"] == 2


# ----------------------------------------------------------------------------- LBFGS

def _rosenbrock(x):
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


def _lbfgs_run(lib, device, options, x0, steps):
    x = lib.tensor(x0, dtype=widest_float(device) if lib is plugtorch else lib.float64,
                   device=device, requires_grad=True)
    opt = lib.optim.LBFGS([x], **options)

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    path = []
    for _ in range(steps):
        opt.step(closure)
        path.append(np.array(x.detach().cpu().tolist()))
    st = opt.state[x]
    return np.array(path), st["func_evals"], st["n_iter"]


LBFGS_CASES = [
    dict(lr=0.1, max_iter=4), dict(lr=0.05, max_iter=3, history_size=4),
    dict(line_search_fn="strong_wolfe", max_iter=5),
    dict(line_search_fn="strong_wolfe", max_iter=5, history_size=2),
    dict(line_search_fn="strong_wolfe", max_iter=10, max_eval=12, lr=0.8),
]


@pytest.mark.parametrize("x0", [[-1.2, 1.0], [-1.5, 2.0, -0.5, 1.2, 0.3]], ids=["2d", "5d"])
@pytest.mark.parametrize("options", LBFGS_CASES, ids=[str(i) for i in range(len(LBFGS_CASES))])
def test_lbfgs_rosenbrock_matches_torch(options, x0):
    torch = pytest.importorskip("torch")
    got, evals, iters = _lbfgs_run(plugtorch, "cpu", options, x0, 8)
    want, t_evals, t_iters = _lbfgs_run(torch, "cpu", options, x0, 8)
    assert (evals, iters) == (t_evals, t_iters)
    assert np.abs(want[-1] - x0).max() > 0.05
    assert_values(got, want, atol=1e-9, rtol=1e-7)


def test_lbfgs_closed_form(device):
    """On f(x) = (x - 3)^2 from 0: the first move is -g/|g|_1 (to 1), the strong-Wolfe
    step accepts it, and the secant pair (s=1, y=2) then gives the exact minimizer."""
    x = plugtorch.zeros(1, dtype=widest_float(device), device=device, requires_grad=True)
    opt = plugtorch.optim.LBFGS([x], max_iter=1, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((x - 3) ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0
    assert_values(x, [1.0])
    assert opt.step(closure).item() == 4.0
    assert_values(x, [3.0])
    st = opt.state[x]
    assert st["ro"] == [0.5] and st["H_diag"] == 0.5 and st["n_iter"] == 2
    assert opt.step(closure).item() == 0.0     # converged: returns before any move
    assert st["n_iter"] == 2 and st["func_evals"] == 5


def test_lbfgs_on_device_matches_cpu(device):
    options = dict(line_search_fn="strong_wolfe", max_iter=5)
    got, evals, _ = _lbfgs_run(plugtorch, device, options, [-1.2, 1.0], 3)
    want, t_evals, _ = _lbfgs_run(plugtorch, "cpu", options, [-1.2, 1.0], 3)
    tol = 1e-10 if widest_float(device) is plugtorch.float64 else 1e-3
    assert_values(got, want, atol=tol, rtol=tol)


def test_lbfgs_checks_its_arguments():
    x = plugtorch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        plugtorch.optim.LBFGS([{"params": [x]}, {"params": [plugtorch.zeros(1,
                                                                          requires_grad=True)]}])
    opt = plugtorch.optim.LBFGS([x], line_search_fn="armijo")
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(lambda: (x * x + 1).sum().backward() or (x * x + 1).sum())


# ----------------------------------------------------------------------------- state

STATEFUL = [("Adamax", dict(lr=0.05)), ("NAdam", dict(lr=0.05, weight_decay=0.1)),
            ("RAdam", dict(lr=0.01)), ("ASGD", dict(lr=0.01, t0=2)),
            ("Rprop", dict(lr=0.01)), ("SparseAdam", dict(lr=0.05))]


def _make(name, device, options):
    dtype = widest_float(device)
    params, _ = _params(plugtorch, device, dtype, None)
    return params, getattr(plugtorch.optim, name)([{"params": [params[0]]},
                                                   {"params": [params[1]], "lr": 0.003}],
                                                  **options)


@pytest.mark.parametrize("name, options", STATEFUL, ids=[s[0] for s in STATEFUL])
def test_state_dict_round_trip_resumes_identically(device, name, options):
    params_a, opt_a = _make(name, device, options)
    _steps(plugtorch, params_a, opt_a, 3)
    saved = opt_a.state_dict()
    params_b, opt_b = _make(name, device, options)
    with plugtorch.no_grad():
        for a, b in zip(params_a, params_b):
            b.copy_(a)
    opt_b.load_state_dict(saved)
    _steps(plugtorch, params_a, opt_a, 3)
    _steps(plugtorch, params_b, opt_b, 3)
    for a, b in zip(params_a, params_b):
        np.testing.assert_array_equal(to_host(a), to_host(b))
    for key, value in opt_b.state[params_b[0]].items():    # host scalars stay on the CPU
        if isinstance(value, plugtorch.Tensor):
            host = key in opt_b._host_state
            assert value.device == (plugtorch.device("cpu") if host else params_b[0].device)


def test_lbfgs_state_dict_round_trip_resumes_identically(device):
    options = dict(line_search_fn="strong_wolfe", max_iter=3, history_size=3)
    x0 = [-1.5, 2.0, -0.5, 1.2, 0.3]
    dtype = widest_float(device)
    xa = plugtorch.tensor(x0, dtype=dtype, device=device, requires_grad=True)
    xb = plugtorch.tensor(x0, dtype=dtype, device=device, requires_grad=True)
    opt_a, opt_b = plugtorch.optim.LBFGS([xa], **options), plugtorch.optim.LBFGS([xb], **options)

    def closure(opt, x):
        def run():
            opt.zero_grad()
            loss = _rosenbrock(x)
            loss.backward()
            return loss
        return run

    for _ in range(2):
        opt_a.step(closure(opt_a, xa))
    with plugtorch.no_grad():
        xb.copy_(xa)
    opt_b.load_state_dict(opt_a.state_dict())
    for _ in range(3):
        opt_a.step(closure(opt_a, xa))
        opt_b.step(closure(opt_b, xb))
    np.testing.assert_array_equal(to_host(xa), to_host(xb))
    assert opt_b.state[xb]["old_dirs"][0] is not opt_a.state[xa]["old_dirs"][0]


@pytest.mark.parametrize("name, options", STATEFUL + [("LBFGS", dict(max_iter=3))],
                         ids=[s[0] for s in STATEFUL] + ["LBFGS"])
def test_state_keys_and_groups_match_torch(name, options):
    torch = pytest.importorskip("torch")
    ours = _run_state(plugtorch, name, options)
    theirs = _run_state(torch, name, options)
    assert ours["param_groups"] == theirs["param_groups"]
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for i in theirs["state"]:
        assert sorted(ours["state"][i]) == sorted(theirs["state"][i])
        for key, value in theirs["state"][i].items():
            if isinstance(value, torch.Tensor):
                assert_values(ours["state"][i][key], value.numpy(), atol=1e-12, rtol=1e-7)


def _run_state(lib, name, options):
    x = lib.tensor(X0, dtype=lib.float64, requires_grad=True)
    opt = getattr(lib.optim, name)([x], **options)
    for _ in range(3):
        def closure():
            opt.zero_grad()
            loss = ((x - 1) ** 2).sum() + (x ** 4).sum()
            loss.backward()
            if name == "SparseAdam" and lib.__name__ == "torch":
                x.grad = x.grad.to_sparse()
            return loss
        opt.step(closure)
    return opt.state_dict()


def test_step_makes_no_host_transfer(device):
    """A step only enqueues kernels: nothing is read back from (or sent to) the device."""
    for name, options in STATEFUL:
        params, opt = _make(name, device, options)
        _steps(plugtorch, params, opt, 2)
        opt.zero_grad()
        _loss(*params).backward()
        plugtorch.debug.reset_counters()
        opt.step()
        backend = params[0]._storage.backend.name
        if not plugtorch.debug.fallbacks(backend):   # a CPU fallback copies by design
            assert plugtorch.debug.transfers(backend) == 0, name


# ----------------------------------------------------------------------------- arguments

@pytest.mark.parametrize("make, message", [
    (lambda p: plugtorch.optim.Adamax(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: plugtorch.optim.Adamax(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
    (lambda p: plugtorch.optim.NAdam(p, momentum_decay=-1), "Invalid momentum_decay value: -1"),
    (lambda p: plugtorch.optim.NAdam(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: plugtorch.optim.RAdam(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: plugtorch.optim.ASGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: plugtorch.optim.Rprop(p, etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
    (lambda p: plugtorch.optim.SparseAdam(p, lr=0.0), "Invalid learning rate: 0.0"),
    (lambda p: plugtorch.optim.SparseAdam(p, eps=0.0), "Invalid epsilon value: 0.0"),
    (lambda p: plugtorch.optim.LBFGS(p, lr=-1), "Invalid learning rate: -1"),
])
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make([plugtorch.zeros(2, requires_grad=True)])


@pytest.mark.parametrize("name, options", STATEFUL + [("LBFGS", dict(history_size=5))],
                         ids=[s[0] for s in STATEFUL] + ["LBFGS"])
def test_repr_and_defaults_match_torch(name, options):
    torch = pytest.importorskip("torch")
    ours = getattr(plugtorch.optim, name)([plugtorch.zeros(2, requires_grad=True)], **options)
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **options)
    assert repr(ours) == repr(theirs)
    assert ours.defaults == theirs.defaults
