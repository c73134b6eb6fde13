"""Loss functions and loss modules on the backend under test.

References: numpy float64 closed forms, finite differences (gradcheck) and, where installed,
PyTorch with the same inputs.
"""
import warnings

import numpy as np
import pytest

import plugtorch
import plugtorch.nn as nn
import plugtorch.nn.functional as F
from plugtorch.testing import assert_values, to_host
from plugtorch.testing.suite._common import widest_float

REDUCTIONS = ["none", "mean", "sum"]


def _t(a, device, grad=False):
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return plugtorch.tensor(a, dtype=widest_float(device), device=device, requires_grad=grad)
    return plugtorch.tensor(a, device=device)


def _reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def _tol(device):
    return {} if widest_float(device) is plugtorch.float64 else {"atol": 1e-5, "rtol": 1e-4}


# ----------------------------------------------------------------------------- references

def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _ref_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    """Class indices: the per-position loss with the class dim moved last."""
    cdim = 0 if x.ndim == 1 else 1
    lp = np.moveaxis(_log_softmax(x, cdim), cdim, -1)
    nc = lp.shape[-1]
    w = np.ones(nc) if weight is None else weight
    keep = t != ignore_index
    tt = np.where(keep, t, 0)
    picked = np.take_along_axis(lp, tt[..., None], -1)[..., 0]
    wt = w[tt] * keep
    loss = (1 - ls) * (-picked * wt) + ls / nc * (-(lp * w).sum(-1) * keep)
    if reduction == "mean":
        return loss.sum() / wt.sum()
    return loss.sum() if reduction == "sum" else loss


def _ref_cross_entropy_probs(x, p, weight=None, reduction="mean", ls=0.0):
    cdim = 0 if x.ndim == 1 else 1
    nc = x.shape[cdim]
    p = p * (1 - ls) + ls / nc
    shape = [1] * x.ndim
    shape[cdim] = nc
    w = np.ones(shape) if weight is None else weight.reshape(shape)
    loss = -(_log_softmax(x, cdim) * p * w).sum(cdim)
    if reduction == "mean":
        return loss.sum() / (x.size / nc)
    return loss.sum() if reduction == "sum" else loss


def _ref_bce(x, y, w=1.0):
    with np.errstate(divide="ignore"):
        return -w * (y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log1p(-x), -100))


def _ref_bce_logits(x, y, w=1.0, pw=1.0):
    # log sigmoid(x) = -log(1 + e^-x), log(1 - sigmoid(x)) = -log(1 + e^x)
    return w * (pw * y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x))


def _ref_smooth_l1(d, beta):
    a = np.abs(d)
    return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)


def _ref_huber(d, delta):
    a = np.abs(d)
    return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


# ----------------------------------------------------------------------------- elementwise losses

_ELEMENTWISE = {
    "l1_loss": (lambda d: np.abs(d), {}),
    "mse_loss": (lambda d: d * d, {}),
    "smooth_l1_loss": (lambda d: _ref_smooth_l1(d, 0.5), {"beta": 0.5}),
    "huber_loss": (lambda d: _ref_huber(d, 0.7), {"delta": 0.7}),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(_ELEMENTWISE))
def test_elementwise_losses_match_closed_forms(device, name, reduction):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    ref, kw = _ELEMENTWISE[name]
    out = getattr(F, name)(_t(x, device), _t(y, device), reduction=reduction, **kw)
    assert_values(out, _reduce(ref(x - y), reduction), **_tol(device))


def test_smooth_l1_with_beta_zero_is_l1(device):
    x, y = _t([0.1, -2.0, 3.0], device), _t([0.0, 0.0, 0.0], device)
    assert_values(F.smooth_l1_loss(x, y, beta=0.0), (0.1 + 2 + 3) / 3, **_tol(device))


