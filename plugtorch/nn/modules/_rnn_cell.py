"""The single-step recurrent cells RNNCell, LSTMCell and GRUCell, and the one-step
recurrences that the multi-layer RNN, LSTM and GRU in rnn.py share with them (see NOTE
[recurrent layers] there for the parameter layout and gate order)."""
import math

from ...ops.creation import empty, zeros
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


# ----------------------------------------------------------------------------- one step

def _tanh(x):
    return x.tanh()


def _relu(x):
    return x.relu()


def _rnn_step(act):
    def step(gi, h, w_hh, b_hh):
        gh = F.linear(h, w_hh, b_hh)
        return act(gi + gh)
    return step


def _gru_step(gi, h, w_hh, b_hh):
    """r, z, n gates; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) as PyTorch."""
    gh = F.linear(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = gh.chunk(3, -1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (h - n)          # (1 - z) * n + z * h


def _lstm_step(gi, state, w_hh, b_hh, w_hr=None):
    """i, f, g, o gates; returns (h, c)."""
    h, c = state
    gates = gi + F.linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _check_dropout(dropout):
    if (not isinstance(dropout, (int, float)) or isinstance(dropout, bool)
            or not 0 <= dropout <= 1):
        raise ValueError("dropout should be a number in range [0, 1] representing the "
                         "probability of an element being zeroed")


# ----------------------------------------------------------------------------- cells

class RNNCellBase(Module):
    """The shared part of the cells: weight_ih, weight_hh, bias_ih, bias_hh."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        g = num_chunks * hidden_size
        self.weight_ih = Parameter(empty((g, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((g, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty((g,), device=device, dtype=dtype))
            self.bias_hh = Parameter(empty((g,), device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _prepare(self, input, hx):
        """(batched input, hx tuple or None, batched?) with PyTorch's checks."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D "
                             f"instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size}")
        batched = input.dim() == 2
        hs = hx if isinstance(hx, tuple) else (None if hx is None else (hx,))
        if hs is not None:
            for h in hs:
                if h.dim() != input.dim():
                    raise RuntimeError(f"{name}: Expected hidden to be "
                                       f"{'2D' if batched else '1D'}, got {h.dim()}D instead")
            hs = tuple(h if batched else h.unsqueeze(0) for h in hs)
        x = input if batched else input.unsqueeze(0)
        if hs is None:
            z = zeros((x.shape[0], self.hidden_size), dtype=x.dtype, device=x.device)
            hs = (z,)
        for h in hs:
            if tuple(h.shape) != (x.shape[0], self.hidden_size):
                raise RuntimeError(f"Expected hidden size {(x.shape[0], self.hidden_size)}, "
                                   f"got {list(h.shape)}")
        return x, hs, batched

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class RNNCell(RNNCellBase):
    """One step of RNN: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh).

    Shape:
        input (N, H_in) or (H_in); hx (N, H) or (H), zeros if not given; output like hx.

    Example:
        >>> import plugtorch as torch
        >>> cell = torch.nn.RNNCell(10, 20)
        >>> cell(torch.randn(3, 10)).shape
        plugtorch.Size([3, 20])
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx)
        act = _tanh if self.nonlinearity == "tanh" else _relu
        out = _rnn_step(act)(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh,
                             self.bias_hh)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One step of LSTM; returns (h', c').

    Example:
        >>> import plugtorch as torch
        >>> cell = torch.nn.LSTMCell(10, 20)
        >>> h, c = cell(torch.randn(3, 10))
        >>> c.shape
        plugtorch.Size([3, 20])
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        if hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
            raise RuntimeError("LSTMCell: expected hx to be a tuple (h_0, c_0)")
        x, hs, batched = self._prepare(input, hx)
        state = hs if len(hs) == 2 else (hs[0], hs[0])
        h, c = _lstm_step(F.linear(x, self.weight_ih, self.bias_ih), state, self.weight_hh,
                          self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One step of GRU.

    Example:
        >>> import plugtorch as torch
        >>> cell = torch.nn.GRUCell(10, 20)
        >>> cell(torch.randn(3, 10)).shape
        plugtorch.Size([3, 20])
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx)
        out = _gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh,
                        self.bias_hh)
        return out if batched else out.squeeze(0)
