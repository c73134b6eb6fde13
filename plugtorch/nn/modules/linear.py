"""Identity, Linear and Bilinear layers."""
import math

from ...ops.creation import empty
from .. import init
from .. import functional as F
from ..parameter import Parameter
from .module import Module

__all__ = ["Identity", "Linear", "Bilinear"]


class Identity(Module):
    """Returns its input unchanged; takes (and ignores) any constructor arguments.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.Identity(54, unused="x")(torch.ones(2)).shape
        plugtorch.Size([2])
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """Applies an affine map y = x A^T + b.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias. Default: True.
        device, dtype: where and how the parameters are created.

    Shape:
        - Input: (*, in_features)
        - Output: (*, out_features)

    Attributes:
        weight: (out_features, in_features), initialised from U(-k, k), k = 1/sqrt(in_features)
            (kaiming_uniform_ with a=sqrt(5)).
        bias: (out_features,), initialised from U(-k, k).

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.Linear(20, 30)
        >>> m(torch.randn(128, 20)).shape
        plugtorch.Size([128, 30])
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty((out_features,), device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear layer; the type PyTorch's MultiheadAttention uses for its out_proj."""


class Bilinear(Module):
    """Applies y = x1^T A x2 + b.

    Args:
        in1_features, in2_features: sizes of the two inputs' last dims.
        out_features: size of each output sample.
        bias: learn an additive bias. Default: True.

    Shape:
        - Input1: (*, in1_features), Input2: (*, in2_features)
        - Output: (*, out_features)

    Attributes:
        weight: (out_features, in1_features, in2_features) from U(-k, k),
            k = 1/sqrt(in1_features); bias: (out_features,) from U(-k, k).

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.Bilinear(20, 30, 40)
        >>> m(torch.randn(128, 20), torch.randn(128, 30)).shape
        plugtorch.Size([128, 40])
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in1_features, in2_features),
                                      device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty((out_features,), device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
