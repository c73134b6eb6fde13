"""Activation checkpointing: keep a function's inputs, not its intermediate values, and run it
again during backward to get them.

NOTE [checkpoint]
`checkpoint(fn, *args)` runs `fn` once with gradients recorded, on detached copies of its
tensor arguments, only to learn which tensors its result depends on: those arguments and
the leaves it reads itself (parameters). It then drops that graph, so the intermediate
values are freed, and gives the outputs one node whose inputs are those tensors. That
node's backward restores the random-number state of the first run (so dropout draws the
same mask), runs `fn` again with grad and differentiates the recomputed outputs. Gradients
therefore equal those of `fn(*args)` without checkpointing, for `backward()` and
`autograd.grad` alike. Tensors that require grad and are not leaves must reach `fn` as
arguments, not from an enclosing scope.
"""
from .. import _generator
from .._tensor import Tensor
from ..autograd import graph
from ..autograd.engine import grad as _grad
from ..autograd.grad_mode import STATE, enable_grad

__all__ = ["checkpoint", "checkpoint_sequential"]


def _detached(args):
    out = []
    for a in args:
        if isinstance(a, Tensor):
            d = a.detach()
            d.requires_grad = a.requires_grad
            a = d
        out.append(a)
    return out


def _tensors(out):
    """The tensors of fn's result (a tensor, or a tuple / list holding some)."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [o for o in out if isinstance(o, Tensor)]
    raise TypeError(f"checkpoint: the function must return a tensor or a tuple / list of "
                    f"them, got {type(out).__name__}")


def _leaves(outputs, own_inputs):
    """The leaves requiring grad that `outputs` depend on, other than `own_inputs`."""
    own = {id(t) for t in own_inputs}
    found, seen = {}, set()
    stack = [o._node for o in outputs if o._node is not None]
    for o in outputs:
        if o._rg and o._node is None and id(o) not in own:
            found[id(o)] = o
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for e in node.edges:
            if e is None:
                continue
            if isinstance(e[0], graph.Node):
                stack.append(e[0])
            elif id(e[0]) not in own:
                found[id(e[0])] = e[0]
    return list(found.values())


def _rng_states(args):
    """The state of every default generator, including those of the arguments' devices."""
    for a in args:
        if isinstance(a, Tensor):
            _generator.generator_for(a._storage.device, None)
    return {name: g.get_state() for name, g in _generator._DEFAULTS.items()}


def _set_rng_states(states):
    for name, state in states.items():
        _generator._DEFAULTS[name].set_state(state)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default",
               debug=False, preserve_rng_state=True, **kwargs):
    """Run `function(*args, **kwargs)` without keeping its intermediate values for backward;
    backward runs it again (NOTE [checkpoint]).

    Args:
        function: returns a tensor or a tuple / list of tensors (and other values).
        *args: its arguments; tensors among them may require grad.
        use_reentrant: accepted for PyTorch compatibility; both values behave like
            PyTorch's use_reentrant=False (gradients reach parameters the function uses even
            when no argument requires grad, and torch.autograd.grad works).
        preserve_rng_state: replay the same random numbers (dropout masks) in backward.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.utils.checkpoint import checkpoint
        >>> lin = torch.nn.Linear(3, 3)
        >>> x = torch.randn(2, 3, requires_grad=True)
        >>> checkpoint(lambda t: lin(t).relu(), x, use_reentrant=False).sum().backward()
        >>> x.grad.shape, lin.weight.grad.shape
        (plugtorch.Size([2, 3]), plugtorch.Size([3, 3]))
    """
    if context_fn is not None:
        raise NotImplementedError("checkpoint: context_fn is not supported")
    if not STATE.enabled:
        return function(*args, **kwargs)
    rng = _rng_states(args) if preserve_rng_state else None
    inputs = _detached(args)
    with enable_grad():
        out = function(*inputs, **kwargs)
    outs = _tensors(out)
    arg_tensors = [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor) and a._rg]
    leaves = _leaves(outs, [inputs[i] for i, _ in arg_tensors])
    boundary = [a for _, a in arg_tensors] + leaves
    detached = [o.detach() for o in outs]
    if boundary and any(o._rg for o in outs):
        def backward(node, *grads):
            if preserve_rng_state:
                now = _rng_states(())
                _set_rng_states(rng)
            try:
                again = _detached(args)
                with enable_grad():
                    redo = _tensors(function(*again, **kwargs))
            finally:
                if preserve_rng_state:
                    _set_rng_states(now)
            pairs = [(r, g) for r, g in zip(redo, grads) if g is not None and r._rg]
            wrt = [again[i] for i, _ in arg_tensors] + leaves
            if not pairs:
                return (None,) * len(wrt)
            return _grad([r for r, _ in pairs], wrt, [g for _, g in pairs],
                         create_graph=STATE.enabled, allow_unused=True)

        graph.record(backward, "CheckpointFunctionBackward", tuple(boundary),
                     tuple(detached))
    del outs
    if isinstance(out, Tensor):
        return detached[0]
    it = iter(detached)
    return type(out)(next(it) if isinstance(o, Tensor) else o for o in out)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a Sequential (or list of modules / functions) in `segments` chunks, checkpointing
    every chunk but the last.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.utils.checkpoint import checkpoint_sequential
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
        >>> checkpoint_sequential(net, 2, torch.randn(3, 2, requires_grad=True)).shape
        plugtorch.Size([3, 1])
    """
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if not 0 < segments:
        raise ValueError(f"checkpoint_sequential: segments must be positive, got {segments}")
    size = max(len(fns) // segments, 1)

    def run(lo, hi):
        def chunk(x):
            for f in fns[lo:hi]:
                x = f(x)
            return x
        return chunk

    end = 0
    for start in range(0, size * (segments - 1), size):
        end = min(start + size, len(fns))
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end, len(fns))(input)
