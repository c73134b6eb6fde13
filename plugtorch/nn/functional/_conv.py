"""Convolutions: conv1d, conv2d, conv_transpose1d/2d, unfold and fold, decomposed into
strided copies and matrix products, so every backend (and autograd) runs them.

NOTE [convolution as im2col]
A convolution is a matrix product over "columns": every output position (oh, ow) reads a
C x kH x kW window of the padded input. `_unfold` copies those windows out of a strided
view (one `copy` kernel) into cols of shape (N, C*kH*kW, oh*ow), F.unfold's layout; the
weight (O, C*kH*kW) times each sample's cols is that sample's (O, oh*ow) output, so one
batched matmul writes the (N, O, oh, ow) result in place, with no transposing copy (few
positions per sample take one product instead, NOTE [one product for all samples]). The
copy's innermost run is a row of output positions (ow elements read at the stride), not a
row of the kernel (kW elements): several times faster on every backend for small kernels.
Groups split both the channels of cols and the weight's rows. `_fold` is the adjoint of
`_unfold`: it adds each window back to its place (one strided `add_` per kernel offset, of
(N, C, oh, ow) rows), so it computes the gradient of `_unfold` and the forward of
conv_transpose. The two record each other as their derivative, and conv2d's derivative is
written with them and matmul, so gradients of every order work on every backend. 1-d
convolutions are 2-d ones with a height of 1. `_unfold` and `_fold` live in _spatial.py,
shared with pooling.

A backend may provide a fast `conv2d` kernel, see `conv2d`; its gradient still runs on the
decomposition.
"""
from ..._tensor import Tensor, _wrap, empty_like_meta, numel_of
from ...autograd.grad_mode import STATE, no_grad
from ..._dispatch import override as _override
from ...ops import _core as C
from ._spatial import _check_geometry, _fold, _grid, _ntuple, _unfold

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold"]


# ----------------------------------------------------------------------------- conv2d

#: the most output positions per sample for which conv2d takes one product for all samples
_ONE_PRODUCT_MAX_L = 256


def _conv_forward(x, w, b, geom, groups, grid):
    """The decomposition of conv2d (no autograd): im2col, then one batched matmul.
    Returns (output, the columns)."""
    N, O = x._shape[0], w._shape[0]
    G = groups
    Og, Kg = O // G, numel_of(w._shape[1:])
    L = grid[0] * grid[1]
    if L <= _ONE_PRODUCT_MAX_L and G == 1 and N * L and Kg:
        # NOTE [one product for all samples]: with few output positions per sample the N
        # per-sample products are small and slow (LeNet's second convolution: 64 products
        # of 16x150x100). Then the columns are laid out (Kg, N*L) in memory (k_major): one
        # (O, Kg) x (Kg, N*L) product (1.8x faster there), and one pass back to NCHW that
        # adds the bias on the way; the weight's gradient is one product too (_weight_grad).
        # With many positions per sample the per-sample products are efficient already and
        # the extra pass to NCHW would cost more than it saves
        cols = _unfold(x, geom, grid, k_major=True)
        y = w.reshape(O, Kg).matmul(_wrap(cols._storage, (Kg, N * L), (N * L, 1), 0))
        yv = _wrap(y._storage, (N, O, L), (L, N * L, 1), 0)
        out = empty_like_meta(x, shape=(N, O) + tuple(grid))
        o3 = _wrap(out._storage, (N, O, L), (O * L, L, 1), 0)
        if b is None:
            C.run("copy", o3, yv)
        else:
            C.run("add", o3, yv, _wrap(b._storage, (N, O, L), (0, b._stride[0], 0), b._offset))
        return out, cols
    cols = _unfold(x, geom, grid)                                   # (N, G*Kg, L)
    if G == 1:
        y = w.reshape(O, Kg).matmul(cols)                           # (N, O, L)
    else:
        y = w.reshape(G, Og, Kg).matmul(cols.reshape(N, G, Kg, L))  # (N, G, Og, L)
    y = y.reshape(N, O, grid[0], grid[1])
    if b is not None:
        y.add_(b.reshape(O, 1, 1))
    return y, cols


