"""ASGD: averaged stochastic gradient descent."""
from .optimizer import Optimizer, _check_compat, _cpu_step, _next_step

__all__ = ["ASGD", "asgd"]


class ASGD(Optimizer):
    r"""Averaged stochastic gradient descent, PyTorch's update rule.

    For each parameter :math:`p` with gradient :math:`g` (negated when `maximize`), at step
    :math:`t`, with the step size :math:`\eta` and averaging weight :math:`\mu` of the
    previous step (:math:`\eta_0 = \gamma`, :math:`\mu_0 = 1`):

    .. math::
        g &\leftarrow g + \lambda_{wd} p, \qquad
        p \leftarrow p (1 - \lambda \eta) - \eta g \\
        \bar p &\leftarrow \bar p + \mu (p - \bar p) \\
        \eta &\leftarrow \gamma / (1 + \lambda \gamma t)^\alpha, \qquad
        \mu \leftarrow 1 / \max(1, t - t_0)

    The average :math:`\bar p` is ``state["ax"]``; the parameters themselves follow SGD.

    Args:
        params (iterable): tensors or parameter-group dicts to optimize.
        lr (float): learning rate :math:`\gamma`. Default: 1e-2.
        lambd (float): decay term :math:`\lambda`. Default: 1e-4.
        alpha (float): power :math:`\alpha` of the step-size decay. Default: 0.75.
        t0 (float): the step from which averaging starts. Default: 1e6.
        weight_decay (float): L2 penalty :math:`\lambda_{wd}`. Default: 0.
        maximize (bool): maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; plugtorch has one implementation.
        differentiable (bool): must be False (not supported).

    State (per parameter): ``"step"``, ``"eta"``, ``"mu"`` (0-d float32 CPU tensors, so
    reading them is no device synchronisation) and ``"ax"``.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = plugtorch.optim.ASGD([w], lr=0.1, lambd=0.0)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    _host_state = ("step", "eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_compat("ASGD", differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, group, params, states):
        asgd(params, [p.grad for p in params], states, lr=group["lr"],
             lambd=group["lambd"], alpha=group["alpha"], t0=group["t0"],
             weight_decay=group["weight_decay"], maximize=group["maximize"])

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = _cpu_step()
        state["eta"] = _cpu_step(group["lr"])
        state["mu"] = _cpu_step(1.0)
        state["ax"] = p.new_zeros(p.shape)
        return state


def asgd(params, grads, states, *, lr, lambd, alpha, t0, weight_decay, maximize):
    """The ASGD update, in place on `params` and on each parameter's state dict."""
    for p, g, state in zip(params, grads, states):
        if maximize:
            g = -g
        step = _next_step(state)
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        eta, mu = state["eta"].item(), state["mu"].item()   # CPU scalars: no device read
        p.mul_(1 - lambd * eta).add_(g, alpha=-eta)
        ax = state["ax"]
        if mu != 1:
            ax.add_((p - ax).mul_(mu))
        else:
            ax.copy_(p)
        state["eta"].fill_(lr / (1 + lambd * lr * step) ** alpha)
        state["mu"].fill_(1 / max(1, step - t0))
