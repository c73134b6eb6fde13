"""Dropout layers: active in training mode, the identity in eval mode."""
from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class _DropoutNd(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """During training, zero each element with probability p and scale the rest by
    1 / (1 - p); in eval mode, return the input.

    Args:
        p: probability of an element to be zeroed. Default: 0.5.
        inplace: do it in place. Default: False.

    Shape:
        - Input: (*), Output: (*) (same shape)

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.Dropout(p=0.2)
        >>> m(torch.randn(20, 16)).shape
        plugtorch.Size([20, 16])
        >>> x = torch.ones(3)
        >>> m.eval()(x) is x
        True
    """

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) inputs with probability p (training).

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.Dropout1d(0.2)(torch.randn(20, 16, 32)).shape
        plugtorch.Size([20, 16, 32])
    """

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) inputs with probability p (training), scaling
    the rest by 1 / (1 - p).

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.Dropout2d(0.2)(torch.randn(2, 16, 4, 4)).shape
        plugtorch.Size([2, 16, 4, 4])
    """

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs with probability p.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.Dropout3d(0.2)(torch.randn(2, 4, 2, 2, 2)).shape
        plugtorch.Size([2, 4, 2, 2, 2])
    """

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, self.inplace)