def _conv_transpose_core(x, w, geom, groups, hw):
    """conv_transpose2d without bias, with autograd: cols = w^T x per group, then fold.
    x is (N, Cin, h, w) (the window grid), w is (Cin, Cout/G, kH, kW), hw the output size."""
    N, Ci, h, wd = x._shape
    G = groups
    Cig = Ci // G
    Kg = numel_of(w._shape[1:])
    L = h * wd
    if G == 1 and geom[3] == (1, 1) and numel_of(x._shape) and \
            not (STATE.enabled and (x.requires_grad or w.requires_grad)):
        return _conv_transpose_pitched(x, w, geom, hw)
    if G == 1:
        # one product over all N*L positions (a per-sample batch of small ones is slower);
        # cols are its (Kg, N, L) result seen as (N, Kg, L), which _fold takes in any strides
        xt = x.transpose(0, 1).reshape(Ci, N * L)
        cols = w.reshape(Ci, Kg).t().matmul(xt).reshape(Kg, N, L).transpose(0, 1)
    else:
        cols = w.reshape(G, Cig, Kg).transpose(1, 2).matmul(
            x.reshape(N, G, Cig, L)).reshape(N, G * Kg, L)
    return _fold(cols, G * w._shape[1], hw, geom, (h, wd))


def _conv_transpose_pitched(x, w, geom, hw):
    """_conv_transpose_core for stride 1 and one group, recording no graph.

    NOTE [pitched fold]
    Folding columns adds, per kernel offset, an (oh, ow) block into the padded output:
    with ow short (10 in LeNet) those are many short rows. Here the columns are made with
    rows of the padded output's full width Wp (the input is copied into zero-padded rows,
    and the extra columns of the product are zeroed after it, so that non-finite weights
    cannot leak through them), and an (oh, Wp) block of such rows is one contiguous run of
    the output plane, offset by the kernel position: each offset becomes one add of N*C
    runs of oh*Wp elements. The zeros of the extra columns land on positions of the next
    row, adding nothing; those of the last plane run past it by at most d1*(kW - 1)
    elements, so the output buffer has that many more."""
    N, Ci, h, wd = x._shape
    (kh, kw), (d0, d1), (pt, pb, pl, pr), _ = geom
    Co, Kg = w._shape[1], numel_of(w._shape[1:])
    Hp, Wp = hw[0] + pt + pb, hw[1] + pl + pr
    P = N * h * Wp
    zero = C.scalar_for(0, x._dtype)
    with no_grad():
        xp = empty_like_meta(x, shape=(Ci, N, h, Wp))
        C.run("fill", xp, zero)
        C.run("copy", _wrap(xp._storage, (Ci, N, h, wd), (N * h * Wp, h * Wp, Wp, 1), 0),
              x.detach().transpose(0, 1))
        # rows in (kernel offset, Co) order: each offset's rows are one contiguous block
        wk = w.detach().reshape(Ci, Co, kh * kw).transpose(1, 2).reshape(Ci, Kg)
        cols = wk.t().matmul(xp.reshape(Ci, P))                            # (Kg, P)
        if Wp > wd:
            C.run("fill", _wrap(cols._storage, (Kg * N * h, Wp - wd), (Wp, 1), wd), zero)
        plane = Hp * Wp
        extra = d1 * (kw - 1)
        buf = empty_like_meta(x, shape=(N * Co * plane + extra,))
        C.run("fill", buf, zero)
        for c0 in range(kh * kw):
            i, j = divmod(c0, kw)
            dst = _wrap(buf._storage, (N, Co, h * Wp), (Co * plane, plane, 1),
                        i * d0 * Wp + j * d1)
            src = _wrap(cols._storage, (N, Co, h * Wp), (h * Wp, P, 1), c0 * Co * P)
            C.run("add", dst, dst, src)
        out = _wrap(buf._storage, (N, Co, hw[0], hw[1]), (Co * plane, plane, Wp, 1),
                    pt * Wp + pl)
        if pt or pb or pl or pr:
            out = out.contiguous()
    return out


