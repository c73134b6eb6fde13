"""RNN, LSTM, GRU and their cells on the backend under test.

References: a numpy float64 implementation of each recurrence written from the equations,
finite differences (gradcheck) and, where installed, PyTorch with the same weights (its
state_dict loaded into ours).
"""
import warnings

import numpy as np
import pytest

import plugtorch
import plugtorch.nn as nn
from plugtorch.testing import assert_values, to_host
from plugtorch.testing.suite._common import widest_float


def _tol(device):
    return {"atol": 1e-9, "rtol": 1e-7} if widest_float(device) is plugtorch.float64 else \
        {"atol": 2e-5, "rtol": 1e-4}


def _t(a, device, grad=False):
    return plugtorch.tensor(np.asarray(a), dtype=widest_float(device), device=device,
                            requires_grad=grad)


def _make(cls, device, *args, **kw):
    return cls(*args, **kw).to(device=device, dtype=widest_float(device))


# ----------------------------------------------------------------------------- numpy reference

def _sig(x):
    return 1 / (1 + np.exp(-x))


def _np_step(mode, x, state, w_ih, w_hh, b_ih, b_hh):
    gi, gh = x @ w_ih.T + b_ih, state[0] @ w_hh.T + b_hh
    if mode == "RNN_TANH":
        return (np.tanh(gi + gh),)
    if mode == "RNN_RELU":
        return (np.maximum(gi + gh, 0),)
    if mode == "GRU":
        H = w_hh.shape[1]
        r = _sig(gi[:, :H] + gh[:, :H])
        z = _sig(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return ((1 - z) * n + z * state[0],)
    i, f, g, o = np.split(gi + gh, 4, axis=1)
    c = _sig(f) * state[1] + _sig(i) * np.tanh(g)
    return (_sig(o) * np.tanh(c), c)


def _np_rnn(module, x, h0, c0=None):
    """Multi-layer, optionally bidirectional recurrence on (L, N, in) in float64."""
    p = {k: to_host(v).astype(np.float64) for k, v in module.state_dict().items()}
    dirs = 2 if module.bidirectional else 1
    hs, cs = [], []
    for layer in range(module.num_layers):
        outs = []
        for d, sfx in enumerate(("", "_reverse")[:dirs]):
            k = layer * dirs + d
            state = (h0[k],) if c0 is None else (h0[k], c0[k])
            w = [p[f"{b}_l{layer}{sfx}"] for b in ("weight_ih", "weight_hh", "bias_ih",
                                                  "bias_hh")]
            ys = [None] * len(x)
            order = range(len(x) - 1, -1, -1) if d else range(len(x))
            for t in order:
                state = _np_step(module.mode, x[t], state, *w)
                ys[t] = state[0]
            outs.append(np.stack(ys))
            hs.append(state[0])
            if c0 is not None:
                cs.append(state[1])
        x = np.concatenate(outs, -1)
    return x, np.stack(hs), (np.stack(cs) if c0 is not None else None)


_CONFIGS = [
    (nn.RNN, {}), (nn.RNN, {"nonlinearity": "relu", "num_layers": 2}),
    (nn.LSTM, {}), (nn.LSTM, {"num_layers": 2, "bidirectional": True}),
    (nn.GRU, {}), (nn.GRU, {"num_layers": 2, "bidirectional": True, "batch_first": True}),
]
_IDS = [f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for c, kw in _CONFIGS]


@pytest.mark.parametrize("cls, kw", _CONFIGS, ids=_IDS)
def test_recurrent_layers_match_numpy(device, cls, kw):
    rng = np.random.default_rng(0)
    L, N, I, H = 4, 2, 3, 5
    m = _make(cls, device, I, H, **kw)
    dirs = 2 if m.bidirectional else 1
    x = rng.standard_normal((L, N, I))
    h0 = rng.standard_normal((m.num_layers * dirs, N, H))
    c0 = rng.standard_normal(h0.shape) if cls is nn.LSTM else None
    xin = x.transpose(1, 0, 2) if m.batch_first else x
    hx = _t(h0, device) if c0 is None else (_t(h0, device), _t(c0, device))
    out, state = m(_t(xin, device), hx)
    ref_out, ref_h, ref_c = _np_rnn(m, x, h0, c0)
    assert_values(out, ref_out.transpose(1, 0, 2) if m.batch_first else ref_out, **_tol(device))
    assert_values(state if c0 is None else state[0], ref_h, **_tol(device))
    if c0 is not None:
        assert_values(state[1], ref_c, **_tol(device))


def test_parameter_names_shapes_and_init(device):
    m = _make(nn.LSTM, device, 3, 4, num_layers=2, bidirectional=True, bias=True)
    names = [n for n, _ in m.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                         "weight_ih_l0_reverse"]
    assert len(names) == 16 and names[-1] == "bias_hh_l1_reverse"
    assert tuple(m.weight_ih_l0.shape) == (16, 3) and tuple(m.weight_ih_l1.shape) == (16, 8)
    assert tuple(nn.GRU(3, 4, bias=False).weight_hh_l0.shape) == (12, 4)
    assert [n for n, _ in nn.GRU(3, 4, bias=False).named_parameters()] == ["weight_ih_l0",
                                                                           "weight_hh_l0"]
    bound = 1 / np.sqrt(4)
    values = np.concatenate([to_host(p).ravel() for p in m.parameters()])
    assert np.all(np.abs(values) <= bound) and values.std() > bound / 3


def test_unbatched_input_and_default_state(device):
    rng = np.random.default_rng(1)
    m = _make(nn.GRU, device, 3, 4, num_layers=2)
    x = rng.standard_normal((5, 3))
    out, h = m(_t(x, device))
    assert tuple(out.shape) == (5, 4) and tuple(h.shape) == (2, 4)
    ref_out, ref_h, _ = _np_rnn(m, x[:, None], np.zeros((2, 1, 4)))
    assert_values(out, ref_out[:, 0], **_tol(device))
    assert_values(h, ref_h[:, 0], **_tol(device))


def _with_param(module, name, fn):
    """fn(*args) with the module's parameter `name` replaced by the last argument, so
    gradcheck's perturbed copies of it are the ones used."""
    def run(*args):
        saved = module._parameters[name]
        module._parameters[name] = args[-1]
        try:
            return fn(*args[:-1])
        finally:
            module._parameters[name] = saved
    return run


def test_gru_gradients_by_finite_differences(device):
    if widest_float(device) is not plugtorch.float64:
        pytest.skip("gradcheck needs float64")
    rng = np.random.default_rng(2)
    m = _make(nn.GRU, device, 2, 2, bidirectional=True)
    x = _t(rng.standard_normal((3, 1, 2)), device, grad=True)
    h = _t(rng.standard_normal((2, 1, 2)), device, grad=True)
    assert plugtorch.autograd.gradcheck(
        _with_param(m, "weight_hh_l0_reverse", lambda a, b: m(a, b)[0]),
        (x, h, m.weight_hh_l0_reverse))


def test_lstm_gradients_by_finite_differences(device):
    if widest_float(device) is not plugtorch.float64:
        pytest.skip("gradcheck needs float64")
    rng = np.random.default_rng(3)
    m = _make(nn.LSTM, device, 2, 2, num_layers=2)
    x = _t(rng.standard_normal((3, 1, 2)), device, grad=True)
    c = _t(rng.standard_normal((2, 1, 2)), device, grad=True)
    h = _t(np.zeros((2, 1, 2)), device)
    assert plugtorch.autograd.gradcheck(
        _with_param(m, "bias_ih_l1", lambda a, cc: m(a, (h, cc))[1][1]), (x, c, m.bias_ih_l1))


def test_dropout_between_layers_only_in_training(device):
    rng = np.random.default_rng(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # num_layers=2: no warning
        m = _make(nn.RNN, device, 3, 4, num_layers=2, dropout=0.5)
    x = _t(rng.standard_normal((4, 2, 3)), device)
    m.eval()
    a, b = m(x)[0], m(x)[0]
    assert_values(a, to_host(b))
    ref, _, _ = _np_rnn(m, to_host(x).astype(np.float64), np.zeros((2, 2, 4)))
    assert_values(a, ref, **_tol(device))
    m.train()
    plugtorch.manual_seed(0)
    c = to_host(m(x)[0])
    assert not np.allclose(c, ref)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell], ids=lambda c: c.__name__)
