"""Recurrent layers: RNN (tanh/relu), LSTM and GRU, multi-layer and bidirectional; the
single-step cells (RNNCell, LSTMCell, GRUCell) live in _rnn_cell.py and are exported here.

NOTE [recurrent layers]
Parameters have PyTorch's names, shapes, gate order and initialisation, so a state_dict
saved by PyTorch loads as is: per layer k and direction ("" or "_reverse"),
weight_ih_l{k} (G*H, in), weight_hh_l{k} (G*H, H), bias_ih_l{k}, bias_hh_l{k} (G*H), and
for an LSTM with proj_size > 0 also weight_hr_l{k} (P, H); G is 1 (RNN), 4 (LSTM: i, f, g,
o) or 3 (GRU: r, z, n). Every parameter starts from U(-1/sqrt(H), 1/sqrt(H)).

A layer computes the input projection of every time step in one matmul, then loops over
time for the recurrent part; the outputs are stacked. All of it is plugtorch ops, so
autograd and every backend come for free.

NOTE [packed input]
A PackedSequence input (nn.utils.rnn) is unpacked to a padded (T, N, in) batch in sorted
order and run like any batch, except that after each step the state of a sequence that has
already ended is kept as it was (`where` with a per-step mask built on the host from
batch_sizes). So the forward direction ends with each sequence's state at its own last
step, and the reverse direction starts each sequence at its own last step from h_0, exactly
the numbers PyTorch's shrinking batch gives. The outputs are packed again, and h_0 / h_n are
permuted by sorted_indices / unsorted_indices on the device, as PyTorch.
"""
import math
import warnings

import numpy as np

from ...ops.creation import empty, zeros
from ...ops.creation import tensor
from ...ops.shape_ops import cat, stack
from ...ops.ternary import where
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, packed_to_padded, padded_to_packed, _sizes
from ._rnn_cell import (RNNCellBase, RNNCell, LSTMCell, GRUCell, _check_dropout, _gru_step,
                        _lstm_step, _relu, _rnn_step, _tanh)
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ----------------------------------------------------------------------------- layers

