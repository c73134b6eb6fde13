"""The autograd graph and the backward engine.

Every differentiable op that runs with grad enabled on an input that requires grad records a
`Node`: the op's derivative, what it saved, and one edge per input. An edge points to the
input's own node, to a leaf tensor (whose `.grad` accumulates), or to nothing.

Backward runs the nodes reachable from the roots in reverse topological order: a node runs
once all the nodes that feed it a gradient have run (dependency counting), with the sum of
the gradients it received. Derivatives are written with ordinary ops, so running backward
with grad enabled (create_graph=True) records the graph of the backward itself.
"""
from . import grad_mode

__all__ = ["Node", "record", "run_backward"]

_FREED = ("Trying to backward through the graph a second time (or directly access saved "
          "tensors after they have already been freed). Saved intermediate values of the graph "
          "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
          "you need to backward through the graph a second time or if you need to access saved "
          "tensors after calling backward.")


def _alias(t):
    """A new tensor object sharing t's storage and geometry, without history."""
    from .._tensor import _wrap
    a = _wrap(t._storage, t._shape, t._stride, t._offset)
    return a


class Node:
    """One recorded op. `backward_fn(node, *grads)` returns one gradient per input."""
    __slots__ = ("backward_fn", "name", "edges", "saved", "versions", "params", "outs",
                 "n_out", "freed", "pre_hooks", "hooks", "retain", "__weakref__", "__dict__")

    def __init__(self, backward_fn, name, inputs, params=None, saved=(), n_out=1):
        self.backward_fn = backward_fn
        self.name = name
        self.edges = tuple(_edge(x) for x in inputs)
        self.params = params
        self.saved = saved
        self.versions = tuple(s._storage.version if s is not None else 0 for s in saved)
        self.outs = None
        self.n_out = n_out
        self.freed = False
        self.pre_hooks = None     # output index -> list of tensor hooks
        self.hooks = None
        self.retain = None        # output index -> weakref of tensors retaining grad

    # -- what derivatives use ------------------------------------------------------------
    @property
    def inputs(self):
        if self.freed:
            raise RuntimeError(_FREED)
        saved = self.saved
        for s, v in zip(saved, self.versions):
            if s is not None and s._storage.version != v:
                _raise_modified(s, self, v)
        return saved

    def out(self, i=0):
        """The op's i-th output, with this node as its grad_fn while grad mode is on."""
        if self.freed:
            raise RuntimeError(_FREED)
        meta = self.outs[i]
        st, shape, stride, offset, version = meta
        if st.version != version:
            from .._tensor import _wrap
            _raise_modified(_wrap(st, shape, stride, offset), self, version, i)
        from .._tensor import _wrap
        t = _wrap(st, shape, stride, offset)
        if grad_mode.STATE.enabled:
            t.requires_grad = True
            t._node = self
            t._output_nr = i
        return t

    @property
    def needs_input_grad(self):
        return tuple(e is not None for e in self.edges)

    # -- PyTorch-compatible introspection ------------------------------------------------
    def name_(self):
        return self.name

    def __repr__(self):
        return f"<{self.name} object at {id(self):#x}>"

    @property
    def next_functions(self):
        out = []
        for e in self.edges:
            if e is None:
                out.append((None, 0))
            elif isinstance(e[0], Node):
                out.append(e)
            else:
                out.append((AccumulateGrad(e[0]), 0))
        return tuple(out)

    def register_hook(self, hook):
        """hook(grad_inputs, grad_outputs) -> None or new grad_inputs; runs after the node."""
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(hook)
        return _Handle(self.hooks, hook)

    def release(self):
        self.saved = ()
        self.outs = None
        self.params = None
        self.freed = True


class AccumulateGrad:
    """The node standing for a leaf in `next_functions`."""

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


class _Handle:
    def __init__(self, lst, item):
        self._lst, self._item = lst, item

    def remove(self):
        try:
            self._lst.remove(self._item)
        except ValueError:
            pass


def _edge(x):
    if x is None or not getattr(x, "requires_grad", False):
        return None
    node = x._node
    if node is None:
        return (x, 0)          # a leaf: accumulate into x.grad
    return (node, x._output_nr)


def _raise_modified(t, node, expected, out_index=None):
    desc = f"[{_type_name(t)} [{', '.join(map(str, t._shape))}]]"
    which = f", which is output {out_index} of {node.name}," if out_index is not None else ""
    raise RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: {desc}{which} is at version {t._storage.version}; expected version "
        f"{expected} instead. Hint: the backward of {node.name} needs the value as it was; "
        f"clone() it before the in-place operation.")


def _type_name(t):
    names = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
             "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
             "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}
    return "plugtorch." + names[t._dtype.name]


def record(backward_fn, name, inputs, outputs, params=None, saved=(), save_outputs=False):
    """Attach a new node to `outputs` (a tensor or a tuple of them) and return it."""
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    node = Node(backward_fn, name, inputs, params, saved, len(outs))
    if save_outputs:
        node.outs = tuple((o._storage, o._shape, o._stride, o._offset, o._storage.version)
                          for o in outs)
    for i, o in enumerate(outs):
        if o is None or not o._dtype.is_floating_point:
            continue
        o.requires_grad = True
        o._node = node
        o._output_nr = i
    return node


# ----------------------------------------------------------------------------- engine

def _accumulate(buf, i, g):
    prev = buf[i]
    buf[i] = g if prev is None else prev + g


