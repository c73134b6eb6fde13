"""Spatial layers on the backend under test: convolutions, pooling, normalization,
interpolation and pixel shuffle (functional forms and modules).

References: numpy float64 brute-force loops (conv2d, max_pool2d, batch/layer/group norm,
nearest/bilinear interpolation, pixel shuffle), finite differences (gradcheck and
gradgradcheck in float64), and PyTorch where installed (same weights copied in; forward,
input and parameter gradients, running statistics, indices).
"""
import contextlib
import math

import numpy as np
import pytest

import plugtorch
import plugtorch.nn as nn
import plugtorch.nn.functional as F
from plugtorch.autograd import gradcheck, gradgradcheck
from plugtorch.testing import assert_values, kernel_override, to_host
from plugtorch.testing.suite._common import widest_float


def _t(a, device, grad=False, dtype=None):
    return plugtorch.tensor(np.asarray(a), device=device, dtype=dtype, requires_grad=grad)


def _rand(rng, *shape):
    return rng.standard_normal(shape)


# ----------------------------------------------------------------------------- references

def _np_conv2d(x, w, b=None, stride=(1, 1), pad=(0, 0, 0, 0), dil=(1, 1), groups=1):
    """Direct definition: out[n, o, i, j] = sum over c, p, q of x_pad * w."""
    x = np.pad(x, ((0, 0), (0, 0), pad[:2], pad[2:]))
    N, Cin, H, W = x.shape
    O, Cg, kh, kw = w.shape
    oh = (H - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (W - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((N, O, oh, ow))
    og = O // groups
    for o in range(O):
        g = o // og
        for i in range(oh):
            for j in range(ow):
                for p in range(kh):
                    for q in range(kw):
                        patch = x[:, g * Cg:(g + 1) * Cg, i * stride[0] + p * dil[0],
                                  j * stride[1] + q * dil[1]]
                        out[:, o, i, j] += patch @ w[o, :, p, q]
    return out if b is None else out + b[None, :, None, None]


def _np_max_pool2d(x, k, s, p, d=(1, 1), ceil_mode=False):
    """Brute force: each window's maximum and the flat index of its first maximum."""
    N, C, H, W = x.shape

    def size(n, i):
        span = n + 2 * p[i] - d[i] * (k[i] - 1) - 1
        o = (-(-span // s[i]) if ceil_mode else span // s[i]) + 1
        return o - 1 if ceil_mode and (o - 1) * s[i] >= n + p[i] else o
    oh, ow = size(H, 0), size(W, 1)
    vals, idx = np.zeros((N, C, oh, ow)), np.zeros((N, C, oh, ow), np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(oh):
                for j in range(ow):
                    best, arg = -np.inf, None
                    for a in range(k[0]):
                        for b in range(k[1]):
                            h, w = i * s[0] - p[0] + a * d[0], j * s[1] - p[1] + b * d[1]
                            if 0 <= h < H and 0 <= w < W and (arg is None or x[n, c, h, w] > best):
                                best, arg = x[n, c, h, w], h * W + w
                    vals[n, c, i, j], idx[n, c, i, j] = best, arg
    return vals, idx


# ----------------------------------------------------------------------------- conv

CONV_CASES = [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
    dict(padding=1, groups=2),
    dict(padding="same", dilation=2),
    dict(padding="valid"),
]


@pytest.mark.parametrize("kw", CONV_CASES, ids=str)
def test_conv2d_matches_numpy(device, kw):
    rng = np.random.default_rng(0)
    groups = kw.get("groups", 1)
    x, w, b = _rand(rng, 2, 4, 6, 5), _rand(rng, 6, 4 // groups, 3, 2), _rand(rng, 6)
    y = F.conv2d(_t(x, device, dtype=plugtorch.float32), _t(w, device, dtype=plugtorch.float32),
                 _t(b, device, dtype=plugtorch.float32), **kw)
    s = kw.get("stride", 1)
    s = (s, s) if isinstance(s, int) else s
    d = kw.get("dilation", 1)
    d = (d, d) if isinstance(d, int) else d
    p = kw.get("padding", 0)
    if p == "same":
        tot = [d[0] * 2, d[1] * 1]
        pad = (tot[0] // 2, tot[0] - tot[0] // 2, tot[1] // 2, tot[1] - tot[1] // 2)
    elif p == "valid":
        pad = (0, 0, 0, 0)
    else:
        p = (p, p) if isinstance(p, int) else p
        pad = (p[0], p[0], p[1], p[1])
    assert_values(y, _np_conv2d(x, w, b, s, pad, d, groups), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("hw", [(10, 9), (19, 18)], ids=["one-product", "per-sample"])
def test_conv2d_gradients_match_numpy(device, hw):
    """Forward and all three gradients against float64 closed forms, on both sides of the
    switch between one product for all samples and per-sample products (more than 256
    output positions per sample, NOTE [one product for all samples])."""
    rng = np.random.default_rng(2)
    x, w, b = _rand(rng, 3, 2, *hw), _rand(rng, 4, 2, 3, 3), _rand(rng, 4)
    xt, wt, bt = (_t(a, device, grad=True, dtype=plugtorch.float32) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, padding=1)
    r = _rand(rng, *y.shape)
    (y * _t(r, device, dtype=plugtorch.float32)).sum().backward()
    assert_values(y, _np_conv2d(x, w, b, pad=(1, 1, 1, 1)), atol=1e-4, rtol=1e-4)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))  # N C oh ow 3 3
    assert_values(wt.grad, np.einsum("noij,ncijpq->ocpq", r, win), atol=1e-3, rtol=1e-4)
    assert_values(bt.grad, r.sum((0, 2, 3)), atol=1e-3, rtol=1e-4)
    gx = np.zeros_like(xp)
    for p_ in range(3):
        for q in range(3):
            gx[:, :, p_:p_ + hw[0], q:q + hw[1]] += np.einsum("noij,oc->ncij", r, w[:, :, p_, q])
    assert_values(xt.grad, gx[:, :, 1:-1, 1:-1], atol=1e-3, rtol=1e-4)


def test_conv1d_and_unbatched_match_numpy(device):
    rng = np.random.default_rng(1)
    x, w = _rand(rng, 2, 3, 7), _rand(rng, 4, 3, 3)
    y = F.conv1d(_t(x, device), _t(w, device), stride=2, padding=1)
    ref = _np_conv2d(x[:, :, None], w[:, :, None], stride=(1, 2), pad=(0, 0, 1, 1))[:, :, 0]
    assert_values(y, ref)
    x2, w2 = _rand(rng, 3, 5, 5), _rand(rng, 2, 3, 3, 3)
    assert_values(F.conv2d(_t(x2, device), _t(w2, device)), _np_conv2d(x2[None], w2)[0])


def test_conv_transpose2d_is_the_adjoint_of_conv2d(device):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the same geometry."""
    rng = np.random.default_rng(2)
    x, w = _rand(rng, 2, 4, 7, 6), _rand(rng, 6, 2, 3, 2)
    kw = dict(stride=2, padding=1, dilation=(1, 2), groups=2)
    y = F.conv2d(_t(x, device), _t(w, device), **kw)
    r = _rand(rng, *y.shape)
    xt = F.conv_transpose2d(_t(r, device), _t(w, device), output_padding=(0, 1), **kw)
    assert tuple(xt.shape) == x.shape
    assert math.isclose(float((to_host(y) * r).sum()), float((x * to_host(xt)).sum()),
                        rel_tol=1e-10)


@pytest.mark.parametrize("pad, dil", [((0, 0), (1, 1)), ((1, 2), (1, 1)), ((0, 1), (2, 1))])
def test_conv_transpose2d_stride_one_matches_numpy(device, pad, dil):
    """Stride 1 without a recorded graph folds pitched rows (NOTE [pitched fold]); an
    infinite weight must reach exactly the positions its kernel offset covers."""
    rng = np.random.default_rng(12)
    y, w = _rand(rng, 2, 3, 4, 5), _rand(rng, 3, 2, 3, 2)
    w[1, 0, 0, 1] = np.inf
    y[0, 1, 0, 0] = 0.0                            # 0 * inf: NaN there, as numpy
    N, Ci, h, wd = y.shape
    _, Co, kh, kw = w.shape
    Hp, Wp = h + dil[0] * (kh - 1), wd + dil[1] * (kw - 1)
    ref = np.zeros((N, Co, Hp, Wp))
    with np.errstate(invalid="ignore"):
        for i in range(kh):
            for j in range(kw):
                ref[:, :, i * dil[0]:i * dil[0] + h, j * dil[1]:j * dil[1] + wd] += np.einsum(
                    "nchw,co->nohw", y, w[:, :, i, j])
    ref = ref[:, :, pad[0]:Hp - pad[0], pad[1]:Wp - pad[1]]
    got = to_host(F.conv_transpose2d(_t(y, device), _t(w, device), padding=pad, dilation=dil))
    assert got.shape == ref.shape
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-10, atol=1e-10)


def test_fold_unfold(device):
    rng = np.random.default_rng(3)
    x = _rand(rng, 2, 3, 5, 4)
    cols = F.unfold(_t(x, device), (2, 3), padding=1, stride=(2, 1))
    # unfold is im2col: a conv is a matmul of the flattened weight with the columns
    w = _rand(rng, 4, 3, 2, 3)
    y = (_t(w.reshape(4, -1), device) @ cols).reshape(2, 4, 3, 4)
    assert_values(y, _np_conv2d(x, w, stride=(2, 1), pad=(1, 1, 1, 1)))
    # fold of ones counts how many windows cover each pixel
    cover = F.fold(plugtorch.ones(1, 4, 9, device=device), (4, 4), 2, stride=1)
    ref = np.outer([1, 2, 2, 1], [1, 2, 2, 1])
    assert_values(cover[0, 0], ref)


def test_conv_gradcheck(device):
    rng = np.random.default_rng(4)
    x = _t(_rand(rng, 1, 2, 4, 4), device, True)
    w = _t(_rand(rng, 2, 1, 2, 3), device, True)
    b = _t(_rand(rng, 2), device, True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=1, groups=2),
                     (x, w, b))
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, stride=2, padding=(0, 1), groups=2),
                         (x, w))


def test_conv_transpose_gradcheck(device):
    rng = np.random.default_rng(5)
    x = _t(_rand(rng, 1, 2, 3, 2), device, True)
    w = _t(_rand(rng, 2, 2, 2, 2), device, True)
    b = _t(_rand(rng, 2), device, True)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                        output_padding=1), (x, w, b))


def test_conv2d_backend_kernel_hook(device):
    """A backend's "conv2d" kernel is called with the documented arguments; gradients still
    come from the decomposition."""
    rng = np.random.default_rng(6)
    x, w, b = _rand(rng, 2, 2, 5, 4), _rand(rng, 3, 2, 3, 3), _rand(rng, 3)
    calls = []

    def kernel(out, x, weight, bias, stride, padding, dilation, groups):
        calls.append((tuple(out.shape), stride, padding, dilation, groups))
        ref = _np_conv2d(to_host(x), to_host(weight), to_host(bias), stride, padding, dilation,
                         groups)
        out.copy_(plugtorch.tensor(ref, dtype=out.dtype, device=out.device))

    want = []
    for use in (False, True):
        xs, ws, bs = _t(x, device, True), _t(w, device, True), _t(b, device, True)
        with kernel_override(device, "conv2d", kernel) if use else contextlib.nullcontext():
            y = F.conv2d(xs, ws, bs, stride=(2, 1), padding=1)
            y.pow(2).sum().backward()
        want.append([to_host(t) for t in (y, xs.grad, ws.grad, bs.grad)])
    assert calls == [((2, 3, 3, 4), (2, 1), (1, 1, 1, 1), (1, 1), 1)]
    for a, e in zip(*want):
        assert_values(a, e, atol=1e-10, rtol=1e-10)


def test_conv_errors(device):
    x = plugtorch.zeros(2, 4, 5, 5, device=device)
    w = plugtorch.zeros(8, 3, 3, 3, device=device)
    with pytest.raises(RuntimeError, match=r"expected input\[2, 4, 5, 5\] to have 3 channels, "
                                           r"but got 4 channels instead"):
        F.conv2d(x, w)
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D \\(batched\\) "
                                           "input to conv2d"):
        F.conv2d(plugtorch.zeros(4, 5, device=device), w)
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input"):
        F.conv2d(plugtorch.zeros(1, 3, 2, 2, device=device), w)
    with pytest.raises(RuntimeError, match="not supported for strided convolutions"):
        F.conv2d(plugtorch.zeros(1, 3, 5, 5, device=device), w, stride=2, padding="same")
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)


# ----------------------------------------------------------------------------- pooling

POOL_CASES = [((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 3), (2, 2), (1, 1), (1, 1), False),
              ((3, 2), (2, 1), (1, 1), (1, 2), True), ((2, 3), (3, 2), (0, 1), (1, 1), True)]


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool2d_matches_numpy(device, case):
    k, s, p, d, ceil = case
    rng = np.random.default_rng(7)
    x = rng.integers(-4, 4, (2, 2, 7, 6)).astype(np.float64)   # many ties: first max wins
    y, idx = F.max_pool2d(_t(x, device), k, s, p, d, ceil, return_indices=True)
    ref, ridx = _np_max_pool2d(x, k, s, p, d, ceil)
    assert_values(y, ref)
    np.testing.assert_array_equal(to_host(idx), ridx)


def test_max_pool2d_of_a_large_batch_with_ties_and_nan(device):
    """Many 2x2 windows (the size training runs at): values, first-maximum indices and the
    gradient routed to them, checked against numpy's argmax over the reshaped windows."""
    rng = np.random.default_rng(9)
    x = rng.integers(-2, 2, (8, 6, 24, 20)).astype(np.float32)
    x[0, 0, :4] = np.nan
    win = x.reshape(8, 6, 12, 2, 10, 2).transpose(0, 1, 2, 4, 3, 5).reshape(8, 6, 12, 10, 4)
    arg = win.argmax(-1)
    rows = np.arange(12)[:, None] * 2 + arg // 2
    cols = np.arange(10)[None, :] * 2 + arg % 2
    xt = _t(x, device, True)
    y, idx = F.max_pool2d(xt, 2, return_indices=True)
    np.testing.assert_array_equal(to_host(idx), rows * 20 + cols)
    np.testing.assert_array_equal(to_host(y), np.take_along_axis(win, arg[..., None], -1)[..., 0])
    y.sum().backward()
    ref = np.zeros(x.shape, np.float32)
    n, c = np.indices(arg.shape)[:2]
    ref[n, c, rows, cols] = 1.0
    np.testing.assert_array_equal(to_host(xt.grad), ref)


def test_max_pool1d_and_gradient(device):
    x = _t([[[3., 1., 4., 1., 5., 9., 2., 6.]]], device, True)
    y, idx = F.max_pool1d(x, 3, 2, 1, return_indices=True)
    assert_values(y, [[[3., 4., 9., 9.]]])
    np.testing.assert_array_equal(to_host(idx), [[[0, 2, 5, 5]]])
    y.sum().backward()   # overlapping windows that pick the same element add up
    assert_values(x.grad, [[[1., 0., 1., 0., 0., 2., 0., 0.]]])


def test_pool_gradcheck(device):
    rng = np.random.default_rng(8)
    x = _t(rng.permutation(30).reshape(1, 2, 3, 5) * 0.1, device, True)   # no ties
    assert gradcheck(lambda x: F.max_pool2d(x, 2, 1, 1, ceil_mode=True), (x,))
    assert gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                            count_include_pad=False), (x,))
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, (2, 3)), (x,))
    assert gradgradcheck(lambda x: F.max_pool2d(x, 2, 1) ** 2, (x,))


def test_avg_and_adaptive_pool_values(device):
    x = np.arange(20.).reshape(1, 1, 4, 5)
    # windows of 2 with stride 2 and padding 1: rows/columns [-1, 1), [1, 3), [3, 5)
    win = [[(max(a, 0), min(a + 2, n)) for a in (-1, 1, 3)] for n in (4, 5)]
    sums = np.array([[x[0, 0, r0:r1, c0:c1].sum() for c0, c1 in win[1]] for r0, r1 in win[0]])
    real = np.array([[(r1 - r0) * (c1 - c0) for c0, c1 in win[1]] for r0, r1 in win[0]])
    y = F.avg_pool2d(_t(x, device), 2, 2, 1, count_include_pad=False)
    assert_values(y[0, 0], sums / real)
    y = F.avg_pool2d(_t(x, device), 2, 2, 1)
    assert_values(y[0, 0], sums / 4)
    # adaptive windows: rows [0, 2), [1, 3), [2, 4); columns [0, 3), [2, 5)
    y = F.adaptive_avg_pool2d(_t(x, device), (3, 2))
    ref = [[x[0, 0, a:a + 2, c:c + 3].mean() for c in (0, 2)] for a in (0, 1, 2)]
    assert_values(y[0, 0], ref)
    y, idx = F.adaptive_max_pool2d(_t(x, device), (3, 2), return_indices=True)
    assert_values(y[0, 0], [[7., 9.], [12., 14.], [17., 19.]])
    np.testing.assert_array_equal(to_host(idx)[0, 0], [[7, 9], [12, 14], [17, 19]])


def test_pool_errors(device):
    x = plugtorch.zeros(1, 1, 4, 4, device=device)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel "
                                           "size, but got pad=2, kernel_size=3 and dilation=1"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(x, 5)
    with pytest.raises(RuntimeError, match="3D or 4D"):
        F.max_pool2d(plugtorch.zeros(4, 4, device=device), 2)


# ----------------------------------------------------------------------------- normalization

def test_batch_norm_module_running_stats(device):
    rng = np.random.default_rng(9)
    m = nn.BatchNorm2d(3).to(device)
    assert_values(m.weight, np.ones(3))
    assert_values(m.bias, np.zeros(3))
    mean, var = np.zeros(3), np.ones(3)
    for step in range(2):
        x = _rand(rng, 4, 3, 2, 3) * 2 + 1
        y = m(_t(x, device, dtype=plugtorch.float32))
        mu, v = x.mean((0, 2, 3)), x.var((0, 2, 3))
        ref = (x - mu[None, :, None, None]) / np.sqrt(v[None, :, None, None] + 1e-5)
        assert_values(y, ref, atol=1e-4, rtol=1e-4)
        mean = 0.9 * mean + 0.1 * mu
        var = 0.9 * var + 0.1 * x.var((0, 2, 3), ddof=1)
        assert_values(m.running_mean, mean, atol=1e-5, rtol=1e-5)
        assert_values(m.running_var, var, atol=1e-5, rtol=1e-5)
    assert int(m.num_batches_tracked.item()) == 2
    m.eval()
    x = _rand(rng, 2, 3, 2, 2)
    ref = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    assert_values(m(_t(x, device, dtype=plugtorch.float32)), ref, atol=1e-4, rtol=1e-4)
    assert int(m.num_batches_tracked.item()) == 2
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        m(plugtorch.zeros(3, 2, 2, device=device))


def test_batch_norm_cumulative_average_and_1d(device):
    rng = np.random.default_rng(10)
    m = nn.BatchNorm1d(2, momentum=None, affine=False).to(device)
    xs = [_rand(rng, 5, 2, 3), _rand(rng, 4, 2)]
    for x in xs:
        m(_t(x, device, dtype=plugtorch.float32))
    means = [x.mean((0, 2)) if x.ndim == 3 else x.mean(0) for x in xs]
    assert_values(m.running_mean, np.mean(means, 0), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        m(plugtorch.zeros(2, 2, 2, 2, device=device))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        m(plugtorch.zeros(1, 2, device=device))


def test_layer_and_group_norm_match_numpy(device):
    rng = np.random.default_rng(11)
    x, w, b = _rand(rng, 2, 6, 3), _rand(rng, 6, 3), _rand(rng, 6, 3)
    mu, v = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    y = F.layer_norm(_t(x, device), (6, 3), _t(w, device), _t(b, device))
    assert_values(y, (x - mu) / np.sqrt(v + 1e-5) * w + b)
    g = x.reshape(2, 3, 6)
    mu, v = g.mean(2, keepdims=True), g.var(2, keepdims=True)
    y = F.group_norm(_t(x, device), 3, _t(w[:, 0], device), _t(b[:, 0], device))
    ref = ((g - mu) / np.sqrt(v + 1e-5)).reshape(2, 6, 3) * w[None, :, :1] + b[None, :, :1]
    assert_values(y, ref)
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 4\]"):
        F.layer_norm(_t(x, device), 3 + 1)


def test_norm_gradcheck(device):
    rng = np.random.default_rng(12)
    x = _t(_rand(rng, 3, 2, 2), device, True)
    w, b = _t(_rand(rng, 2), device, True), _t(_rand(rng, 2), device, True)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                     (x, w, b))
    assert gradcheck(lambda x, w, b: F.group_norm(x, 1, w, b), (x, w, b))
    assert gradcheck(lambda x: F.layer_norm(x, (2, 2)), (x,))


def test_batch_norm_mixed_dtypes_promote_in_both_modes(device):
    """A weight of a wider dtype than the input promotes the output in training as in
    evaluation (the one-node training path takes one dtype only)."""
    if widest_float(device) is not plugtorch.float64:
        pytest.skip("needs float64")
    x = _t(np.arange(12.0).reshape(4, 3), device, dtype=plugtorch.float32)
    w = _t([1.0, 2.0, 3.0], device, dtype=plugtorch.float64)
    y = F.batch_norm(x, None, None, w, None, training=True)
    assert y.dtype == F.batch_norm(x, plugtorch.zeros(3, device=device),
                                   plugtorch.ones(3, device=device), w, None).dtype
    xs = np.arange(12.0).reshape(4, 3)
    ref = (xs - xs.mean(0)) / np.sqrt(xs.var(0) + 1e-5) * np.array([1.0, 2.0, 3.0])
    assert_values(y, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_batch_norm_training_second_order(device, affine):
    """Training batch_norm (NOTE [fused batch norm]) with and without weight and bias:
    first derivatives and second derivatives (create_graph) against finite differences."""
    if widest_float(device) is not plugtorch.float64:
        pytest.skip("finite differences need float64")
    rng = np.random.default_rng(13)
    x = _t(_rand(rng, 3, 2, 2, 1), device, True)
    w = _t(_rand(rng, 2), device, True) if affine in ("both", "weight") else None
    b = _t(_rand(rng, 2), device, True) if affine in ("both", "bias") else None
    args = tuple(t for t in (x, w, b) if t is not None)

    def f(*ts):
        it = iter(ts[1:])
        wt = next(it) if w is not None else None
        bt = next(it) if b is not None else None
        return F.batch_norm(ts[0], None, None, wt, bt, training=True) * 1.5 + ts[0] ** 2
    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


# ----------------------------------------------------------------------------- resampling

def test_interpolate_matches_closed_forms(device):
    x = np.arange(6.).reshape(1, 1, 2, 3)
    y = F.interpolate(_t(x, device), scale_factor=2, mode="nearest")
    assert_values(y, x.repeat(2, 2).repeat(2, 3))
    y = F.interpolate(_t(x, device), size=(3, 5), mode="bilinear", align_corners=True)
    # align_corners: a linear function of (h, w) is reproduced exactly on the new grid
    hh, ww = np.meshgrid(np.linspace(0, 1, 3), np.linspace(0, 2, 5), indexing="ij")
    assert_values(y[0, 0], 3 * hh + ww)
    y = F.interpolate(_t([[[0., 4.]]], device), size=4, mode="linear")
    assert_values(y, [[[0., 1., 3., 4.]]])   # half-pixel centres, clamped at the edges
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(_t(x, device))
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(_t(x, device), scale_factor=2, align_corners=True)


def test_interpolate_gradcheck(device):
    rng = np.random.default_rng(13)
    x = _t(_rand(rng, 1, 1, 2, 3), device, True)
    assert gradcheck(lambda x: F.interpolate(x, size=(3, 4), mode="bilinear"), (x,))
    assert gradcheck(lambda x: F.interpolate(x, scale_factor=1.5, mode="nearest"), (x,))


def test_pixel_shuffle_round_trip(device):
    x = np.arange(2 * 8 * 2 * 3.).reshape(2, 8, 2, 3)
    y = F.pixel_shuffle(_t(x, device), 2)
    ref = x.reshape(2, 2, 2, 2, 2, 3).transpose(0, 1, 4, 2, 5, 3).reshape(2, 2, 4, 6)
    assert_values(y, ref)
    assert_values(F.pixel_unshuffle(y, 2), x)
    assert repr(nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"


# ----------------------------------------------------------------------------- modules

def test_module_init_and_repr():
    m = nn.Conv2d(3, 8, 3)
    assert repr(m) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))"
    bound = 1 / math.sqrt(3 * 9)
    w = to_host(m.weight)
    assert w.shape == (8, 3, 3, 3) and np.abs(w).max() <= bound and w.std() > bound / 4
    assert np.abs(to_host(m.bias)).max() <= bound
    t = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2)
    assert tuple(t.weight.shape) == (4, 3, 3, 3)
    assert np.abs(to_host(t.bias)).max() <= 1 / math.sqrt(27)
    assert repr(nn.MaxPool2d(2)) == ("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, "
                                     "ceil_mode=False)")
    assert repr(nn.BatchNorm1d(4)) == ("BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, "
                                       "bias=True, track_running_stats=True)")
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert sorted(k for k in nn.BatchNorm2d(2).state_dict()) == [
        "bias", "num_batches_tracked", "running_mean", "running_var", "weight"]


