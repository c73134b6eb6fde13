"""Gradient checks by central finite differences, for tests of ops and backends.

`fd_check` compares what autograd computes for ``sum(fn(*xs) * w)`` (``w`` a fixed random
weight, so every output element counts with its own factor) with central differences of
the same function; `double_fd_check` does the same for the first derivative built with
``create_graph=True``, which checks double backward. Both work on numpy arrays in float64
and raise numpy's AssertionError on a mismatch, so they read naturally inside pytest tests.
"""
import numpy as np

import plugtorch
from ._compare import to_host

__all__ = ["fd_check", "double_fd_check"]


def _first(out):
    # ops such as max(dim) return (values, indices): the values carry the gradient
    return out[0] if isinstance(out, tuple) else out


def fd_check(fn, arrays, eps=1e-6, atol=1e-6, rtol=1e-5, *, rng=None, device=None):
    """Check autograd's gradients of ``sum(fn(*xs) * w)`` against central finite differences.

    Every array in `arrays` becomes a tensor that requires grad; `fn` maps those tensors to
    one tensor (or a tuple whose first element is checked). The weight ``w`` is drawn once
    from `rng`; each element of each input is then moved by ``±eps`` and the change of the
    weighted sum compared with the analytic gradient (zero where autograd returns None).

    Args:
        fn (callable): tensors -> tensor, written with plugtorch ops.
        arrays (list of numpy arrays): the inputs, float64 for meaningful differences.
        eps (float): the finite-difference step. Default: 1e-6.
        atol, rtol (float): tolerances of the comparison (numpy's assert_allclose).
        rng (numpy Generator, optional): draws ``w``; default ``np.random.default_rng(0)``.
        device (optional): where the tensors are made; default the default device.

    Example:
        >>> import numpy as np
        >>> from plugtorch.testing import fd_check
        >>> fd_check(lambda x: (x * x).sum(1), [np.arange(6.0).reshape(2, 3)])
    """
    rng = np.random.default_rng(0) if rng is None else rng
    xs = [plugtorch.tensor(a, requires_grad=True, device=device) for a in arrays]
    out = _first(fn(*xs))
    w = rng.standard_normal(out.shape)
    grads = plugtorch.autograd.grad((out * plugtorch.tensor(w, device=device)).sum(), xs,
                                    allow_unused=True)

    def f(arrs):
        # inputs still require grad: `fn` may itself differentiate (double_fd_check)
        o = _first(fn(*[plugtorch.tensor(a, requires_grad=True, device=device)
                        for a in arrs]))
        return float((to_host(o) * w).sum())

    for k, a in enumerate(arrays):
        num = np.zeros(a.shape)
        for i in range(a.size):
            plus, minus = [x.copy() for x in arrays], [x.copy() for x in arrays]
            plus[k].flat[i] += eps
            minus[k].flat[i] -= eps
            num.flat[i] = (f(plus) - f(minus)) / (2 * eps)
        got = np.zeros(a.shape) if grads[k] is None else to_host(grads[k])
        np.testing.assert_allclose(got, num, atol=atol, rtol=rtol)


def double_fd_check(fn, arrays, eps=1e-6, atol=1e-6, rtol=1e-5, *, rng=None, device=None):
    """Check double backward: the first derivative of ``sum(fn(*xs) * w)``, built with
    ``create_graph=True`` and contracted with random directions ``v``, goes through
    `fd_check`.

    Args: as `fd_check` (`rng` draws ``w``, the ``v`` and then `fd_check`'s own weight).

    Example:
        >>> import numpy as np
        >>> from plugtorch.testing import double_fd_check
        >>> double_fd_check(lambda x: (x * x * x).sum(0), [np.ones((2, 3))])
    """
    rng = np.random.default_rng(0) if rng is None else rng
    shape = _first(fn(*[plugtorch.tensor(a, device=device) for a in arrays])).shape
    w = plugtorch.tensor(rng.standard_normal(shape), device=device)
    v = [plugtorch.tensor(rng.standard_normal(a.shape), device=device) for a in arrays]

    def first(*xs):
        gs = plugtorch.autograd.grad((_first(fn(*xs)) * w).sum(), xs, create_graph=True)
        return sum((g * vk).sum() for g, vk in zip(gs, v))
    fd_check(first, arrays, eps, atol, rtol, rng=rng, device=device)
