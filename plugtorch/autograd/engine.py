"""The backward engine, and its user entry points backward() and grad().

Backward runs the nodes reachable from the roots in reverse topological order: a node runs
once every node that feeds it a gradient has run (dependency counting), with the sum of the
gradients it received. Derivatives are written with ordinary ops, so running backward with
grad enabled (create_graph=True) records the graph of the backward itself.

NOTE [freed graphs]
Without retain_graph, every node that ran is released (its saved tensors, outputs and params
dropped), and running it again raises the retain_graph error. PyTorch raises only when the
derivative reads a saved tensor; here a released node raises whatever it saved, because
derivatives read their params too and those may hold tensors. Nodes that autograd.grad did
not need are neither run nor released, as in PyTorch.
"""
from .. import _tensor
from .._tensor import Tensor
from . import grad_mode
from .graph import Node, _edge, _FREED, accumulate_leaf
from .._dispatch import kernel as _kernel

__all__ = ["backward", "grad"]


# ----------------------------------------------------------------------------- engine

def run_backward(roots, grad_roots, retain_graph, create_graph, capture=None,
                 accumulate=True):
    """Propagate `grad_roots` from the `roots` tensors; return {capture index: gradient}.

    capture: tensors whose gradients are returned (autograd.grad, backward(inputs=)); only
    the nodes that lead to them run. accumulate=False leaves every leaf's .grad alone.
    """
    # Storages of gradients the engine did not create: a leaf must never keep one of these
    # as its .grad (a later in-place accumulation would write into the user's tensor).
    foreign = {}
    for g in grad_roots:
        foreign[id(g._storage)] = g._storage
    targets = {}
    if capture is not None:
        for k, t in enumerate(capture):
            targets[(id(t), None) if t._node is None else (id(t._node), t._output_nr)] = k
    pending = []
    for k, (r, g) in enumerate(zip(roots, grad_roots)):
        e = _edge(r)
        if e is None:
            raise RuntimeError(f"element {k} of tensors does not require grad and does not "
                               f"have a grad_fn")
        pending.append((e, g))

    deps, parents = _dependencies([e[0] for e, _ in pending if isinstance(e[0], Node)],
                                  capture is not None)
    # NOTE [leaves accumulate when ready]: deps also counts the edges into each leaf (by
    # id); a leaf's gradient is accumulated, and its post-accumulate hooks run, as soon as
    # the last of them has delivered, while the rest of the graph is still running (what
    # lets DistributedDataParallel reduce a bucket during backward)
    needed = _needed(targets, parents) if capture is not None else None
    target_nodes = {key[0] for key in targets if key[1] is not None} if targets else ()

    buffers = {}           # node -> list of grads per output
    leaf_grads = {}        # id(leaf) -> [leaf, grad]
    captured = {}

    def finish_leaf(leaf):
        slot = leaf_grads.pop(id(leaf), None)
        if slot is None:
            return
        g = slot[1]
        if needed is not None and (id(leaf), None) not in targets:
            return                 # not asked for: its hooks don't fire either
        if leaf._hooks:
            g = _call_hooks(leaf._hooks, g, foreign)
        k = targets.get((id(leaf), None))
        if k is not None:
            captured[k] = g
        if accumulate:
            accumulate_leaf(leaf, g, create_graph, id(g._storage) in foreign)
            # two leaves fed by an identity derivative get the same tensor: one copies
            foreign[id(g._storage)] = g._storage

    def deliver(e, g):
        target, i = e
        if isinstance(target, Node):
            buf = buffers.get(target)
            if buf is None:
                buf = buffers[target] = [None] * target.n_out
            prev = buf[i]
            buf[i] = g if prev is None else prev + g
        else:
            slot = leaf_grads.get(id(target))
            if slot is None:
                leaf_grads[id(target)] = [target, g]
            else:
                slot[1] = slot[1] + g

    state = grad_mode.STATE
    prev, state.enabled = state.enabled, bool(create_graph)
    try:
        ready = []
        for e, g in pending:
            deliver(e, g)
        for e, _ in pending:
            n = e[0]
            if isinstance(n, Node) and deps.get(n, 0) == 0 and all(r is not n for r in ready):
                ready.append(n)
        # NOTE [engine loop]: the loop below is the engine's hot path (every node of every
        # backward); delivering a gradient and counting down dependencies are written out in
        # it rather than called, and the rare cases (hooks, captures, nodes no gradient
        # reached) go through the helpers.
        while ready:
            node = ready.pop()
            grads = buffers.pop(node)
            runs = needed is None or node in needed
            if runs and node.freed:
                raise RuntimeError(_FREED)
            if (node.pre_hooks or node.prehooks or node.retain or targets) and (
                    runs or id(node) in target_nodes):
                grads = _before(node, grads, create_graph, targets, captured, foreign)
            edges = node.edges
            if runs:
                in_grads = _derivative(node, grads, foreign)
                if not retain_graph:
                    node.release()
            else:
                # leads to no requested input: skip it, and keep it for a later backward
                in_grads = (None,) * len(edges)
            skipped = None
            for e, g in zip(edges, in_grads):
                if e is None:
                    continue
                target, i = e
                if isinstance(target, Node):
                    if g is not None:
                        if not isinstance(g, Tensor):
                            _not_a_tensor(node, g)
                        buf = buffers.get(target)
                        if buf is None:
                            buf = buffers[target] = [None] * target.n_out
                            buf[i] = g
                        else:
                            old = buf[i]
                            buf[i] = g if old is None else old + g
                    left = deps[target] - 1
                    deps[target] = left
                    if left == 0:
                        if target in buffers:
                            ready.append(target)
                        else:
                            # no gradient reached it: nothing to run, but its inputs'
                            # counts must still drop (it stays unreleased, as PyTorch),
                            # after this node's other edges (the order hooks see)
                            if skipped is None:
                                skipped = []
                            skipped.append((target, (None,) * len(target.edges)))
                else:
                    key = id(target)
                    if g is not None:
                        if not isinstance(g, Tensor):
                            _not_a_tensor(node, g)
                        slot = leaf_grads.get(key)
                        if slot is None:
                            leaf_grads[key] = [target, g]
                        else:
                            slot[1] = slot[1] + g
                    left = deps[key] - 1
                    deps[key] = left
                    if left == 0:
                        finish_leaf(target)
            if skipped is not None:
                _drain(skipped, deps, buffers, ready, deliver, finish_leaf)

        # leaves no node points at (roots themselves), in the order they were reached
        for leaf, _ in list(leaf_grads.values()):
            finish_leaf(leaf)
    finally:
        state.enabled = prev
    return captured


