"""Declarations of the losses of nn.functional, with float64 numpy references written from
their definitions (per-element loss, then the reduction)."""
import numpy as np

from ... import _dtype as D
from ...ops._decl import declare, Sample
from ...ops import samples as S
from . import _loss as L


def _reduce(loss, reduction="mean"):
    return {"none": loss, "sum": np.sum(loss), "mean": np.mean(loss)}[reduction]


def _weighted(loss, weight):
    return loss if weight is None else loss * weight


def _ref_l1(x, y, reduction="mean"):
    return _reduce(np.abs(x - y), reduction)


def _ref_mse(x, y, reduction="mean", weight=None):
    return _reduce(_weighted((x - y) ** 2, weight), reduction)


def _ref_smooth_l1(x, y, reduction="mean", beta=1.0):
    a = np.abs(x - y)
    loss = a if beta == 0 else np.where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta)
    return _reduce(loss, reduction)


def _ref_huber(x, y, reduction="mean", delta=1.0, weight=None):
    a = np.abs(x - y)
    loss = np.where(a < delta, 0.5 * a * a, delta * (a - 0.5 * delta))
    return _reduce(_weighted(loss, weight), reduction)


def _log_softmax(x, axis):
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _ref_nll(x, t, weight=None, ignore_index=-100, reduction="mean"):
    """-weight[t] x[n, t, ...], ignored targets left out (of the mean's weight too)."""
    cdim = 0 if x.ndim == 1 else 1
    nc = x.shape[cdim]
    keep = t != ignore_index
    safe = np.where(keep, t, 0)
    picked = np.take_along_axis(x, np.expand_dims(safe, cdim), axis=cdim).squeeze(cdim)
    w = (np.ones(nc) if weight is None else weight)[safe] * keep
    loss = -picked * w
    if reduction == "mean":
        return np.sum(loss) / np.sum(w)
    return _reduce(loss, reduction)


def _ref_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean",
                       label_smoothing=0.0):
    cdim = 0 if x.ndim == 1 else 1
    nc = x.shape[cdim]
    logp = _log_softmax(x, cdim)
    wshape = tuple(-1 if k == cdim else 1 for k in range(x.ndim))
    wc = np.ones(nc) if weight is None else weight
    if t.dtype.kind == "f":      # class probabilities
        t = t * (1.0 - label_smoothing) + label_smoothing / nc
        loss = -np.sum(logp * t * wc.reshape(wshape), axis=cdim)
        return np.sum(loss) / (x.size // nc) if reduction == "mean" else _reduce(loss, reduction)
    nll = _ref_nll(logp, t, weight, ignore_index, reduction)
    keep = t != ignore_index
    smooth = np.where(keep, -np.sum(logp * wc.reshape(wshape), axis=cdim), 0.0)
    if reduction == "mean":
        smooth = np.sum(smooth) / np.sum(wc[np.where(keep, t, 0)] * keep)
    elif reduction == "sum":
        smooth = np.sum(smooth)
    return (1.0 - label_smoothing) * nll + smooth * label_smoothing / nc


def _ref_bce(x, y, weight=None, reduction="mean"):
    loss = -(y * np.maximum(np.log(x), -100.0) + (1 - y) * np.maximum(np.log1p(-x), -100.0))
    return _reduce(_weighted(loss, weight), reduction)


def _ref_bce_logits(x, y, weight=None, reduction="mean", pos_weight=None):
    log_sig, log_one_minus = -np.logaddexp(0.0, -x), -np.logaddexp(0.0, x)
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * y * log_sig + (1 - y) * log_one_minus)
    return _reduce(_weighted(loss, weight), reduction)


def _ref_kl_div(x, y, reduction="mean", log_target=False):
    if log_target:
        loss = np.exp(y) * (y - x)
    else:
        loss = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0) - y * x
    if reduction == "batchmean":
        return np.sum(loss) / (x.shape[0] if x.ndim else 1)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- samples

