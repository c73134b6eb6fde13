"""Dropout (element and channel-wise), embedding, one_hot and pad.

Random masks come from plugtorch's generators (bernoulli_), so one seed gives the same mask
on every backend.
"""
import warnings

import numpy as np

from ... import _dtype as D
from ..._tensor import Tensor
from ...autograd.grad_mode import STATE, no_grad
from ...ops.ternary import where

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "embedding", "one_hot", "pad"]


# ----------------------------------------------------------------------------- dropout

def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(input, p, mask_shape, inplace):
    if p == 1.0:
        mask = input.new_zeros(mask_shape)
    else:
        mask = input.new_empty(mask_shape).bernoulli_(1.0 - p).div_(1.0 - p)
    return input.mul_(mask) if inplace else input * mask


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the others by 1 / (1 - p)
    (training only; the identity otherwise).

    Args:
        input: any floating-point tensor.
        p: probability of an element to be zeroed. Default: 0.5.
        training: apply dropout when True. Default: True.
        inplace: write the result into input. Default: False.

    Example:
        >>> import plugtorch as torch
        >>> y = torch.nn.functional.dropout(torch.ones(1000), 0.5)
        >>> set(y.tolist()) == {0.0, 2.0}
        True
    """
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _dropout(input, p, tuple(input.shape), inplace)


def _feature_dropout(input, p, training, inplace, batched):
    _check_p(p)
    if not training or p == 0.0:
        return input
    x = input if batched else input.unsqueeze(0)
    if x.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = tuple(x.shape[:2]) + (1,) * (x.dim() - 2)
    if not batched:
        shape = shape[1:]
    return _dropout(input, p, shape, inplace)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (dim 1 of (N, C, L), dim 0 of (C, L)) with probability p; scale
    the others by 1 / (1 - p)."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D "
                           f"input. Note that dropout1d exists to provide channel-wise dropout "
                           f"on inputs with 1 spatial dimension, a channel dimension, and an "
                           f"optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout(input, p, training, inplace, input.dim() == 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (dim 1 of (N, C, H, W)) with probability p; scale the others by
    1 / (1 - p). A 3-D input is read as (N, C, L), as PyTorch does (with a warning).

    Example:
        >>> import plugtorch as torch
        >>> y = torch.nn.functional.dropout2d(torch.ones(2, 8, 3, 3), 0.5)
        >>> bool((y.amax((2, 3)) == y.amin((2, 3))).all())   # each channel kept or dropped
        True
    """
    d = input.dim()
    if d not in (3, 4):
        warnings.warn(f"dropout2d: Received a {d}-D input to dropout2d, which is deprecated "
                      f"and will result in an error in a future release. To retain the "
                      f"behavior and silence this warning, please use dropout instead. Note "
                      f"that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      f"spatial dimensions, a channel dimension, and an optional batch "
                      f"dimension (i.e. 3D or 4D inputs).", stacklevel=2)
    if d == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
                      "dropout behavior, please switch to using dropout1d instead.",
                      stacklevel=2)
    return _feature_dropout(input, p, training, inplace, True)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p."""
    d = input.dim()
    if d not in (4, 5):
        warnings.warn(f"dropout3d: Received a {d}-D input to dropout3d, which is deprecated "
                      f"and will result in an error in a future release. To retain the "
                      f"behavior and silence this warning, please use dropout instead. Note "
                      f"that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      f"spatial dimensions, a channel dimension, and an optional batch "
                      f"dimension (i.e. 4D or 5D inputs).", stacklevel=2)
    return _feature_dropout(input, p, training, inplace, d != 4)


# ----------------------------------------------------------------------------- embedding

def _renorm_(weight, flat, max_norm, norm_type):
    """Scale the rows of weight used by `flat` whose norm exceeds max_norm down to it."""
    with no_grad():
        rows = weight.index_select(0, flat)
        norms = rows.norm(norm_type, dim=1, keepdim=True)
        scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        # repeated indices write the same row value, so the order of writes is irrelevant
        weight.index_put_((flat,), rows * scale)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Look up rows of `weight`: out[..., :] = weight[input[...], :].

    Args:
        input: integer tensor of indices into the rows of weight.
        weight: tensor of shape (num_embeddings, embedding_dim).
        padding_idx: this row gets no gradient (negative values count from the end).
        max_norm: rows looked up whose norm exceeds max_norm are first rescaled in place.
        norm_type: the p of that norm. Default: 2.
        scale_grad_by_freq: divide each row's gradient by how often it occurs in input.
        sparse: accepted for compatibility; gradients are always dense.

    Shape:
        output: input.shape + (embedding_dim,).

    Example:
        >>> import plugtorch as torch
        >>> w = torch.arange(6.).reshape(3, 2)
        >>> torch.nn.functional.embedding(torch.tensor([[2, 0]]), w)
        tensor([[[4., 5.],
                 [0., 1.]]])
    """
    if not isinstance(input, Tensor) or input.dtype.kind != 1:
        got = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {got} instead (while "
                           f"checking arguments for embedding)")
    if weight.dim() != 2:
        raise RuntimeError(f"embedding(): 'weight' must be 2-D, got {weight.dim()}-D")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx + num if padding_idx < 0 else padding_idx
    flat = input.reshape(-1)
    if max_norm is not None:
        _renorm_(weight, flat, max_norm, norm_type)
    out = weight.index_select(0, flat)
    if STATE.enabled and out.requires_grad and (padding_idx is not None or
                                                scale_grad_by_freq):
        factor = out.new_ones((flat.shape[0], 1))
        if scale_grad_by_freq:
            counts = weight.new_zeros((num,)).index_add(0, flat, weight.new_ones(flat.shape))
            factor = factor / counts.index_select(0, flat).unsqueeze(1)
        if padding_idx is not None:
            factor = factor * (flat != padding_idx).unsqueeze(1).to(factor.dtype)
        # scale the gradient only: the forward values stay exactly the looked-up rows
        out.register_hook(lambda g: g * factor)
    return out.reshape(tuple(input.shape) + (weight.shape[1],))


