"""Pooling: max_pool1d/2d (with indices), avg_pool1d/2d, adaptive_avg_pool1d/2d and
adaptive_max_pool1d/2d, decomposed into gather, argmax, im2col and matmul.

NOTE [max pooling by index table]
Every output position of a max pool reads a window of input positions that depends only
on the geometry (sizes, kernel, stride, padding, dilation, ceil_mode), never on the data.
So the flat per-plane positions (h * W + w) of all windows are one constant int64 table,
built once on the host and cached per device. A window slot that falls in the padding
holds a real position of the same window instead (the first real row / column), which
changes no maximum and keeps "the first maximum in row-major order" the index PyTorch
returns (a window holding NaN gives NaN with the index of its first NaN, where PyTorch's CPU
kernel gives its last: the argmax primitive's rule). Then: gather the windows (or copy
them from a strided view when none crosses the padding), argmax over each, look the
winner's position up in the table; the values are a gather of the input at those
positions, whose derivative (a scatter-add, whose derivative is the gather again) makes
every order of gradient work.
Adaptive max pooling is the same with windows of varying size.
"""
import numpy as np

from ..._tensor import Tensor, _wrap, contiguous_strides, empty_like_meta, numel_of
from ...autograd.grad_mode import no_grad
from ...ops import _core as C
from ._spatial import _device_table, _gather_raw, _ntuple, _take, _unfold

__all__ = ["max_pool1d", "max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool1d", "adaptive_max_pool2d"]


def _max_by_table(x, table, L, K, grid=None):
    """Max over windows: x (N, C, H, W), table (K*L,) of flat positions, window slot major
    (each slot's L positions are contiguous, so the argmax over slots runs along whole
    rows of windows). Returns values
    (N, C, L) with autograd and int64 indices (N, C, L); see NOTE [max pooling by index
    table]. `grid` (k, s, d, out): the windows lie inside the input (no padding), so they
    are a strided view of x, copied out instead of gathered through the table."""
    N, Ch = x._shape[:2]
    xf = x.reshape(N, Ch, numel_of(x._shape[2:]))
    with no_grad():
        src = xf.detach()
        if grid is not None:
            (kh, kw), (s0, s1), (d0, d1), (oh, ow) = grid
            st = x._stride
            wins = empty_like_meta(x, shape=(N, Ch, K * L))
            C.run("copy", _wrap(wins._storage, (N, Ch, kh, kw, oh, ow),
                                contiguous_strides((N, Ch, kh, kw, oh, ow)), 0),
                  _wrap(x._storage, (N, Ch, kh, kw, oh, ow),
                        (st[0], st[1], d0 * st[2], d1 * st[3], s0 * st[2], s1 * st[3]),
                        x._offset))
        else:
            wins = _gather_raw(src, 2, C.expand_meta(table.reshape(1, 1, K * L),
                                                     (N, Ch, K * L)))
        am = wins.reshape(N, Ch, K, L).argmax(2, keepdim=True)
        idx = _gather_raw(C.expand_meta(table.reshape(1, 1, K, L), (N, Ch, K, L)), 2, am)
        idx = idx.reshape(N, Ch, L)
    return _take(xf, 2, idx), idx


# ----------------------------------------------------------------------------- geometry

