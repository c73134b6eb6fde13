"""RMSprop: gradients scaled by a running root-mean-square, optionally centered."""
from .optimizer import Optimizer, _addcdiv_, _addcmul_, _check_compat, _cpu_step, _lerp_

__all__ = ["RMSprop", "rmsprop"]


class RMSprop(Optimizer):
    r"""RMSprop, PyTorch's update rule.

    For each parameter :math:`p` with gradient :math:`g` (negated when `maximize`):

    .. math::
        g &\leftarrow g + \lambda p, \qquad v \leftarrow \alpha v + (1 - \alpha) g^2 \\
        \bar g &\leftarrow \alpha \bar g + (1 - \alpha) g, \qquad
        d = \sqrt{v - \bar g^2} + \epsilon \text{ if centered, else } \sqrt{v} + \epsilon \\
        b &\leftarrow \mu b + g / d, \; p \leftarrow p - \gamma b \text{ if } \mu > 0,
        \text{ else } p \leftarrow p - \gamma g / d

    Args:
        params (iterable): tensors or parameter-group dicts to optimize.
        lr (float): learning rate :math:`\gamma`. Default: 1e-2.
        alpha (float): smoothing constant :math:`\alpha`. Default: 0.99.
        eps (float): added to the denominator for stability. Default: 1e-8.
        weight_decay (float): L2 penalty :math:`\lambda`. Default: 0.
        momentum (float): momentum factor :math:`\mu`. Default: 0.
        centered (bool): normalize by the estimated variance of the gradient instead of
            its second moment.
        maximize (bool): maximize the objective instead of minimizing it.
        capturable, foreach: accepted for compatibility; plugtorch has one implementation.
        differentiable (bool): must be False (not supported).

    State (per parameter): ``"step"`` (0-d CPU tensor), ``"square_avg"``, with momentum
    ``"momentum_buffer"``, when centered ``"grad_avg"``.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = plugtorch.optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        _check_compat("RMSprop", differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group, params, states):
        rmsprop(params, [p.grad for p in params], states, lr=group["lr"],
                alpha=group["alpha"], eps=group["eps"],
                weight_decay=group["weight_decay"], momentum=group["momentum"],
                centered=group["centered"], maximize=group["maximize"])

    def _init_state(self, p, group):
        # lazy (on a parameter's first step): a parameter may never receive a gradient
        state = self.state[p]
        state["step"] = _cpu_step()
        state["square_avg"] = p.new_zeros(p.shape)
        if group["momentum"] > 0:
            state["momentum_buffer"] = p.new_zeros(p.shape)
        if group["centered"]:
            state["grad_avg"] = p.new_zeros(p.shape)
        return state


def rmsprop(params, grads, states, *, lr, alpha, eps, weight_decay, momentum, centered,
            maximize):
    """The RMSprop update, in place on `params` and on each parameter's state dict."""
    for p, g, state in zip(params, grads, states):
        if maximize:
            g = -g
        state["step"].add_(1)   # RMSprop has no bias correction: no need to read it
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        square_avg = state["square_avg"]
        _addcmul_(square_avg.mul_(alpha), g, g, 1 - alpha)
        if centered:
            grad_avg = state["grad_avg"]
            _lerp_(grad_avg, g, 1 - alpha)
            avg = _addcmul_(square_avg.clone(), grad_avg, grad_avg, -1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg.add_(eps)
        if momentum > 0:
            buf = state["momentum_buffer"]
            _addcdiv_(buf.mul_(momentum), g, avg)
            p.add_(buf, alpha=-lr)
        else:
            _addcdiv_(p, g, avg, -lr)