def _dependencies(starts, want_parents):
    """Count, for every node reachable from `starts`, the edges that reach it; and with
    want_parents map each node or leaf id to the nodes that point at it."""
    deps, parents = {}, {}
    stack = list(starts)
    seen = set(map(id, stack))
    while stack:
        node = stack.pop()
        for e in node.edges:
            if e is None:
                continue
            child = e[0]
            if isinstance(child, Node):
                deps[child] = deps.get(child, 0) + 1
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append(child)
            else:
                deps[id(child)] = deps.get(id(child), 0) + 1
            if want_parents:
                parents.setdefault(id(child), []).append(node)
    return deps, parents


def _needed(targets, parents):
    """The nodes that must run their derivative: those with a captured tensor below them."""
    needed = set()
    stack = []
    for key in targets:
        stack.extend(parents.get(key[0], ()))
    while stack:
        n = stack.pop()
        if n in needed:
            continue
        needed.add(n)
        stack.extend(parents.get(id(n), ()))
    return needed


def _call_hooks(hooks, g, foreign):
    """Tensor hooks: each may replace the gradient. A tensor a hook saw may be kept by the
    user, so it is foreign from then on."""
    for h in list(hooks):
        foreign[id(g._storage)] = g._storage
        new = h(g)
        if new is not None:
            g = new
    foreign[id(g._storage)] = g._storage
    return g