def run_backward(roots, grad_roots, retain_graph, create_graph, capture=None,
                 accumulate=True):
    """Propagate `grad_roots` from the `roots` tensors.

    capture: list of tensors whose gradients are returned instead of accumulated (autograd.grad);
    with accumulate=False leaves' .grad are left alone.
    """
    from .._tensor import Tensor
    # gradients entering the graph
    buffers = {}           # node -> list of grads per output
    leaf_grads = {}        # id(leaf) -> [leaf, grad]
    captured = {}
    capture_ids = {}
    if capture is not None:
        for k, t in enumerate(capture):
            if t._node is None:
                capture_ids[("leaf", id(t))] = k
            else:
                capture_ids[(id(t._node), t._output_nr)] = k
    pending = []
    for r, g in zip(roots, grad_roots):
        e = _edge(r)
        if e is None:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        pending.append((e, g))

    # dependency counts over the reachable graph
    deps = {}
    stack = [e[0] for e, _ in pending if isinstance(e[0], Node)]
    seen = set(id(n) for n in stack)
    while stack:
        node = stack.pop()
        if node.freed and node.backward_fn is not None:
            raise RuntimeError(_FREED)
        for e in node.edges:
            if e is not None and isinstance(e[0], Node):
                child = e[0]
                deps[child] = deps.get(child, 0) + 1
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append(child)

    def deliver(e, g):
        target, i = e
        if isinstance(target, Node):
            buf = buffers.get(target)
            if buf is None:
                buf = buffers[target] = [None] * target.n_out
            _accumulate(buf, i, g)
        else:
            key = id(target)
            if key in leaf_grads:
                leaf_grads[key][1] = leaf_grads[key][1] + g
            else:
                leaf_grads[key] = [target, g]

    with grad_mode.set_grad_enabled(create_graph):
        ready = []
        for e, g in pending:
            deliver(e, g)
        for e, _ in pending:
            if isinstance(e[0], Node) and deps.get(e[0], 0) == 0 and e[0] not in ready:
                ready.append(e[0])
        while ready:
            node = ready.pop()
            grads = buffers.pop(node)
            # tensor hooks and retain_grad on this node's outputs
            if node.pre_hooks:
                for i, hooks in node.pre_hooks.items():
                    for h in hooks:
                        if grads[i] is not None:
                            new = h(grads[i])
                            if new is not None:
                                grads[i] = new
            if node.retain:
                for i, ref in node.retain.items():
                    t = ref()
                    if t is not None and grads[i] is not None:
                        g = grads[i] if create_graph else grads[i].detach()
                        t.grad = g if t.grad is None else t.grad + g
            if capture_ids:
                for i in range(node.n_out):
                    k = capture_ids.get((id(node), i))
                    if k is not None:
                        captured[k] = grads[i]
            grads = [g if g is not None else None for g in grads]
            if all(g is None for g in grads):
                in_grads = (None,) * len(node.edges)
            else:
                in_grads = node.backward_fn(node, *grads)
                if not isinstance(in_grads, (tuple, list)):
                    in_grads = (in_grads,)
                if len(in_grads) < len(node.edges):
                    in_grads = tuple(in_grads) + (None,) * (len(node.edges) - len(in_grads))
            if node.hooks:
                for h in node.hooks:
                    new = h(tuple(in_grads), tuple(grads))
                    if new is not None:
                        in_grads = new
            if not retain_graph:
                node.release()
            for e, g in zip(node.edges, in_grads):
                if e is None:
                    continue
                if g is not None:
                    if not isinstance(g, Tensor):
                        raise TypeError(f"{node.name} returned a gradient of type "
                                        f"{type(g).__name__}; expected a Tensor or None")
                    deliver(e, g)
                target = e[0]
                if isinstance(target, Node):
                    deps[target] -= 1
                    if deps[target] == 0:
                        if target in buffers:
                            ready.append(target)
                        else:
                            _skip(target, deps, buffers, ready, retain_graph)

        # leaves: hooks, then accumulate (or capture)
        for leaf, g in leaf_grads.values():
            if leaf._hooks:
                for h in leaf._hooks:
                    new = h(g)
                    if new is not None:
                        g = new
            k = capture_ids.get(("leaf", id(leaf)))
            if k is not None:
                captured[k] = g
            if accumulate and (capture is None or k is not None):
                _accumulate_leaf(leaf, g, create_graph)
    return captured


def _skip(node, deps, buffers, ready, retain_graph):
    """A node that received no gradient at all: release it and its exclusive subgraph."""
    stack = [node]
    while stack:
        n = stack.pop()
        if not retain_graph:
            n.release()
        for e in n.edges:
            if e is not None and isinstance(e[0], Node):
                deps[e[0]] -= 1
                if deps[e[0]] == 0:
                    if e[0] in buffers:
                        ready.append(e[0])
                    else:
                        stack.append(e[0])


def _accumulate_leaf(leaf, g, create_graph):
    if g._shape != leaf._shape:
        raise RuntimeError(f"backward: gradient of shape {tuple(g._shape)} for a leaf of shape "
                           f"{tuple(leaf._shape)}")
    if not create_graph:
        g = g.detach()
    if leaf.grad is None:
        # own the gradient: never alias a tensor the user or the graph still holds
        leaf.grad = g.clone() if (g._base is not None or g is leaf or not create_graph and
                                  not _fresh(g)) else g
    elif create_graph:
        leaf.grad = leaf.grad + g
    else:
        from .grad_mode import no_grad
        with no_grad():
            leaf.grad.add_(g)
    if leaf._post_accumulate_hooks:
        for h in leaf._post_accumulate_hooks:
            h(leaf)


def _fresh(g):
    # detach() returned an alias; it is safe to keep when its storage is used by nothing else
    return g._storage is not None and g.is_contiguous() and g._offset == 0 and \
        g._storage.numel == g.numel()
