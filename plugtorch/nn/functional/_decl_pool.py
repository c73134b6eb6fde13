"""Declarations of nn.functional's pooling and resampling functions (max/avg/adaptive pools,
interpolate and the upsample helpers), with float64 numpy references: pools gather every
window of the padded input; interpolate follows PyTorch's source-index formulas."""
import math

import numpy as np

from ... import _dtype as D
from ...ops._decl import declare, declare_alias, Sample
from ...ops import samples as S
from . import _pooling as P, _upsampling as U


def _tuple(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v) * (nd if len(tuple(v)) == 1 else 1)


def _arrays(dtype, rng):
    return lambda *shape: S.array(shape, dtype, rng)


# ----------------------------------------------------------------------------- windows

def _out_size(n, k, s, p, d, ceil_mode):
    """PyTorch's pooled length: the last window must start inside the input or its left
    padding."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    return out - 1 if ceil_mode and (out - 1) * s >= n + p else out


def _windows(x, k, s, p, d, ceil_mode, fill):
    """Windows of the last two dims of x as (..., oh, ow, kh*kw) values (`fill` where a window
    leaves the input) and their flat input positions h * W + w (-1 there)."""
    H, W = x.shape[-2:]
    out = [_out_size(n, *a, ceil_mode) for n, a in zip((H, W), zip(k, s, p, d))]
    hs = np.arange(out[0])[:, None] * s[0] - p[0] + np.arange(k[0])[None, :] * d[0]
    ws = np.arange(out[1])[:, None] * s[1] - p[1] + np.arange(k[1])[None, :] * d[1]
    valid = (((hs >= 0) & (hs < H))[:, None, :, None] & ((ws >= 0) & (ws < W))[None, :, None, :])
    pos = np.where(valid, hs[:, None, :, None] * W + ws[None, :, None, :], -1)
    flat = x.reshape(x.shape[:-2] + (H * W,))
    vals = np.where(valid, flat[..., np.maximum(pos, 0)], fill)
    shape = tuple(out) + (k[0] * k[1],)
    return vals.reshape(x.shape[:-2] + shape), pos.reshape(shape)


def _as_2d(nd, x):
    return x if nd == 2 else x[..., None, :]


def _from_2d(nd, y):
    return y if nd == 2 else y[..., 0, :]


def _ref_max_pool(nd, with_indices=False):
    def ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
            return_indices=False):
        k = _tuple(kernel_size, nd)
        s = k if stride is None else _tuple(stride, nd)
        k, s, d = ((1,) * (2 - nd) + v for v in (k, s, _tuple(dilation, nd)))
        p = (0,) * (2 - nd) + _tuple(padding, nd)
        vals, pos = _windows(_as_2d(nd, x), k, s, p, d, ceil_mode, -np.inf)
        best = np.argmax(vals, axis=-1)
        y = _from_2d(nd, np.take_along_axis(vals, best[..., None], -1)[..., 0])
        if not (with_indices or return_indices):
            return y
        idx = np.take_along_axis(np.broadcast_to(pos, vals.shape), best[..., None], -1)[..., 0]
        return y, _from_2d(nd, idx)
    return ref


def _ref_avg_pool(nd):
    def ref(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
            divisor_override=None):
        k = _tuple(kernel_size, nd)
        s = k if stride is None else _tuple(stride, nd)
        k, s = ((1,) * (2 - nd) + v for v in (k, s))
        p = (0,) * (2 - nd) + _tuple(padding, nd)
        x2 = _as_2d(nd, x)
        vals, pos = _windows(x2, k, s, p, (1, 1), ceil_mode, 0.0)
        if divisor_override is not None:
            div = divisor_override
        elif count_include_pad:     # window positions inside the padded input
            counts = [np.minimum(np.arange(o) * si - pi + ki, n + pi) - (np.arange(o) * si - pi)
                      for n, o, ki, si, pi in zip(x2.shape[-2:], vals.shape[-3:-1], k, s, p)]
            div = np.outer(*counts)
        else:
            div = np.sum(pos >= 0, axis=-1)
        return _from_2d(nd, np.sum(vals, axis=-1) / div)
    return ref


def _adaptive_windows(n, o):
    i = np.arange(o)
    return list(zip((i * n) // o, -((-(i + 1) * n) // o)))


def _ref_adaptive(nd, reduce_max):
    def ref(x, output_size, return_indices=False):
        x2 = _as_2d(nd, x)
        H, W = x2.shape[-2:]
        size = _tuple(output_size, nd) if output_size is not None else (None,) * nd
        size = ((1,) * (2 - nd) + tuple(size))
        out = [n if o is None else o for n, o in zip((H, W), size)]
        y = np.empty(x2.shape[:-2] + tuple(out))
        idx = np.empty(y.shape, np.int64)
        for i, (h0, h1) in enumerate(_adaptive_windows(H, out[0])):
            for j, (w0, w1) in enumerate(_adaptive_windows(W, out[1])):
                win = x2[..., h0:h1, w0:w1].reshape(x2.shape[:-2] + (-1,))
                if reduce_max:
                    best = np.argmax(win, axis=-1)
                    y[..., i, j] = np.max(win, axis=-1)
                    idx[..., i, j] = (h0 + best // (w1 - w0)) * W + w0 + best % (w1 - w0)
                else:
                    y[..., i, j] = np.mean(win, axis=-1)
        if reduce_max and return_indices:
            return _from_2d(nd, y), _from_2d(nd, idx)
        return _from_2d(nd, y)
    return ref


def _pool_samples(nd, *extra):
    """A batched and an unbatched sample, then one per extra (args, kwargs)."""
    def gen(dtype, rng):
        a = _arrays(dtype, rng)
        s = (4, 5) if nd == 2 else (7,)
        out = [Sample(a(1, 2, *s), 2, grad=(0,)), Sample(a(2, *s), 3, 2, 1, name="unbatched")]
        return out + [Sample(a(1, 2, *s), *args, name=name, **kw) for name, args, kw in extra]
    return gen


_MAX_EXTRA = (("ceil_dilated", (3, 2, 1, 2, True), {}),)
_AVG_EXTRA = (("ceil_exclude_pad", (3, 2, 1, True, False), {}),)


def _pool(name, ref, samples, **kw):
    declare(name, getattr(P, name), ref=ref, samples=samples, dtypes=D.FLOATING, **kw)


_pool("max_pool2d", _ref_max_pool(2), _pool_samples(
    2, *_MAX_EXTRA, ("indices", (2,), {"return_indices": True})))
_pool("max_pool1d", _ref_max_pool(1), _pool_samples(1, *_MAX_EXTRA))
_pool("max_pool2d_with_indices", _ref_max_pool(2, True), _pool_samples(2))
_pool("max_pool1d_with_indices", _ref_max_pool(1, True), _pool_samples(1, *_MAX_EXTRA))
_pool("avg_pool2d", _ref_avg_pool(2), _pool_samples(
    2, *_AVG_EXTRA, ("divisor", ((2, 3), 1), {"divisor_override": 3})))
_pool("avg_pool1d", _ref_avg_pool(1), _pool_samples(1, *_AVG_EXTRA))


def _adaptive_samples(nd):
    def gen(dtype, rng):
        a = _arrays(dtype, rng)
        s = (5, 7) if nd == 2 else (7,)
        return [Sample(a(1, 2, *s), (3, 2) if nd == 2 else 3, grad=(0,)),
                Sample(a(2, *s), (None, 4) if nd == 2 else 7, name="unbatched"),
                Sample(a(1, 2, *s), 1, name="global")]
    return gen


_pool("adaptive_avg_pool2d", _ref_adaptive(2, False), _adaptive_samples(2), atol=1e-4, rtol=1e-4)
_pool("adaptive_avg_pool1d", _ref_adaptive(1, False), _adaptive_samples(1), atol=1e-4, rtol=1e-4)
_pool("adaptive_max_pool2d", _ref_adaptive(2, True), S.extended(
    _adaptive_samples(2), lambda dtype, rng: [Sample(_arrays(dtype, rng)(1, 2, 4, 5), 2, True,
                                                     name="indices")]))
_pool("adaptive_max_pool1d", _ref_adaptive(1, True), S.extended(
    _adaptive_samples(1), lambda dtype, rng: [Sample(_arrays(dtype, rng)(1, 2, 5), 2, True,
                                                     name="indices")]))


# ----------------------------------------------------------------------------- interpolate

def _resample(x, axis, o, scale, mode, align_corners):
    """x resized along `axis` to o positions."""
    n = x.shape[axis]
    if mode == "area":
        return np.stack([np.take(x, range(a, b), axis=axis).mean(axis=axis)
                         for a, b in _adaptive_windows(n, o)], axis=axis)
    if mode in ("nearest", "nearest-exact"):
        # PyTorch computes the source index in float32
        s = np.float32(1.0 / scale) if scale else np.float32(n) / np.float32(o)
        dst = np.arange(o, dtype=np.float32)
        src = np.floor((dst + np.float32(0.5)) * s if mode == "nearest-exact" else dst * s)
        return np.take(x, np.minimum(src.astype(np.int64), n - 1), axis=axis)
    dst = np.arange(o, dtype=np.float64)
    if align_corners:
        src = dst * ((n - 1) / (o - 1) if o > 1 else 0.0)
    else:
        src = np.maximum((1.0 / scale if scale else n / o) * (dst + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    lam = np.clip(src - i0, 0.0, 1.0).reshape((-1,) + (1,) * (x.ndim - axis - 1))
    return np.take(x, i0, axis=axis) * (1 - lam) + np.take(
        x, np.minimum(i0 + 1, n - 1), axis=axis) * lam


def _ref_interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                     recompute_scale_factor=None, antialias=False):
    nd = x.ndim - 2
    if size is not None:
        out, scales = _tuple(size, nd), (None,) * nd
    else:
        scales = (scale_factor,) * nd if isinstance(scale_factor, (int, float)) else \
            tuple(scale_factor)
        out = tuple(int(math.floor(n * s)) for n, s in zip(x.shape[2:], scales))
    if recompute_scale_factor or mode == "area":
        scales = (None,) * nd
    for k in range(nd):
        x = _resample(x, k + 2, out[k], scales[k], mode, align_corners)
    return x


def _interpolate_samples(dtype, rng):
    a = _arrays(dtype, rng)
    return [Sample(a(1, 2, 3, 4), scale_factor=2, grad=(0,)),
            Sample(a(1, 2, 3, 4), (5, 3), name="nearest_size"),
            Sample(a(2, 2, 5), 7, mode="linear", align_corners=True, grad=(0,), name="linear"),
            Sample(a(1, 1, 3, 4), scale_factor=1.5, mode="bilinear", grad=(0,), name="bilinear"),
            Sample(a(1, 1, 5, 6), (2, 4), mode="area", name="area"),
            Sample(a(1, 2, 4), scale_factor=2.5, mode="nearest-exact", name="nearest_exact")]


declare("interpolate", U.interpolate, ref=_ref_interpolate, samples=_interpolate_samples,
        dtypes=D.FLOATING, atol=1e-4, rtol=1e-4)
declare("upsample_nearest", U.upsample_nearest, dtypes=D.FLOATING,
        ref=lambda x, size=None, scale_factor=None: _ref_interpolate(x, size, scale_factor),
        samples=lambda dtype, rng: [Sample(_arrays(dtype, rng)(1, 2, 3, 2), scale_factor=3),
                                    Sample(_arrays(dtype, rng)(1, 1, 4), 6, grad=(0,))])
declare("upsample_bilinear", U.upsample_bilinear, dtypes=D.FLOATING, atol=1e-4, rtol=1e-4,
        ref=lambda x, size=None, scale_factor=None: _ref_interpolate(
            x, size, scale_factor, "bilinear", True),
        samples=lambda dtype, rng: [Sample(_arrays(dtype, rng)(1, 2, 2, 3), (3, 5), grad=(0,)),
                                    Sample(_arrays(dtype, rng)(1, 1, 3, 3), scale_factor=2)])
declare_alias("nn.functional.upsample", "interpolate", U.upsample)