def _pool_size(n, k, s, p, d, ceil_mode):
    """Output length of a pool along one dim, as PyTorch (with its ceil_mode rule that the
    last window must start inside the input or left padding)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_args(op, x, kernel_size, stride, padding, dilation, ceil_mode, nd, avg=False):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if len(x._shape) not in (nd + 1, nd + 2) or (numel_of(x._shape[-nd:]) == 0):
        raise RuntimeError(f"{op}: non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor "
                           f"expected for input, but got input of size {list(x._shape)}")
    k = _ntuple(op, "kernel_size", kernel_size, nd)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _ntuple(op, "stride", stride, nd)
    p = _ntuple(op, "padding", padding, nd)
    d = _ntuple(op, "dilation", dilation, nd)
    if any(v <= 0 for v in k):
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got "
                           f"kernel_size={list(k)}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"{op}: stride must be greater than zero, but got stride={list(s)}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"{op}: dilation must be greater than zero, but got "
                           f"dilation={list(d)}")
    for pi, ki, di in zip(p, k, d):
        if pi < 0 or pi > (di * (ki - 1) + 1) // 2:
            if avg:
                raise RuntimeError(f"{op}: pad should be at most half of kernel size, but got "
                                   f"pad={pi} and kernel_size={ki}")
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, "
                               f"but got pad={pi}, kernel_size={ki} and dilation={di}")
    sizes = x._shape[-nd:]
    out = tuple(_pool_size(n, ki, si, pi, di, ceil_mode)
                for n, ki, si, pi, di in zip(sizes, k, s, p, d))
    if any(o <= 0 for o in out):
        lead = x._shape[-nd - 1]
        raise RuntimeError(f"{op}: Given input size: ({'x'.join(map(str, (lead,) + sizes))}). "
                           f"Calculated output size: "
                           f"({'x'.join(map(str, (lead,) + out))}). Output size is too small")
    if nd == 1:
        k, s, p, d, out = (1,) + k, (1,) + s, (0,) + p, (1,) + d, (1,) + out
    return k, s, p, d, out


def _as_4d(x, nd):
    """x as (N, C, H, W): unbatched inputs get N = 1, 1-d inputs H = 1."""
    batched = len(x._shape) == nd + 2
    if not batched:
        x = x.unsqueeze(0)
    if nd == 1:
        x = x.unsqueeze(2)
    return x, batched


def _from_4d(y, nd, batched):
    if nd == 1:
        y = y.squeeze(2)
    return y if batched else y.squeeze(0)


def _axis_positions(n, k, s, p, d, out):
    """(out, k) input positions along one dim with padded ones replaced by the first real
    position of their window."""
    pos = np.arange(out)[:, None] * s - p + np.arange(k)[None, :] * d
    valid = (pos >= 0) & (pos < n)
    first = pos[np.arange(out), valid.argmax(1)]
    return np.where(valid, pos, first[:, None])


def _pool_table(H, W, k, s, p, d, out):
    hs = _axis_positions(H, k[0], s[0], p[0], d[0], out[0])
    ws = _axis_positions(W, k[1], s[1], p[1], d[1], out[1])
    t = hs.T[:, None, :, None] * W + ws.T[None, :, None, :]      # (kh, kw, oh, ow)
    return t.reshape(-1).astype(np.int64)


# ----------------------------------------------------------------------------- max pool

def _max_pool(op, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              nd):
    k, s, p, d, out = _pool_args(op, input, kernel_size, stride, padding, dilation,
                                 ceil_mode, nd)
    x, batched = _as_4d(input, nd)
    H, W = x._shape[2:]
    table = _device_table(("max", H, W, k, s, p, d, out),
                          lambda: _pool_table(H, W, k, s, p, d, out), x)
    inside = p == (0, 0) and all((o - 1) * si + di * (ki - 1) < n for o, si, di, ki, n in
                                 zip(out, s, d, k, (H, W)))
    vals, idx = _max_by_table(x, table, out[0] * out[1], k[0] * k[1],
                              (k, s, d, out) if inside and numel_of(x._shape) else None)
    shape = x._shape[:2] + out
    y = _from_4d(vals.reshape(shape), nd, batched)
    if return_indices:
        return y, _from_4d(idx.reshape(shape), nd, batched)
    return y


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-d max pooling over an (N, C, H, W) input.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        kernel_size: int or (kH, kW): the window.
        stride: int or (sH, sW); default kernel_size.
        padding: implicit -inf padding on both sides, at most half the effective kernel.
        dilation: spacing between window elements.
        ceil_mode: round the output size up (windows may run past the input's end).
        return_indices: also return the argmax of each window as a flat per-plane index
            h * W + w (int64), as max_unpool expects.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.arange(16.).reshape(1, 1, 4, 4)
        >>> plugtorch.nn.functional.max_pool2d(x, 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    return _max_pool("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, 2)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-d max pooling over an (N, C, L) input; arguments as max_pool2d with single ints.

    Example:
        >>> import plugtorch
        >>> plugtorch.nn.functional.max_pool1d(plugtorch.tensor([[[1., 3., 2., 0.]]]), 2)
        tensor([[[3., 2.]]])
    """
    return _max_pool("max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, 1)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """max_pool2d returning (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """max_pool1d returning (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ----------------------------------------------------------------------------- avg pool

def _avg_divisor(n, k, s, p, out):
    """Per output position along one dim: (window length incl. padding, real length)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    full = end - start
    real = np.minimum(end, n) - np.maximum(start, 0)
    return full, real


def _avg_pool(op, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, nd):
    k, s, p, d, out = _pool_args(op, input, kernel_size, stride, padding, 1, ceil_mode, nd,
                                 avg=True)
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating point input, got {input._dtype.name}")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{op}: divisor must be not zero")
    x, batched = _as_4d(input, nd)
    N, Ch, H, W = x._shape
    # ceil_mode windows may run past the padded input: pad those with zeros too
    extra = [max(0, (o - 1) * si + ki - (n + 2 * pi)) for o, si, ki, n, pi in
             zip(out, s, k, (H, W), p)]
    geom = (k, (1, 1), (p[0], p[0] + extra[0], p[1], p[1] + extra[1]), s)
    cols = _unfold(x.reshape(N * Ch, 1, H, W), geom, out)        # (N*C, kH*kW, L)
    sums = cols.sum(1).reshape(N, Ch, out[0], out[1])
    if divisor_override is not None:
        y = sums / float(divisor_override)
    else:
        def build():
            (fh, rh), (fw, rw) = (_avg_divisor(n, ki, si, pi, o)
                                  for n, ki, si, pi, o in zip((H, W), k, s, p, out))
            return np.outer(fh, fw) if count_include_pad else np.outer(rh, rw)
        y = sums / _device_table(("avgdiv", H, W, k, s, p, out, bool(count_include_pad)),
                                 build, x, x._dtype)
    return _from_4d(y, nd, batched)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-d average pooling over an (N, C, H, W) input.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W), floating point.
        kernel_size, stride, padding, ceil_mode: as max_pool2d (zero padding).
        count_include_pad: divide by the window size including padded zeros (True) or by
            the number of real elements (False).
        divisor_override: divide every sum by this number instead.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.arange(16.).reshape(1, 1, 4, 4)
        >>> plugtorch.nn.functional.avg_pool2d(x, 2)
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """
    return _avg_pool("avg_pool2d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override, 2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-d average pooling over an (N, C, L) input; see avg_pool2d.

    Example:
        >>> import plugtorch
        >>> plugtorch.nn.functional.avg_pool1d(plugtorch.tensor([[[1., 3., 2., 0.]]]), 2)
        tensor([[[2., 1.]]])
    """
    return _avg_pool("avg_pool1d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None, 1)


# ----------------------------------------------------------------------------- adaptive

def _adaptive_bounds(n, out):
    """PyTorch's adaptive windows: [floor(i n / out), ceil((i + 1) n / out))."""
    i = np.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _adaptive_args(op, x, output_size, nd):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if len(x._shape) not in (nd + 1, nd + 2) or numel_of(x._shape[-nd:]) == 0:
        raise RuntimeError(f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got "
                           f"{list(x._shape)}")
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise RuntimeError(f"{op}: output_size must be {nd}, got {list(output_size)}")
    out = tuple(n if o is None else int(o) for o, n in zip(output_size, x._shape[-nd:]))
    if any(o < 0 for o in out):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(out)}")
    return (1,) + out if nd == 1 else out