@pytest.mark.parametrize("name", sorted(_ELEMENTWISE))
def test_elementwise_loss_gradients(device, name):
    rng = np.random.default_rng(1)
    x = _t(rng.standard_normal((2, 3)), device, grad=True)
    y = _t(rng.standard_normal((2, 3)), device, grad=True)
    kw = _ELEMENTWISE[name][1]
    assert plugtorch.autograd.gradcheck(lambda a, b: getattr(F, name)(a, b, **kw), (x, y),
                                        atol=1e-4, rtol=1e-3)


def test_mse_loss_warns_when_shapes_broadcast(device):
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(_t(np.ones(3), device), _t(np.ones((3, 1)), device))


# ----------------------------------------------------------------------------- class indices

_CE_CASES = [
    ((4, 5), {}),
    ((4, 5), {"weight": True}),
    ((4, 5), {"ignore_index": 2}),
    ((3, 4, 2, 3), {"weight": True, "ignore_index": 1}),      # two spatial dims
    ((2, 4, 3), {"label_smoothing": 0.2}),
    ((2, 4, 3), {"weight": True, "ignore_index": 0, "label_smoothing": 0.3}),
    ((5,), {}),                                               # no batch dim
]


def _ce_inputs(shape, kw, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    cdim = 0 if len(shape) == 1 else 1
    tshape = shape[:cdim] + shape[cdim + 1:]
    t = rng.integers(0, shape[cdim], tshape)
    if "ignore_index" in kw:
        t.reshape(-1)[0] = kw["ignore_index"]     # make sure one target is ignored
    w = rng.random(shape[cdim]) + 0.5 if kw.get("weight") else None
    return x, t, w


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, kw", _CE_CASES, ids=[str(i) for i in range(len(_CE_CASES))])
def test_cross_entropy_with_class_indices(device, shape, kw, reduction):
    x, t, w = _ce_inputs(shape, kw)
    kw = dict(kw, weight=None if w is None else _t(w, device))
    out = F.cross_entropy(_t(x, device), _t(t, device), reduction=reduction, **kw)
    expected = _ref_cross_entropy(x, t, w, kw.get("ignore_index", -100), reduction,
                                  kw.get("label_smoothing", 0.0))
    assert_values(out, expected, **_tol(device))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, {"weight": True}, {"label_smoothing": 0.25}], ids=str)
def test_cross_entropy_with_class_probabilities(device, kw, reduction):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 2))
    p = rng.random((3, 4, 2))
    p /= p.sum(1, keepdims=True)
    w = rng.random(4) + 0.5 if kw.get("weight") else None
    ls = kw.get("label_smoothing", 0.0)
    out = F.cross_entropy(_t(x, device), _t(p, device), None if w is None else _t(w, device),
                          reduction=reduction, label_smoothing=ls)
    assert_values(out, _ref_cross_entropy_probs(x, p, w, reduction, ls), **_tol(device))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_closed_form(device, reduction):
    x, t, w = _ce_inputs((4, 3, 2), {"weight": True, "ignore_index": 1}, seed=3)
    logp = _log_softmax(x, 1)
    out = F.nll_loss(_t(logp, device), _t(t, device), _t(w, device), ignore_index=1,
                     reduction=reduction)
    keep = t != 1
    tt = np.where(keep, t, 0)
    picked = np.take_along_axis(np.moveaxis(logp, 1, -1), tt[..., None], -1)[..., 0]
    loss = -picked * w[tt] * keep
    expected = {"none": loss, "sum": loss.sum(), "mean": loss.sum() / (w[tt] * keep).sum()}
    assert_values(out, expected[reduction], **_tol(device))


def test_cross_entropy_gradients(device):
    x, t, w = _ce_inputs((3, 4, 2), {"weight": True, "ignore_index": 2}, seed=4)
    xt = _t(x, device, grad=True)
    tt, wt = _t(t, device), _t(w, device)
    assert plugtorch.autograd.gradcheck(
        lambda a: F.cross_entropy(a, tt, wt, ignore_index=2, label_smoothing=0.1), (xt,),
        atol=1e-4, rtol=1e-3)
    p = _t(np.random.default_rng(5).random((3, 4, 2)), device, grad=True)
    assert plugtorch.autograd.gradcheck(lambda a, b: F.cross_entropy(a, b), (xt, p),
                                        atol=1e-4, rtol=1e-3)


