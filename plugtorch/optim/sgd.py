"""SGD: stochastic gradient descent with momentum, Nesterov momentum and weight decay."""
from .._dispatch import kernel as _kernel
from .._tensor import contiguous_strides, empty_like_meta
from ..autograd.grad_mode import no_grad
from ..nn.parameter import PLAIN as _PLAIN
from ..ops._core import scalar_for
from .optimizer import Optimizer, _check_compat

__all__ = ["SGD", "sgd"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), PyTorch's update rule.

    For each parameter :math:`p` with gradient :math:`g` (negated when `maximize`):

    .. math::
        g &\leftarrow g + \lambda p \\
        b &\leftarrow \mu b + (1 - \tau) g \quad (b = g \text{ at the first step}) \\
        g &\leftarrow g + \mu b \text{ if nesterov, else } b \\
        p &\leftarrow p - \gamma g

    Args:
        params (iterable): tensors or parameter-group dicts to optimize.
        lr (float): learning rate :math:`\gamma`. Default: 1e-3.
        momentum (float): momentum factor :math:`\mu`. Default: 0.
        dampening (float): dampening :math:`\tau` of the momentum. Default: 0.
        weight_decay (float): L2 penalty :math:`\lambda`. Default: 0.
        nesterov (bool): use Nesterov momentum (needs momentum > 0 and no dampening).
        maximize (bool): maximize the objective instead of minimizing it.
        foreach, fused: accepted for compatibility; plugtorch has one implementation.
        differentiable (bool): must be False (not supported).

    State (per parameter, once momentum is used): ``"momentum_buffer"``.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = plugtorch.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()
        ...     opt.step()
        >>> w
        tensor([ 0.4600, -0.9200], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_compat("SGD", differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform one optimization step.

        Args:
            closure (callable, optional): re-evaluates the model and returns the loss.
        """
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                momentum = group["momentum"]
                bufs = [self.state[p].get("momentum_buffer") for p in params] if momentum \
                    else [None] * len(params)
                sgd(params, [p.grad for p in params], bufs, lr=group["lr"], momentum=momentum,
                    dampening=group["dampening"], weight_decay=group["weight_decay"],
                    nesterov=group["nesterov"], maximize=group["maximize"])
                if momentum:
                    for p, buf in zip(params, bufs):
                        self.state[p]["momentum_buffer"] = buf
        return loss


def sgd(params, grads, momentum_buffers, *, lr, momentum, dampening, weight_decay, nesterov,
        maximize):
    """The SGD update, in place on `params`; new momentum buffers are stored into the list
    `momentum_buffers` (None entries: first step)."""
    for i, (p, g) in enumerate(zip(params, grads)):
        buf = momentum_buffers[i]
        if not (maximize or weight_decay or nesterov) and _numbers(lr, momentum, dampening) \
                and _plain(p, g) and (
                not momentum or (buf is not None and _plain(buf, g))):
            # the common case on kernels directly: the same kernels as the general path
            # below, without its per-op checks
            if momentum:
                _scale_add_(buf, momentum, g, 1 - dampening)
                g = buf
            _scale_add_(p, 1, g, -lr)
            continue
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        if momentum != 0:
            buf = momentum_buffers[i]
            if buf is None:
                buf = g.detach().clone()
                momentum_buffers[i] = buf
            else:
                buf.mul_(momentum).add_(g, alpha=1 - dampening)
            g = g.add(buf, alpha=momentum) if nesterov else buf
        p.add_(g, alpha=-lr)


def _numbers(*values):
    return all(v.__class__ in (int, float) for v in values)


def _plain(t, like):
    """t can be updated in place with like's values by kernels directly: plain tensors of one
    dtype, shape and device, t contiguous and not a view of like. (Parameter is a plain
    tensor here; another subclass may override ops, so it takes the general path.)"""
    return (t.__class__ in _PLAIN and like.__class__ in _PLAIN and t._dtype is like._dtype and
            t._shape == like._shape and t._storage.device is like._storage.device and
            t._storage is not like._storage and t._offset == 0 and
            t._stride == contiguous_strides(t._shape) and t._dtype.is_floating_point)


def _scale_add_(t, a, x, b):
    """t = a * t + b * x in place (a, b numbers; 1 skips a multiplication)."""
    dt = t._dtype
    if a != 1:
        _kernel("mul", t)(t, t, scalar_for(a, dt))
    if b != 1:
        tmp = empty_like_meta(x)
        _kernel("mul", x)(tmp, x, scalar_for(b, dt))
        x = tmp
    _kernel("add", t)(t, t, x)
    t._storage.version += 1
