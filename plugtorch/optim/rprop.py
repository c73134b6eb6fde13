"""Rprop: resilient backpropagation (sign-based steps with adaptive per-entry sizes)."""
from ..ops.binary import where
from .optimizer import Optimizer, _check_compat, _cpu_step

__all__ = ["Rprop", "rprop"]


class Rprop(Optimizer):
    r"""Resilient backpropagation, PyTorch's update rule.

    Each entry of a parameter moves by its own step size :math:`\delta` against the sign
    of its gradient :math:`g` (negated when `maximize`). When the gradient keeps its sign,
    :math:`\delta` grows by :math:`\eta_+`; when it flips, :math:`\delta` shrinks by
    :math:`\eta_-` and that entry skips this step (its gradient is remembered as 0):

    .. math::
        \delta &\leftarrow \operatorname{clamp}(\delta \cdot
            \begin{cases}\eta_+ & g g_{prev} > 0 \\ \eta_- & g g_{prev} < 0 \\
            1 & \text{else}\end{cases}, \delta_{min}, \delta_{max}) \\
        g &\leftarrow 0 \text{ where } g g_{prev} < 0, \qquad
        p \leftarrow p - \operatorname{sign}(g) \, \delta, \qquad g_{prev} \leftarrow g

    Args:
        params (iterable): tensors or parameter-group dicts to optimize.
        lr (float): the initial step size :math:`\delta`. Default: 1e-2.
        etas (tuple of 2 floats): :math:`(\eta_-, \eta_+)`, with
            :math:`0 < \eta_- < 1 < \eta_+`. Default: (0.5, 1.2).
        step_sizes (tuple of 2 floats): :math:`(\delta_{min}, \delta_{max})`.
            Default: (1e-6, 50).
        maximize (bool): maximize the objective instead of minimizing it.
        foreach, capturable: accepted for compatibility; plugtorch has one implementation.
        differentiable (bool): must be False (not supported).

    State (per parameter): ``"step"`` (0-d CPU tensor), ``"prev"``, ``"step_size"``.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = plugtorch.optim.Rprop([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_compat("Rprop", differentiable)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, group, params, states):
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        rprop(params, [p.grad for p in params], states, etaminus=etaminus,
              etaplus=etaplus, step_size_min=step_size_min,
              step_size_max=step_size_max, maximize=group["maximize"])

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = _cpu_step()
        state["prev"] = p.new_zeros(p.shape)
        state["step_size"] = p.new_full(p.shape, group["lr"])
        return state


def rprop(params, grads, states, *, etaminus, etaplus, step_size_min, step_size_max,
          maximize):
    """The Rprop update, in place on `params` and on each parameter's state dict."""
    for p, g, state in zip(params, grads, states):
        if maximize:
            g = -g
        state["step"].add_(1)
        prev, step_size = state["prev"], state["step_size"]
        agreement = g * prev
        flipped = agreement.lt(0)
        factor = where(agreement.gt(0), etaplus, where(flipped, etaminus, g.new_ones(g.shape)))
        step_size.mul_(factor).clamp_(step_size_min, step_size_max)
        g = where(flipped, 0.0, g)
        p.sub_(g.sign().mul_(step_size))
        prev.copy_(g)