def _weight_grad(x, g, wshape, geom, groups, cols=None):
    """d(conv2d)/d(weight) contracted with g, with autograd: per group g @ im2col(x)^T,
    summed over the batch. `cols`: im2col(x) from the forward, used when no graph of this
    gradient is recorded."""
    N, O, oh, ow = g._shape
    G = groups
    L = oh * ow
    if cols is None or (STATE.enabled and (x.requires_grad or g.requires_grad)):
        cols = _unfold(x, geom, (oh, ow))
    Og, Kg = O // G, cols._shape[1] // G
    if G == 1 and N > 1 and cols._stride == (L, N * L, 1):
        # k_major columns (NOTE [one product for all samples]): one product over N*L
        gt = g.transpose(0, 1).reshape(O, N * L)
        return gt.matmul(_wrap(cols._storage, (N * L, Kg), (1, N * L), cols._offset)) \
            .reshape(wshape)
    gm = g.reshape(N, G, Og, L)
    cm = cols.reshape(N, G, Kg, L)
    if Og <= L:
        # per-sample products (N, G, Og, Kg), no larger than cols, then their sum
        gw = gm.matmul(cm.transpose(-1, -2)).sum(0)
    else:
        # few positions, many channels: one product over N*L (copies g and cols)
        gw = gm.permute(1, 2, 0, 3).reshape(G, Og, N * L).matmul(
            cm.permute(1, 0, 3, 2).reshape(G, N * L, Kg))
    return gw.reshape(wshape)


def _conv_bw(n, g):
    x, w = n.inputs
    geom, groups, cols = n.params
    gx = gw = gb = None
    if n.edges[0] is not None:
        gx = _conv_transpose_core(g, w, geom, groups, x._shape[2:])
    if n.edges[1] is not None:
        gw = _weight_grad(x, g, w._shape, geom, groups, cols)
    if len(n.edges) > 2 and n.edges[2] is not None:
        gb = g.sum((0, 2, 3))
    return (gx, gw, gb)[:len(n.edges)]