def test_cells_match_numpy(device, cls):
    rng = np.random.default_rng(5)
    m = _make(cls, device, 3, 4)
    x, h, c = (rng.standard_normal(s) for s in ((2, 3), (2, 4), (2, 4)))
    mode = {nn.RNNCell: "RNN_TANH", nn.LSTMCell: "LSTM", nn.GRUCell: "GRU"}[cls]
    w = [to_host(getattr(m, n)).astype(np.float64) for n in ("weight_ih", "weight_hh",
                                                             "bias_ih", "bias_hh")]
    ref = _np_step(mode, x, (h, c), *w)
    hx = (_t(h, device), _t(c, device)) if cls is nn.LSTMCell else _t(h, device)
    out = m(_t(x, device), hx)
    outs = out if isinstance(out, tuple) else (out,)
    for a, b in zip(outs, ref):
        assert_values(a, b, **_tol(device))
    single = m(_t(x[0], device), tuple(t[0] for t in hx) if isinstance(hx, tuple) else hx[0])
    first = single[0] if isinstance(single, tuple) else single
    assert_values(first, ref[0][0], **_tol(device))
    zero = m(_t(x, device))                         # default state: zeros
    zref = _np_step(mode, x, (np.zeros((2, 4)), np.zeros((2, 4))), *w)
    assert_values(zero[0] if isinstance(zero, tuple) else zero, zref[0], **_tol(device))


