"""Small matrix helpers written with views, reductions and norm: diag, trace, cdist.

They are exported through linalg (`plugtorch.diag`, …); gradients come from the ops they
are made of, so they need no kernel and no derivative of their own.
"""
from .._tensor import Tensor


def _check(name, t, dims):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(t).__name__}")
    if t.dim() not in dims:
        raise RuntimeError(f"{name}: expected a {' or '.join(f'{d}D' for d in dims)} tensor, "
                           f"got {t.dim()}D of shape {tuple(t.shape)}")


def diag(input, diagonal=0):
    """A 1-D input becomes a square matrix with input on diagonal `diagonal`; a 2-D input
    gives a copy of that diagonal.

    Example:
        >>> import plugtorch
        >>> plugtorch.diag(plugtorch.tensor([1., 2.]))
        tensor([[1., 0.],
                [0., 2.]])
    """
    _check("diag", input, (1, 2))
    if input.dim() == 2:
        return input.diagonal(diagonal).clone()
    n = input.shape[0] + abs(diagonal)
    out = input.new_zeros(n, n)
    out.diagonal(diagonal).copy_(input)
    return out


def trace(input):
    """Sum of the main diagonal of a 2-D tensor (integer inputs sum to int64, as sum).

    Example:
        >>> import plugtorch
        >>> plugtorch.trace(plugtorch.arange(9.).reshape(3, 3))
        tensor(12.)
    """
    _check("trace", input, (2,))
    if input.dtype.kind == 0:
        raise TypeError("trace: not implemented for bool tensors")
    return input.diagonal().sum()


def cdist(x1, x2, p=2.0, compute_mode=None):
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M):
    (..., P, R). Batch dims broadcast; the gradient at a zero distance is zero.

    Example:
        >>> import plugtorch
        >>> plugtorch.cdist(plugtorch.tensor([[0., 0.]]), plugtorch.tensor([[3., 4.]]))
        tensor([[5.]])
    """
    for name, t in (("x1", x1), ("x2", x2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"cdist(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
        if t.dim() < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: "
                               f"{t.dim()}D")
        if t.dtype.kind != 2:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{t.dtype.name}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).norm(p, dim=-1)
