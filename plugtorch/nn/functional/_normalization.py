"""Normalization: batch_norm (with running statistics), layer_norm, group_norm,
instance_norm and normalize (Lp), written with reductions and elementwise ops so autograd
and every backend come for free.

NOTE [batch norm statistics]
In training, batch_norm normalizes with the batch's mean and *biased* variance (divide by
n), and updates the running statistics in place, outside autograd, with the *unbiased*
variance (divide by n - 1): running = (1 - momentum) * running + momentum * batch, as
PyTorch. In evaluation it uses the running statistics, folded into one scale and shift per
channel. `momentum=None` (a cumulative average) is the module's business: it passes
1 / num_batches_tracked as the momentum.
"""
from ... import _dtype as D
from ..._tensor import Tensor, numel_of
from ...autograd.grad_mode import STATE, no_grad
from ...ops import _core as C
from ...ops.composite import var_mean

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "normalize"]


def _check_input(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating point input, got {x._dtype.name}")


def _check_param(op, name, t, n):
    if t is not None and t.numel() != n:
        raise RuntimeError(f"{op}: expected {name} to have {n} elements, but got {name} of "
                           f"size {list(t._shape)}")


def _affine(y, weight, bias, shape):
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize each channel (dim 1) over the batch and spatial dims; see
    NOTE [batch norm statistics].

    Args:
        input: (N, C) or (N, C, *), floating point.
        running_mean, running_var: (C,) running statistics, or None; updated in place
            when training.
        weight, bias: optional (C,) affine parameters (gamma, beta).
        training: use (and track) the batch's statistics instead of the running ones.
        momentum: weight of the batch in the running statistics' update.
        eps: added to the variance for stability.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.tensor([[1., 2.], [3., 6.]])
        >>> plugtorch.nn.functional.batch_norm(x, None, None, training=True)
        tensor([[-1.0000, -1.0000],
                [ 1.0000,  1.0000]])
    """
    op = "batch_norm"
    _check_input(op, input)
    x = input
    if len(x._shape) < 2:
        raise ValueError(f"{op}: expected 2D or more input (got {len(x._shape)}D input)")
    Ch = x._shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_param(op, name, t, Ch)
    shape = (1, Ch) + (1,) * (len(x._shape) - 2)
    dims = (0,) + tuple(range(2, len(x._shape)))
    if training:
        n = numel_of(x._shape) // Ch if Ch else 0
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size plugtorch.Size({list(x._shape)})")
        if x._dtype is not D.float16 and x.__class__ is Tensor and all(
                t is None or t._dtype is x._dtype for t in (weight, bias)):
            y, var, mean = _batch_norm_fused(x, weight, bias, dims, shape, n, eps)
        else:
            var, mean = var_mean(x, dims, keepdim=True, correction=0)
            y = _affine((x - mean) * (var + eps).rsqrt(), weight, bias, shape)
        if running_mean is not None or running_var is not None:
            with no_grad():
                m = float(momentum)
                if running_mean is not None:
                    running_mean.mul_(1.0 - m).add_(mean.detach().reshape(Ch) * m)
                if running_var is not None:
                    unbiased = var.detach().reshape(Ch) * (n / (n - 1))
                    running_var.mul_(1.0 - m).add_(unbiased * m)
        return y
    if running_mean is None or running_var is None:
        raise RuntimeError(f"{op}: running_mean and running_var must be defined in evaluation "
                           f"mode (training=False)")
    # eval: fold the statistics and the affine parameters into one scale and one shift
    scale = (running_var + eps).rsqrt()
    if weight is not None:
        scale = scale * weight
    shift = -running_mean * scale
    if bias is not None:
        shift = shift + bias
    return x * scale.reshape(shape) + shift.reshape(shape)


def _batch_norm_fused(x, weight, bias, dims, shape, n, eps):
    """NOTE [fused batch norm]
    Training batch_norm as one op and one node (PyTorch's NativeBatchNormBackward0): the
    statistics and the output in six passes over x (sum; x - mean, kept; its square and
    sum; one scale and one shift per channel), instead of the composite's eight and its
    chain of nodes. Returns (y, biased variance, mean), the statistics (1, C, 1...) without
    history. The derivative is the closed form with xhat = (x - mean) * invstd:
        d bias = sum g,  d weight = sum g * xhat,
        d x = (g - d bias / n - xhat * d weight / n) * weight * invstd,
    on kernels without create_graph, else from differentiable ops on the saved x and
    weight (the statistics recomputed), so gradients of every order hold."""
    with no_grad():
        mean = x.sum(dims, keepdim=True).div_(n)
        xc = x - mean
        var = (xc * xc).sum(dims, keepdim=True).div_(n)
        invstd = (var + eps).rsqrt_()
        scale = invstd if weight is None else invstd * weight.detach().reshape(shape)
        y = xc.mul_(scale)
        if bias is not None:
            y.add_(bias.detach().reshape(shape))
    if STATE.enabled and (x._rg or (weight is not None and weight._rg) or
                          (bias is not None and bias._rg)):
        inputs = (x,) + tuple(t for t in (weight, bias) if t is not None)
        C.record(lambda nd, g: _batch_norm_bw(nd, g, dims, shape, n, eps, mean, invstd,
                                              weight is not None, bias is not None),
                 "NativeBatchNormBackward0", inputs, y,
                 saved=(x, weight) if weight is not None else (x,))
    return y, var, mean


def _batch_norm_bw(nd, g, dims, shape, n, eps, mean, invstd, has_w, has_b):
    saved = nd.inputs
    x, w = saved[0], saved[1] if has_w else None
    if STATE.enabled:
        # create_graph: the statistics recomputed with history
        mean = x.mean(dims, keepdim=True)
        xc = x - mean
        invstd = ((xc * xc).mean(dims, keepdim=True) + eps).rsqrt()
        xhat = xc * invstd
        gb = g.sum(dims, keepdim=True)
        gw = (g * xhat).sum(dims, keepdim=True)
        gx = (g - gb / n - xhat * (gw / n)) * (invstd if w is None else invstd * w.reshape(shape))
    else:
        xhat = (x - mean).mul_(invstd)
        gb = g.sum(dims, keepdim=True)
        gw = (g * xhat).sum(dims, keepdim=True)
        gx = xhat.mul_(gw.div(n))
        gx = (g - gx).sub_(gb.div(n))
        gx.mul_(invstd if w is None else invstd * w.detach().reshape(shape))
    out = [gx if nd.edges[0] is not None else None]
    if has_w:
        out.append(gw.reshape(shape[1:2]) if nd.edges[1] is not None else None)
    if has_b:
        out.append(gb.reshape(shape[1:2]) if nd.edges[-1] is not None else None)
    return tuple(out)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last len(normalized_shape) dims (biased variance), then apply an
    elementwise affine transform.

    Args:
        input: (*, normalized_shape...), floating point.
        normalized_shape: int or tuple: the trailing shape to normalize over.
        weight, bias: optional tensors of normalized_shape.
        eps: added to the variance.

    Example:
        >>> import plugtorch
        >>> plugtorch.nn.functional.layer_norm(plugtorch.tensor([[1., 3.]]), (2,))
        tensor([[-1.0000,  1.0000]])
    """
    op = "layer_norm"
    _check_input(op, input)
    x = input
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or len(x._shape) < k or tuple(x._shape[-k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size"
                           f"{list(x._shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t._shape) != ns:
            raise RuntimeError(f"{op}: expected {name} of shape {list(ns)}, but got "
                               f"{list(t._shape)}")
    dims = tuple(range(len(x._shape) - k, len(x._shape)))
    var, mean = var_mean(x, dims, keepdim=True, correction=0)
    return _affine((x - mean) * (var + eps).rsqrt(), weight, bias, ns)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize each group of channels of each sample (over the group's channels and all
    spatial positions), then scale and shift per channel.

    Args:
        input: (N, C, *), floating point; C divisible by num_groups.
        num_groups: number of channel groups.
        weight, bias: optional (C,) per-channel affine parameters.
        eps: added to the variance.

    Example:
        >>> import plugtorch
        >>> x = plugtorch.tensor([[1., 3., 0., 4.]])
        >>> plugtorch.nn.functional.group_norm(x, 2)
        tensor([[-1.0000,  1.0000, -1.0000,  1.0000]])
    """
    op = "group_norm"
    _check_input(op, input)
    x = input
    if len(x._shape) < 2:
        raise RuntimeError(f"{op}: Expected at least 2 dimensions for input tensor but "
                           f"received {len(x._shape)}")
    N, Ch = x._shape[:2]
    if not isinstance(num_groups, int) or num_groups <= 0 or Ch % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(x._shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        _check_param(op, name, t, Ch)
    g = x.reshape(N, num_groups, -1)
    var, mean = var_mean(g, 2, keepdim=True, correction=0)
    y = ((g - mean) * (var + eps).rsqrt()).reshape(x._shape)
    return _affine(y, weight, bias, (1, Ch) + (1,) * (len(x._shape) - 2))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalize each channel of each sample over its spatial dims (batch_norm applied to
    every sample on its own). Running statistics, when given, track the mean over the batch
    of the per-sample statistics.

    Example:
        >>> import plugtorch
        >>> plugtorch.nn.functional.instance_norm(plugtorch.tensor([[[1., 3.]]]))
        tensor([[[-1.0000,  1.0000]]])
    """
    op = "instance_norm"
    _check_input(op, input)
    x = input
    if len(x._shape) < 3:
        raise ValueError(f"{op}: expected 3D or more input (got {len(x._shape)}D input)")
    N, Ch = x._shape[:2]
    rm = running_mean.repeat(N) if running_mean is not None else None
    rv = running_var.repeat(N) if running_var is not None else None
    y = batch_norm(x.reshape((1, N * Ch) + x._shape[2:]), rm, rv, training=use_input_stats,
                   momentum=momentum, eps=eps).reshape(x._shape)
    with no_grad():
        if running_mean is not None and use_input_stats:
            running_mean.copy_(rm.reshape(N, Ch).mean(0))
        if running_var is not None and use_input_stats:
            running_var.copy_(rv.reshape(N, Ch).mean(0))
    return _affine(y, weight, bias, (1, Ch) + (1,) * (len(x._shape) - 2))


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """Divide input by its Lp norm along `dim`: x / max(||x||_p, eps).

    Args:
        input: a floating-point tensor.
        p: the norm's exponent. Default: 2.
        dim: the dim the norm runs over. Default: 1.
        eps: the smallest norm divided by, so an all-zero slice stays zero. Default: 1e-12.

    Example:
        >>> import plugtorch
        >>> import plugtorch.nn.functional as F
        >>> F.normalize(plugtorch.tensor([[3., 4.]]))
        tensor([[0.6000, 0.8000]])
    """
    _check_input("normalize", input)
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps).expand_as(input)
