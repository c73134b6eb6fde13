"""The autograd graph: nodes, edges and how ops record them.

Every differentiable op that runs with grad enabled on an input that requires grad records a
`Node`: the op's derivative, what it saved, and one edge per input. An edge points to the
input's own node, to a leaf tensor (whose `.grad` accumulates), or to nothing. The engine that
runs a graph backwards is in engine.py.

NOTE [graph ownership]
Tensors own their node (`t._node`), nodes own the nodes of their inputs (edges) and the
tensors they saved; a node never holds a tensor whose grad_fn is itself. Outputs a derivative
needs are kept as (storage, geometry, version) and rebuilt by `Node.out(i)`. So the graph is a
DAG of strong references and plain reference counting frees it as soon as the last output
tensor goes away, with no help from the cycle collector.
"""
from .. import _tensor
from . import grad_mode
from .._dispatch import kernel as _kernel

__all__ = ["Node", "record", "accumulate_leaf"]

_FREED = ("Trying to backward through the graph a second time (or directly access saved "
          "tensors after they have already been freed). Saved intermediate values of the graph "
          "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
          "you need to backward through the graph a second time or if you need to access saved "
          "tensors after calling backward.")


class _Name(str):
    """A node's name: a str for messages that can also be called, as PyTorch's `name()`."""
    __slots__ = ()

    def __call__(self):
        return str(self)


_NAMES = {}


def _name(s):
    n = _NAMES.get(s)
    if n is None:
        n = _NAMES[s] = _Name(s)
    return n


class Node:
    """One recorded op. `backward_fn(node, *grads)` returns one gradient per input.

    This is what `tensor.grad_fn` returns. Example:
        >>> import plugtorch as torch
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> y = (x * x).exp()
        >>> y.grad_fn.name(), y.grad_fn.next_functions[0][0].name()
        ('ExpBackward0', 'MulBackward0')
    """
    __slots__ = ("backward_fn", "name", "edges", "saved", "versions", "params", "n_out",
                 "__weakref__", "__dict__")
    # rarely set: class defaults, so recording a node stores only what every node needs
    outs = None           # what out(i) rebuilds outputs from (NOTE [graph ownership])
    freed = False
    pre_hooks = None      # output index -> list of tensor hooks (register_hook)
    hooks = None          # node hooks: hook(grad_inputs, grad_outputs)
    prehooks = None       # node pre-hooks: hook(grad_outputs)
    retain = None         # output index -> weakref of the tensor retaining its grad

    def __init__(self, backward_fn, name, inputs, params=None, saved=(), n_out=1):
        self.backward_fn = backward_fn
        self.name = _NAMES.get(name) or _name(name)
        self.edges = tuple(map(_edge, inputs))
        self.params = params
        self.saved = saved
        self.versions = tuple(map(_version, saved)) if saved else ()
        self.n_out = n_out

    # -- what derivatives use ------------------------------------------------------------
    @property
    def inputs(self):
        """The saved tensors, checked against in-place modification since they were saved."""
        if self.freed:
            raise RuntimeError(_FREED)
        saved = self.saved
        for s, v in zip(saved, self.versions):
            if s is not None and s._storage.version != v:
                _raise_modified(s, self, v)
        return saved

    def out(self, i=0):
        """The op's i-th output, with this node as its grad_fn while grad mode is on."""
        if self.freed or self.outs is None:
            raise RuntimeError(_FREED)
        st, shape, stride, offset, version = self.outs[i]
        t = _tensor._wrap(st, shape, stride, offset)
        if st.version != version:
            _raise_modified(t, self, version, i)
        if grad_mode.STATE.enabled:
            t._rg = True
            t._node = self
            t._output_nr = i
        return t

    @property
    def needs_input_grad(self):
        return tuple(e is not None for e in self.edges)

    # -- PyTorch-compatible introspection ------------------------------------------------
    def name_(self):
        return str(self.name)

    def __repr__(self):
        return f"<{self.name} object at {id(self):#x}>"

    @property
    def next_functions(self):
        """One (node, output index) pair per input; leaves appear as AccumulateGrad."""
        out = []
        for e in self.edges:
            if e is None:
                out.append((None, 0))
            elif isinstance(e[0], Node):
                out.append(e)
            else:
                out.append((AccumulateGrad(e[0]), 0))
        return tuple(out)

    @property
    def metadata(self):
        return self.__dict__

    def register_hook(self, hook):
        """Call hook(grad_inputs, grad_outputs) after this node ran; a non-None return
        replaces grad_inputs (the gradients sent on to the inputs). Returns a handle."""
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(hook)
        return _Handle(self.hooks, hook)

    def register_prehook(self, hook):
        """Call hook(grad_outputs) before this node runs; a non-None return replaces them."""
        if self.prehooks is None:
            self.prehooks = []
        self.prehooks.append(hook)
        return _Handle(self.prehooks, hook)

    def release(self):
        """Drop what the derivative needed (after a backward without retain_graph)."""
        self.saved = ()
        self.outs = None
        self.params = None
        self.freed = True


class AccumulateGrad:
    """The node standing for a leaf in `next_functions`."""
    name = _name("AccumulateGrad")

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


class _Handle:
    """What register_hook returns: `.remove()` unregisters the hook."""

    def __init__(self, lst, item):
        self._lst, self._item = lst, item

    def remove(self):
        try:
            self._lst.remove(self._item)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _version(s):
    return s._storage.version if s is not None else 0


