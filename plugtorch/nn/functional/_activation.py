"""Activation functions, written with plugtorch ops so every backend gets them (and their
first and second derivatives) for free.

NOTE [in-place activations]
`inplace=True` computes the result out of place and copies it into the input with copy_,
whose autograd (NOTE [in-place autograd]) makes the input's history lead to the result.
When the input takes part in autograd, the result is computed from a clone, so the
derivative still reads the input's old values (which copy_ overwrites).
Branches that could overflow (exp of a large x) get a clamped argument: `where` sends a zero
gradient to the unused branch, and 0 * inf would otherwise be nan.
"""
import math
import warnings

from ...autograd.grad_mode import STATE
from ...ops import _core as C
from ...ops.ternary import where

__all__ = ["relu", "relu_", "relu6", "elu", "elu_", "selu", "celu", "leaky_relu",
           "leaky_relu_", "prelu", "gelu", "silu", "mish", "sigmoid", "tanh", "softplus",
           "softsign", "tanhshrink", "logsigmoid", "hardtanh", "hardtanh_", "hardsigmoid",
           "hardswish", "threshold", "glu", "softmax", "softmin", "log_softmax"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _apply(name, input, fn, inplace):
    """fn(input), written into input when inplace (see NOTE [in-place activations])."""
    if not inplace:
        return fn(input)
    C.check_inplace(name + "_", input)
    tracked = STATE.enabled and (input.requires_grad or
                                 (input._base is not None and input._base.requires_grad))
    return input.copy_(fn(input.clone() if tracked else input))


def relu(input, inplace=False):
    """max(x, 0) elementwise.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.functional.relu(torch.tensor([-1., 2.]))
        tensor([0., 2.])
    """
    if inplace:
        return input.relu_()
    return input.relu()


def relu_(input):
    return input.relu_()


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val).

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.functional.hardtanh(torch.tensor([-3., 0.5, 3.]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")

    def f(x):
        # the gradient passes strictly inside (min_val, max_val), as PyTorch's hardtanh;
        # clamp's own gradient would include the bounds
        return where((x > min_val) & (x < max_val), x, x.detach().clamp(min_val, max_val))
    return _apply("hardtanh", input, f, inplace)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _apply("elu", input,
                  lambda x: where(x > 0, x, x.clamp(max=0).expm1() * alpha), inplace)


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants (alpha ≈ 1.6733,
    scale ≈ 1.0507)."""
    return _apply("selu", input, lambda x: where(
        x > 0, x * _SELU_SCALE, x.clamp(max=0).expm1() * (_SELU_ALPHA * _SELU_SCALE)),
        inplace)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha must not be 0 for celu")
    return _apply("celu", input, lambda x: where(
        x > 0, x, (x.clamp(max=0) / alpha).expm1() * alpha), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope * x otherwise."""
    return _apply("leaky_relu", input, lambda x: where(x > 0, x, x * negative_slope), inplace)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def prelu(input, weight):
    """leaky_relu with a learned slope per channel (dim 1; dim 0 of a 1-D input).

    Args:
        input: tensor of shape (N, C, *), (C,) or ().
        weight: 1-D tensor of C slopes, or of 1 slope shared by every channel.
    """
    n = weight.numel()
    if weight.dim() > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.dim()}")
    if n != 1:
        if input.dim() == 0:
            raise RuntimeError("prelu: Not allow zero-dim input tensor.")
        channels = input.shape[1] if input.dim() >= 2 else input.shape[0]
        if n != channels:
            raise RuntimeError(f"prelu: Mismatch of parameter numbers and input channel size. "
                               f"Found parameter numbers = {n} and channel size = {channels}.")
        if input.dim() >= 2:
            weight = weight.reshape((n,) + (1,) * (input.dim() - 2))
    else:
        weight = weight.reshape(())
    return where(input > 0, input, input * weight)


def gelu(input, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt 2)); with
    approximate='tanh', 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.functional.gelu(torch.tensor([0., 1.]))
        tensor([0.0000, 0.8413])
    """
    if approximate == "none":
        return input * 0.5 * (1.0 + (input * (1.0 / math.sqrt(2.0))).erf())
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (1.0 + inner.tanh())
    raise RuntimeError(f"approximate argument must be either none or tanh, got "
                       f"{approximate!r}")


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    return _apply("silu", input, lambda x: x * x.sigmoid(), inplace)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _apply("mish", input, lambda x: x * softplus(x).tanh(), inplace)


def sigmoid(input):
    """1 / (1 + exp(-x))."""
    return input.sigmoid()


def tanh(input):
    """Hyperbolic tangent."""
    return input.tanh()


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta; x itself where beta x > threshold (for stability).

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.functional.softplus(torch.tensor([0., 30.]))
        tensor([ 0.6931, 30.0000])
    """
    bx = input * beta
    # max(z, 0) + log1p(exp(-|z|)): exp never overflows (float16 would at z > 11); each
    # branch of `where` is smooth, so the derivative at z = 0 is right too
    pos = bx >= 0
    soft = where(pos, bx, 0.0) + where(pos, -bx, bx).exp().log1p()
    if beta != 1:
        soft = soft / beta
    return where(bx > threshold, input, soft)


def softsign(input):
    """x / (1 + |x|)."""
    return input / (input.abs() + 1)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - input.tanh()


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), computed stably."""
    return -softplus(-input)


def hardsigmoid(input, inplace=False):
    """clamp(x / 6 + 1/2, 0, 1)."""
    return _apply("hardsigmoid", input, lambda x: (x / 6.0 + 0.5).clamp(0.0, 1.0), inplace)


def hardswish(input, inplace=False):
    """x * hardsigmoid(x)."""
    return _apply("hardswish", input, lambda x: x * (x / 6.0 + 0.5).clamp(0.0, 1.0), inplace)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    return _apply("threshold", input, lambda x: where(x > threshold, x, value), inplace)


def glu(input, dim=-1):
    """Gated linear unit: a * sigmoid(b), where a, b are the two halves of input along dim."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size {n}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def _softmax_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along dim (computed stably).

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.functional.softmax(torch.tensor([[0., 0.]]), dim=1)
        tensor([[0.5000, 0.5000]])
    """
    if dim is None:
        dim = _softmax_dim("softmax", input.dim())
    return input.softmax(dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along dim."""
    if dim is None:
        dim = _softmax_dim("softmin", input.dim())
    return (-input).softmax(dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along dim, computed stably."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim())
    return input.log_softmax(dim, dtype=dtype)
