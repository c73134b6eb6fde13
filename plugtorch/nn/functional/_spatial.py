"""Shared machinery of the spatial functionals (convolution, pooling, resampling).

- Argument helpers (`_ntuple`, `_check_geometry`) and window geometry (`_grid`).
- im2col / col2im with autograd (`_unfold`, `_fold`), see NOTE [convolution as im2col] in
  _conv.py: each records the other as its derivative.
- Gather / scatter-add of indices the caller built itself (`_take`, `_put`), with autograd
  and without the host round trip of a bounds check, and a small cache of such constant
  index tables per device (`_device_table`).
"""
from ..._tensor import _wrap, empty_like_meta, numel_of
from ...autograd.grad_mode import STATE, no_grad
from ...ops import _core as C


# ----------------------------------------------------------------------------- arguments

def _ntuple(op, name, v, n):
    """An int or a sequence of n ints as a tuple of n ints."""
    if isinstance(v, bool):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    if isinstance(v, int):
        return (v,) * n
    v = tuple(v)
    if len(v) == 1:
        v = v * n
    if len(v) != n or not all(isinstance(k, int) and not isinstance(k, bool) for k in v):
        raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list of "
                           f"{n} values to match the convolution dimensions, but got "
                           f"{name}={list(v)}")
    return v


def _check_geometry(op, stride, dilation, padding=(0,)):
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation should be greater than zero")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{op}: negative padding is not supported")


