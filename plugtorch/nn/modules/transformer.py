"""The transformer: TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer,
TransformerDecoder and Transformer, built on MultiheadAttention (in _attention.py, exported
here; see NOTE [attention masks] there for the mask conventions).

Submodules and parameters have PyTorch's names and order (self_attn, multihead_attn,
linear1, linear2, norm1..norm3, encoder.layers.0..., decoder.norm), so a PyTorch
state_dict loads unchanged. `is_causal` / `tgt_is_causal` are hints, as in PyTorch: the mask
passed alongside is what is applied, so a hint never changes the result.
"""
import copy

from ... import _dtype as D
from ...ops.creation import full
from ...ops.shape_ops import triu
from .. import functional as F
from .. import init
from ._attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
           "TransformerDecoderLayer", "TransformerDecoder", "Transformer"]


# ----------------------------------------------------------------------------- encoder

def _activation(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual connection and a
    LayerNorm (after the residual by default, before each block with norm_first=True).

    Args:
        d_model: model width. nhead: attention heads.
        dim_feedforward: hidden width of the feed-forward block. Default: 2048.
        dropout: dropout in both blocks and on the attention weights. Default: 0.1.
        activation: 'relu', 'gelu' or a callable. Default: 'relu'.
        layer_norm_eps: LayerNorm epsilon. Default: 1e-5.
        batch_first: inputs are (N, L, E). norm_first: pre-norm instead of post-norm.
        bias: biases in the linear layers and LayerNorms. Default: True.

    Shape:
        src: (L, N, E), (N, L, E) with batch_first, or (L, E); output like src.

    Example:
        >>> import plugtorch as torch
        >>> layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
        >>> layer(torch.randn(3, 5, 8)).shape
        plugtorch.Size([3, 5, 8])
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **fk)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **fk)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **fk)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """A stack of num_layers copies of encoder_layer, then an optional norm.

    Args:
        encoder_layer: a TransformerEncoderLayer (deep-copied num_layers times).
        num_layers: number of layers. norm: optional final layer (e.g. LayerNorm).
        enable_nested_tensor, mask_check: accepted for compatibility; no effect.

    Example:
        >>> import plugtorch as torch
        >>> layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
        >>> enc = torch.nn.TransformerEncoder(layer, num_layers=2)
        >>> enc(torch.randn(5, 3, 8)).shape
        plugtorch.Size([5, 3, 8])
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


# ----------------------------------------------------------------------------- decoder

class TransformerDecoderLayer(Module):
    """Self-attention over the target, attention from the target to the encoder's output
    (memory), then a feed-forward block; each with a residual connection and a LayerNorm
    (after the residual by default, before each block with norm_first=True).

    Args:
        d_model: model width. nhead: attention heads.
        dim_feedforward: hidden width of the feed-forward block. Default: 2048.
        dropout: dropout in every block and on the attention weights. Default: 0.1.
        activation: 'relu', 'gelu' or a callable. Default: 'relu'.
        layer_norm_eps: LayerNorm epsilon. Default: 1e-5.
        batch_first: inputs are (N, L, E). norm_first: pre-norm instead of post-norm.
        bias: biases in the linear layers and LayerNorms. Default: True.

    Shape:
        tgt: (T, N, E), (N, T, E) with batch_first, or (T, E); memory: (S, N, E) likewise;
        tgt_mask (T, T) or (N * nhead, T, T); memory_mask (T, S) or (N * nhead, T, S);
        tgt_key_padding_mask (N, T); memory_key_padding_mask (N, S); output like tgt.

    Example:
        >>> import plugtorch as torch
        >>> layer = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True)
        >>> mask = torch.nn.Transformer.generate_square_subsequent_mask(5)
        >>> layer(torch.randn(3, 5, 8), torch.randn(3, 7, 8), tgt_mask=mask).shape
        plugtorch.Size([3, 5, 8])
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **fk)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **fk)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **fk)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **fk)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                           memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        _check_causal_hint(is_causal, attn_mask)
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=bool(is_causal))[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        _check_causal_hint(is_causal, attn_mask)
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=bool(is_causal))[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _check_causal_hint(is_causal, mask):
    if is_causal and mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")


class TransformerDecoder(Module):
    """A stack of num_layers copies of decoder_layer, then an optional norm.

    Args:
        decoder_layer: a TransformerDecoderLayer (deep-copied num_layers times).
        num_layers: number of layers. norm: optional final layer (e.g. LayerNorm).

    Example:
        >>> import plugtorch as torch
        >>> layer = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
        >>> dec = torch.nn.TransformerDecoder(layer, num_layers=2)
        >>> dec(torch.randn(5, 3, 8), torch.randn(4, 3, 8)).shape
        plugtorch.Size([5, 3, 8])
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


# ----------------------------------------------------------------------------- transformer

class Transformer(Module):
    """Encoder-decoder transformer ("Attention Is All You Need"): the encoder reads src, the
    decoder reads tgt and attends to the encoder's output.

    Args:
        d_model: model width. Default: 512. nhead: attention heads. Default: 8.
        num_encoder_layers, num_decoder_layers: stack depths. Default: 6 each.
        dim_feedforward: feed-forward width. Default: 2048. dropout: Default: 0.1.
        activation: 'relu', 'gelu' or a callable. Default: 'relu'.
        custom_encoder, custom_decoder: modules used instead of the default stacks.
        layer_norm_eps: Default: 1e-5. batch_first: inputs are (N, L, E). Default: False.
        norm_first: pre-norm layers. Default: False. bias: Default: True.

    Every weight matrix starts from xavier_uniform_, as PyTorch.

    Shape:
        src (S, N, E), tgt (T, N, E) (batch first: (N, S, E), (N, T, E); or unbatched);
        src_mask (S, S), tgt_mask (T, T), memory_mask (T, S); *_key_padding_mask (N, S or T);
        output (T, N, E).

    Example:
        >>> import plugtorch as torch
        >>> model = torch.nn.Transformer(8, 2, 1, 1, dim_feedforward=16, batch_first=True)
        >>> tgt_mask = model.generate_square_subsequent_mask(4)
        >>> model(torch.randn(2, 6, 8), torch.randn(2, 4, 8), tgt_mask=tgt_mask).shape
        plugtorch.Size([2, 4, 8])
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                      batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*layer_args, **fk), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*layer_args, **fk), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **fk))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def _reset_parameters(self):
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        if src.dim() == 3 and src.shape[0 if self.batch_first else 1] != \
                tgt.shape[0 if self.batch_first else 1]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The (sz, sz) float causal mask: 0 on and below the diagonal, -inf above, so
        position i attends to positions 0..i only.

        Example:
            >>> import plugtorch as torch
            >>> torch.nn.Transformer.generate_square_subsequent_mask(3)
            tensor([[0., -inf, -inf],
                    [0., 0., -inf],
                    [0., 0., 0.]])
        """
        return triu(full((sz, sz), float("-inf"), dtype=dtype or D.get_default_dtype(),
                         device=device), diagonal=1)
