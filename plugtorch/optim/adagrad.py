"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""
from .optimizer import Optimizer, _addcdiv_, _addcmul_, _check_compat, _cpu_step, _next_step

__all__ = ["Adagrad", "adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, PyTorch's update rule.

    For each parameter :math:`p` with gradient :math:`g` (negated when `maximize`), at step
    :math:`t`:

    .. math::
        g &\leftarrow g + \lambda p, \qquad
        \tilde\gamma = \gamma / (1 + (t - 1) \eta) \\
        s &\leftarrow s + g^2, \qquad
        p \leftarrow p - \tilde\gamma \, g / (\sqrt{s} + \epsilon)

    Args:
        params (iterable): tensors or parameter-group dicts to optimize.
        lr (float): learning rate :math:`\gamma`. Default: 1e-2.
        lr_decay (float): learning-rate decay :math:`\eta`. Default: 0.
        weight_decay (float): L2 penalty :math:`\lambda`. Default: 0.
        initial_accumulator_value (float): the starting value of :math:`s`. Default: 0.
        eps (float): added to the denominator for stability. Default: 1e-10.
        maximize (bool): maximize the objective instead of minimizing it.
        foreach, fused: accepted for compatibility; plugtorch has one implementation.
        differentiable (bool): must be False (not supported).

    State (per parameter, created with the optimizer): ``"step"`` (0-d CPU tensor) and
    ``"sum"``.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = plugtorch.optim.Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError("Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_compat("Adagrad", differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # as PyTorch: the state of every parameter exists from the start
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = _cpu_step()
        state["sum"] = p.new_full(p.shape, group["initial_accumulator_value"])
        return state

    def _update(self, group, params, states):
        adagrad(params, [p.grad for p in params], states, lr=group["lr"],
                weight_decay=group["weight_decay"], lr_decay=group["lr_decay"],
                eps=group["eps"], maximize=group["maximize"])


def adagrad(params, grads, states, *, lr, weight_decay, lr_decay, eps, maximize):
    """The Adagrad update, in place on `params` and on each parameter's state dict."""
    for p, g, state in zip(params, grads, states):
        step = _next_step(state)
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        clr = lr / (1 + (step - 1) * lr_decay)
        state_sum = state["sum"]
        _addcmul_(state_sum, g, g)
        std = state_sum.sqrt().add_(eps)
        _addcdiv_(p, g, std, -clr)