def _grid(hw, geom):
    """Number of window positions along H and W (floor division, as PyTorch)."""
    (kh, kw), (d0, d1), (pt, pb, pl, pr), (s0, s1) = geom
    return ((hw[0] + pt + pb - d0 * (kh - 1) - 1) // s0 + 1,
            (hw[1] + pl + pr - d1 * (kw - 1) - 1) // s1 + 1)


def _pad(x, pad4, value):
    """A new contiguous (N, C, H+pt+pb, W+pl+pr) tensor: x surrounded by `value`.
    Not recorded for autograd (callers record their own derivative)."""
    pt, pb, pl, pr = pad4
    N, Ch, H, W = x._shape
    out = empty_like_meta(x, shape=(N, Ch, H + pt + pb, W + pl + pr))
    C.run("fill", out, C.scalar_for(value, x._dtype))
    Wp = W + pl + pr
    inner = _wrap(out._storage, x._shape, (Ch * (H + pt + pb) * Wp, (H + pt + pb) * Wp, Wp, 1),
                  pt * Wp + pl)
    if numel_of(x._shape):
        C.run("copy", inner, x)
    return out


def _windows(x, geom, grid, value=0):
    """A (N, C, kH, kW, oh, ow) strided view of the windows of x padded with `value`."""
    (kh, kw), (d0, d1), pad4, (s0, s1) = geom
    xp = _pad(x, pad4, value) if any(pad4) else x
    sN, sC, sH, sW = xp._stride
    return _wrap(xp._storage, (x._shape[0], x._shape[1], kh, kw) + tuple(grid),
                 (sN, sC, d0 * sH, d1 * sW, s0 * sH, s1 * sW), xp._offset)


# ----------------------------------------------------------------------------- im2col / col2im

def _unfold_bw(n, g):
    channels, hw, geom, grid = n.params
    return (_fold(g, channels, hw, geom, grid),)


def _unfold(x, geom, grid=None, k_major=False):
    """Columns (N, C*kH*kW, oh*ow) of a 4-d x (F.unfold's layout); see NOTE [convolution as
    im2col]. k_major: the same columns laid out (C*kH*kW, N, oh*ow) in memory (strides
    (L, N*L, 1)), so that all samples' columns are one (K, N*L) matrix."""
    N, Ch = x._shape[:2]
    grid = _grid(x._shape[2:], geom) if grid is None else grid
    v = _windows(x, geom, grid)
    L = grid[0] * grid[1]
    K = Ch * geom[0][0] * geom[0][1]
    cols = empty_like_meta(x, shape=(N, K, L))
    if numel_of(v._shape):
        kh, kw = geom[0]
        NL = N * L
        # v is (N, C, kH, kW, oh, ow); k_major memory is (C, kH, kW, N, oh, ow)
        st = (L, kh * kw * NL, kw * NL, NL, grid[1], 1) if k_major else \
            (K * L, kh * kw * L, kw * L, L, grid[1], 1)
        C.run("copy", _wrap(cols._storage, v._shape, st, 0), v)
    if k_major:
        cols = _wrap(cols._storage, (N, K, L), (L, N * L, 1), 0)
    if STATE.enabled and x.requires_grad:
        C.record(_unfold_bw, "Im2ColBackward0", (x,), cols,
                 params=(Ch, x._shape[2:], geom, grid))
    return cols


def _fold_bw(n, g):
    geom, grid = n.params
    return (_unfold(g, geom, grid),)


def _fold(cols, channels, hw, geom, grid):
    """The adjoint of `_unfold`: adds every window of cols (N, C*kH*kW, oh*ow), in any
    strides, back into an (N, C, H, W) tensor (overlaps add up)."""
    (kh, kw), (d0, d1), (pt, pb, pl, pr), (s0, s1) = geom
    N = cols._shape[0]
    Hp, Wp = hw[0] + pt + pb, hw[1] + pl + pr
    oh, ow = grid
    out = empty_like_meta(cols, shape=(N, channels, Hp, Wp))
    C.run("fill", out, C.scalar_for(0, cols._dtype))
    if numel_of(cols._shape):
        with no_grad():
            c = cols.detach()
            s = c._stride
            c6 = _wrap(c._storage, (N, channels, kh, kw, oh, ow),
                       (s[0], kh * kw * s[1], kw * s[1], s[1], ow * s[2], s[2]), c._offset)
            plane = Hp * Wp
            for i in range(kh):
                for j in range(kw):
                    dst = _wrap(out._storage, (N, channels, oh, ow),
                                (channels * plane, plane, s0 * Wp, s1), i * d0 * Wp + j * d1)
                    src = c6.select(3, j).select(2, i)                  # (N, C, oh, ow)
                    dst.add_(src)
    if pt or pb or pl or pr:
        crop = _wrap(out._storage, (N, channels) + tuple(hw),
                     (channels * Hp * Wp, Hp * Wp, Wp, 1), pt * Wp + pl)
        out = empty_like_meta(cols, shape=crop._shape)
        if numel_of(out._shape):
            C.run("copy", out, crop)
    if STATE.enabled and cols.requires_grad:
        C.record(_fold_bw, "Col2ImBackward0", (cols,), out, params=(geom, grid))
    return out


# ----------------------------------------------------------------------------- take / put

def _gather_raw(src, dim, index):
    """gather without the bounds check (the caller built index; no host round trip)."""
    out = empty_like_meta(src, shape=index._shape)
    if numel_of(index._shape):
        C.run("gather", out, src, dim, index)
    return out


def _put_bw(n, g):
    dim, index = n.params
    return (_take(g, dim, index),)


def _put(g, dim, index, size):
    """Zeros shaped like g but `size` long at dim, with g added at positions index (shaped
    like g) along dim; the adjoint of `_take`."""
    shape = g._shape[:dim] + (size,) + g._shape[dim + 1:]
    out = empty_like_meta(g, shape=shape)
    C.run("fill", out, C.scalar_for(0, g._dtype))
    if numel_of(index._shape):
        C.run("scatter", out, dim, index, g, "sum")
    if STATE.enabled and g.requires_grad:
        C.record(_put_bw, "ScatterAddBackward0", (g,), out, params=(dim, index))
    return out


def _take_bw(n, g):
    dim, index, size = n.params
    return (_put(g, dim, index, size),)


def _take(x, dim, index):
    """x's entries at positions index along dim (gather of trusted indices), with
    autograd; index has x's shape except along dim."""
    out = _gather_raw(x, dim, index)
    if STATE.enabled and x.requires_grad:
        C.record(_take_bw, "GatherBackward0", (x,), out, params=(dim, index, x._shape[dim]))
    return out


def _device_table(key, build, like, dtype=None):
    """A constant tensor on like's device built once from the numpy array build() returns
    (int64, or `dtype`) and cached under `key` (the geometry it depends on). Callers never
    write to it, so every call may share it."""
    from ...ops.creation import tensor
    key = key + (str(like.device), None if dtype is None else dtype.name)
    t = _TABLES.pop(key, None)
    if t is None:
        t = tensor(build(), dtype=dtype, device=like.device)
        if len(_TABLES) >= _TABLE_CACHE_SIZE:
            _TABLES.pop(next(iter(_TABLES)))      # least recently used first
    _TABLES[key] = t
    return t


#: key -> tensor, in least-recently-used order
_TABLES = {}
_TABLE_CACHE_SIZE = 128