def test_cross_entropy_double_backward(device):
    x, t, _ = _ce_inputs((3, 4), {}, seed=6)
    xt = _t(x, device, grad=True)
    (g,) = plugtorch.autograd.grad(F.cross_entropy(xt, _t(t, device)), (xt,),
                                   create_graph=True)
    (gg,) = plugtorch.autograd.grad((g * g).sum(), (xt,))
    # d/dx sum(g^2) with g = (softmax(x) - onehot) / N
    s = np.exp(_log_softmax(x, 1))
    gn = (s - np.eye(4)[t]) / 3
    v = 2 * gn / 3
    expected = s * (v - (v * s).sum(1, keepdims=True))
    assert_values(gg, expected, **_tol(device))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_class_index_targets_known_and_unknown_give_one_result(device, reduction):
    """Targets whose values the host knows (uploaded, or in host memory) take the one-node
    path; the same targets computed on the device take the masked general path: the same
    loss and gradient bit for bit, and both the numpy reference."""
    x, t, _ = _ce_inputs((6, 5), {}, seed=8)
    known = _t(t, device)
    unknown = (known * 2 - known).reshape(6)         # made by kernels: range not known
    out = {}
    for name, tt in (("known", known), ("unknown", unknown)):
        xt = _t(x, device, grad=True)
        loss = F.cross_entropy(xt, tt, reduction=reduction)
        (loss.sum() if reduction == "none" else loss).backward()
        out[name] = (to_host(loss), to_host(xt.grad))
    np.testing.assert_array_equal(out["known"][0], out["unknown"][0])
    np.testing.assert_array_equal(out["known"][1], out["unknown"][1])
    assert_values(out["known"][0], _ref_cross_entropy(x, t, None, -100, reduction, 0.0),
                  **_tol(device))


def _ref_ce_grad(x, t, reduction):
    """d cross_entropy / d x for class indices (rows of x), float64: (softmax - onehot) / N."""
    e = np.exp(x - x.max(1, keepdims=True))
    g = e / e.sum(1, keepdims=True)
    g[np.arange(len(t)), t] -= 1
    return g / len(t) if reduction == "mean" else g


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_class_index_targets_second_order(device, reduction):
    """Known targets (NOTE [fused cross entropy]) with create_graph: the gradient is itself
    differentiable; d/dx of sum(grad * w) against central differences of the closed-form
    gradient, and the same value through the general path (targets made on the device)."""
    x, t, _ = _ce_inputs((5, 4), {}, seed=3)
    w = np.random.default_rng(4).standard_normal(x.shape)
    eps = 1e-6
    ref = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        ref[i] = ((_ref_ce_grad(x + d, t, reduction) - _ref_ce_grad(x - d, t, reduction)) *
                  w).sum() / (2 * eps)
    known = _t(t, device)
    for tt in (known, (known * 2 - known).reshape(5)):
        xt = _t(x, device, grad=True)
        (g,) = plugtorch.autograd.grad(F.cross_entropy(xt, tt, reduction=reduction), xt,
                                       create_graph=True)
        assert_values(to_host(g), _ref_ce_grad(x, t, reduction), **_tol(device))
        (hw,) = plugtorch.autograd.grad((g * _t(w, device)).sum(), xt)
        tol = {"atol": 1e-6, "rtol": 1e-5} if widest_float(device) is plugtorch.float64 \
            else {"atol": 1e-4, "rtol": 1e-3}
        assert_values(to_host(hw), ref, **tol)


