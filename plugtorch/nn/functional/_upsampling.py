"""Resampling: interpolate (nearest, nearest-exact, linear/bilinear/trilinear, area),
upsample, pixel_shuffle and pixel_unshuffle. Exported through _pooling's __all__.

NOTE [separable interpolation]
Nearest and (multi-)linear interpolation are separable: resampling an image is resampling
each spatial dim in turn. Along one dim the source positions and weights depend only on
the sizes, so they are small host-computed tables (with PyTorch's formulas, in float32
where PyTorch rounds in float32 so nearest picks the same pixels); the data is moved
with a gather of trusted indices (`_take`), whose derivative is a scatter-add. An integer
nearest upscale is an expand + reshape, no gather at all.
"""
import math

import numpy as np

from ..._tensor import Tensor
from ...ops import _core as C
from ._pooling import adaptive_avg_pool1d, adaptive_avg_pool2d
from ._spatial import _device_table, _take

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
           "pixel_shuffle", "pixel_unshuffle"]

_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "area")


def _nearest_index(n_in, n_out, scale, exact):
    """PyTorch's nearest source index, computed in float32 as PyTorch does."""
    s = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    dst = np.arange(n_out, dtype=np.float32)
    src = np.floor((dst + np.float32(0.5)) * s if exact else dst * s).astype(np.int64)
    return np.minimum(src, n_in - 1)


