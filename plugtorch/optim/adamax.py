"""Adamax: Adam with the infinity norm in place of the second moment."""
from .optimizer import Optimizer, _addcdiv_, _check_adam_like, _check_compat, _cpu_step, _lerp_, \
    _next_step

__all__ = ["Adamax", "adamax"]


class Adamax(Optimizer):
    r"""Adamax (Adam based on the infinity norm), PyTorch's update rule.

    For each parameter :math:`p` with gradient :math:`g` (negated when `maximize`), at step
    :math:`t`:

    .. math::
        g &\leftarrow g + \lambda p, \qquad m \leftarrow \beta_1 m + (1 - \beta_1) g \\
        u &\leftarrow \max(\beta_2 u, |g| + \epsilon), \qquad
        p \leftarrow p - \frac{\gamma}{1 - \beta_1^t} \frac{m}{u}

    Args:
        params (iterable): tensors or parameter-group dicts to optimize.
        lr (float): learning rate :math:`\gamma`. Default: 2e-3.
        betas (tuple of 2 floats): decay rates of :math:`m` and :math:`u`.
            Default: (0.9, 0.999).
        eps (float): added to :math:`|g|` for stability. Default: 1e-8.
        weight_decay (float): L2 penalty :math:`\lambda`. Default: 0.
        maximize (bool): maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; plugtorch has one implementation.
        differentiable (bool): must be False (not supported).

    State (per parameter): ``"step"`` (0-d CPU tensor), ``"exp_avg"``, ``"exp_inf"``.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = plugtorch.optim.Adamax([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check_adam_like(lr, betas, eps, weight_decay)
        _check_compat("Adamax", differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, group, params, states):
        beta1, beta2 = group["betas"]
        adamax(params, [p.grad for p in params], states, lr=group["lr"], beta1=beta1,
               beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
               maximize=group["maximize"])

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = _cpu_step()
        state["exp_avg"] = p.new_zeros(p.shape)
        state["exp_inf"] = p.new_zeros(p.shape)
        return state


def adamax(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, maximize):
    """The Adamax update, in place on `params` and on each parameter's state dict."""
    for p, g, state in zip(params, grads, states):
        if maximize:
            g = -g
        step = _next_step(state)
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        _lerp_(exp_avg, g, 1 - beta1)
        exp_inf.mul_(beta2).maximum_(g.abs().add_(eps))
        _addcdiv_(p, exp_avg, exp_inf, -lr / (1 - beta1 ** step))