def _before(node, grads, create_graph, targets, captured, foreign):
    """Hooks, retain_grad and capture on a node's incoming gradients (one per output)."""
    if node.pre_hooks:      # tensor hooks on this node's outputs
        for i, hooks in node.pre_hooks.items():
            if grads[i] is not None and hooks:
                grads[i] = _call_hooks(hooks, grads[i], foreign)
    if node.prehooks:
        for h in list(node.prehooks):
            new = h(tuple(grads))
            if new is not None:
                grads = list(new)
    if node.retain:
        for i, ref in node.retain.items():
            t = ref()
            if t is not None and grads[i] is not None:
                g = grads[i] if create_graph else grads[i].detach()
                foreign[id(g._storage)] = g._storage
                t.grad = g if t.grad is None else t.grad + g
    if targets:
        for i in range(node.n_out):
            k = targets.get((id(node), i))
            if k is not None:
                captured[k] = grads[i]
    return grads


def _derivative(node, grads, foreign):
    """Run a node's derivative and its node hooks; return the gradients for its inputs."""
    for g in grads:               # (not grads.count(None): that calls Tensor.__eq__)
        if g is not None:
            break
    else:
        return (None,) * len(node.edges)
    in_grads = node.backward_fn(node, *grads)
    if not isinstance(in_grads, (tuple, list)):
        in_grads = (in_grads,)
    if len(in_grads) < len(node.edges):
        in_grads = tuple(in_grads) + (None,) * (len(node.edges) - len(in_grads))
    if node.hooks:
        for h in list(node.hooks):
            new = h(tuple(in_grads), tuple(grads))
            if new is not None:
                in_grads = tuple(new)
        _mark(in_grads, foreign)
    if node.backward_fn in FOREIGN_GRADS:
        _mark(in_grads, foreign)
    return in_grads


# derivatives whose gradients may be tensors somebody keeps (a custom Function's backward
# returns what the user wrote): a leaf never adopts one of those as its .grad
FOREIGN_GRADS = set()


def _not_a_tensor(node, g):
    raise TypeError(f"{node.name} returned a gradient of type {type(g).__name__}; expected a "
                    f"Tensor or None")


def _mark(tensors, foreign):
    for g in tensors:
        if g is not None and hasattr(g, "_storage"):
            foreign[id(g._storage)] = g._storage


def _drain(stack, deps, buffers, ready, deliver, finish_leaf):
    """Send finished nodes' gradients on, last of `stack` [(node, its input gradients)]
    first; queue the inputs whose last producer this was, and finish the leaves whose last
    producer this was. A node no gradient reached goes on the stack in turn."""
    while stack:
        n, gs = stack.pop()
        for e, g in zip(n.edges, gs):
            if e is None:
                continue
            if g is not None:
                if not isinstance(g, Tensor):
                    _not_a_tensor(n, g)
                deliver(e, g)
            target = e[0]
            if isinstance(target, Node):
                deps[target] -= 1
                if deps[target] == 0:
                    if target in buffers:
                        ready.append(target)
                    else:
                        # no gradient reached it: nothing to run, but its inputs' counts
                        # must still drop (it stays unreleased, as PyTorch)
                        stack.append((target, (None,) * len(target.edges)))
            else:
                key = id(target)
                deps[key] -= 1
                if deps[key] == 0:
                    finish_leaf(target)


# ----------------------------------------------------------------------------- entry points

def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _ones_like():
    # ops import autograd, so the engine reaches back to them lazily
    fn = _LAZY.get("ones_like")
    if fn is None:
        from ..ops.creation import ones_like as fn
        _LAZY["ones_like"] = fn
    return fn


_LAZY = {}