def _pair_samples(*kwargs):
    """input and target (3, 4), then (2, 3) with each kwargs dict; gradients of both."""
    def gen(dtype, rng):
        a = lambda *s: S.array(s, dtype, rng)  # noqa: E731
        return [Sample(a(3, 4), a(3, 4), grad=(0, 1))] + [
            Sample(a(2, 3), a(2, 3), grad=(0, 1), **{k: v(a) if callable(v) else v
                                                      for k, v in kw.items()})
            for kw in kwargs]
    return gen


def _nll_samples(dtype, rng):
    a = lambda *s: S.array(s, dtype, rng)  # noqa: E731
    t = lambda n, *s: rng.integers(0, n, size=s)  # noqa: E731
    t1 = t(4, 5)
    return [Sample(a(5, 4), t1, grad=(0,)),
            Sample(a(5, 4), t1, a(4) + 3, ignore_index=int(t1[0]), grad=(0,),
                   name="weight_ignore"),
            Sample(a(2, 3, 2, 2), t(3, 2, 2, 2), reduction="none", grad=(0,), name="spatial"),
            Sample(a(3), t(3), reduction="sum", grad=(0,), name="unbatched")]


def _cross_entropy_samples(dtype, rng):
    a = lambda *s: S.array(s, dtype, rng)  # noqa: E731
    probs = rng.dirichlet(np.ones(4), size=3).astype(dtype.np)
    return _nll_samples(dtype, rng)[:3] + [
        Sample(a(3, 4), rng.integers(0, 4, size=3), label_smoothing=0.2, grad=(0,),
               name="smoothing"),
        Sample(a(3, 4), probs, a(4) + 3, grad=(0, 1), name="probabilities")]


def _bce_samples(dtype, rng):
    p = lambda *s: rng.uniform(0.05, 0.95, size=s).astype(dtype.np)  # noqa: E731
    return [Sample(p(3, 4), p(3, 4), grad=(0, 1)),
            Sample(p(2, 3), p(2, 3), p(3), reduction="sum", grad=(0, 1), name="weight")]


def _bce_logits_samples(dtype, rng):
    a = lambda *s: S.array(s, dtype, rng)  # noqa: E731
    p = lambda *s: rng.uniform(0.0, 1.0, size=s).astype(dtype.np)  # noqa: E731
    return [Sample(a(3, 4), p(3, 4), grad=(0, 1)),
            Sample(a(2, 3), p(2, 3), a(3), reduction="none", pos_weight=p(3) + 0.5,
                   grad=(0, 1), name="weights")]


def _kl_samples(dtype, rng):
    logp = lambda *s: _log_softmax(S.array(s, D.float64, rng), -1).astype(dtype.np)  # noqa
    q = rng.dirichlet(np.ones(4), size=3).astype(dtype.np)
    q[0, 0] = 0.0       # target 0 contributes 0
    return [Sample(logp(3, 4), q, reduction="batchmean", grad=(0,)),
            Sample(logp(2, 3), logp(2, 3), reduction="sum", log_target=True, grad=(0, 1)),
            Sample(logp(2, 3), np.abs(logp(2, 3)), reduction="none", grad=(0,))]


def _loss(name, ref, samples, **kw):
    declare(name, getattr(L, name), ref=ref, samples=samples, dtypes=D.FLOATING, atol=1e-4,
            rtol=1e-4, **kw)


_loss("l1_loss", _ref_l1, _pair_samples({"reduction": "sum"}, {"reduction": "none"}))
_loss("mse_loss", _ref_mse, _pair_samples({"reduction": "none", "weight": lambda a: a(2, 3)}))
_loss("smooth_l1_loss", _ref_smooth_l1, _pair_samples({"beta": 0.5}, {"beta": 0.0}))
_loss("huber_loss", _ref_huber, _pair_samples({"delta": 0.7, "reduction": "sum"}))
_loss("nll_loss", _ref_nll, _nll_samples)
_loss("cross_entropy", _ref_cross_entropy, _cross_entropy_samples)
_loss("binary_cross_entropy", _ref_bce, _bce_samples)
_loss("binary_cross_entropy_with_logits", _ref_bce_logits, _bce_logits_samples)
_loss("kl_div", _ref_kl_div, _kl_samples)
