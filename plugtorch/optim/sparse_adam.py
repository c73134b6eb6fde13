"""SparseAdam: Adam that moves only the entries a gradient touches."""
from ..ops.binary import where
from .optimizer import Optimizer, _check_adam_like

__all__ = ["SparseAdam", "sparse_adam"]


class SparseAdam(Optimizer):
    r"""Masked Adam for gradients that touch few entries (embedding tables), PyTorch's rule.

    Only the entries where the gradient is nonzero take part in a step: their moment
    estimates and values are updated with Adam's rule (no weight decay), every other entry
    keeps its moments and value unchanged. At step :math:`t`, where :math:`g \ne 0`:

    .. math::
        m &\leftarrow m + (1 - \beta_1)(g - m), \qquad
        v \leftarrow v + (1 - \beta_2)(g^2 - v) \\
        p &\leftarrow p - \gamma \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
             \frac{m}{\sqrt v + \epsilon}

    plugtorch has no sparse tensors: gradients (also those of
    ``nn.Embedding(sparse=True)``) are dense, and the entries a sparse gradient would hold
    are those that are nonzero. This gives PyTorch's trajectory for a sparse gradient that
    stores exactly the nonzero entries; an entry a sparse gradient stores with the value 0
    would still be stepped by PyTorch and is left alone here. Where PyTorch rejects dense
    gradients ("SparseAdam does not support dense gradients"), plugtorch accepts them.

    Args:
        params (iterable): tensors or parameter-group dicts to optimize.
        lr (float): learning rate :math:`\gamma` (> 0). Default: 1e-3.
        betas (tuple of 2 floats): decay rates of the moments. Default: (0.9, 0.999).
        eps (float): added to the denominator for stability (> 0). Default: 1e-8.
        maximize (bool): maximize the objective instead of minimizing it.

    State (per parameter): ``"step"`` (an int, as PyTorch), ``"exp_avg"``, ``"exp_avg_sq"``.

    Example:
        >>> import plugtorch
        >>> table = plugtorch.ones(3, 2, requires_grad=True)
        >>> opt = plugtorch.optim.SparseAdam([table], lr=0.1)
        >>> table[plugtorch.tensor([0, 2])].sum().backward()   # rows 0 and 2 are used
        >>> opt.step()
        >>> table
        tensor([[0.9000, 0.9000],
                [1.0000, 1.0000],
                [0.9000, 0.9000]], requires_grad=True)
    """

    _host_state = ()    # "step" is a Python int, as in PyTorch

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_adam_like(lr, betas, eps, 0)
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, group, params, states):
        beta1, beta2 = group["betas"]
        sparse_adam(params, [p.grad for p in params], states, lr=group["lr"],
                    beta1=beta1, beta2=beta2, eps=group["eps"],
                    maximize=group.get("maximize", False))

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = 0
        state["exp_avg"] = p.new_zeros(p.shape)
        state["exp_avg_sq"] = p.new_zeros(p.shape)
        return state


def sparse_adam(params, grads, states, *, lr, beta1, beta2, eps, maximize):
    """The SparseAdam update, in place on `params` and on each parameter's state dict; only
    the entries where the gradient is nonzero change."""
    for p, g, state in zip(params, grads, states):
        touched = g.ne(0)
        if maximize:
            g = -g
        state["step"] += 1
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.add_(where(touched, (g - exp_avg).mul_(1 - beta1), 0.0))
        exp_avg_sq.add_(where(touched, (g * g).sub_(exp_avg_sq).mul_(1 - beta2), 0.0))
        step_size = lr * (1 - beta2 ** step) ** 0.5 / (1 - beta1 ** step)
        update = (exp_avg / exp_avg_sq.sqrt().add_(eps)).mul_(-step_size)
        p.add_(where(touched, update, 0.0))
