"""Linear maps: linear (y = x W^T + b), bilinear (y_k = x1^T W_k x2 + b_k) and
scaled_dot_product_attention (softmax(q k^T / sqrt(d) + mask) v)."""
import math

from ..._tensor import Tensor, _wrap, contiguous_strides, empty_like_meta, numel_of
from ... import _dtype as D
from ..._dispatch import kernel as _kernel
from ...autograd.grad_mode import STATE
from ...ops import _core as C
from ...ops.views import _view_strides
from ..parameter import PLAIN as _PLAIN

__all__ = ["linear", "bilinear", "scaled_dot_product_attention"]


def _check(name, **tensors):
    for arg, t in tensors.items():
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not "
                            f"{type(t).__name__}")


def linear(input, weight, bias=None):
    """y = x W^T + b over the last dim of x.

    Args:
        input: tensor of shape (*, in_features).
        weight: tensor of shape (out_features, in_features), or (in_features,).
        bias: tensor of shape (out_features,) (or broadcastable to the output), or None.

    Shape:
        output: (*, out_features); (*) when weight is 1-D.

    Example:
        >>> import plugtorch as torch
        >>> x, w = torch.ones(2, 3), torch.ones(4, 3)
        >>> torch.nn.functional.linear(x, w, torch.zeros(4)).shape
        plugtorch.Size([2, 4])
    """
    x, w, b = input, weight, bias
    if x.__class__ in _PLAIN and w.__class__ in _PLAIN and len(w._shape) == 2 and x._shape \
            and x._shape[-1] == w._shape[1] and x._dtype is w._dtype and \
            x._dtype.is_floating_point and x._storage.device == w._storage.device and (
                b is None or (b.__class__ in _PLAIN and b._shape == w._shape[:1] and
                              b._dtype is x._dtype and b._storage.device == x._storage.device)):
        out = _linear(x, w, b)
        if out is not None:
            return out
    _check("linear", input=input, weight=weight, bias=bias)
    if input.dim() == 0 or weight.dim() not in (1, 2):
        raise RuntimeError(f"linear(): expected input of at least 1 dim and a 1-D or 2-D "
                           f"weight, got input {tuple(input.shape)} and weight "
                           f"{tuple(weight.shape)}")
    if input.shape[-1] != weight.shape[-1]:
        rows = input.numel() // input.shape[-1] if input.shape[-1] else 0
        w = tuple(weight.shape)
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x"
                           f"{input.shape[-1]} and {w[-1]}x{w[0] if len(w) == 2 else 1})")
    out = input.matmul(weight.t() if weight.dim() == 2 else weight)
    return out if bias is None else out + bias


def _linear(x, w, b):
    """NOTE [fused linear]: x W^T + b as one op and one node (PyTorch's addmm): one `bmm`
    with W^T as a transposed view, then the bias added in place, instead of a transpose, a
    matmul and a broadcast add, each with its node. The derivative is written with matmul
    and sum (gradients of every order), and makes W's gradient in W's own layout. None when
    x's leading dims cannot be seen as one (the general path copies them)."""
    O, K = w._shape
    lead = x._shape[:-1]
    rows = numel_of(lead)
    st = _view_strides(x._shape, x._stride, (1, rows, K))
    if st is None:
        return None
    shape = lead + (O,)
    out = empty_like_meta(x, shape=shape)
    if rows and O:
        o3 = _wrap(out._storage, (1, rows, O), contiguous_strides((1, rows, O)), 0)
        brows = None if b is None else _wrap(b._storage, (1, rows, O), (0, 0, b._stride[0]),
                                             b._offset)        # b broadcast over the rows
        if K:
            _kernel("bmm", x)(o3, _wrap(x._storage, (1, rows, K), st, x._offset),
                              _wrap(w._storage, (1, K, O), (0, w._stride[1], w._stride[0]),
                                    w._offset))
            if brows is not None:
                _kernel("add", x)(o3, o3, brows)
        elif brows is not None:
            _kernel("copy", x)(o3, brows)
        else:
            _kernel("fill", x)(o3, C.scalar_for(0, x._dtype))
    if STATE.enabled and (x._rg or w._rg or (b is not None and b._rg)):
        C.record(_linear_bw, "AddmmBackward0" if b is not None else "MmBackward0",
                 (x, w) if b is None else (x, w, b), out, saved=(x, w))
    return out


def _linear_bw(n, g):
    x, w = n.inputs[0], n.inputs[1]
    O, K = w._shape
    if not STATE.enabled:
        grads = _linear_bw_kernels(n, g, x, w, O, K)
        if grads is not None:
            return grads
    gx = gw = gb = None
    rows = numel_of(g._shape[:-1])        # (not -1: K or O may be 0)
    if n.edges[0] is not None:
        gx = g.matmul(w)
    if n.edges[1] is not None:
        gw = g.reshape(rows, O).t().matmul(x.reshape(rows, K))
    if len(n.edges) > 2 and n.edges[2] is not None:
        gb = g.reshape(rows, O).sum(0)
    return (gx, gw, gb)[:len(n.edges)]