@pytest.mark.parametrize("loss_fn", [
    lambda x, t: F.cross_entropy(x, t),
    lambda x, t: F.nll_loss(x.log_softmax(1), t, reduction="sum"),
    lambda x, t: F.cross_entropy(x, t, reduction="none").sum(),
    lambda x, t: F.cross_entropy(x, t, ignore_index=int(to_host(t)[0])),
    lambda x, t: F.cross_entropy(x, t, weight=x.detach()[0].abs() + 1),
    lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2),
], ids=["cross_entropy", "nll_loss", "none", "ignore_index", "weight", "smoothing"])
def test_targets_changed_in_place_after_the_forward_raise(device, loss_fn):
    """As PyTorch: the backward needs the targets as they were, on every path (one node
    for known classes, the masked general one for ignored targets, weights, smoothing)."""
    x, t, _ = _ce_inputs((4, 3), {}, seed=7)
    xt, tt = _t(x, device, grad=True), _t(t, device)
    loss = loss_fn(xt, tt)
    tt.add_(0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_class_index_targets_input_changed_in_place(device):
    """As PyTorch (whose log_softmax saves its output): changing the logits in place after
    the forward leaves backward() and a second-order gradient correct, and the loss does
    not keep the logits alive."""
    import gc
    import weakref
    x, t, _ = _ce_inputs((4, 3), {}, seed=5)
    w = np.random.default_rng(6).standard_normal(x.shape)
    xt = _t(x, device, grad=True)
    logits = xt * 1.0
    loss = F.cross_entropy(logits, _t(t, device))
    with plugtorch.no_grad():
        logits.mul_(2.0)
    (g,) = plugtorch.autograd.grad(loss, xt, create_graph=True)
    assert_values(to_host(g), _ref_ce_grad(x, t, "mean"), **_tol(device))
    (hw,) = plugtorch.autograd.grad((g * _t(w, device)).sum(), xt)
    eps = 1e-6
    ref = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        ref[i] = ((_ref_ce_grad(x + d, t, "mean") - _ref_ce_grad(x - d, t, "mean")) *
                  w).sum() / (2 * eps)
    tol = {"atol": 1e-6, "rtol": 1e-5} if widest_float(device) is plugtorch.float64 \
        else {"atol": 1e-4, "rtol": 1e-3}
    assert_values(to_host(hw), ref, **tol)
    alive = weakref.ref(logits)
    del logits
    gc.collect()
    assert alive() is None          # the loss (still held) keeps its log-probabilities only


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_mean_over_all_ignored_targets_is_nan(device):
    out = F.cross_entropy(_t(np.zeros((2, 3)), device), _t([-100, -100], device))
    assert np.isnan(to_host(out))


def _assert_no_host_transfers(like):
    name = like._storage.backend.name
    if plugtorch.debug.fallbacks(name):
        return      # a backend missing primitives copies through the host by design
    assert plugtorch.debug.transfers(name) == 0, plugtorch.debug.counters()


@pytest.mark.parametrize("loss_fn, bad", [
    (lambda x, t: F.cross_entropy(x, t, reduction="none"), -1),
    (lambda x, t: F.nll_loss(x.log_softmax(1), t), -1),
    (lambda x, t: F.cross_entropy(x, t, ignore_index=-1), 7),
], ids=["cross_entropy", "nll_loss", "ignore_index"])
def test_out_of_range_target_raises_index_error(device, loss_fn, bad):
    """PyTorch's IndexError naming the first bad target (ignore_index is not one): at once on
    the host; on a device at the next host read, with no host read before it (NOTE
    [asynchronous class-index losses])."""
    x = _t(np.zeros((3, 3)), device, grad=True)
    t = _t([0, -1, 7], device)
    with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
        plugtorch.debug.reset_counters()
        loss = loss_fn(x, t)
        _assert_no_host_transfers(t)
        to_host(loss)
    ok = loss_fn(x, _t([0, 2, 1], device))
    assert np.isfinite(to_host(ok)).all()


def test_training_step_loss_reads_nothing_back(device):
    rng = np.random.default_rng(7)
    x = _t(rng.standard_normal((4, 5, 2)), device, grad=True)
    t, w = _t(rng.integers(0, 5, (4, 2)), device), _t(rng.random(5), device)
    p = _t(rng.random((4, 3)), device)
    plugtorch.debug.reset_counters()
    loss = (F.cross_entropy(x, t, w, ignore_index=1, label_smoothing=0.1)
            + F.binary_cross_entropy_with_logits(x[:, :3, 0], p)
            + F.binary_cross_entropy(x[:, :3, 1].sigmoid(), p))
    loss.backward()
    _assert_no_host_transfers(t)


# ----------------------------------------------------------------------------- binary and KL

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_binary_cross_entropy(device, reduction):
    rng = np.random.default_rng(8)
    x, y, w = rng.random((3, 4)), rng.random((3, 4)), rng.random(4)
    x[0, 0], x[0, 1] = 0.0, 1.0          # logs clamped at -100, as PyTorch
    out = F.binary_cross_entropy(_t(x, device), _t(y, device), _t(w, device),
                                 reduction=reduction)
    assert_values(out, _reduce(_ref_bce(x, y, w), reduction), **_tol(device))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_binary_cross_entropy_gradient_is_finite_at_0_and_1(device):
    x = _t([0.0, 1.0, 0.3], device, grad=True)
    F.binary_cross_entropy(x, _t([0.0, 1.0, 1.0], device), reduction="sum").backward()
    # (x - y) / max(x (1 - x), 1e-12)
    assert_values(x.grad, [0.0, 0.0, -1 / 0.3], **_tol(device))
    xg = _t([0.2, 0.7], device, grad=True)
    yg = _t([0.4, 0.9], device, grad=True)
    assert plugtorch.autograd.gradcheck(F.binary_cross_entropy, (xg, yg), atol=1e-4,
                                        rtol=1e-3)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight"])
def test_binary_cross_entropy_with_logits(device, weights, reduction):
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((3, 4)) * 3, rng.random((3, 4))
    x[0, 0], x[0, 1] = 0.0, 40.0
    w, pw = rng.random(4), rng.random(4) + 0.5
    kw = {"weight": _t(w, device)} if weights == "weight" else {}
    if weights == "pos_weight":
        kw = {"pos_weight": _t(pw, device)}
    out = F.binary_cross_entropy_with_logits(_t(x, device), _t(y, device), reduction=reduction,
                                             **kw)
    ref = _ref_bce_logits(x, y, w if weights == "weight" else 1.0,
                          pw if weights == "pos_weight" else 1.0)
    assert_values(out, _reduce(ref, reduction), **_tol(device))


def test_binary_cross_entropy_with_logits_gradient_at_zero(device):
    # the derivative is sigmoid(x) * (1 + (pw - 1) y) - pw * y, also where x == 0
    x = _t([0.0, 0.0, 2.0], device, grad=True)
    y = np.array([0.0, 1.0, 0.5])
    pw = np.array([2.0, 3.0, 0.5])
    F.binary_cross_entropy_with_logits(x, _t(y, device), pos_weight=_t(pw, device),
                                       reduction="sum").backward()
    s = 1 / (1 + np.exp(-np.array([0.0, 0.0, 2.0])))
    assert_values(x.grad, s * (1 + (pw - 1) * y) - pw * y, **_tol(device))
    xg = _t(np.array([[-1.5, 0.3], [2.0, -0.2]]), device, grad=True)
    yg = _t(np.array([[0.2, 0.9], [0.5, 0.1]]), device, grad=True)
    pg = _t(np.array([1.5, 0.7]), device, grad=True)
    assert plugtorch.autograd.gradcheck(
        lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, pos_weight=c),
        (xg, yg, pg), atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(device, reduction, log_target):
    rng = np.random.default_rng(10)
    lp = _log_softmax(rng.standard_normal((3, 4)), 1)
    q = rng.random((3, 4))
    q[0, 0] = 0.0                       # 0 * log 0 is 0
    target = np.log(q + 0.1) if log_target else q
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)       # 'mean' warns, as PyTorch
        out = F.kl_div(_t(lp, device), _t(target, device), reduction=reduction,
                       log_target=log_target)
    p = np.exp(target) if log_target else target
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - lp), 0.0)
    expected = {"none": loss, "sum": loss.sum(), "mean": loss.mean(),
                "batchmean": loss.sum() / 3}[reduction]
    assert_values(out, expected, **_tol(device))


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call, exc, match", [
    (lambda d: F.cross_entropy(_t(np.zeros((3, 4)), d), _t(np.zeros(2, np.int64), d)),
     ValueError, r"Expected input batch_size \(3\) to match target batch_size \(2\)\."),
    (lambda d: F.cross_entropy(_t(np.zeros((3, 4)), d), _t(np.zeros(3, np.int32), d)),
     RuntimeError, "expected target dtype to be Long or Byte, but got Int"),
    (lambda d: F.cross_entropy(_t(np.zeros((3, 4)), d), _t(np.zeros((3, 5)), d)),
     RuntimeError, "0D or 1D target tensor expected, multi-target not supported"),
    (lambda d: F.cross_entropy(_t(np.zeros((3, 4)), d), _t(np.zeros((3, 4)), d),
                               ignore_index=1),
     RuntimeError, "ignore_index is not supported for floating point target"),
    (lambda d: F.cross_entropy(_t(np.zeros((3, 4)), d), _t(np.zeros(3, np.int64), d),
                               _t(np.ones(3), d)),
     RuntimeError, r"weight tensor should be defined either for all 4 classes or no classes "
                   r"but got weight tensor of shape: \[3\]"),
    (lambda d: F.cross_entropy(_t(np.zeros((3, 4)), d), _t(np.zeros(3, np.int64), d),
                               label_smoothing=1.5),
     RuntimeError, "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
    (lambda d: F.cross_entropy(_t(np.zeros((2, 3, 4)), d), _t(np.zeros((2, 5), np.int64), d)),
     RuntimeError, r"Expected target size \[2, 4\], got \[2, 5\]"),
    (lambda d: F.nll_loss(_t(np.zeros(()), d), _t(np.zeros((), np.int64), d)),
     ValueError, r"Expected 1 or more dimensions \(got 0\)"),
    (lambda d: F.mse_loss(_t(np.zeros(3), d), _t(np.zeros(3), d), reduction="batchmean"),
     ValueError, "batchmean is not a valid value for reduction"),
    (lambda d: F.binary_cross_entropy(_t(np.zeros(3), d), _t(np.zeros((3, 1)), d)),
     ValueError, "Using a target size .* that is different to the input size"),
    (lambda d: F.binary_cross_entropy_with_logits(_t(np.zeros(3), d), _t(np.zeros((3, 1)), d)),
     ValueError, r"Target size \(.*\) must be the same as input size"),
    (lambda d: F.smooth_l1_loss(_t(np.zeros(3), d), _t(np.zeros(3), d), beta=-1.0),
     RuntimeError, "smooth_l1_loss does not support negative values for beta."),
    (lambda d: F.huber_loss(_t(np.zeros(3), d), _t(np.zeros(3), d), delta=0.0),
     RuntimeError, "huber_loss does not support non-positive values for delta."),
], ids=lambda v: "" if callable(v) or isinstance(v, type) else v[:30])
def test_loss_errors(device, call, exc, match):
    with pytest.raises(exc, match=match):
        call(device)