# ----------------------------------------------------------------------------- one_hot

def one_hot(tensor, num_classes=-1):
    """A one-hot encoding: out[..., k] = 1 where tensor[...] == k, as int64.

    Args:
        tensor: int64 class indices.
        num_classes: number of classes; -1 means tensor.max() + 1.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.functional.one_hot(torch.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    if not isinstance(tensor, Tensor) or tensor.dtype is not D.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if tensor.numel() == 0:
        if num_classes == -1:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
    else:
        lo, hi = tensor.min().item(), tensor.max().item()
        if lo < 0:
            raise RuntimeError("Class values must be non-negative.")
        if num_classes == -1:
            num_classes = hi + 1
        elif hi >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    from ...ops.creation import arange
    classes = arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()


# ----------------------------------------------------------------------------- pad

def _pad_index(mode, n, left, right):
    """Source positions along one dim for reflect / replicate / circular padding."""
    j = np.arange(-left, n + right)
    if mode == "reflect":
        if left >= n or right >= n:
            raise RuntimeError(f"Padding size should be less than the corresponding input "
                               f"dimension, but got: padding ({left}, {right}) at a dimension "
                               f"of size {n}")
        period = 2 * (n - 1) if n > 1 else 1
        m = np.mod(j, period)
        return np.where(m < n, m, period - m)
    if mode == "replicate":
        if n == 0:
            raise RuntimeError("pad(): cannot replicate-pad a dimension of size 0")
        return np.clip(j, 0, n - 1)
    if left > n or right > n:
        raise RuntimeError("Padding value causes wrapping around more than once.")
    return np.mod(j, n)


def pad(input, pad, mode="constant", value=None):
    """Pad (or, with negative amounts, crop) the last dims of input.

    Args:
        input: tensor.
        pad: (left, right) for the last dim, then (left, right) for the one before, ….
        mode: 'constant' (fill with value), 'reflect', 'replicate' or 'circular'.
        value: fill value for 'constant'. Default: 0.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.functional.pad(torch.tensor([[1., 2.]]), (1, 2), value=-1.)
        tensor([[-1.,  1.,  2., -1., -1.]])
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(f"Padding length should be less than or equal to two times the "
                           f"input dimension but got padding length {len(pad)} and input of "
                           f"dimension {input.dim()}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant" and value not in (None, 0):
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    from ...ops.creation import tensor as make_tensor
    from ...ops.shape_ops import cat
    x = input
    for k in range(len(pad) // 2):
        d = input.dim() - 1 - k
        left, right = pad[2 * k], pad[2 * k + 1]
        n = x.shape[d]
        if mode != "constant":
            if left < 0 or right < 0:
                raise RuntimeError(f"pad(): negative padding is only supported in constant "
                                   f"mode, got {pad}")
            idx = make_tensor(_pad_index(mode, n, left, right), dtype=D.int64, device=x.device)
            x = x.index_select(d, idx)
            continue
        if n + min(left, 0) + min(right, 0) < 0:
            raise RuntimeError(f"The input size {n}, plus negative padding {left} and {right} "
                               f"resulted in a negative output size, which is invalid. Check "
                               f"dimension {d} of your input.")
        x = x.narrow(d, -min(left, 0), n + min(left, 0) + min(right, 0))
        parts = []
        for amount in (left, right):
            shape = list(x.shape)
            shape[d] = max(amount, 0)
            parts.append(x.new_full(tuple(shape), 0 if value is None else value))
        x = cat([parts[0], x, parts[1]], d)
    return x