@pytest.mark.parametrize("call, exc, match", [
    (lambda d: _make(nn.GRU, d, 3, 4)(_t(np.zeros((2, 2, 2, 3)), d)), ValueError,
     "GRU: Expected input to be 2D or 3D, got 4D tensor instead"),
    (lambda d: _make(nn.GRU, d, 3, 4)(_t(np.zeros((2, 2, 5)), d)), RuntimeError,
     "input.size\\(-1\\) must be equal to input_size. Expected 3, got 5"),
    (lambda d: _make(nn.RNN, d, 3, 4)(_t(np.zeros((2, 2, 3)), d), _t(np.zeros((2, 2, 4)), d)),
     RuntimeError, r"Expected hidden size \(1, 2, 4\), got \[2, 2, 4\]"),
    (lambda d: nn.RNN(3, 4, nonlinearity="gelu"), ValueError, "Unknown nonlinearity 'gelu'"),
    (lambda d: nn.LSTM(3, 4, dropout=1.5), ValueError, "dropout should be a number in range"),
    (lambda d: nn.GRU(3, 0), ValueError, "hidden_size must be greater than zero"),
], ids=["4d", "input_size", "hidden", "nonlinearity", "dropout", "hidden_size"])
def test_recurrent_errors(device, call, exc, match):
    with pytest.raises(exc, match=match):
        call(device)


# ----------------------------------------------------------------------------- PyTorch oracle

def _load_from_torch(ours, theirs, device):
    state = {k: _t(v.detach().numpy(), device) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)


_TORCH_CONFIGS = _CONFIGS + [(nn.LSTM, {"num_layers": 2, "bidirectional": True,
                                        "batch_first": True, "proj_size": 2}),
                             (nn.RNN, {"bidirectional": True, "bias": False})]


@pytest.mark.parametrize("cls, kw", _TORCH_CONFIGS,
                         ids=_IDS + ["LSTM-proj-batch_first", "RNN-bidirectional-nobias"])
def test_recurrent_layers_match_pytorch(device, cls, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    I, H = 3, 4
    theirs = getattr(torch.nn, cls.__name__)(I, H, **kw).double()
    ours = _make(cls, device, I, H, **kw)
    _load_from_torch(ours, theirs, device)
    dirs = 2 if kw.get("bidirectional") else 1
    nl = kw.get("num_layers", 1)
    x = rng.standard_normal((2, 5, I) if kw.get("batch_first") else (5, 2, I))
    h0 = rng.standard_normal((nl * dirs, 2, kw.get("proj_size") or H))
    c0 = rng.standard_normal((nl * dirs, 2, H))
    xa, xb = _t(x, device, grad=True), torch.tensor(x, requires_grad=True)
    if cls is nn.LSTM:
        oa, (ha, ca) = ours(xa, (_t(h0, device), _t(c0, device)))
        ob, (hb, cb) = theirs(xb, (torch.tensor(h0), torch.tensor(c0)))
        assert_values(ca, cb.detach().numpy(), **_tol(device))
        lossa, lossb = (oa * oa).sum() + ca.sum(), (ob * ob).sum() + cb.sum()
    else:
        oa, ha = ours(xa, _t(h0, device))
        ob, hb = theirs(xb, torch.tensor(h0))
        lossa, lossb = (oa * oa).sum() + ha.sum(), (ob * ob).sum() + hb.sum()
    assert_values(oa, ob.detach().numpy(), **_tol(device))
    assert_values(ha, hb.detach().numpy(), **_tol(device))
    lossa.backward()
    lossb.backward()
    assert_values(xa.grad, xb.grad.numpy(), **_tol(device))
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_values(p.grad, grads[name].grad.numpy(), msg=name, **_tol(device))


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_pytorch(device, name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    theirs = getattr(torch.nn, name)(3, 4).double()
    ours = _make(getattr(nn, name), device, 3, 4)
    _load_from_torch(ours, theirs, device)
    x = rng.standard_normal((2, 3))
    xa, xb = _t(x, device, grad=True), torch.tensor(x, requires_grad=True)
    a, b = ours(xa), theirs(xb)
    a, b = (a[0] + a[1], b[0] + b[1]) if name == "LSTMCell" else (a, b)
    assert_values(a, b.detach().numpy(), **_tol(device))
    (a * a).sum().backward()
    (b * b).sum().backward()
    assert_values(xa.grad, xb.grad.numpy(), **_tol(device))


def test_training_step_reads_nothing_back(device):
    m = _make(nn.LSTM, device, 3, 4, num_layers=2, bidirectional=True, dropout=0.3).train()
    x = _t(np.random.default_rng(8).standard_normal((4, 2, 3)), device)
    plugtorch.debug.reset_counters()
    out, (h, c) = m(x)
    (out.sum() + c.sum()).backward()
    name = x._storage.backend.name
    if not plugtorch.debug.fallbacks(name):   # fallbacks copy through the host by design
        assert plugtorch.debug.transfers(name) == 0, plugtorch.debug.counters()
