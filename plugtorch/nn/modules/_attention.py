"""Multi-head attention (MultiheadAttention), the building block of the transformer layers
in transformer.py, which exports it.

NOTE [attention masks]
Masks follow PyTorch: a bool mask marks the positions that may NOT be attended (True ->
-inf score), a float mask is added to the scores. `attn_mask` is (L, S) or (N * num_heads,
L, S); `key_padding_mask` is (N, S) (True = padding). Both become one additive float mask
broadcast to (N, num_heads, L, S). A row whose keys are all masked has no finite score and
gives NaN, as in PyTorch.

Parameters use PyTorch's layout and names: in_proj_weight (3E, E) and in_proj_bias (3E)
hold the query, key and value projections stacked (or q_proj_weight / k_proj_weight /
v_proj_weight when kdim or vdim differ from embed_dim), out_proj is a Linear(E, E), so a
PyTorch state_dict loads unchanged.
"""
import math

from ..._tensor import Tensor
from ... import _dtype as D
from ...ops.creation import empty
from ...ops.shape_ops import cat
from ...ops.ternary import where
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .linear import Linear
from .module import Module

__all__ = ["MultiheadAttention"]


# ----------------------------------------------------------------------------- helpers

def _additive(mask, name, dtype):
    """A bool or float mask as an additive float mask (see NOTE [attention masks])."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a Tensor, got {type(mask).__name__}")
    if mask.dtype is D.bool:
        return where(mask, -math.inf, 0.0).to(dtype)
    if mask.dtype.kind != 2:
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask.to(dtype)


def _pad_last(mask):
    """Append one zero (attend) column to the last dim, for the extra bias/zero key."""
    return None if mask is None else cat([mask, mask.new_zeros(tuple(mask.shape[:-1]) + (1,))],
                                         -1)


def _attention(q, k, v, mask, dropout_p, training):
    """softmax(q k^T / sqrt(d) + mask) v over (..., L, d) x (..., S, d); returns the output
    and the attention weights (after dropout, as PyTorch)."""
    scores = (q * (1.0 / math.sqrt(q.shape[-1]))).matmul(k.transpose(-2, -1))
    if mask is not None:
        scores = scores + mask
    weights = scores.softmax(-1)
    if dropout_p > 0.0 and training:
        weights = F.dropout(weights, dropout_p, True)
    return weights.matmul(v), weights


# ----------------------------------------------------------------------------- attention

class MultiheadAttention(Module):
    """Multi-head attention: softmax(Q K^T / sqrt(d)) V per head on projected query, key and
    value, concatenated and projected by out_proj.

    Args:
        embed_dim: E, the model width (query features and output features).
        num_heads: heads; E must be divisible by it (each head has E / num_heads features).
        dropout: dropout on the attention weights (training only). Default: 0.
        bias: biases in the input and output projections. Default: True.
        add_bias_kv: append a learned key and value (bias_k, bias_v) to the sequence.
        add_zero_attn: append a zero key and value to the sequence.
        kdim, vdim: key and value features (default: E).
        batch_first: inputs and output are (N, L, E) instead of (L, N, E).

    Shape:
        query (L, N, E), key (S, N, kdim), value (S, N, vdim) (or batch first, or unbatched
        without N); key_padding_mask (N, S); attn_mask (L, S) or (N * num_heads, L, S);
        output (L, N, E) and weights (N, L, S) averaged over heads, (N, num_heads, L, S) with
        average_attn_weights=False, or None with need_weights=False.
        See NOTE [attention masks].

    Example:
        >>> import plugtorch as torch
        >>> mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        >>> x = torch.randn(3, 5, 8)
        >>> out, w = mha(x, x, x)
        >>> out.shape, w.shape
        (plugtorch.Size([3, 5, 8]), plugtorch.Size([3, 5, 5]))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError("embed_dim must be divisible by num_heads")
        fk = {"device": device, "dtype": dtype}
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.batch_first, self.head_dim = batch_first, embed_dim // num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty((3 * embed_dim, embed_dim), **fk))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(empty((embed_dim, embed_dim), **fk))
            self.k_proj_weight = Parameter(empty((embed_dim, self.kdim), **fk))
            self.v_proj_weight = Parameter(empty((embed_dim, self.vdim), **fk))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty((3 * embed_dim,), **fk))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **fk)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, embed_dim), **fk))
            self.bias_v = Parameter(empty((1, 1, embed_dim), **fk))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _project(self, query, key, value):
        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def _check(self, query, key, value, key_padding_mask, attn_mask):
        batched = query.dim() == 3
        if query.dim() not in (2, 3):
            raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but "
                                 f"received {query.dim()}-D query tensor")
        if key.dim() != query.dim() or value.dim() != query.dim():
            raise AssertionError(f"For {'batched (3-D)' if batched else 'unbatched (2-D)'} "
                                 f"`query`, expected `key` and `value` to be "
                                 f"{query.dim()}-D but found {key.dim()}-D and "
                                 f"{value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != (2 if batched else 1):
            raise AssertionError(f"For {'batched (3-D)' if batched else 'unbatched (2-D)'} "
                                 f"`query`, expected `key_padding_mask` to be `None` or "
                                 f"{2 if batched else 1}-D but found "
                                 f"{key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
        if query.shape[-1] != self.embed_dim:
            raise AssertionError(f"was expecting embedding dimension of {self.embed_dim}, but "
                                 f"got {query.shape[-1]}")
        if key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise AssertionError(f"expected key and value features ({self.kdim}, {self.vdim}), "
                                 f"got ({key.shape[-1]}, {value.shape[-1]})")
        return batched

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """Attend from query to key/value; returns (output, weights or None)."""
        batched = self._check(query, key, value, key_padding_mask, attn_mask)
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use "
                               "a square upper-triangular -inf mask as attn_mask.")
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        L, N, E = query.shape
        S, H, hd = key.shape[0], self.num_heads, self.head_dim
        if key.shape[:2] != value.shape[:2] or key.shape[1] != N:
            raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                                 f"{tuple(value.shape)}")
        dt = query.dtype
        attn_mask = _additive(attn_mask, "attn_mask", dt)
        kpm = _additive(key_padding_mask, "key_padding_mask", dt)
        if attn_mask is not None:
            want = (L, S) if attn_mask.dim() == 2 else (N * H, L, S)
            if tuple(attn_mask.shape) != want:
                raise RuntimeError(f"The shape of the {attn_mask.dim()}D attn_mask is "
                                   f"{attn_mask.shape}, but should be {want}.")
        if kpm is not None and tuple(kpm.shape) != (N, S):
            raise AssertionError(f"expecting key_padding_mask shape of {(N, S)}, but got "
                                 f"{tuple(kpm.shape)}")
        q, k, v = self._project(query, key, value)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(1, N, E)])
            v = cat([v, self.bias_v.expand(1, N, E)])
            attn_mask, kpm = _pad_last(attn_mask), _pad_last(kpm)
        # (len, N, E) -> (N, H, len, hd)
        q, k, v = (t.reshape(t.shape[0], N, H, hd).permute(1, 2, 0, 3) for t in (q, k, v))
        if self.add_zero_attn:
            k = cat([k, k.new_zeros((N, H, 1, hd))], 2)
            v = cat([v, v.new_zeros((N, H, 1, hd))], 2)
            attn_mask, kpm = _pad_last(attn_mask), _pad_last(kpm)
        mask = None
        if attn_mask is not None:
            mask = attn_mask if attn_mask.dim() == 2 else attn_mask.reshape(N, H, L, -1)
        if kpm is not None:
            kpm = kpm.reshape(N, 1, 1, -1)
            mask = kpm if mask is None else mask + kpm
        out, weights = _attention(q, k, v, mask, self.dropout, self.training)
        out = out.permute(2, 0, 1, 3).reshape(L, N, E)
        out = self.out_proj(out)
        if batched and self.batch_first:
            out = out.transpose(0, 1)
        elif not batched:
            out = out.squeeze(1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        return out, (weights if batched else weights.squeeze(0))

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
