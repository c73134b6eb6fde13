"""Declarations of nn.functional's convolution-like functions: conv1d, the transposed
convolutions, unfold/fold, pad and pixel_(un)shuffle, with float64 numpy references
(sliding windows of the zero-padded input, scatter-adds for the adjoints). conv2d is
declared beside its code in _conv.py; conv1d's reference reuses its numpy reference."""
import numpy as np

from ... import _dtype as D
from ...ops._decl import declare, Sample
from ...ops import samples as S
from . import _conv
from ._upsampling import pixel_shuffle, pixel_unshuffle
from ._misc import pad


def _pair(v):
    return tuple(v) if not isinstance(v, int) else (v, v)


def _arrays(dtype, rng):
    return lambda *shape: S.array(shape, dtype, rng)


# ----------------------------------------------------------------------------- convolutions

def _ref_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d's reference on (N, C, 1, L); padding='same' pads d (k - 1) zeros, the smaller
    half on the left."""
    batched = x.ndim == 3
    x = x if batched else x[None]
    pair = lambda v: (1, v if isinstance(v, int) else v[0])  # noqa: E731
    if padding in ("same", "valid"):
        total = 0 if padding == "valid" else pair(dilation)[1] * (w.shape[-1] - 1)
        x = np.pad(x, ((0, 0), (0, 0), (total // 2, total - total // 2)))
        padding = 0
    y = _conv._ref_conv2d(x[:, :, None], w[:, :, None], b, pair(stride), (0, pair(padding)[1]),
                          pair(dilation), groups)[:, :, 0]
    return y if batched else y[0]


def _ref_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                          dilation=1):
    """Each input pixel adds its value times the kernel into the output at stride steps;
    then `padding` rows/columns are cropped from each side."""
    s, p, op, d = _pair(stride), _pair(padding), _pair(output_padding), _pair(dilation)
    batched = x.ndim == 4
    x = x if batched else x[None]
    N, Ci, H, W = x.shape
    _, Og, kh, kw = w.shape
    Cg = Ci // groups
    full = [(n - 1) * si + di * (k - 1) + 1 + o for n, si, di, k, o in
            zip((H, W), s, d, (kh, kw), op)]
    out = np.zeros((N, Og * groups) + tuple(full))
    for g in range(groups):
        xs, ws = x[:, g * Cg:(g + 1) * Cg], w[g * Cg:(g + 1) * Cg]
        for i in range(kh):
            for j in range(kw):
                out[:, g * Og:(g + 1) * Og, i * d[0]:i * d[0] + (H - 1) * s[0] + 1:s[0],
                    j * d[1]:j * d[1] + (W - 1) * s[1] + 1:s[1]] += np.einsum(
                        "nchw,co->nohw", xs, ws[:, :, i, j])
    out = out[:, :, p[0]:full[0] - p[0], p[1]:full[1] - p[1]]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out if batched else out[0]


def _ref_conv_transpose1d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                          dilation=1):
    one = lambda v: (1, v if isinstance(v, int) else v[0])  # noqa: E731
    pad0 = lambda v: (0, v if isinstance(v, int) else v[0])  # noqa: E731
    return _ref_conv_transpose2d(x[..., None, :], w[:, :, None], b, one(stride), pad0(padding),
                                 pad0(output_padding), groups, one(dilation))[..., 0, :]


def _conv1d_samples(dtype, rng):
    a = _arrays(dtype, rng)
    return [Sample(a(2, 3, 6), a(4, 3, 3), a(4), grad=(0, 1, 2)),
            Sample(a(1, 4, 7), a(2, 2, 2), None, 2, 1, 2, 2, name="strided_groups"),
            Sample(a(2, 5), a(3, 2, 2), padding="same", name="unbatched_same")]


def _conv_transpose2d_samples(dtype, rng):
    a = _arrays(dtype, rng)
    return [Sample(a(1, 2, 3, 3), a(2, 3, 2, 2), a(3), grad=(0, 1, 2)),
            Sample(a(1, 4, 2, 3), a(4, 1, 3, 2), None, (2, 1), 1, (1, 0), 2, name="strided"),
            Sample(a(2, 2, 2), a(2, 2, 2, 2), dilation=2, name="unbatched_dilated")]


def _conv_transpose1d_samples(dtype, rng):
    a = _arrays(dtype, rng)
    return [Sample(a(2, 2, 4), a(2, 3, 3), a(3), grad=(0, 1, 2)),
            Sample(a(1, 4, 3), a(4, 1, 2), None, 2, 1, 1, 2, 2, name="strided_groups")]


def _conv_like(name, ref, samples):
    declare(name, getattr(_conv, name), ref=ref, samples=samples, dtypes=D.FLOATING, atol=1e-4,
            rtol=1e-4)


_conv_like("conv1d", _ref_conv1d, _conv1d_samples)
_conv_like("conv_transpose2d", _ref_conv_transpose2d, _conv_transpose2d_samples)
_conv_like("conv_transpose1d", _ref_conv_transpose1d, _conv_transpose1d_samples)


# ----------------------------------------------------------------------------- unfold / fold

def _grid(hw, k, d, s):
    return tuple((n - di * (ki - 1) - 1) // si + 1 for n, ki, di, si in zip(hw, k, d, s))


def _ref_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C*kH*kW, L): for each kernel offset, the strided window positions, row-major."""
    k, d, p, s = (_pair(v) for v in (kernel_size, dilation, padding, stride))
    batched = x.ndim == 4
    x = np.pad(x if batched else x[None], ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    N, Ch = x.shape[:2]
    oh, ow = _grid(x.shape[2:], k, d, s)
    cols = np.empty((N, Ch, k[0], k[1], oh, ow))
    for i in range(k[0]):
        for j in range(k[1]):
            cols[:, :, i, j] = x[:, :, i * d[0]:i * d[0] + (oh - 1) * s[0] + 1:s[0],
                                 j * d[1]:j * d[1] + (ow - 1) * s[1] + 1:s[1]]
    out = cols.reshape(N, Ch * k[0] * k[1], oh * ow)
    return out if batched else out[0]


def _ref_fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of unfold: every column entry added back at its window position."""
    hw, k, d, p, s = (_pair(v) for v in (output_size, kernel_size, dilation, padding, stride))
    batched = cols.ndim == 3
    cols = cols if batched else cols[None]
    padded = (hw[0] + 2 * p[0], hw[1] + 2 * p[1])
    oh, ow = _grid(padded, k, d, s)
    N, Ch = cols.shape[0], cols.shape[1] // (k[0] * k[1])
    c = cols.reshape(N, Ch, k[0], k[1], oh, ow)
    out = np.zeros((N, Ch) + padded)
    for i in range(k[0]):
        for j in range(k[1]):
            out[:, :, i * d[0]:i * d[0] + (oh - 1) * s[0] + 1:s[0],
                j * d[1]:j * d[1] + (ow - 1) * s[1] + 1:s[1]] += c[:, :, i, j]
    out = out[:, :, p[0]:p[0] + hw[0], p[1]:p[1] + hw[1]]
    return out if batched else out[0]


_conv_like("unfold", _ref_unfold, lambda dtype, rng: [
    Sample(_arrays(dtype, rng)(1, 2, 3, 4), 2, grad=(0,)),
    Sample(_arrays(dtype, rng)(2, 4, 5), (2, 3), 1, (1, 0), 2, name="unbatched_strided")])
_conv_like("fold", _ref_fold, lambda dtype, rng: [
    Sample(_arrays(dtype, rng)(1, 8, 6), (3, 4), 2, grad=(0,)),
    Sample(_arrays(dtype, rng)(6, 4), (3, 3), (3, 2), 1, 1, 2, name="unbatched_strided")])


# ----------------------------------------------------------------------------- rearranging

def _ref_pad(x, pad, mode="constant", value=None):
    """numpy's pad on the last len(pad) / 2 dims (last dim first); negative amounts crop."""
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    x = x[tuple(slice(-min(lo, 0), n + min(hi, 0)) for n, (lo, hi) in zip(x.shape, widths))]
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        return np.pad(x, widths, constant_values=value or 0)
    return np.pad(x, widths, {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode])


def _pad_samples(dtype, rng):
    a = _arrays(dtype, rng)
    return [Sample(a(2, 3, 4), (1, 2), grad=(0,)),
            Sample(a(2, 3, 4), (1, -1, 2, 0), value=-1.5, name="constant_crop"),
            Sample(a(1, 2, 3, 4), (2, 1, 1, 2), "reflect", grad=(0,), name="reflect"),
            Sample(a(2, 3, 4), (3, 1), "replicate", name="replicate"),
            Sample(a(1, 2, 3), (2, 3), mode="circular", name="circular")]


def _ref_pixel_shuffle(x, r):
    """out[..., c, h r + i, w r + j] = x[..., c r^2 + i r + j, h, w]."""
    *lead, ch, h, w = x.shape
    out = np.empty(tuple(lead) + (ch // (r * r), h * r, w * r), x.dtype)
    for i in range(r):
        for j in range(r):
            out[..., i::r, j::r] = x[..., i * r + j::r * r, :, :]
    return out


def _ref_pixel_unshuffle(x, r):
    *lead, ch, h, w = x.shape
    out = np.empty(tuple(lead) + (ch * r * r, h // r, w // r), x.dtype)
    for i in range(r):
        for j in range(r):
            out[..., i * r + j::r * r, :, :] = x[..., i::r, j::r]
    return out


declare("pad", pad, ref=_ref_pad, samples=_pad_samples, dtypes=D.FLOATING)
declare("pixel_shuffle", pixel_shuffle, ref=_ref_pixel_shuffle, dtypes=D.ALL,
        samples=lambda dtype, rng: [Sample(S.array((1, 8, 2, 3), dtype, rng), 2, grad=(0,)),
                                    Sample(S.array((9, 1, 2), dtype, rng), 3)])
declare("pixel_unshuffle", pixel_unshuffle, ref=_ref_pixel_unshuffle, dtypes=D.ALL,
        samples=lambda dtype, rng: [Sample(S.array((1, 2, 4, 6), dtype, rng), 2, grad=(0,)),
                                    Sample(S.array((2, 1, 3, 3), dtype, rng), 3)])
