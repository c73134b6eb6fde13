"""User entry points into the engine: backward() and grad()."""
from .graph import run_backward

__all__ = ["backward", "grad"]


def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _grad_roots(tensors, grad_tensors, create_graph):
    from .._tensor import Tensor
    from ..ops.creation import ones_like
    grads = _as_tuple(grad_tensors) or (None,) * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got "
                           f"{len(grads)} gradients for {len(tensors)} tensors")
    out = []
    for t, g in zip(tensors, grads):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: expected a Tensor, got {type(t).__name__}")
        if g is None:
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not t._dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar "
                                   f"outputs but got {t._dtype}")
            g = ones_like(t)
        elif not isinstance(g, Tensor):
            g = ones_like(t) * g
        elif g._shape != t._shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                               f"{tuple(g._shape)} and output[0] has a shape of "
                               f"{tuple(t._shape)}.")
        out.append(g)
    return tuple(out)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs=None):
    """Compute the gradients of `tensors` and accumulate them into the leaves' `.grad`.

    Args:
        tensors: tensor(s) to differentiate.
        grad_tensors: gradient w.r.t. each tensor; may be omitted for scalars.
        retain_graph: keep the graph for another backward (defaults to create_graph).
        create_graph: record the backward pass itself, for higher-order derivatives.
        inputs: accumulate only into these tensors.
    """
    tensors = _as_tuple(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = _grad_roots(tensors, grad_tensors, create_graph)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty.")
        caught = run_backward(tensors, roots, retain_graph, create_graph, capture=list(inputs),
                              accumulate=False)
        from .graph import _accumulate_leaf
        for k, t in enumerate(inputs):
            g = caught.get(k)
            if g is None:
                continue
            if t._node is None:
                _accumulate_leaf(t, g, create_graph)
            else:
                t.grad = g if t.grad is None else t.grad + g
        return
    run_backward(tensors, roots, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return the gradients of `outputs` w.r.t. `inputs` without touching `.grad`.

    Example:
        >>> import plugtorch as torch
        >>> x = torch.tensor(3.0, requires_grad=True)
        >>> (g,) = torch.autograd.grad(x ** 3, x, create_graph=True)
        >>> g.item(), torch.autograd.grad(g, x)[0].item()
        (27.0, 18.0)
    """
    outputs = _as_tuple(outputs)
    single = not isinstance(inputs, (tuple, list))
    inputs = _as_tuple(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    roots = _grad_roots(outputs, grad_outputs, create_graph)
    caught = run_backward(outputs, roots, retain_graph, create_graph, capture=list(inputs),
                          accumulate=False)
    result = []
    for k, t in enumerate(inputs):
        g = caught.get(k)
        if g is None:
            if materialize_grads:
                from ..ops.creation import zeros_like
                g = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)