def _linear_weights(n_in, n_out, scale, align_corners):
    """Source indices i0, i1 and the weight of i1 for linear interpolation along one dim."""
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        s = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        src = dst * s
    else:
        s = 1.0 / scale if scale else n_in / n_out
        src = np.maximum(s * (dst + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = np.clip(src - i0, 0.0, 1.0)
    return i0, i1, lam


def _along(x, d, idx):
    """x's slices at host indices idx along dim d (with autograd)."""
    shape = x._shape[:d] + (len(idx),) + x._shape[d + 1:]
    t = _device_table(("index", idx.tobytes()), lambda: idx, x)
    view = t.reshape((1,) * d + (len(idx),) + (1,) * (len(shape) - d - 1))
    return _take(x, d, C.expand_meta(view, shape))


def _output_size(x, size, scale_factor, nd):
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    spatial = x._shape[2:]
    if size is not None:
        size = (size,) * nd if isinstance(size, int) else tuple(size)
        if len(size) != nd:
            raise ValueError(f"Input and output must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(spatial)} and output size of {list(size)}. Please provide "
                             f"input tensor in (N, C, d1, d2, ...,dK) format and output size "
                             f"in (o1, o2, ...,oK) format.")
        return tuple(int(s) for s in size), (None,) * nd
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    scales = (scale_factor,) * nd if isinstance(scale_factor, (int, float)) else \
        tuple(scale_factor)
    if len(scales) != nd:
        raise ValueError(f"Input and scale_factor must have the same number of spatial "
                         f"dimensions, but got input with spatial dimensions of "
                         f"{list(spatial)} and scale_factor of shape {list(scales)}. Please "
                         f"provide input tensor in (N, C, d1, d2, ...,dK) format and "
                         f"scale_factor in (s1, s2, ...,sK) format.")
    out = tuple(int(math.floor(n * float(s))) for n, s in zip(spatial, scales))
    return out, tuple(float(s) for s in scales)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of an (N, C, *spatial) input.

    Args:
        input: (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        size: the output's spatial size (int or tuple); or give scale_factor.
        scale_factor: multiplier(s) for the spatial size (output = floor(size * scale)).
        mode: 'nearest', 'nearest-exact', 'linear' (3-d), 'bilinear' (4-d),
            'trilinear' (5-d) or 'area' (adaptive average pooling).
        align_corners: for the linear modes: map the corner pixels' centres onto each
            other (True) or the corners of the pixel grid (False, the default).
        recompute_scale_factor: compute the sampling scale from the sizes instead of using
            scale_factor directly.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.tensor([[[1., 3.]]])
        >>> plugtorch.nn.functional.interpolate(x, scale_factor=2, mode="linear")
        tensor([[[1.0000, 1.5000, 2.5000, 3.0000]]])
    """
    x = input
    if not isinstance(x, Tensor):
        raise TypeError(f"interpolate(): argument 'input' must be Tensor, not "
                        f"{type(x).__name__}")
    if mode not in _MODES:
        raise NotImplementedError(f"Input Error: interpolate supports the modes "
                                  f"{', '.join(_MODES)}, but got mode={mode!r}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    nd = len(x._shape) - 2
    if nd not in (1, 2, 3):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {len(x._shape)}D) for the modes: nearest | linear | "
                                  f"bilinear | bicubic | trilinear | area | nearest-exact "
                                  f"(got {mode})")
    if mode in _LINEAR and _LINEAR[mode] != nd:
        raise NotImplementedError(f"Got {nd + 2}D input, but {mode} mode needs "
                                  f"{_LINEAR[mode] + 2}D input")
    out, scales = _output_size(x, size, scale_factor, nd)
    if recompute_scale_factor or mode == "area":
        scales = (None,) * nd
    if any(o <= 0 for o in out):
        raise RuntimeError(f"interpolate: input and output sizes should be greater than 0, but "
                           f"got input {list(x._shape[2:])} and output {list(out)}")
    if mode == "area":
        if nd == 3:
            raise NotImplementedError("interpolate: mode='area' supports 3-d and 4-d inputs")
        return (adaptive_avg_pool1d if nd == 1 else adaptive_avg_pool2d)(x, out)
    if mode in _LINEAR and not x._dtype.is_floating_point:
        raise RuntimeError(f"interpolate: {mode} mode expects a floating point input, got "
                           f"{x._dtype.name}")
    for k, (n, o, s) in enumerate(zip(x._shape[2:], out, scales)):
        d = k + 2
        if mode in _LINEAR:
            x = _linear_along(x, d, n, o, s, bool(align_corners))
        else:
            x = _nearest_along(x, d, n, o, s, mode == "nearest-exact")
    return x


def _nearest_along(x, d, n, o, scale, exact):
    if n == o:
        return x
    idx = _nearest_index(n, o, scale, exact)
    if o % n == 0 and np.array_equal(idx, np.arange(o) // (o // n)):
        k = o // n   # each row repeated k times: a broadcast view, then a copy
        wide = x.unsqueeze(d + 1)
        shape = list(wide._shape)
        shape[d + 1] = k
        return wide.expand(shape).reshape(x._shape[:d] + (o,) + x._shape[d + 1:])
    return _along(x, d, idx)


def _linear_along(x, d, n, o, scale, align_corners):
    i0, i1, lam = _linear_weights(n, o, scale, align_corners)
    shape = (o,) + (1,) * (len(x._shape) - d - 1)
    w1 = _device_table(("lerp", lam.tobytes(), shape), lambda: lam.reshape(shape), x, x._dtype)
    if n == 1:
        return _along(x, d, i0)
    return _along(x, d, i0) * (1 - w1) + _along(x, d, i1) * w1


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """interpolate under its older name.

    Example:
        >>> import plugtorch
        >>> plugtorch.nn.functional.upsample(plugtorch.ones(1, 1, 1), scale_factor=2).shape
        plugtorch.Size([1, 1, 2])
    """
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """interpolate(..., mode='nearest')."""
    return interpolate(input, size, scale_factor, "nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """interpolate(..., mode='bilinear', align_corners=True), as PyTorch's old helper."""
    return interpolate(input, size, scale_factor, "bilinear", True)


# ----------------------------------------------------------------------------- pixel shuffle

def pixel_shuffle(input, upscale_factor):
    """Rearrange (*, C r^2, H, W) into (*, C, H r, W r): channel blocks become r x r tiles.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.arange(4.).reshape(1, 4, 1, 1)
        >>> plugtorch.nn.functional.pixel_shuffle(x, 2)
        tensor([[[[0., 1.],
                  [2., 3.]]]])
    """
    x, r = input, int(upscale_factor)
    if len(x._shape) < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {len(x._shape)} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    c, h, w = x._shape[-3:]
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    lead = x._shape[:-3]
    k = len(lead)
    y = x.reshape(lead + (c // (r * r), r, r, h, w))
    y = y.permute(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))
    return y.reshape(lead + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """The inverse of pixel_shuffle: (*, C, H r, W r) into (*, C r^2, H, W).

    Example:
        >>> import plugtorch
        >>> x = plugtorch.arange(4.).reshape(1, 1, 2, 2)
        >>> plugtorch.nn.functional.pixel_unshuffle(x, 2).flatten()
        tensor([0., 1., 2., 3.])
    """
    x, r = input, int(downscale_factor)
    if len(x._shape) < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {len(x._shape)} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    c, h, w = x._shape[-3:]
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by "
                           f"downscale_factor, but got input of size {list(x._shape)} and "
                           f"downscale_factor={r}")
    lead = x._shape[:-3]
    k = len(lead)
    y = x.reshape(lead + (c, h // r, r, w // r, r))
    y = y.permute(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))
    return y.reshape(lead + (c * r * r, h // r, w // r))


# ----------------------------------------------------------------------------- index padding

def _pad_positions(n, before, after, mode):
    """Source positions of a dim of size n padded by reflection, replication or wrapping."""
    pos = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)
    if mode == "circular":
        return pos % n
    period = 2 * (n - 1)    # reflect: mirror at the edges without repeating them
    pos = np.abs(pos) % period if period else np.zeros_like(pos)
    return np.where(pos >= n, period - pos, pos)


def _index_pad(x, pads, mode):
    """x with its trailing dims padded by `mode` ('reflect', 'replicate', 'circular');
    pads = ((before, after) per trailing dim, first dim first)."""
    k = len(pads)
    for i, (a, b) in enumerate(pads):
        d = len(x._shape) - k + i
        n = x._shape[d]
        if mode == "reflect" and (a >= n or b >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({a}, {b}) "
                               f"at dimension {d} of input {list(x._shape)}")
        if mode == "circular" and (a > n or b > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if a or b:
            x = _along(x, d, _pad_positions(n, a, b, mode))
    return x
