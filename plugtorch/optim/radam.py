"""RAdam: Adam with a rectified (variance-corrected) adaptive learning rate."""
import math

from .optimizer import Optimizer, _adam_moments, _check_adam_like, _check_compat, _cpu_step, \
    _decayed_grad

__all__ = ["RAdam", "radam"]


class RAdam(Optimizer):
    r"""RAdam, PyTorch's update rule.

    For each parameter :math:`p` with gradient :math:`g` (negated when `maximize`), at step
    :math:`t`, with :math:`\rho_\infty = 2 / (1 - \beta_2) - 1` and
    :math:`\rho_t = \rho_\infty - 2 t \beta_2^t / (1 - \beta_2^t)`:

    .. math::
        g &\leftarrow g + \lambda p \quad (\text{decoupled: } p \leftarrow p(1 - \gamma\lambda))
        \\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g, \qquad
        v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \qquad
        \hat m = m / (1 - \beta_1^t) \\
        p &\leftarrow p - \gamma \hat m \, r_t \frac{\sqrt{1 - \beta_2^t}}{\sqrt v + \epsilon}
        \text{ if } \rho_t > 5, \text{ else } p \leftarrow p - \gamma \hat m, \\
        r_t &= \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_\infty}
                          {(\rho_\infty - 4)(\rho_\infty - 2)\rho_t}}

    Args:
        params (iterable): tensors or parameter-group dicts to optimize.
        lr (float): learning rate :math:`\gamma`. Default: 1e-3.
        betas (tuple of 2 floats): decay rates of the moments. Default: (0.9, 0.999).
        eps (float): added to the denominator for stability. Default: 1e-8.
        weight_decay (float): :math:`\lambda`. Default: 0.
        decoupled_weight_decay (bool): decay the weights directly (RAdamW) instead of
            adding :math:`\lambda p` to the gradient.
        maximize (bool): maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; plugtorch has one implementation.
        differentiable (bool): must be False (not supported).

    State (per parameter): ``"step"`` (0-d CPU tensor), ``"exp_avg"``, ``"exp_avg_sq"``.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = plugtorch.optim.RAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        _check_adam_like(lr, betas, eps, weight_decay)
        _check_compat("RAdam", differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group, params, states):
        beta1, beta2 = group["betas"]
        radam(params, [p.grad for p in params], states, lr=group["lr"], beta1=beta1,
              beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
              maximize=group["maximize"],
              decoupled_weight_decay=group["decoupled_weight_decay"])

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = _cpu_step()
        state["exp_avg"] = p.new_zeros(p.shape)
        state["exp_avg_sq"] = p.new_zeros(p.shape)
        return state


def radam(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, maximize,
          decoupled_weight_decay):
    """The RAdam update, in place on `params` and on each parameter's state dict."""
    for p, g, state in zip(params, grads, states):
        step, g = _decayed_grad(p, g, state, lr=lr, weight_decay=weight_decay,
                                maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        exp_avg, exp_avg_sq = _adam_moments(g, state, beta1, beta2)
        bias_correction2 = 1 - beta2 ** step
        update = (exp_avg / (1 - beta1 ** step)).mul_(lr)
        # the rectification is a host float: it depends on the step count only
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            denom = exp_avg_sq.sqrt().add_(eps)
            update.mul_(math.sqrt(bias_correction2)).div_(denom).mul_(rect)
        p.sub_(update)
