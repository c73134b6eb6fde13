"""Gradient clipping: by total norm or by value, in place, without host round trips."""
import math

from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the norms of `tensors`: the norm of all their elements as one vector.

    Args:
        tensors: a tensor or an iterable of tensors (typically gradients).
        norm_type: p of the norm; may be inf. Default: 2.
        error_if_nonfinite: raise if the total norm is nan or inf (this reads the value on
            the host). Default: False.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.utils.get_total_norm([torch.tensor([3.]), torch.tensor([4.])])
        tensor(5.)
    """
    from ...ops.shape_ops import stack
    from ...ops.creation import tensor as make_tensor
    tensors = [t for t in _as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return make_tensor(0.0)
    device = tensors[0].device
    with no_grad():
        norms = [t.norm(norm_type).to(device) for t in tensors]
        total = stack(norms).norm(norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           f"`parameters` is non-finite, so it cannot be clipped. To disable "
                           f"this error and scale the gradients by the non-finite norm anyway, "
                           f"set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients of `parameters` by min(1, max_norm / (total_norm + 1e-6))."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    with no_grad():
        # a device-side factor: clipping never waits for the norm's value on the host
        coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.device, g.dtype))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Rescale gradients in place so that their total norm is at most max_norm.

    The total norm is that of all gradients concatenated into one vector; each gradient is
    multiplied by min(1, max_norm / (total_norm + 1e-6)).

    Args:
        parameters: a tensor or an iterable of tensors whose .grad is clipped.
        max_norm: the largest allowed total norm.
        norm_type: p of the norm; may be inf. Default: 2.
        error_if_nonfinite: raise if the total norm is nan or inf. Default: False.

    Returns:
        The total norm before clipping (a 0-d tensor).

    Example:
        >>> import plugtorch as torch
        >>> p = torch.nn.Parameter(torch.zeros(2))
        >>> p.grad = torch.tensor([3., 4.])
        >>> torch.nn.utils.clip_grad_norm_([p], 1.0)
        tensor(5.)
        >>> p.grad
        tensor([0.6000, 0.8000])
    """
    params = _as_list(parameters)
    total = get_total_norm([p.grad for p in params], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, float(max_norm), total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value], in place.

    Example:
        >>> import plugtorch as torch
        >>> p = torch.nn.Parameter(torch.zeros(3))
        >>> p.grad = torch.tensor([-5., 0.5, 2.])
        >>> torch.nn.utils.clip_grad_value_([p], 1.0)
        >>> p.grad
        tensor([-1.0000,  0.5000,  1.0000])
    """
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)