def _edge(x):
    if x is None or not getattr(x, "_rg", False):
        return None
    node = x._node
    if node is None:
        return (x, 0)          # a leaf: accumulate into x.grad
    base = x._base
    if base is not None and x._vnode is not base._node:
        node = _refresh_view(x, base)
    return (node, x._output_nr)


def _refresh_view(v, base):
    """NOTE [stale views]
    A view records its history when it is made. If its base's history changes afterwards
    (an in-place op with grad on the base or through another view of it), the view's values
    are now a slice of the new base, so its history must be too: a slicing node on the
    base's current node, made here the first time the view is used. Views that overlap
    themselves (expand) cannot be rebuilt that way and raise instead."""
    if not _non_overlapping(v._shape, v._stride):
        raise RuntimeError("a view that overlaps itself (e.g. made by expand) is used after "
                           "its base was modified by an in-place operation; make the view "
                           "again after the in-place operation")
    from ..ops.slicing import _slice_bw
    name = "AsStridedBackward0"
    node = node_class(name)(_slice_bw, name, (base,),
                            params=(base._shape, base._stride, base._offset, v._shape,
                                    v._stride, v._offset))
    v._node, v._output_nr, v._vnode = node, 0, base._node
    return node


def _non_overlapping(shape, stride):
    dims = sorted((s, n) for n, s in zip(shape, stride) if n > 1)
    reach = 0
    for s, n in dims:
        if s <= reach:
            return False
        reach = s * (n - 1) + reach
    return True


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
    return "plugtorch." + names.get(t._dtype.name, t._dtype.name)


def out_meta(o):
    """What a node keeps of an output it needs: never the tensor (NOTE [graph ownership])."""
    return (o._storage, o._shape, o._stride, o._offset, o._storage.version)


_CLASSES = {}


def node_class(name):
    """A Node subclass named after the op ("MulBackward0"), so `type(t.grad_fn).__name__`
    reads as in PyTorch; made once per name."""
    cls = _CLASSES.get(name)
    if cls is None:
        cls = _CLASSES[name] = type(str(name), (Node,), {"__slots__": (), "__module__":
                                                         "plugtorch.autograd.graph"})
    return cls


def record(backward_fn, name, inputs, outputs, params=None, saved=(), save_outputs=False):
    """Attach a new node to `outputs` (a tensor or a tuple of them) and return it.

    Non-floating outputs (indices, masks) stay outside the graph.
    """
    if not isinstance(outputs, tuple):
        # one output (the common case), as the loop below does for each
        node = (_CLASSES.get(name) or node_class(name))(backward_fn, name, inputs, params,
                                                        saved, 1)
        if save_outputs:
            node.outs = (out_meta(outputs),)
        if outputs._dtype.is_floating_point:
            outputs._rg = True
            outputs._node = node
            outputs._output_nr = 0
            base = outputs._base
            if base is not None:       # a view: NOTE [stale views]
                outputs._vnode = base._node
        return node
    outs = outputs
    node = node_class(name)(backward_fn, name, inputs, params, saved, len(outs))
    if save_outputs:
        node.outs = tuple(out_meta(o) if o is not None else None for o in outs)
    for i, o in enumerate(outs):
        if o is None or not o._dtype.is_floating_point:
            continue
        o._rg = True
        o._node = node
        o._output_nr = i
        base = o._base
        if base is not None:       # a view: remember its base's history (NOTE [stale views])
            o._vnode = base._node
    return node


# ----------------------------------------------------------------------------- leaves

def accumulate_leaf(leaf, g, create_graph, foreign=False):
    """Add g into leaf.grad, never aliasing a tensor that somebody else holds."""
    if g._shape != leaf._shape:
        if g.numel() == leaf.numel() or _sums_to(g._shape, leaf._shape):
            from ..ops._core import sum_to
            g = sum_to(g, leaf._shape).reshape(leaf._shape)
        else:
            raise RuntimeError(f"backward: gradient of shape {tuple(g._shape)} for a leaf of "
                               f"shape {tuple(leaf._shape)}")
    if g._dtype is not leaf._dtype:
        g = g.to(leaf._dtype)
    cur = leaf.grad
    if cur is None:
        if not create_graph:
            g = g.detach()
        if foreign or g._base is not None or g._storage is leaf._storage or not _fresh(g):
            with grad_mode.set_grad_enabled(create_graph):
                g = g.clone()
        leaf.grad = g
    elif create_graph or cur._rg:
        leaf.grad = cur + g
    elif cur._dtype is g._dtype and cur._storage.device is g._storage.device and \
            cur._storage is not g._storage:
        # the common case: add in place with the primitive, no dispatch through add_
        _kernel("add", cur)(cur, cur, g)
        cur._storage.version += 1
    else:
        with grad_mode.no_grad():
            cur.add_(g)
    if leaf._post_accumulate_hooks:
        for h in list(leaf._post_accumulate_hooks):
            h(leaf)


def _sums_to(big, small):
    if len(big) < len(small):
        return False
    return all(s == 1 or s == b for s, b in zip(small[::-1], big[::-1]))


def _fresh(g):
    # a contiguous tensor that covers its whole storage: the storage is g's alone
    st = g._storage
    return g._offset == 0 and st.numel == g.numel() and g.is_contiguous()
