"""Adam and AdamW: adaptive moment estimation, with coupled or decoupled weight decay."""
import math

from .optimizer import Optimizer, _adam_moments, _addcdiv_, _check_adam_like, _check_compat, \
    _cpu_step, _decayed_grad, _float32

__all__ = ["Adam", "AdamW", "adam"]


class Adam(Optimizer):
    r"""Adam, PyTorch's update rule (optionally AMSGrad, or AdamW's decoupled weight decay).

    For each parameter :math:`p` with gradient :math:`g` (negated when `maximize`), at step
    :math:`t`:

    .. math::
        g &\leftarrow g + \lambda p \quad (\text{AdamW: } p \leftarrow p (1 - \gamma\lambda)) \\
        m &\leftarrow \beta_1 m + (1 - \beta_1) g, \qquad
        v \leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
        \hat v &= \max(\hat v, v) \text{ if amsgrad, else } v \\
        p &\leftarrow p - \frac{\gamma}{1 - \beta_1^t} \,
             \frac{m}{\sqrt{\hat v} / \sqrt{1 - \beta_2^t} + \epsilon}

    Args:
        params (iterable): tensors or parameter-group dicts to optimize.
        lr (float): learning rate :math:`\gamma`. Default: 1e-3.
        betas (tuple of 2 floats): decay rates of the moment estimates. Default: (0.9, 0.999).
        eps (float): added to the denominator for stability. Default: 1e-8.
        weight_decay (float): :math:`\lambda`. Default: 0.
        amsgrad (bool): use the running maximum of the second moment (AMSGrad).
        maximize (bool): maximize the objective instead of minimizing it.
        decoupled_weight_decay (bool): decay the weights directly (AdamW) instead of adding
            :math:`\lambda p` to the gradient.
        capturable (bool): keep the step counter on the parameter's device and compute the
            bias corrections there, with no host read, so the step can be captured
            (plugtorch.graphs, docs/capture.md). Default: False (the counter is a CPU tensor
            and the corrections host floats).
        foreach, fused: accepted for compatibility; plugtorch has one implementation.
        differentiable (bool): must be False (not supported).

    State (per parameter): ``"step"`` (0-d float32 tensor, on the CPU unless capturable),
    ``"exp_avg"``, ``"exp_avg_sq"``
    and, with amsgrad, ``"max_exp_avg_sq"``.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = plugtorch.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        _check_adam_like(lr, betas, eps, weight_decay)
        _check_compat(type(self).__name__, differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    @property
    def _host_state(self):
        # a capturable optimizer's counter stays on its parameter's device when loaded
        return () if self.defaults.get("capturable") else ("step",)

    def _update(self, group, params, states):
        beta1, beta2 = group["betas"]
        adam(params, [p.grad for p in params], states, lr=group["lr"], beta1=beta1,
             beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
             amsgrad=group["amsgrad"], maximize=group["maximize"],
             decoupled_weight_decay=group["decoupled_weight_decay"],
             capturable=group.get("capturable", False))

    def _init_state(self, p, group):
        # lazy (on a parameter's first step): a parameter may never receive a gradient
        state = self.state[p]
        state["step"] = p.new_zeros((), dtype=_float32()) if group.get("capturable") \
            else _cpu_step()
        state["exp_avg"] = p.new_zeros(p.shape)
        state["exp_avg_sq"] = p.new_zeros(p.shape)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = p.new_zeros(p.shape)
        return state


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay, :math:`p \leftarrow p(1 - \gamma\lambda)`
    before the Adam update (instead of adding :math:`\lambda p` to the gradient).

    Args are those of `Adam`, with ``weight_decay`` defaulting to 1e-2 and
    ``decoupled_weight_decay`` always True.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = plugtorch.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8500, -1.8000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        # a state saved by Adam still loads as AdamW
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def adam(params, grads, states, *, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
         decoupled_weight_decay, capturable=False):
    """The Adam/AdamW update, in place on `params` and on each parameter's state dict."""
    for p, g, state in zip(params, grads, states):
        step, g = _decayed_grad(p, g, state, lr=lr, weight_decay=weight_decay,
                                maximize=maximize, decoupled_weight_decay=decoupled_weight_decay,
                                host_step=not capturable)
        exp_avg, exp_avg_sq = _adam_moments(g, state, beta1, beta2)
        if capturable:
            # 0-d tensors on the device (no host read), computed in float32 where the host
            # path below uses float64 numbers
            step_size = (1 - beta1 ** step).reciprocal_().mul_(lr).to(p.dtype)
            bias_correction2_sqrt = (1 - beta2 ** step).sqrt_().to(p.dtype)
        else:
            # host floats: the step count lives on the CPU
            step_size = lr / (1 - beta1 ** step)
            bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        if amsgrad:
            second = state["max_exp_avg_sq"]
            second.maximum_(exp_avg_sq)
        else:
            second = exp_avg_sq
        denom = (second.sqrt() / bias_correction2_sqrt).add_(eps)
        if capturable:
            p.sub_(exp_avg / denom * step_size)
        else:
            _addcdiv_(p, exp_avg, denom, -step_size)
