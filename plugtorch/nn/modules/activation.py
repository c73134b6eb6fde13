"""Activation layers: each a thin Module around its nn.functional form.

Shape, for every layer here unless stated: Input (*), Output (*) of the same shape.
"""
from ...ops.creation import empty
from .. import init
from .. import functional as F
from ..parameter import Parameter
from .module import Module
from ._attention import MultiheadAttention  # noqa: F401  (PyTorch's module path)

__all__ = ["ReLU", "ReLU6", "ELU", "SELU", "CELU", "PReLU", "LeakyReLU", "GELU", "SiLU",
           "Mish", "Sigmoid", "Tanh", "Softplus", "Softsign", "Tanhshrink", "LogSigmoid",
           "Hardtanh", "Hardsigmoid", "Hardswish", "Threshold", "GLU", "Softmax", "Softmin",
           "LogSoftmax"]


def _inplace_str(inplace):
    return ", inplace=True" if inplace else ""


class _Inplace(Module):
    """An activation with only an `inplace` option."""
    _fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    """max(x, 0) elementwise.

    Args:
        inplace: do the operation in place. Default: False.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.ReLU()(torch.tensor([-1., 2.]))
        tensor([0., 2.])
    """
    _fn = staticmethod(F.relu)


class SELU(_Inplace):
    """scale * elu(x, alpha) with alpha ≈ 1.6733 and scale ≈ 1.0507."""
    _fn = staticmethod(F.selu)


class SiLU(_Inplace):
    """x * sigmoid(x)."""
    _fn = staticmethod(F.silu)


class Mish(_Inplace):
    """x * tanh(softplus(x))."""
    _fn = staticmethod(F.mish)


class Hardsigmoid(_Inplace):
    """clamp(x / 6 + 1/2, 0, 1)."""
    _fn = staticmethod(F.hardsigmoid)


class Hardswish(_Inplace):
    """x * hardsigmoid(x)."""
    _fn = staticmethod(F.hardswish)


class _NoArgs(Module):
    _fn = None

    def forward(self, input):
        return type(self)._fn(input)


class Sigmoid(_NoArgs):
    """1 / (1 + exp(-x)).

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.Sigmoid()(torch.tensor([0.]))
        tensor([0.5000])
    """
    _fn = staticmethod(F.sigmoid)


class Tanh(_NoArgs):
    """Hyperbolic tangent."""
    _fn = staticmethod(F.tanh)


class Softsign(_NoArgs):
    """x / (1 + |x|)."""
    _fn = staticmethod(F.softsign)


class Tanhshrink(_NoArgs):
    """x - tanh(x)."""
    _fn = staticmethod(F.tanhshrink)


class LogSigmoid(_NoArgs):
    """log(sigmoid(x))."""
    _fn = staticmethod(F.logsigmoid)


class Hardtanh(Module):
    """clamp(x, min_val, max_val).

    Args:
        min_val, max_val: the range. Default: -1, 1.
        inplace: do the operation in place. Default: False.
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ValueError("min_val cannot be greater than max_val")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_str(self.inplace)}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise.

    Args:
        alpha: the negative saturation value. Default: 1.
        inplace: do the operation in place. Default: False.
    """
    _fn = staticmethod(F.elu)

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return type(self)._fn(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}{_inplace_str(self.inplace)}"


class CELU(ELU):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    _fn = staticmethod(F.celu)


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise.

    Args:
        negative_slope: slope for x < 0. Default: 0.01.
        inplace: do the operation in place. Default: False.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.LeakyReLU(0.1)(torch.tensor([-2., 3.]))
        tensor([-0.2000,  3.0000])
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}{_inplace_str(self.inplace)}"


class PReLU(Module):
    """x for x > 0, a * x otherwise, with a learned a (one, or one per channel).

    Args:
        num_parameters: 1, or the number of channels (dim 1 of the input). Default: 1.
        init: initial value of a. Default: 0.25.

    Attributes:
        weight: (num_parameters,).
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(empty((num_parameters,), device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class GELU(Module):
    """x * Phi(x) (Phi the standard normal CDF); approximate='tanh' uses the tanh formula.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.GELU(approximate='tanh')
        GELU(approximate='tanh')
    """

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold.

    Args:
        beta: Default: 1. threshold: Default: 20.
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Threshold(Module):
    """x where x > threshold, else value."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}{_inplace_str(self.inplace)}"


class GLU(Module):
    """a * sigmoid(b), a and b the halves of the input along dim. Output: half the size of
    dim."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class _SoftmaxNd(Module):
    _fn = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return type(self)._fn(input, self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_SoftmaxNd):
    """exp(x) / sum(exp(x)) along dim, so slices along dim sum to 1.

    Args:
        dim: the dim to normalise along.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.Softmax(dim=1)(torch.zeros(1, 4))
        tensor([[0.2500, 0.2500, 0.2500, 0.2500]])
    """
    _fn = staticmethod(F.softmax)


class Softmin(_SoftmaxNd):
    """softmax(-x) along dim."""
    _fn = staticmethod(F.softmin)


class LogSoftmax(_SoftmaxNd):
    """log(softmax(x)) along dim, computed stably."""
    _fn = staticmethod(F.log_softmax)