def test_small_cnn_trains(device):
    """A conv / pool / norm stack learns a fixed batch (the loss falls)."""
    plugtorch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(4, 2, 2), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten()).to(device)
    rng = np.random.default_rng(14)
    x = _t(rng.standard_normal((6, 1, 6, 6)), device, dtype=plugtorch.float32)
    target = _t(rng.standard_normal((6, 2)), device, dtype=plugtorch.float32)
    losses = []
    for _ in range(15):
        loss = ((model(x) - target) ** 2).mean()
        for p in model.parameters():
            p.grad = None
        loss.backward()
        with plugtorch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


# ----------------------------------------------------------------------------- vs PyTorch

def _torch_pair(torch, ours, theirs, device):
    """Copy `theirs`'s parameters and buffers (float64) into `ours` on `device`."""
    theirs.double()
    state = {k: plugtorch.tensor(v.detach().numpy(), device=device)
             for k, v in theirs.state_dict().items()}
    ours.double().load_state_dict(state)
    return ours.to(device)


TORCH_MODULES = [
    ("Conv1d", (4, 6, 3), dict(stride=2, padding=1, groups=2), (2, 4, 9)),
    ("Conv1d", (3, 2, 4), dict(padding="same", padding_mode="replicate"), (2, 3, 7)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=(2, 1), padding=1,
                                    dilation=(1, 2)), (2, 4, 6, 7)),
    ("Conv2d", (4, 4, 3), dict(padding="same", groups=4, padding_mode="reflect"), (2, 4, 5, 5)),
    ("Conv2d", (3, 2, 2), dict(padding=1, padding_mode="circular"), (1, 3, 4, 4)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2),
     (2, 4, 3, 4)),
    ("MaxPool2d", (3, 2, 1), dict(ceil_mode=True, return_indices=True), (2, 3, 7, 6)),
    ("MaxPool1d", (3,), dict(stride=2, dilation=2, return_indices=True), (2, 3, 9)),
    ("AvgPool2d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False), (2, 3, 7, 6)),
    ("AdaptiveAvgPool2d", ((3, 4),), {}, (2, 3, 7, 6)),
    ("AdaptiveMaxPool2d", ((3, 4),), dict(return_indices=True), (2, 3, 7, 5)),
    ("BatchNorm1d", (3,), dict(momentum=0.3), (4, 3, 5)),
    ("BatchNorm2d", (3,), {}, (4, 3, 2, 3)),
    ("LayerNorm", ((2, 3),), dict(bias=False), (4, 5, 2, 3)),
    ("GroupNorm", (2, 4), {}, (3, 4, 2, 2)),
    ("InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True), (2, 3, 4, 4)),
    ("Upsample", (), dict(scale_factor=(1.5, 2), mode="bilinear"), (2, 3, 4, 3)),
    ("Upsample", (), dict(size=(5, 7), mode="nearest"), (2, 3, 4, 3)),
    ("Upsample", (), dict(scale_factor=2, mode="bilinear", align_corners=True), (1, 2, 3, 3)),
    ("PixelShuffle", (2,), {}, (2, 8, 2, 3)),
]


@pytest.mark.parametrize("case", TORCH_MODULES, ids=lambda c: f"{c[0]}{c[1]}{c[2]}")
def test_modules_match_torch(device, case):
    torch = pytest.importorskip("torch")
    name, args, kwargs, shape = case
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    ours = _torch_pair(torch, getattr(nn, name)(*args, **kwargs), theirs, device)
    rng = np.random.default_rng(15)
    x = rng.standard_normal(shape)
    for train in (True, False):
        theirs.train(train)
        ours.train(train)
        tx = torch.tensor(x, requires_grad=True)
        px = _t(x, device, True)
        ty, py = theirs(tx), ours(px)
        if isinstance(ty, tuple):
            np.testing.assert_array_equal(to_host(py[1]), ty[1].numpy())
            ty, py = ty[0], py[0]
        assert_values(py, ty.detach().numpy(), atol=1e-10, rtol=1e-9, msg=f"{name} forward")
        g = rng.standard_normal(tuple(ty.shape))
        ty.backward(torch.tensor(g))
        py.backward(_t(g, device))
        assert_values(px.grad, tx.grad.numpy(), atol=1e-10, rtol=1e-9, msg=f"{name} grad input")
        theirs_p = dict(theirs.named_parameters())
        for k, p in ours.named_parameters():
            assert_values(p.grad, theirs_p[k].grad.numpy(), atol=1e-9, rtol=1e-9,
                         msg=f"{name} grad {k}")
            p.grad = None
        theirs.zero_grad()
        for k, b in theirs.named_buffers():
            assert_values(dict(ours.named_buffers())[k], b.numpy(), atol=1e-12, rtol=1e-9,
                         msg=f"{name} buffer {k}")


def test_conv_transpose_output_size_matches_torch(device):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    ours = _torch_pair(torch, nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), theirs, device)
    x = np.random.default_rng(16).standard_normal((1, 2, 4, 4))
    ty = theirs(torch.tensor(x), output_size=[8, 8])
    assert_values(ours(_t(x, device), output_size=[8, 8]), ty.detach().numpy(), atol=1e-10,
                 rtol=1e-9)
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        ours(_t(x, device), output_size=[9, 9])
