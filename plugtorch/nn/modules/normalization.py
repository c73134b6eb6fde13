"""Normalization layers: BatchNorm1d/2d/3d, LayerNorm, GroupNorm, InstanceNorm1d/2d."""
from ... import _dtype as D
from ...ops.creation import empty, ones, tensor, zeros
from .. import init
from .. import functional as F
from ..parameter import Parameter
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
           "InstanceNorm1d", "InstanceNorm2d"]


def _affine_parameters(module, affine, bias, shape, device, dtype):
    """Register `module.weight` (and, when `bias`, `module.bias`) of `shape` if `affine`;
    the ones not learned are registered as None."""
    if affine:
        module.weight = Parameter(empty(shape, device=device, dtype=dtype))
        if bias:
            module.bias = Parameter(empty(shape, device=device, dtype=dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module):
    """The identity transform: weight 1, bias 0 (a missing bias stays None)."""
    init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _NormBase(Module):
    """Affine parameters, running statistics and the input check shared by batch and
    instance norm."""
    _dims = ()   # the accepted input dims, set by each concrete class

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, affine, bias, (num_features,), device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=D.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            _reset_affine(self)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def _momentum(self):
        """The weight of this batch in the running statistics; counts the batch."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:   # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        return factor

    def _check_input_dim(self, input):
        if input.dim() not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"expected {want} input (got {input.dim()}D input)")


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        factor = self._momentum()
        # without running statistics the batch's are used in eval mode too
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) inputs: each channel is normalized with
    the batch's mean and variance in training, with the running ones in eval mode.

    Args:
        num_features: C.
        eps: added to the variance. Default: 1e-5.
        momentum: weight of each batch in the running statistics; None for a cumulative
            average. Default: 0.1.
        affine: learn a per-channel scale (weight, init 1) and shift (bias, init 0).
        track_running_stats: keep running_mean (init 0), running_var (init 1) and
            num_batches_tracked buffers; without them eval mode uses batch statistics.
        bias (keyword): with affine, also learn the shift. Default: True.

    Shape:
        - Input: (N, C) or (N, C, L); Output: the same.

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.BatchNorm1d(4)
        >>> m(torch.randn(8, 4)).shape
        plugtorch.Size([8, 4])
    """
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) inputs, per channel; see BatchNorm1d.

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.BatchNorm2d(3)
        >>> m(torch.randn(2, 3, 4, 4)).shape
        plugtorch.Size([2, 3, 4, 4])
    """
    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization over (N, C, D, H, W) inputs, per channel; see BatchNorm1d.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.BatchNorm3d(3)(torch.randn(2, 3, 2, 2, 2)).shape
        plugtorch.Size([2, 3, 2, 2, 2])
    """
    _dims = (5,)


class _InstanceNorm(_NormBase):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def forward(self, input):
        self._check_input_dim(input)
        unbatched = input.dim() == self._dims[0]
        x = input.unsqueeze(0) if unbatched else input
        # instance norm keeps num_batches_tracked at 0 and has no cumulative average
        factor = self.momentum if self.momentum is not None else 0.0
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats, factor, self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization over (N, C, L) or (C, L): each channel of each sample is
    normalized over its length. affine and track_running_stats default to False.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.InstanceNorm1d(3)(torch.randn(2, 3, 5)).shape
        plugtorch.Size([2, 3, 5])
    """
    _dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization over (N, C, H, W) or (C, H, W); see InstanceNorm1d.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.InstanceNorm2d(3)(torch.randn(2, 3, 4, 4)).shape
        plugtorch.Size([2, 3, 4, 4])
    """
    _dims = (3, 4)


class LayerNorm(Module):
    """Layer normalization over the trailing `normalized_shape` dims of each sample.

    Args:
        normalized_shape: int or tuple: the trailing shape normalized over.
        eps: added to the variance. Default: 1e-5.
        elementwise_affine: learn a weight (init 1) of normalized_shape. Default: True.
        bias: also learn a bias (init 0), when elementwise_affine. Default: True.

    Shape:
        - Input: (*, normalized_shape...); Output: the same.

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.LayerNorm(10)
        >>> m
        LayerNorm((10,), eps=1e-05, elementwise_affine=True, bias=True)
        >>> m(torch.randn(20, 5, 10)).shape
        plugtorch.Size([20, 5, 10])
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, elementwise_affine, bias, self.normalized_shape, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            _reset_affine(self)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalization: the channels of each sample are split into groups, and each
    group is normalized over its channels and spatial positions.

    Args:
        num_groups: number of groups; must divide num_channels.
        num_channels: C.
        eps: added to the variance. Default: 1e-5.
        affine: learn a per-channel weight (init 1) and bias (init 0). Default: True.
        bias (keyword): with affine, also learn the bias. Default: True.

    Shape:
        - Input: (N, C, *); Output: the same.

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.GroupNorm(3, 6)
        >>> m(torch.randn(20, 6, 10, 10)).shape
        plugtorch.Size([20, 6, 10, 10])
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        _affine_parameters(self, affine, bias, (num_channels,), device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        if self.affine:
            _reset_affine(self)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