class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU (see NOTE [recurrent layers]); `mode` is
    'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        _check_dropout(dropout)
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", UserWarning,
                          stacklevel=3)
        for name, v in (("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name} should be of type int, got: {type(v).__name__}")
            if v <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        dirs = 2 if bidirectional else 1
        gate = _GATES[mode] * hidden_size
        out_size = proj_size or hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else out_size * dirs
            for sfx in ("", "_reverse")[:dirs]:
                shapes = [("weight_ih", (gate, in_size)), ("weight_hh", (gate, out_size))]
                if bias:
                    shapes += [("bias_ih", (gate,)), ("bias_hh", (gate,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for base, shape in shapes:
                    name = f"{base}_l{layer}{sfx}"
                    setattr(self, name, Parameter(empty(shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self):
        """A no-op: plugtorch keeps no fused weight buffer."""

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters, one list per layer and direction."""
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional
                                                                   else 1))
        w = self._flat_weights
        return [w[i:i + per] for i in range(0, len(w), per)]

    def _layer_params(self, layer, sfx):
        get = lambda base: getattr(self, f"{base}_l{layer}{sfx}", None)   # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")

    def _check_input(self, input, hx):
        name = type(self).__name__
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D tensor "
                             f"instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")
        batched = input.dim() == 3
        for h in (hx if isinstance(hx, tuple) else (hx,)):
            if h is not None and h.dim() != (3 if batched else 2):
                raise RuntimeError(
                    f"For {'batched 3-D' if batched else 'unbatched 2-D'} input, hx "
                    f"{'and cx ' if isinstance(hx, tuple) else ''}should also be "
                    f"{3 if batched else 2}-D but got {h.dim()}-D tensor")
        return batched

    def _state_shape(self, batch, size):
        return (self.num_layers * (2 if self.bidirectional else 1), batch, size)

    def _check_hidden(self, h, shape, what="hidden"):
        if tuple(h.shape) != shape:
            raise RuntimeError(f"Expected {what} size {shape}, got {list(h.shape)}")

    def _initial_state(self, hx, n, like, batched=True):
        """(h0, c0 or None), checked against (D * num_layers, n, size) and batched."""
        lstm = self.mode == "LSTM"
        hshape = self._state_shape(n, self.proj_size or self.hidden_size)
        cshape = self._state_shape(n, self.hidden_size)
        if hx is None:
            h0 = zeros(hshape, dtype=like.dtype, device=like.device)
            c0 = zeros(cshape, dtype=like.dtype, device=like.device) if lstm else None
            return h0, c0
        h0, c0 = hx if lstm else (hx, None)
        if not batched:
            h0, c0 = h0.unsqueeze(1), (c0.unsqueeze(1) if lstm else None)
        self._check_hidden(h0, hshape)
        if lstm:
            self._check_hidden(c0, cshape, "cell")
        return h0, c0

    def forward(self, input, hx=None):
        lstm = self.mode == "LSTM"
        if lstm and hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
            raise RuntimeError("LSTM: expected hx to be a tuple (h_0, c_0)")
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        batched = self._check_input(input, hx)
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        h0, c0 = self._initial_state(hx, x.shape[1], x, batched)
        out, h_n, c_n = self._run(x, h0, c0)
        if batched and self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out, h_n = out.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if lstm else None
        return (out, (h_n, c_n)) if lstm else (out, h_n)

    def _forward_packed(self, packed, hx):
        """A PackedSequence in, a PackedSequence out (see NOTE [packed input])."""
        lstm = self.mode == "LSTM"
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        if data.dim() != 2:
            raise RuntimeError(f"input must have 2 dimensions, got {data.dim()}")
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {data.shape[-1]}")
        bs = _sizes(batch_sizes)
        h0, c0 = self._initial_state(hx, int(bs[0]), data)
        if hx is not None and sorted_indices is not None:
            h0 = h0.index_select(1, sorted_indices)
            c0 = c0.index_select(1, sorted_indices) if lstm else None
        x = packed_to_padded(data, bs)
        running = np.arange(int(bs[0]))[None, :] < bs[:, None]          # (T, N) on the host
        masks = [None] * len(bs)
        if not running.all():
            m = tensor(running[:, :, None], device=data.device)
            masks = [None if running[t].all() else m[t] for t in range(len(bs))]
        out, h_n, c_n = self._run(x, h0, c0, masks)
        if unsorted_indices is not None:
            h_n = h_n.index_select(1, unsorted_indices)
            c_n = c_n.index_select(1, unsorted_indices) if lstm else None
        result = PackedSequence(padded_to_packed(out, bs), batch_sizes, sorted_indices,
                                unsorted_indices)
        result._host_unsorted = packed._host_unsorted
        return result, ((h_n, c_n) if lstm else h_n)

    def _run(self, x, h0, c0, masks=None):
        """x is (L, N, in); returns (output, h_n, c_n or None). masks[t] (N, 1) bool, when
        given and not None, marks the sequences still running at step t."""
        dirs = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d, sfx in enumerate(("", "_reverse")[:dirs]):
                k = layer * dirs + d
                state = (h0[k], c0[k]) if lstm else h0[k]
                y, state = self._direction(x, state, self._layer_params(layer, sfx), d == 1,
                                           masks)
                outs.append(y)
                hs.append(state[0] if lstm else state)
                if lstm:
                    cs.append(state[1])
            x = outs[0] if dirs == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, stack(hs), (stack(cs) if lstm else None)

    def _direction(self, x, state, params, reverse, masks=None):
        w_ih, w_hh, b_ih, b_hh, w_hr = params
        gi = F.linear(x, w_ih, b_ih)          # every time step at once: (L, N, G*H)
        if self.mode == "LSTM":
            step = lambda g, s: _lstm_step(g, s, w_hh, b_hh, w_hr)   # noqa: E731
        elif self.mode == "GRU":
            step = lambda g, s: _gru_step(g, s, w_hh, b_hh)         # noqa: E731
        else:
            fn = _rnn_step(_tanh if self.mode == "RNN_TANH" else _relu)
            step = lambda g, s: fn(g, s, w_hh, b_hh)                # noqa: E731
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outs = [None] * x.shape[0]
        for t in steps:
            new = step(gi[t], state)
            m = masks[t] if masks else None
            if m is None:
                state = new
            elif self.mode == "LSTM":          # an ended sequence keeps its state
                state = (where(m, new[0], state[0]), where(m, new[1], state[1]))
            else:
                state = where(m, new, state)
            outs[t] = state[0] if self.mode == "LSTM" else state
        if not outs:
            n, size = x.shape[1], (self.proj_size or self.hidden_size)
            return x.new_zeros((0, n, size)), state
        return stack(outs), state

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.

    Args:
        input_size: features of x. hidden_size: features of h.
        num_layers: stacked layers. Default: 1.
        nonlinearity: 'tanh' or 'relu'. Default: 'tanh'.
        bias: use b_ih and b_hh. Default: True.
        batch_first: input and output are (N, L, feature). Default: False.
        dropout: dropout on the outputs of every layer but the last (training only).
        bidirectional: also run right to left and concatenate. Default: False.

    Shape:
        input: (L, N, H_in), (N, L, H_in) with batch_first, or unbatched (L, H_in);
        or a PackedSequence (nn.utils.rnn), for which output is a PackedSequence too and
        h_n holds each sequence's state at its own length (see NOTE [packed input]);
        h_0: (D * num_layers, N, H) (zeros if not given), D = 2 if bidirectional else 1;
        output: (L, N, D * H); h_n: (D * num_layers, N, H).

    Example:
        >>> import plugtorch as torch
        >>> rnn = torch.nn.RNN(10, 20, num_layers=2)
        >>> out, h_n = rnn(torch.randn(5, 3, 10))
        >>> out.shape, h_n.shape
        (plugtorch.Size([5, 3, 20]), plugtorch.Size([2, 3, 20]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def extra_repr(self):
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o; c_t = f c_{t-1} + i g, h_t = o tanh(c_t)
    (then h_t W_hr^T when proj_size > 0).

    Args: as RNN (without nonlinearity), plus proj_size (0: no projection).

    Shape:
        input as RNN; (h_0, c_0): (D * num_layers, N, H_out) and (D * num_layers, N, H),
        H_out = proj_size or hidden_size; returns (output, (h_n, c_n)).

    Example:
        >>> import plugtorch as torch
        >>> lstm = torch.nn.LSTM(4, 6, batch_first=True, bidirectional=True)
        >>> out, (h, c) = lstm(torch.randn(2, 5, 4))
        >>> out.shape, h.shape
        (plugtorch.Size([2, 5, 12]), plugtorch.Size([2, 2, 6]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit: r, z, n gates, n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
    h_t = (1 - z) n + z h_{t-1}. Arguments and shapes as RNN (without nonlinearity).

    Example:
        >>> import plugtorch as torch
        >>> gru = torch.nn.GRU(4, 6, num_layers=2)
        >>> out, h_n = gru(torch.randn(5, 3, 4))
        >>> h_n.shape
        plugtorch.Size([2, 3, 6])
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)
