"""NAdam: Adam with Nesterov momentum (and a decaying momentum schedule)."""
from .optimizer import Optimizer, _adam_moments, _addcdiv_, _check_adam_like, _check_compat, \
    _cpu_step, _decayed_grad

__all__ = ["NAdam", "nadam"]


class NAdam(Optimizer):
    r"""NAdam, PyTorch's update rule.

    For each parameter :math:`p` with gradient :math:`g` (negated when `maximize`), at step
    :math:`t`, with the momentum schedule
    :math:`\mu_t = \beta_1 (1 - \tfrac12 \cdot 0.96^{t \psi})` and
    :math:`\Pi_t = \prod_{i \le t} \mu_i`:

    .. math::
        g &\leftarrow g + \lambda p \quad (\text{decoupled: } p \leftarrow p(1 - \gamma\lambda))
        \\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g, \qquad
        v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \qquad
        d = \sqrt{v / (1 - \beta_2^t)} + \epsilon \\
        p &\leftarrow p - \gamma \frac{1 - \mu_t}{1 - \Pi_t} \frac{g}{d}
               - \gamma \frac{\mu_{t+1}}{1 - \Pi_t \mu_{t+1}} \frac{m}{d}

    Args:
        params (iterable): tensors or parameter-group dicts to optimize.
        lr (float): learning rate :math:`\gamma`. Default: 2e-3.
        betas (tuple of 2 floats): decay rates of the moments. Default: (0.9, 0.999).
        eps (float): added to the denominator for stability. Default: 1e-8.
        weight_decay (float): :math:`\lambda`. Default: 0.
        momentum_decay (float): :math:`\psi`. Default: 4e-3.
        decoupled_weight_decay (bool): decay the weights directly (NAdamW) instead of
            adding :math:`\lambda p` to the gradient.
        maximize (bool): maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; plugtorch has one implementation.
        differentiable (bool): must be False (not supported).

    State (per parameter): ``"step"`` and ``"mu_product"`` (0-d float32 CPU tensors),
    ``"exp_avg"``, ``"exp_avg_sq"``.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = plugtorch.optim.NAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8944, -1.8944], requires_grad=True)
    """

    _host_state = ("step", "mu_product")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _check_adam_like(lr, betas, eps, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        _check_compat("NAdam", differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group, params, states):
        beta1, beta2 = group["betas"]
        nadam(params, [p.grad for p in params], states, lr=group["lr"], beta1=beta1,
              beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
              momentum_decay=group["momentum_decay"], maximize=group["maximize"],
              decoupled_weight_decay=group["decoupled_weight_decay"])

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = _cpu_step()
        state["mu_product"] = _cpu_step(1.0)
        state["exp_avg"] = p.new_zeros(p.shape)
        state["exp_avg_sq"] = p.new_zeros(p.shape)
        return state


def nadam(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, momentum_decay,
          maximize, decoupled_weight_decay):
    """The NAdam update, in place on `params` and on each parameter's state dict."""
    for p, g, state in zip(params, grads, states):
        step, g = _decayed_grad(p, g, state, lr=lr, weight_decay=weight_decay,
                                maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        # the running product is a float32 CPU scalar (as PyTorch keeps it): a host read
        mu_product = state["mu_product"].mul_(mu).item()
        exp_avg, exp_avg_sq = _adam_moments(g, state, beta1, beta2)
        denom = (exp_avg_sq / (1 - beta2 ** step)).sqrt_().add_(eps)
        _addcdiv_(p, g, denom, -lr * (1.0 - mu) / (1.0 - mu_product))
        _addcdiv_(p, exp_avg, denom, -lr * mu_next / (1.0 - mu_product * mu_next))