def _grad_roots(tensors, grad_tensors):
    if grad_tensors is None and len(tensors) == 1:
        # the common case, loss.backward(): a scalar root gets a gradient of one
        t = tensors[0]
        if t.__class__ is Tensor and t._rg and not t._shape:
            g = _tensor.empty_like_meta(t)
            _kernel("fill", g)(g, 1.0)
            return (g,)
    ones_like = _ones_like()
    grads = _as_tuple(grad_tensors) or (None,) * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(grads)} gradients for {len(tensors)} tensors; pass one "
                           f"gradient per tensor (None for a scalar)")
    out = []
    for k, (t, g) in enumerate(zip(tensors, grads)):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: expected a Tensor, got {type(t).__name__}")
        if g is None:
            if not t._rg:
                raise RuntimeError(f"element {k} of tensors does not require grad and does "
                                   f"not have a grad_fn")
            if t.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = _tensor.empty_like_meta(t)
            _kernel("fill", g)(g, 1.0)
        elif not isinstance(g, Tensor):
            g = ones_like(t) * g
        elif g._shape != t._shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{k}] has a shape of "
                               f"{tuple(g._shape)} and output[{k}] has a shape of "
                               f"{tuple(t._shape)}.")
        elif g._dtype is not t._dtype:
            g = g.to(t._dtype)
        out.append(g)
    return tuple(out)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs=None):
    """Compute the gradients of `tensors` and accumulate them into the leaves' `.grad`.

    Args:
        tensors: tensor(s) to differentiate.
        grad_tensors: gradient w.r.t. each tensor; may be omitted (None) for scalars.
        retain_graph: keep the graph for another backward (defaults to create_graph).
        create_graph: record the backward pass itself, for higher-order derivatives.
        inputs: accumulate only into these tensors (leaves or not).

    Example:
        >>> import plugtorch as torch
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> torch.autograd.backward((x * x).sum())
        >>> x.grad
        tensor([2., 4.])
    """
    tensors = _as_tuple(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = _grad_roots(tensors, grad_tensors)
    if inputs is None:
        run_backward(tensors, roots, retain_graph, create_graph)
        return
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty.")
    for t in inputs:
        if not t._rg:
            raise RuntimeError("backward: every tensor in 'inputs' must require grad")
    caught = run_backward(tensors, roots, retain_graph, create_graph, capture=list(inputs),
                          accumulate=False)
    for k, t in enumerate(inputs):
        g = caught.get(k)
        if g is None:
            continue
        if t._node is None:
            accumulate_leaf(t, g, create_graph, foreign=True)
        else:
            g = g if create_graph else g.detach()
            t.grad = g if t.grad is None else t.grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return the gradients of `outputs` w.r.t. `inputs` without touching any `.grad`.

    Args:
        outputs: tensor(s) to differentiate.
        inputs: tensor(s) to differentiate with respect to (leaves or not).
        grad_outputs: gradient w.r.t. each output; may be omitted for scalars.
        retain_graph: keep the graph for another backward (defaults to create_graph).
        create_graph: make the result differentiable, for higher-order derivatives.
        allow_unused: return None for an input the outputs don't depend on instead of raising.
        materialize_grads: return zeros instead of None for such inputs.

    Example:
        >>> import plugtorch as torch
        >>> x = torch.tensor(3.0, requires_grad=True)
        >>> (g,) = torch.autograd.grad(x ** 3, x, create_graph=True)
        >>> g.item(), torch.autograd.grad(g, x)[0].item()
        (27.0, 18.0)
    """
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched=True is not supported")
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("grad requires non-empty inputs.")
    if retain_graph is None:
        retain_graph = create_graph
    for t in inputs:
        if not t._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    roots = _grad_roots(outputs, grad_outputs)
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
                raise RuntimeError(f"One of the differentiated Tensors (input {k}) appears to "
                                   f"not have been used in the graph. Set allow_unused=True if "
                                   f"this is the desired behavior.")
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)