# ----------------------------------------------------------------------------- modules

def test_loss_modules_call_their_functional_forms(device):
    rng = np.random.default_rng(11)
    x, t, w = _ce_inputs((4, 3), {"weight": True, "ignore_index": 0}, seed=12)
    ce = nn.CrossEntropyLoss(weight=_t(w, device), ignore_index=0, label_smoothing=0.1,
                             reduction="sum")
    assert_values(ce(_t(x, device), _t(t, device)),
                 _ref_cross_entropy(x, t, w, 0, "sum", 0.1), **_tol(device))
    assert list(ce.state_dict()) == ["weight"] and list(nn.CrossEntropyLoss().state_dict()) == []
    a, b = rng.random((2, 3)), rng.random((2, 3))
    cases = [(nn.L1Loss(), np.abs(a - b).mean()), (nn.MSELoss(reduction="sum"),
             ((a - b) ** 2).sum()), (nn.SmoothL1Loss(beta=0.5), _ref_smooth_l1(a - b, .5).mean()),
             (nn.HuberLoss(delta=0.2), _ref_huber(a - b, 0.2).mean()),
             (nn.BCELoss(), _ref_bce(a, b).mean()),
             (nn.BCEWithLogitsLoss(pos_weight=_t(np.full(3, 2.0), device)),
              _ref_bce_logits(a, b, pw=2.0).mean())]
    for module, expected in cases:
        assert_values(module(_t(a, device), _t(b, device)), expected, **_tol(device))
    nll = nn.NLLLoss(reduction="none")
    assert_values(nll(_t(-a, device), _t([2, 0], device)), [a[0, 2], a[1, 0]], **_tol(device))
    kl = nn.KLDivLoss(reduction="batchmean", log_target=True)
    assert_values(kl(_t(a, device), _t(b, device)), (np.exp(b) * (b - a)).sum() / 2,
                 **_tol(device))


