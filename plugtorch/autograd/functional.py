"""Derivatives of whole functions: jacobian, hessian and the products vjp, jvp, vhp, hvp.

Each takes `func` and `inputs` (a tensor or a tuple of tensors) and differentiates
`func(*inputs)` with `autograd.grad`, so every backend gets them. With create_graph=False the
results are detached; with create_graph=True they are differentiable (also with respect to
tensors func reads besides its inputs). With strict=True an output that does not depend on
an input raises; otherwise its derivative is zeros. A result has the structure of its
arguments: a tensor for a tensor input, a tuple for a tuple. `vectorize=True` is accepted
and computes the same values row by row.
"""
from .._tensor import Tensor
from .engine import grad as _grad
from .grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(x, arg, fn):
    if isinstance(x, Tensor):
        return False, (x,)
    if isinstance(x, (tuple, list)) and all(isinstance(t, Tensor) for t in x):
        return True, tuple(x)
    raise TypeError(f"{fn}: the {arg} must be a Tensor or a tuple of Tensors, got "
                    f"{type(x).__name__}")


def _prepare(inputs, create_graph):
    """Inputs func sees: differentiable copies, linked to the originals for create_graph."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(True))
    return tuple(out)


def _call(func, inputs, fn):
    with enable_grad():
        out = func(*inputs)
    return _as_tuple(out, "outputs of the user-provided function", fn)


def _grads(outputs, inputs, grad_outputs, create_graph):
    """autograd.grad over the outputs that require grad; None for an unreached input."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=True,
                 create_graph=create_graph, allow_unused=True)


def _fill(grads, refs, strict, fn, what):
    out = []
    for i, (g, r) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: the {what} is independent of input {i}. This is "
                                   f"not allowed in strict mode.")
            from ..ops.creation import zeros_like
            g = zeros_like(r)
        out.append(g)
    return tuple(out)


def _finish(values, create_graph, as_tuple):
    values = tuple(v if create_graph else v.detach() for v in values)
    return values if as_tuple else values[0]


