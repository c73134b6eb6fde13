"""Declarations of nn.functional's layer functions: linear, bilinear, attention, the
normalizations, dropout, embedding and one_hot, with float64 numpy references.

Dropout draws from the default generator, so its samples are the deterministic cases:
p = 0, training=False (both the identity) and p = 1 (all zeros).
"""
import numpy as np

from ... import _dtype as D
from ...ops._decl import declare, Sample
from ...ops import samples as S
from . import _linear, _misc, _normalization as N


def _arrays(dtype, rng):
    return lambda *shape: S.array(shape, dtype, rng)


def _positive(dtype, rng):
    return lambda *shape: S.array(shape, dtype, rng, "positive")


def _layer(module, name, ref, samples, dtypes=D.FLOATING, **kw):
    declare(name, getattr(module, name), ref=ref, samples=samples, dtypes=dtypes, **kw)


# ----------------------------------------------------------------------------- linear

def _ref_linear(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


def _ref_bilinear(x1, x2, w, b=None):
    y = np.einsum("...i,oij,...j->...o", x1, w, x2)
    return y if b is None else y + b


def _ref_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    scores = q @ np.swapaxes(k, -1, -2) * (1.0 / np.sqrt(q.shape[-1]) if scale is None
                                           else scale)
    if is_causal:
        attn_mask = np.tril(np.ones(scores.shape[-2:], bool))
    if attn_mask is not None:
        scores = (np.where(attn_mask, scores, -np.inf) if attn_mask.dtype == np.bool_
                  else scores + attn_mask)
    e = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    return (e / np.sum(e, axis=-1, keepdims=True)) @ v


def _linear_samples(dtype, rng):
    a = _arrays(dtype, rng)
    return [Sample(a(2, 3), a(4, 3), a(4), grad=(0, 1, 2)),
            Sample(a(3), a(2, 3), grad=(0, 1)),
            Sample(a(2, 2, 3), a(3), name="vector_weight")]


def _attention_samples(dtype, rng):
    a = _arrays(dtype, rng)
    mask = rng.random((3, 5)) < 0.7
    mask[:, 0] = True       # every query attends to something
    return [Sample(a(2, 3, 4), a(2, 5, 4), a(2, 5, 3), grad=(0, 1, 2)),
            Sample(a(3, 4), a(5, 4), a(5, 2), mask, scale=0.3, grad=(0, 1, 2), name="bool_mask"),
            Sample(a(2, 4, 3), a(2, 4, 3), a(2, 4, 3), is_causal=True, name="causal"),
            Sample(a(3, 4), a(5, 4), a(5, 2), a(3, 5), name="float_mask")]


_layer(_linear, "linear", _ref_linear, _linear_samples, atol=1e-4, rtol=1e-4)
_layer(_linear, "bilinear", _ref_bilinear, lambda dtype, rng: [
    Sample(*(_arrays(dtype, rng)(*s) for s in ((2, 3), (2, 2), (4, 3, 2), (4,))),
           grad=(0, 1, 2, 3)),
    Sample(*(_arrays(dtype, rng)(*s) for s in ((3,), (2,), (1, 3, 2))))], atol=1e-4, rtol=1e-4)
_layer(_linear, "scaled_dot_product_attention", _ref_attention, _attention_samples, atol=1e-4,
       rtol=1e-4)


# ----------------------------------------------------------------------------- normalization

def _normed(x, axes, eps):
    mean = np.mean(x, axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(np.var(x, axis=axes, keepdims=True) + eps)


def _channel(t, ndim):
    return None if t is None else t.reshape((1, -1) + (1,) * (ndim - 2))


def _affine(y, weight, bias):
    return (y if weight is None else y * weight) + (0.0 if bias is None else bias)


def _ref_batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
                    momentum=0.1, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        y = _normed(x, axes, eps)
    else:
        y = (x - _channel(running_mean, x.ndim)) / np.sqrt(_channel(running_var, x.ndim) + eps)
    return _affine(y, _channel(weight, x.ndim), _channel(bias, x.ndim))


def _ref_layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    k = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    return _affine(_normed(x, tuple(range(x.ndim - k, x.ndim)), eps), weight, bias)


def _ref_group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    g = x.reshape(x.shape[0], num_groups, -1)
    y = _normed(g, (2,), eps).reshape(x.shape)
    return _affine(y, _channel(weight, x.ndim), _channel(bias, x.ndim))


def _ref_instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
                       use_input_stats=True, momentum=0.1, eps=1e-5):
    y = _normed(x, tuple(range(2, x.ndim)), eps)
    return _affine(y, _channel(weight, x.ndim), _channel(bias, x.ndim))


def _ref_normalize(x, p=2.0, dim=1, eps=1e-12):
    norm = np.sum(np.abs(x) ** p, axis=dim, keepdims=True) ** (1.0 / p)
    return x / np.maximum(norm, eps)


def _batch_norm_samples(dtype, rng):
    a, pos = _arrays(dtype, rng), _positive(dtype, rng)
    return [Sample(a(3, 2, 4), a(2), pos(2), a(2), a(2), grad=(0, 3, 4)),
            Sample(a(4, 3), None, None, a(3), a(3), True, grad=(0, 3, 4), name="training"),
            Sample(a(2, 3, 2, 2), None, None, training=True, eps=1e-3, name="no_affine")]


_layer(N, "batch_norm", _ref_batch_norm, _batch_norm_samples, atol=1e-4, rtol=1e-4)
_layer(N, "layer_norm", _ref_layer_norm, lambda dtype, rng: [
    Sample(_arrays(dtype, rng)(2, 3, 4), (4,), _arrays(dtype, rng)(4), _arrays(dtype, rng)(4),
           grad=(0, 2, 3)),
    Sample(_arrays(dtype, rng)(2, 3, 4), (3, 4), eps=1e-3, grad=(0,))], atol=1e-4, rtol=1e-4)
_layer(N, "group_norm", _ref_group_norm, lambda dtype, rng: [
    Sample(_arrays(dtype, rng)(2, 4, 3), 2, _arrays(dtype, rng)(4), _arrays(dtype, rng)(4),
           grad=(0, 2, 3)),
    Sample(_arrays(dtype, rng)(3, 3, 2, 2), 3)], atol=1e-4, rtol=1e-4)
_layer(N, "instance_norm", _ref_instance_norm, lambda dtype, rng: [
    Sample(_arrays(dtype, rng)(2, 3, 4), grad=(0,)),
    Sample(_arrays(dtype, rng)(2, 2, 2, 3), weight=_arrays(dtype, rng)(2),
           bias=_arrays(dtype, rng)(2), name="affine")], atol=1e-4, rtol=1e-4)
_layer(N, "normalize", _ref_normalize, lambda dtype, rng: [
    Sample(_arrays(dtype, rng)(3, 4), grad=(0,)),
    Sample(S.array((2, 3, 4), dtype, rng, "nonzero"), 1.0, -1, grad=(0,), name="l1")],
    atol=1e-4, rtol=1e-4)


# ----------------------------------------------------------------------------- dropout

def _ref_dropout(x, p=0.5, training=True, inplace=False):
    return x * 0.0 if training and p == 1.0 else x


def _dropout_samples(shape):
    def gen(dtype, rng):
        a = _arrays(dtype, rng)
        return [Sample(a(*shape), 0.0, grad=(0,), name="p0"),
                Sample(a(*shape), 0.7, False, grad=(0,), name="eval"),
                Sample(a(*shape), 1.0, name="p1")]
    return gen


for _name, _shape in (("dropout", (3, 4)), ("dropout1d", (2, 3, 4)), ("dropout2d", (2, 3, 2, 2)),
                      ("dropout3d", (1, 2, 2, 1, 2))):
    _layer(_misc, _name, _ref_dropout, _dropout_samples(_shape))
del _name, _shape


# ----------------------------------------------------------------------------- lookups

def _ref_embedding(idx, weight, padding_idx=None, scale_grad_by_freq=False):
    return weight[idx]


def _embedding_samples(dtype, rng):
    a = _arrays(dtype, rng)
    idx = rng.integers(0, 5, size=(2, 3))
    # (max_norm rescales rows of weight in place: not a sample, the suite's inputs may be
    # read-only broadcast views)
    return [Sample(idx, a(5, 4), grad=(1,)),
            Sample(idx, a(5, 4), padding_idx=1, scale_grad_by_freq=True, name="options")]


_layer(_misc, "embedding", _ref_embedding, _embedding_samples)
_layer(_misc, "one_hot", lambda t, num_classes=-1: (
    t[..., None] == np.arange(t.max() + 1 if num_classes == -1 else num_classes)).astype(
        np.int64),
    lambda dtype, rng: [Sample(rng.integers(0, 4, size=(2, 3))),
                        Sample(rng.integers(0, 4, size=(5,)), 6)],
    dtypes=(D.int64,), grad=False)