def test_legacy_size_average_and_reduce(device):
    with pytest.warns(UserWarning, match="reduction='sum'"):
        loss = nn.MSELoss(size_average=False)
    assert loss.reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        out = F.l1_loss(_t([1.0, -2.0], device), _t([0.0, 0.0], device), reduce=False)
    assert_values(out, [1.0, 2.0])


# ----------------------------------------------------------------------------- PyTorch oracle

def _cases_for_torch():
    out = []
    for shape, kw in _CE_CASES:
        for red in REDUCTIONS:
            out.append((shape, kw, red))
    return out


@pytest.mark.parametrize("shape, kw, reduction", _cases_for_torch(), ids=str)
def test_cross_entropy_matches_pytorch(device, shape, kw, reduction):
    torch = pytest.importorskip("torch")
    x, t, w = _ce_inputs(shape, kw, seed=13)
    ours = _t(x, device, grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    opts = {k: v for k, v in kw.items() if k != "weight"}
    a = F.cross_entropy(ours, _t(t, device), None if w is None else _t(w, device),
                        reduction=reduction, **opts)
    b = torch.nn.functional.cross_entropy(theirs, torch.tensor(t), None if w is None else
                                          torch.tensor(w), reduction=reduction, **opts)
    assert_values(a, b.detach().numpy(), **_tol(device))
    a.sum().backward()
    b.sum().backward()
    assert_values(ours.grad, theirs.grad.numpy(), **_tol(device))


@pytest.mark.parametrize("name, kw", [
    ("binary_cross_entropy", {"weight": "tensor"}),
    ("binary_cross_entropy_with_logits", {"pos_weight": "tensor", "weight": "tensor"}),
    ("kl_div", {"reduction": "batchmean"}), ("kl_div", {"log_target": True, "reduction": "sum"}),
    ("smooth_l1_loss", {"beta": 0.3}), ("huber_loss", {"delta": 0.4}), ("l1_loss", {}),
    ("mse_loss", {}), ("cross_entropy", {"label_smoothing": 0.2}),
], ids=str)
def test_losses_and_gradients_match_pytorch(device, name, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    x, y = rng.random((3, 4)) * 0.9 + 0.05, rng.random((3, 4))
    if name == "kl_div":
        x = np.log(x)
    extra = {k: rng.random(4) + 0.5 for k, v in kw.items() if v == "tensor"}
    fixed = {k: v for k, v in kw.items() if v != "tensor"}
    xa, ya = _t(x, device, grad=True), _t(y, device, grad=True)
    xb, yb = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    a = getattr(F, name)(xa, ya, **fixed, **{k: _t(v, device) for k, v in extra.items()})
    b = getattr(torch.nn.functional, name)(xb, yb, **fixed,
                                           **{k: torch.tensor(v) for k, v in extra.items()})
    assert_values(a, b.detach().numpy(), **_tol(device))
    a.backward()
    b.backward()
    assert_values(xa.grad, xb.grad.numpy(), **_tol(device))
    assert_values(ya.grad, yb.grad.numpy(), **_tol(device))
