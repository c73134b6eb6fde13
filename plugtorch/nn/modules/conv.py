"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d."""
import math

from ...ops.creation import empty
from .. import init
from .. import functional as F
from ..functional._upsampling import _index_pad
from ..parameter import Parameter
from .module import Module

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(v, n):
    if isinstance(v, int):
        return (v,) * n
    v = tuple(v)
    return v * n if len(v) == 1 else v


class _ConvNd(Module):
    """What every convolution shares: arguments, parameters, initialisation and repr."""
    _nd = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", output_padding=0,
                 device=None, dtype=None):
        super().__init__()
        nd = self._nd
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        self.kernel_size = _tuple(kernel_size, nd)
        self.stride = _tuple(stride, nd)
        self.dilation = _tuple(dilation, nd)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"['valid', 'same']")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _tuple(padding, nd)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.output_padding = _tuple(output_padding, nd)
        self.groups = groups
        self.padding_mode = padding_mode
        # (before, after) per spatial dim, for padding modes other than zeros
        if self.padding == "same":
            tot = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            self._pads = tuple((t // 2, t - t // 2) for t in tot)
        elif self.padding == "valid":
            self._pads = ((0, 0),) * nd
        else:
            self._pads = tuple((p, p) for p in self.padding)
        shape = ((in_channels, out_channels // groups) if self.transposed else
                 (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty((out_channels,), device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both, as PyTorch
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if isinstance(self.padding, str) or self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _conv_forward(self, input, weight, bias):
        fn = F.conv1d if self._nd == 1 else F.conv2d
        if self.padding_mode != "zeros":
            x = _index_pad(input, self._pads, self.padding_mode)
            return fn(x, weight, bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv2d(_ConvNd):
    """Applies a 2-d convolution over an input of several planes.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size: int or (kH, kW).
        stride: int or (sH, sW). Default: 1.
        padding: int, (pH, pW), 'valid' or 'same'. Default: 0.
        dilation: spacing between kernel elements. Default: 1.
        groups: blocked connections from input to output channels. Default: 1.
        bias: learn an additive bias. Default: True.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Default: 'zeros'.
        device, dtype: where and how the parameters are created.

    Shape:
        - Input: (N, C_in, H, W) or (C_in, H, W)
        - Output: (N, C_out, H_out, W_out), H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1

    Attributes:
        weight: (out_channels, in_channels / groups, kH, kW) from U(-k, k),
            k = 1 / sqrt(in_channels / groups * kH * kW) (kaiming_uniform_ with a=sqrt(5)).
        bias: (out_channels,) from U(-k, k).

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        >>> m(torch.randn(2, 3, 9, 9)).shape
        plugtorch.Size([2, 8, 5, 5])
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device=device, dtype=dtype)


class Conv1d(_ConvNd):
    """Applies a 1-d convolution over (N, C_in, L) inputs; arguments as Conv2d with single
    ints.

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.Conv1d(4, 6, 3, padding="same")
        >>> m(torch.randn(2, 4, 10)).shape
        plugtorch.Size([2, 6, 10])
    """
    _nd = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device=device, dtype=dtype)


class _ConvTransposeNd(_ConvNd):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"Only \"zeros\" padding mode is supported for "
                             f"{type(self).__name__}")
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__} does not support string padding")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device=device,
                         dtype=dtype)

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output `output_size` (checked to be reachable)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        output_size = list(output_size)[-nd:]
        if len(output_size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.dim()}D input, output_size must "
                             f"have {nd} or {nd + 2} elements (got {len(output_size)})")
        out = []
        for i in range(nd):
            n = input.shape[input.dim() - nd + i]
            lo = ((n - 1) * self.stride[i] - 2 * self.padding[i] +
                  self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            hi = lo + self.stride[i] - 1
            if not lo <= output_size[i] <= hi:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 f"range from {lo} to {hi} (for an input of "
                                 f"{list(input.shape[2:])})")
            out.append(output_size[i] - lo)
        return tuple(out)

    def forward(self, input, output_size=None):
        fn = F.conv_transpose1d if self._nd == 1 else F.conv_transpose2d
        return fn(input, self.weight, self.bias, self.stride, self.padding,
                  self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """Applies a transposed 2-d convolution (the gradient of Conv2d with respect to its
    input), e.g. to upsample feature maps.

    Args:
        in_channels, out_channels, kernel_size, stride, dilation, groups, bias: as Conv2d.
        padding: zeros cropped from each side of the output. Default: 0.
        output_padding: extra size added to one side of the output. Default: 0.

    Shape:
        - Input: (N, C_in, H, W) or (C_in, H, W)
        - Output: (N, C_out, H_out, W_out),
          H_out = (H - 1) sH - 2 pH + dH (kH - 1) + output_padding + 1

    Attributes:
        weight: (in_channels, out_channels / groups, kH, kW) from U(-k, k),
            k = 1 / sqrt(out_channels / groups * kH * kW).
        bias: (out_channels,) from U(-k, k).

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.ConvTranspose2d(8, 3, 3, stride=2, padding=1, output_padding=1)
        >>> m(torch.randn(2, 8, 5, 5)).shape
        plugtorch.Size([2, 3, 10, 10])
    """


class ConvTranspose1d(_ConvTransposeNd):
    """Applies a transposed 1-d convolution over (N, C_in, L); see ConvTranspose2d.

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.ConvTranspose1d(4, 2, 3, stride=2)
        >>> m(torch.randn(1, 4, 5)).shape
        plugtorch.Size([1, 2, 11])
    """
    _nd = 1