def _check_conv(op, x, w, b, groups, nd):
    for name, t in (("input", x), ("weight", w)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    C.check_devices(op, x, w, b)
    if len(x._shape) not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{op}, but got input of size: {list(x._shape)}")
    if len(w._shape) != nd + 2:
        raise RuntimeError(f"{op}: expected a {nd + 2}-D weight, but got weight of size "
                           f"{list(w._shape)}")
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating point input, got {x._dtype.name}")
    for name, t in (("weight", w), ("bias", b)):
        if t is not None and t._dtype is not x._dtype:
            raise RuntimeError(f"{op}: input type ({x._dtype.name}) and {name} type "
                               f"({t._dtype.name}) should be the same")
    if not isinstance(groups, int) or groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported")


def _padding(op, padding, kernel, dilation, stride, nd):
    """padding (int, tuple, 'same' or 'valid') as (top, bottom, left, right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise RuntimeError(f"{op}: invalid padding string '{padding}', should be one of "
                               f"['valid', 'same']")
        if any(s != 1 for s in stride):
            raise RuntimeError(f"{op}: padding='same' is not supported for strided "
                               f"convolutions")
        # the extra element of an odd total goes after, as PyTorch
        tot = [d * (k - 1) for d, k in zip(dilation, kernel)]
        tot = [0] + tot if nd == 1 else tot
        return (tot[0] // 2, tot[0] - tot[0] // 2, tot[1] // 2, tot[1] - tot[1] // 2)
    p = _ntuple(op, "padding", padding, nd)
    _check_geometry(op, (1,), (1,), p)
    p = (0,) + p if nd == 1 else p
    return (p[0], p[0], p[1], p[1])


def _conv(op, x, w, b, stride, padding, dilation, groups, nd):
    _check_conv(op, x, w, b, groups, nd)
    stride = _ntuple(op, "stride", stride, nd)
    dilation = _ntuple(op, "dilation", dilation, nd)
    _check_geometry(op, stride, dilation)
    pad4 = _padding(op, padding, w._shape[2:], dilation, stride, nd)
    batched = len(x._shape) == nd + 2
    if not batched:
        x = x.unsqueeze(0)
    O, Cg = w._shape[:2]
    if O % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size {list(w._shape)} instead")
    if x._shape[1] != Cg * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(w._shape)}, expected "
                           f"input{list(x._shape)} to have {Cg * groups} channels, but got "
                           f"{x._shape[1]} channels instead")
    if b is not None and b._shape != (O,):
        raise RuntimeError(f"Given weight of size {list(w._shape)}, expected bias to be "
                           f"1-dimensional with {O} elements, but got bias of size "
                           f"{list(b._shape)} instead")
    if nd == 1:
        x, w = x.unsqueeze(2), w.unsqueeze(2)
        stride, dilation = (1,) + stride, (1,) + dilation
    kernel = w._shape[2:]
    padded = (x._shape[2] + pad4[0] + pad4[1], x._shape[3] + pad4[2] + pad4[3])
    if any(p < d * (k - 1) + 1 for p, d, k in zip(padded, dilation, kernel)):
        eff = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
        sl = slice(2 - nd, 2)
        raise RuntimeError(f"{op}: Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded[sl]))}). Kernel size: "
                           f"({' x '.join(map(str, eff[sl]))}). Kernel size can't be greater "
                           f"than actual input size")
    y = conv2d_raw(x, w, b, stride, pad4, dilation, groups)
    if nd == 1:
        y = y.squeeze(2)
    return y if batched else y.squeeze(0)


def conv2d_raw(x, w, b, stride, pad4, dilation, groups):
    """conv2d on checked arguments: a 4-d x, 4-d w, padding as (top, bottom, left, right).

    NOTE [conv2d kernel]
    A backend may register a kernel named "conv2d" (the op is declared overridable);
    `_dispatch.override` finds it (a backend without one gets the decomposition, never the
    CPU fallback)
    and called as `kernel(out, x, weight, bias, stride, padding, dilation, groups)` with
    a contiguous out (N, O, oh, ow); x (N, C, H, W), weight (O, C/groups, kH, kW) and bias
    (O,) or None, all of one floating dtype and in any strides; stride and dilation pairs
    (sH, sW); padding a 4-tuple (top, bottom, left, right) of zeros around x.
    """
    geom = (tuple(w._shape[2:]), tuple(dilation), tuple(pad4), tuple(stride))
    grid = _grid(x._shape[2:], geom)
    kernel = _override("conv2d", x)
    cols = None
    if kernel is not None:
        out = empty_like_meta(x, shape=(x._shape[0], w._shape[0]) + grid)
        kernel(out, x, w, b, geom[3], geom[2], geom[1], groups)
    else:
        with no_grad():
            out, cols = _conv_forward(x.detach(), w.detach(), None if b is None else b.detach(),
                                      geom, groups, grid)
    if C.needs_grad(x, w, b):
        # the weight's gradient reuses the forward's columns (NOTE [convolution as im2col]):
        # they live until backward, the memory im2col trades for one copy fewer per step
        C.record(_conv_bw, "ConvolutionBackward0", (x, w) + (() if b is None else (b,)), out,
                 params=(geom, groups, cols if w.requires_grad else None), saved=(x, w))
    return out


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation, as PyTorch) over an (N, C, H, W) input.

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_out, C_in / groups, kH, kW).
        bias: optional (C_out,).
        stride: int or (sH, sW).
        padding: int, (pH, pW), 'valid' (none) or 'same' (output as large as the input;
            stride 1 only; an odd total padding puts the extra zero after).
        dilation: int or (dH, dW): spacing between kernel elements.
        groups: split input and output channels into this many independent groups.

    Shape:
        output: (N, C_out, H_out, W_out) with
        H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.ones(1, 1, 3, 3)
        >>> plugtorch.nn.functional.conv2d(x, plugtorch.ones(1, 1, 2, 2))
        tensor([[[[4., 4.],
                  [4., 4.]]]])
    """
    return _conv("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution over an (N, C, L) input; arguments as conv2d with single ints.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.arange(4.).reshape(1, 1, 4)
        >>> plugtorch.nn.functional.conv1d(x, plugtorch.ones(1, 1, 2), padding=1)
        tensor([[[0., 1., 3., 5., 3.]]])
    """
    return _conv("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


# ----------------------------------------------------------------------------- transposed

def _conv_transpose(op, x, w, b, stride, padding, output_padding, groups, dilation, nd):
    _check_conv(op, x, w, b, groups, nd)
    stride = _ntuple(op, "stride", stride, nd)
    dilation = _ntuple(op, "dilation", dilation, nd)
    padding = _ntuple(op, "padding", padding, nd)
    opad = _ntuple(op, "output_padding", output_padding, nd)
    _check_geometry(op, stride, dilation, padding)
    for o, s, d in zip(opad, stride, dilation):
        if o < 0 or (o >= s and o >= d):
            raise RuntimeError(f"{op}: output padding must be smaller than either stride or "
                               f"dilation, but got output_padding={list(opad)}, "
                               f"stride={list(stride)}, dilation={list(dilation)}")
    batched = len(x._shape) == nd + 2
    if not batched:
        x = x.unsqueeze(0)
    Ci = w._shape[0]
    if x._shape[1] != Ci:
        raise RuntimeError(f"Given transposed=1, weight of size {list(w._shape)}, expected "
                           f"input{list(x._shape)} to have {Ci} channels, but got "
                           f"{x._shape[1]} channels instead")
    if Ci % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size {list(w._shape)} instead")
    O = w._shape[1] * groups
    if b is not None and b._shape != (O,):
        raise RuntimeError(f"Given transposed=1, weight of size {list(w._shape)}, expected bias "
                           f"to be 1-dimensional with {O} elements, but got bias of size "
                           f"{list(b._shape)} instead")
    if nd == 1:
        x, w = x.unsqueeze(2), w.unsqueeze(2)
        stride, dilation, padding, opad = ((1,) + stride, (1,) + dilation, (0,) + padding,
                                           (0,) + opad)
    kernel = w._shape[2:]
    hw = tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, s, p, d, k, o in
               zip(x._shape[2:], stride, padding, dilation, kernel, opad))
    if any(n <= 0 for n in hw):
        raise RuntimeError(f"{op}: given input size per channel {list(x._shape[2:])}, the "
                           f"calculated output size {list(hw)} is too small")
    geom = (tuple(kernel), dilation, (padding[0], padding[0], padding[1], padding[1]), stride)
    y = _conv_transpose_core(x, w, geom, groups, hw)
    if b is not None:
        y = y + b.reshape(1, O, 1, 1)
    if nd == 1:
        y = y.squeeze(2)
    return y if batched else y.squeeze(0)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """Transposed 2-d convolution (the gradient of conv2d with respect to its input).

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_in, C_out / groups, kH, kW).
        bias: optional (C_out,).
        stride, padding, dilation: as the conv2d this transposes (padding is cropped from
            the output).
        output_padding: extra rows/columns added at the bottom/right of the output, to pick
            among the input sizes a strided conv2d maps to the same size.
        groups: independent channel groups.

    Shape:
        output: (N, C_out, H_out, W_out) with
        H_out = (H - 1) sH - 2 pH + dH (kH - 1) + output_padding + 1.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.ones(1, 1, 2, 2)
        >>> plugtorch.nn.functional.conv_transpose2d(x, plugtorch.ones(1, 1, 2, 2))
        tensor([[[[1., 2., 1.],
                  [2., 4., 2.],
                  [1., 2., 1.]]]])
    """
    return _conv_transpose("conv_transpose2d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation, 2)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """Transposed 1-d convolution over (N, C, L); arguments as conv_transpose2d.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.ones(1, 1, 2)
        >>> plugtorch.nn.functional.conv_transpose1d(x, plugtorch.ones(1, 1, 2))
        tensor([[[1., 2., 1.]]])
    """
    return _conv_transpose("conv_transpose1d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation, 1)


# ----------------------------------------------------------------------------- unfold / fold

def _fold_args(op, kernel_size, dilation, padding, stride):
    k = _ntuple(op, "kernel_size", kernel_size, 2)
    d = _ntuple(op, "dilation", dilation, 2)
    p = _ntuple(op, "padding", padding, 2)
    s = _ntuple(op, "stride", stride, 2)
    _check_geometry(op, s, d, p)
    if any(n <= 0 for n in k):
        raise RuntimeError(f"{op}: kernel size should be greater than zero, but got "
                           f"kernel_size={list(k)}")
    return (k, d, (p[0], p[0], p[1], p[1]), s)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks (im2col) of an (N, C, H, W) input as (N, C*kH*kW, L).

    Example:
        >>> import plugtorch
        >>> x = plugtorch.arange(9.).reshape(1, 1, 3, 3)
        >>> plugtorch.nn.functional.unfold(x, 2).shape
        plugtorch.Size([1, 4, 4])
    """
    x = input
    if len(x._shape) not in (3, 4):
        raise RuntimeError(f"unfold: Expected 3D or 4D (batch mode) tensor with possibly 0 "
                           f"batch size and non-zero dimensions for input, but got: "
                           f"{list(x._shape)}")
    geom = _fold_args("unfold", kernel_size, dilation, padding, stride)
    batched = len(x._shape) == 4
    x = x if batched else x.unsqueeze(0)
    grid = _grid(x._shape[2:], geom)
    if grid[0] <= 0 or grid[1] <= 0:
        raise RuntimeError(f"unfold: the given input {list(x._shape)} is too small for "
                           f"kernel_size={list(geom[0])}, dilation={list(geom[1])}, "
                           f"padding={[geom[2][0], geom[2][2]]}")
    y = _unfold(x, geom, grid)
    return y if batched else y.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding local blocks (N, C*kH*kW, L) into an (N, C, H, W) tensor (col2im); the
    adjoint of unfold.

    Example:
        >>> import plugtorch
        >>> cols = plugtorch.ones(1, 4, 4)
        >>> plugtorch.nn.functional.fold(cols, (3, 3), 2)[0, 0]
        tensor([[1., 2., 1.],
                [2., 4., 2.],
                [1., 2., 1.]])
    """
    x = input
    if len(x._shape) not in (2, 3):
        raise RuntimeError(f"fold: Expected 2D or 3D (batch mode) input tensor with possibly 0 "
                           f"batch size and non-zero dimensions for input, but got: "
                           f"{list(x._shape)}")
    geom = _fold_args("fold", kernel_size, dilation, padding, stride)
    hw = _ntuple("fold", "output_size", output_size, 2)
    batched = len(x._shape) == 3
    x = x if batched else x.unsqueeze(0)
    K = geom[0][0] * geom[0][1]
    grid = _grid(hw, geom)
    if x._shape[1] % K:
        raise RuntimeError(f"fold: Expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size, but got input.size(1)={x._shape[1]} and "
                           f"kernel_size={list(geom[0])}")
    if grid[0] * grid[1] != x._shape[2]:
        raise RuntimeError(f"fold: Given output_size={list(hw)}, kernel_size={list(geom[0])}, "
                           f"dilation={list(geom[1])}, padding={[geom[2][0], geom[2][2]]}, "
                           f"stride={list(geom[3])}, expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks {grid[0]} * "
                           f"{grid[1]} = {grid[0] * grid[1]}, but got input.size(2)="
                           f"{x._shape[2]}.")
    y = _fold(x, x._shape[1] // K, hw, geom, grid)
    return y if batched else y.squeeze(0)


# ----------------------------------------------------------------------------- declaration

def _ref_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """numpy reference: sliding windows of the zero-padded input, in float64."""
    import numpy as np
    s, p, d = (v if isinstance(v, tuple) else (v, v) for v in (stride, padding, dilation))
    x = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    O, Cg, kh, kw = w.shape
    N, _, H, W = x.shape
    oh, ow = (H - d[0] * (kh - 1) - 1) // s[0] + 1, (W - d[1] * (kw - 1) - 1) // s[1] + 1
    out = np.zeros((N, O, oh, ow))
    for g in range(groups):
        xs = x[:, g * Cg:(g + 1) * Cg]
        ws = w[g * (O // groups):(g + 1) * (O // groups)]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * d[0]:i * d[0] + s[0] * (oh - 1) + 1:s[0],
                           j * d[1]:j * d[1] + s[1] * (ow - 1) + 1:s[1]]
                out[:, g * (O // groups):(g + 1) * (O // groups)] += np.einsum(
                    "nchw,oc->nohw", patch, ws[:, :, i, j])
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def _conv2d_samples(dtype, rng):
    from ...ops._decl import Sample
    from ...ops.samples import array
    return [
        Sample(array((2, 3, 5, 6), dtype, rng), array((4, 3, 3, 2), dtype, rng),
               array((4,), dtype, rng), grad=(0, 1, 2)),
        Sample(array((1, 4, 6, 6), dtype, rng), array((2, 2, 3, 3), dtype, rng), None,
               stride=2, padding=1, dilation=1, groups=2, grad=(0, 1), name="strided"),
        Sample(array((1, 2, 7, 5), dtype, rng), array((3, 2, 2, 2), dtype, rng), None,
               stride=(2, 1), padding=(1, 0), dilation=2, grad=(0, 1), name="dilated"),
    ]


def _declare():
    from ... import _dtype as D
    from ...ops._decl import declare
    declare("conv2d", conv2d, ref=_ref_conv2d, samples=_conv2d_samples, dtypes=D.FLOATING,
            atol=1e-4, rtol=1e-4,
            overridable="out x weight bias stride padding dilation groups")


_declare()