def _averaging_matrix(n, out):
    start, end = _adaptive_bounds(n, out)
    m = np.zeros((out, n))
    for i, (a, b) in enumerate(zip(start, end)):
        m[i, a:b] = 1.0 / (b - a)
    return m


def _adaptive_avg(op, input, output_size, nd):
    out = _adaptive_args(op, input, output_size, nd)
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating point input, got {input._dtype.name}")
    x, batched = _as_4d(input, nd)
    H, W = x._shape[2:]
    if out == (1, 1):
        y = x.mean((2, 3), keepdim=True)
    else:
        # an average over a rectangle is an average over rows of averages over columns
        ah = _device_table(("avgmat", H, out[0]), lambda: _averaging_matrix(H, out[0]).T, x,
                           x._dtype)
        aw = _device_table(("avgmat", W, out[1]), lambda: _averaging_matrix(W, out[1]).T, x,
                           x._dtype)
        y = x.matmul(aw).transpose(2, 3).matmul(ah).transpose(2, 3).contiguous()
    return _from_4d(y, nd, batched)


def adaptive_avg_pool2d(input, output_size):
    """2-d average pooling to a fixed output size (windows as PyTorch: rows
    floor(i H / oH) to ceil((i + 1) H / oH)).

    Args:
        input: (N, C, H, W) or (C, H, W), floating point.
        output_size: int or (oH, oW); None in a position keeps the input's size.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.arange(16.).reshape(1, 1, 4, 4)
        >>> plugtorch.nn.functional.adaptive_avg_pool2d(x, 1)
        tensor([[[[7.5000]]]])
    """
    return _adaptive_avg("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_avg_pool1d(input, output_size):
    """1-d adaptive average pooling over (N, C, L); see adaptive_avg_pool2d.

    Example:
        >>> import plugtorch
        >>> plugtorch.nn.functional.adaptive_avg_pool1d(plugtorch.tensor([[[1., 3., 2.]]]), 2)
        tensor([[[2.0000, 2.5000]]])
    """
    return _adaptive_avg("adaptive_avg_pool1d", input, output_size, 1)


def _adaptive_positions(n, out):
    start, end = _adaptive_bounds(n, out)
    k = int((end - start).max()) if out else 1
    pos = start[:, None] + np.arange(k)[None, :]
    return np.where(pos < end[:, None], pos, start[:, None]), k


def _adaptive_max(op, input, output_size, return_indices, nd):
    out = _adaptive_args(op, input, output_size, nd)
    x, batched = _as_4d(input, nd)
    H, W = x._shape[2:]

    def build():
        hs, kh = _adaptive_positions(H, out[0])
        ws, kw = _adaptive_positions(W, out[1])
        return (hs.T[:, None, :, None] * W + ws.T[None, :, None, :]).reshape(-1).astype(
            np.int64)                                               # (kh, kw, oh, ow)
    table = _device_table(("adamax", H, W, out), build, x)
    K = table._shape[0] // max(1, out[0] * out[1])
    vals, idx = _max_by_table(x, table, out[0] * out[1], K)
    shape = x._shape[:2] + out
    y = _from_4d(vals.reshape(shape), nd, batched)
    if return_indices:
        return y, _from_4d(idx.reshape(shape), nd, batched)
    return y


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """2-d max pooling to a fixed output size (windows as adaptive_avg_pool2d).

    Example:
        >>> import plugtorch
        >>> x = plugtorch.arange(16.).reshape(1, 1, 4, 4)
        >>> plugtorch.nn.functional.adaptive_max_pool2d(x, 1)
        tensor([[[[15.]]]])
    """
    return _adaptive_max("adaptive_max_pool2d", input, output_size, return_indices, 2)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1-d adaptive max pooling over (N, C, L); see adaptive_max_pool2d.

    Example:
        >>> import plugtorch
        >>> plugtorch.nn.functional.adaptive_max_pool1d(plugtorch.tensor([[[1., 3., 2.]]]), 2)
        tensor([[[3., 3.]]])
    """
    return _adaptive_max("adaptive_max_pool1d", input, output_size, return_indices, 1)


# resampling (interpolate, pixel_shuffle) has its own file; this module's __all__ is what
# nn.functional collects, so its names are listed here too
from . import _upsampling  # noqa: E402
for _name in _upsampling.__all__:
    globals()[_name] = getattr(_upsampling, _name)
    __all__.append(_name)
del _name