def _check_v(v, refs, fn, arg="v"):
    is_t, v = _as_tuple(v, arg, fn)
    if len(v) != len(refs):
        raise RuntimeError(f"{fn}: {arg} has {len(v)} tensors but there are {len(refs)} "
                           f"{'inputs' if arg == 'v' else 'outputs'}")
    for i, (a, b) in enumerate(zip(v, refs)):
        if a.shape != b.shape:
            raise RuntimeError(f"{fn}: entry {i} of {arg} has shape {tuple(a.shape)}, expected "
                               f"{tuple(b.shape)}")
    return v


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T · J): the vector-Jacobian product.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.autograd.functional import vjp
        >>> out, g = vjp(lambda x: x ** 2, torch.tensor([1.0, 2.0]), torch.ones(2))
        >>> g.tolist()
        [2.0, 4.0]
    """
    as_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
    inputs = _prepare(inputs, create_graph)
    out_tuple, outputs = _call(func, inputs, "vjp")
    if v is None:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("vjp: the vector v can only be None if the user-provided "
                               "function returns a single Tensor with a single element.")
        from ..ops.creation import ones_like
        v = (ones_like(outputs[0]),)
    else:
        v = _check_v(v, outputs, "vjp")
    g = _fill(_grads(outputs, inputs, v, create_graph), inputs, strict, "vjp",
              "output of the user-provided function")
    return _finish(outputs, create_graph, out_tuple), _finish(g, create_graph, as_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J · v): the Jacobian-vector product, by differentiating a vjp.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.autograd.functional import jvp
        >>> out, g = jvp(lambda x: x ** 2, torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0]))
        >>> g.tolist()
        [2.0, 0.0]
    """
    from ..ops.creation import zeros_like, ones_like
    as_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    inputs = _prepare(inputs, create_graph)
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("jvp: the vector v can only be None if the input to the "
                               "user-provided function is a single Tensor with a single "
                               "element.")
        v = (ones_like(inputs[0]),)
    else:
        v = _check_v(v, inputs, "jvp")
    out_tuple, outputs = _call(func, inputs, "jvp")
    with enable_grad():
        u = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        g = _grads(outputs, inputs, u, True)
    # J·v is the derivative of u -> J^T·u (linear in u) in the direction v
    used = [(gi, vi) for gi, vi in zip(g, v) if gi is not None and gi.requires_grad]
    if used:
        jv = _grad([a for a, _ in used], u, [b for _, b in used], retain_graph=True,
                   create_graph=create_graph, allow_unused=True)
    else:
        jv = (None,) * len(u)
    jv = _fill(jv, outputs, strict, "jvp", "output of the user-provided function")
    if strict and any(gi is None for gi in g):
        _fill(g, inputs, True, "jvp", "output of the user-provided function")
    return _finish(outputs, create_graph, out_tuple), _finish(jv, create_graph, out_tuple)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of func at inputs: for output i and input j, a tensor of shape
    outputs[i].shape + inputs[j].shape (nested tuples follow the arguments' structure).

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.autograd.functional import jacobian
        >>> jacobian(lambda x: x ** 2, torch.tensor([1.0, 2.0])).tolist()
        [[2.0, 0.0], [0.0, 4.0]]
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got "
                         f"{strategy!r}")
    from ..ops.creation import zeros
    from ..ops.shape_ops import stack
    in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    inputs = _prepare(inputs, create_graph)
    out_tuple, outputs = _call(func, inputs, "jacobian")
    rows = []                     # rows[i][j]: d outputs[i] / d inputs[j]
    for i, out in enumerate(outputs):
        per_input = [[] for _ in inputs]
        n = out.numel()
        for k in range(n):
            onehot = zeros(n, dtype=out.dtype, device=out.device)
            onehot[k] = 1
            g = _grads((out,), inputs, (onehot.reshape(out.shape),), create_graph)
            for j, (gj, inp) in enumerate(zip(g, inputs)):
                if gj is None:
                    if strict:
                        raise RuntimeError(f"jacobian: output {i} of the user-provided "
                                           f"function is independent of input {j}. This is "
                                           f"not allowed in strict mode.")
                    gj = zeros(inp.shape, dtype=inp.dtype, device=inp.device)
                per_input[j].append(gj)
        row = []
        for j, inp in enumerate(inputs):
            shape = tuple(out.shape) + tuple(inp.shape)
            if n:
                jac = stack(per_input[j]).reshape(shape)
            else:
                jac = zeros(shape, dtype=inp.dtype, device=inp.device)
            row.append(jac if create_graph else jac.detach())
        rows.append(tuple(row) if in_tuple else row[0])
    return tuple(rows) if out_tuple else rows[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a function returning a one-element tensor: for inputs i and j a tensor
    of shape inputs[i].shape + inputs[j].shape.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.autograd.functional import hessian
        >>> hessian(lambda x: (x ** 3).sum(), torch.tensor([1.0, 2.0])).tolist()
        [[6.0, 0.0], [0.0, 12.0]]
    """
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        out_tuple, out = _call(func, xs, "hessian")
        if out_tuple or out[0].numel() != 1:
            raise RuntimeError("hessian: the function given to hessian should return a single "
                               "Tensor with a single element")
        g = _grads(out, xs, (_one(out[0]),), True)
        return _fill(g, xs, strict, "hessian", "output of the user-provided function")

    h = jacobian(gradient, inputs, create_graph=create_graph, strict=strict)
    if in_tuple:
        return h
    return h[0][0]


def _one(t):
    from ..ops.creation import ones_like
    return ones_like(t)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T · H) for a function returning a one-element tensor.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.autograd.functional import vhp
        >>> vhp(lambda x: (x ** 3).sum(), torch.tensor([1.0, 2.0]), torch.ones(2))[1].tolist()
        [6.0, 12.0]
    """
    as_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
    inputs = _prepare(inputs, create_graph)
    v = _hessian_v(v, inputs, "vhp")
    out, jac = _first_derivative(func, inputs, strict, "vhp")
    g = _fill(_grads(jac, inputs, v, create_graph), inputs, strict, "vhp",
              "jacobian of the user-provided function")
    return _finish(out, create_graph, False), _finish(g, create_graph, as_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H · v) for a function returning a one-element tensor, by
    differentiating a vhp.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.autograd.functional import hvp
        >>> hvp(lambda x: (x ** 3).sum(), torch.tensor([1.0, 2.0]), torch.ones(2))[1].tolist()
        [6.0, 12.0]
    """
    from ..ops.creation import zeros_like
    as_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
    inputs = _prepare(inputs, create_graph)
    v = _hessian_v(v, inputs, "hvp")
    out, jac = _first_derivative(func, inputs, strict, "hvp")
    with enable_grad():
        u = tuple(zeros_like(x).requires_grad_(True) for x in inputs)
        back = _fill(_grads(jac, inputs, u, True), inputs, strict, "hvp",
                     "jacobian of the user-provided function")
    used = [(b, vi) for b, vi in zip(back, v) if b.requires_grad]
    hv = _grad([b for b, _ in used], u, [vi for _, vi in used], retain_graph=True,
               create_graph=create_graph, allow_unused=True) if used else (None,) * len(u)
    hv = _fill(hv, inputs, False, "hvp", "jacobian of the user-provided function")
    return _finish(out, create_graph, False), _finish(hv, create_graph, as_tuple)


def _hessian_v(v, inputs, fn):
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError(f"{fn}: the vector v can only be None if the input to the "
                               f"user-provided function is a single Tensor with a single "
                               f"element.")
        return (_one(inputs[0]),)
    return _check_v(v, inputs, fn)


def _first_derivative(func, inputs, strict, fn):
    out_tuple, out = _call(func, inputs, fn)
    if out_tuple or out[0].numel() != 1:
        raise RuntimeError(f"{fn}: the function given to {fn} should return a single Tensor "
                           f"with a single element")
    jac = _fill(_grads(out, inputs, (_one(out[0]),), True), inputs, strict, fn,
                "output of the user-provided function")
    return out, jac