def _linear_bw_kernels(n, g, x, w, O, K):
    """Without create_graph: the three products and the bias sum of _linear_bw as kernel
    calls on (1, rows, .) views -- the calls its matmul and sum make, without their
    frontend work. None when a view is not possible (the general path copies)."""
    lead = g._shape[:-1]
    rows = numel_of(lead)
    gst = _view_strides(g._shape, g._stride, (1, rows, O))
    xst = _view_strides(x._shape, x._stride, (1, rows, K))
    if gst is None or xst is None or not (rows and O and K) or len(x._shape) != len(g._shape):
        return None
    g3 = _wrap(g._storage, (1, rows, O), gst, g._offset)
    edges = n.edges
    gx = gw = gb = None
    if edges[0] is not None:
        gx = empty_like_meta(g, shape=lead + (K,))
        _kernel("bmm", g)(_wrap(gx._storage, (1, rows, K), contiguous_strides((1, rows, K)), 0),
                          g3, _wrap(w._storage, (1, O, K), (0,) + w._stride, w._offset))
    if edges[1] is not None:
        gw = empty_like_meta(g, shape=(O, K))
        _kernel("bmm", g)(_wrap(gw._storage, (1, O, K), (0, K, 1), 0),
                          _wrap(g._storage, (1, O, rows), (0, gst[2], gst[1]), g._offset),
                          _wrap(x._storage, (1, rows, K), xst, x._offset))
    if len(edges) > 2 and edges[2] is not None:
        gb = empty_like_meta(g, shape=(O,))
        _kernel("sum", g)(_wrap(gb._storage, (1, 1, O), (O, O, 1), 0), g3, (1,))
    return (gx, gw, gb)[:len(edges)]


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k for each output feature k.

    Args:
        input1: tensor of shape (*, in1_features).
        input2: tensor of shape (*, in2_features), same leading dims as input1.
        weight: tensor of shape (out_features, in1_features, in2_features).
        bias: tensor of shape (out_features,) or None.

    Shape:
        output: (*, out_features).

    Example:
        >>> import plugtorch as torch
        >>> y = torch.nn.functional.bilinear(torch.ones(5, 2), torch.ones(5, 3),
        ...                                  torch.ones(4, 2, 3))
        >>> y.shape, y[0, 0].item()
        (plugtorch.Size([5, 4]), 6.0)
    """
    _check("bilinear", input1=input1, input2=input2, weight=weight, bias=bias)
    if weight.dim() != 3:
        raise RuntimeError(f"bilinear(): weight must be a 3-D tensor, got {weight.dim()}-D")
    out_f, in1, in2 = weight.shape
    if input1.dim() == 0 or input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input1 and input2 must have the same size except "
                           f"for the last dimension, got {tuple(input1.shape)} and "
                           f"{tuple(input2.shape)}")
    if input1.shape[-1] != in1 or input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): expected input1.shape[-1] == {in1} and "
                           f"input2.shape[-1] == {in2} (weight {tuple(weight.shape)}), got "
                           f"{input1.shape[-1]} and {input2.shape[-1]}")
    if bias is not None and tuple(bias.shape) != (out_f,):
        raise RuntimeError(f"bilinear(): bias must have shape ({out_f},), got "
                           f"{tuple(bias.shape)}")
    lead = tuple(input1.shape[:-1])
    # x1 (N, in1) @ W as (in1, out*in2) -> (N, out, in2), then contract with x2 over in2
    w = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    t = input1.reshape(-1, in1).matmul(w).reshape(-1, out_f, in2)
    out = (t * input2.reshape(-1, 1, in2)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(lead + (out_f,))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query key^T * scale + mask) value, over the last two dims.

    Args:
        query: (..., L, E); key: (..., S, E); value: (..., S, Ev).
        attn_mask: bool mask (True = may attend, as PyTorch's sdpa) or a float mask added to
            the scores, broadcastable to (..., L, S).
        dropout_p: dropout on the attention weights (always applied when > 0, as PyTorch).
        is_causal: mask out keys after each query (top-left aligned); not with attn_mask.
        scale: the score scale. Default: 1 / sqrt(E).

    Example:
        >>> import plugtorch
        >>> import plugtorch.nn.functional as F
        >>> q = plugtorch.randn(2, 4, 5, 8)
        >>> F.scaled_dot_product_attention(q, q, q, is_causal=True).shape
        plugtorch.Size([2, 4, 5, 8])
    """
    _check("scaled_dot_product_attention", query=query, key=key, value=value)
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa is not supported")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query * scale).matmul(key.transpose(-2, -1))
    if is_causal:
        from ...ops.creation import ones
        attn_mask = ones(L, S, dtype=D.bool, device=query.device).tril()
    if attn_mask is not None:
        if attn_mask.dtype is D.bool:   # True = attend, the opposite of nn.MultiheadAttention
            scores = scores.masked_fill(attn_mask.logical_not(), -math.inf)
        else:
            scores = scores + attn_mask
    weights = scores.softmax(-1)
    if dropout_p > 0.0:
        from ._misc import dropout
        weights = dropout(weights, dropout_p, True)
    return weights.matmul(value)
