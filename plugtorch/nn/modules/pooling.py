"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d."""
from .. import functional as F
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d"]


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """2-d max pooling over (N, C, H, W) inputs.

    Args:
        kernel_size: the window, int or (kH, kW).
        stride: the window's step; default kernel_size.
        padding: implicit -inf padding on both sides. Default: 0.
        dilation: spacing between window elements. Default: 1.
        return_indices: also return the argmax positions (flat per plane, h * W + w).
        ceil_mode: round the output size up instead of down.

    Shape:
        - Input: (N, C, H, W) or (C, H, W)
        - Output: (N, C, H_out, W_out), H_out = floor((H + 2 p - d (k - 1) - 1) / s) + 1

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.MaxPool2d(3, stride=2)(torch.randn(2, 4, 9, 9)).shape
        plugtorch.Size([2, 4, 4, 4])
    """

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool1d(_MaxPoolNd):
    """1-d max pooling over (N, C, L) inputs; arguments as MaxPool2d with single ints.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.MaxPool1d(2)(torch.randn(2, 4, 9)).shape
        plugtorch.Size([2, 4, 4])
    """

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool2d(Module):
    """2-d average pooling over (N, C, H, W) inputs.

    Args:
        kernel_size, stride, padding, ceil_mode: as MaxPool2d (zero padding).
        count_include_pad: count the padded zeros in the divisor. Default: True.
        divisor_override: divide by this number instead of the window size.

    Shape:
        - Input: (N, C, H, W) or (C, H, W)
        - Output: (N, C, H_out, W_out), H_out = floor((H + 2 p - k) / s) + 1

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.AvgPool2d(2)(torch.randn(2, 4, 8, 8)).shape
        plugtorch.Size([2, 4, 4, 4])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


def _single(v):
    return (v,) if isinstance(v, int) else tuple(v)


class AvgPool1d(Module):
    """1-d average pooling over (N, C, L) inputs; see AvgPool2d.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.AvgPool1d(3, stride=2)(torch.randn(2, 4, 9)).shape
        plugtorch.Size([2, 4, 4])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class _AdaptivePoolNd(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """2-d average pooling to a fixed output size, whatever the input size.

    Args:
        output_size: int or (oH, oW); None keeps that input dim.

    Shape:
        - Input: (N, C, H, W) or (C, H, W)
        - Output: (N, C, oH, oW)

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.AdaptiveAvgPool2d((5, 7))(torch.randn(1, 64, 8, 9)).shape
        plugtorch.Size([1, 64, 5, 7])
    """

    def __init__(self, output_size):
        super().__init__(output_size)

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """1-d average pooling to a fixed output length.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.AdaptiveAvgPool1d(5)(torch.randn(1, 64, 8)).shape
        plugtorch.Size([1, 64, 5])
    """

    def __init__(self, output_size):
        super().__init__(output_size)

    def forward(self, input):
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveMaxPool2d(_AdaptivePoolNd):
    """2-d max pooling to a fixed output size (with return_indices as MaxPool2d).

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.AdaptiveMaxPool2d(3)(torch.randn(1, 2, 8, 9)).shape
        plugtorch.Size([1, 2, 3, 3])
    """

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptivePoolNd):
    """1-d max pooling to a fixed output length.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.AdaptiveMaxPool1d(3)(torch.randn(1, 2, 8)).shape
        plugtorch.Size([1, 2, 3])
    """

    def forward(self, input):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)
