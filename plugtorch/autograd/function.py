"""Custom differentiable operations: subclass `Function` with static forward and backward.

The `ctx` that forward and backward receive is the graph node itself (a `Node` subclass
named `<YourFunction>Backward`), so a custom function composes with the engine like any
built-in op: hooks, retain_graph, create_graph and in-place checks all apply.
"""
import functools

from .._tensor import Tensor, _wrap
from . import grad_mode
from .graph import Node, _FREED, _raise_modified, out_meta
from .engine import FOREIGN_GRADS

__all__ = ["Function", "FunctionCtx", "once_differentiable", "Variable"]


class FunctionCtx(Node):
    """The `ctx` of a custom Function: a graph node with the methods below.

    Arbitrary attributes may be set on it in forward and read in backward (`ctx.k = 3`).
    Save tensors with `save_for_backward` instead, so in-place changes are caught and the
    graph is freed after backward.
    """
    _forward_cls = None

    def save_for_backward(self, *tensors):
        """Keep tensors (inputs, outputs or intermediates) for backward; read them back with
        `ctx.saved_tensors`. None is allowed. Call at most once, in forward.

        Example:
            >>> import plugtorch as torch
            >>> class Square(torch.autograd.Function):
            ...     @staticmethod
            ...     def forward(ctx, x):
            ...         ctx.save_for_backward(x)
            ...         return x * x
            ...     @staticmethod
            ...     def backward(ctx, g):
            ...         (x,) = ctx.saved_tensors
            ...         return 2 * x * g
            >>> x = torch.tensor([3.0], requires_grad=True)
            >>> Square.apply(x).sum().backward(); x.grad
            tensor([6.])
        """
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} "
                                f"is of type {type(t).__name__}")
        self._to_save = tensors

    @property
    def saved_tensors(self):
        """The tensors given to save_for_backward, checked against in-place modification.

        Raises RuntimeError once the graph was freed by a backward without retain_graph.
        """
        if self.freed:
            raise RuntimeError(_FREED)
        spec = self.__dict__.get("_saved")
        if spec is None:
            return ()
        out = []
        for kind, a, version in spec:
            if kind == "out":
                out.append(self.out(a))
            elif kind == "none":
                out.append(None)
            else:
                if a._storage.version != version:
                    _raise_modified(a, self, version)
                out.append(a)
        return tuple(out)

    saved_variables = saved_tensors

    def mark_dirty(self, *tensors):
        """Declare inputs that forward modified in place; they must also be returned.

        Example:
            >>> import plugtorch as torch
            >>> class Double_(torch.autograd.Function):
            ...     @staticmethod
            ...     def forward(ctx, x):
            ...         x.mul_(2)
            ...         ctx.mark_dirty(x)
            ...         return x
            ...     @staticmethod
            ...     def backward(ctx, g):
            ...         return 2 * g
            >>> a = torch.tensor([1.0], requires_grad=True)
            >>> b = a * 1
            >>> Double_.apply(b).sum().backward(); a.grad
            tensor([2.])
        """
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors):
        """Declare outputs that are not differentiable (indices, masks): they get
        requires_grad=False, and backward still receives a (zero) gradient for them."""
        self._non_diff = tensors

    def set_materialize_grads(self, value):
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize = bool(value)

    def release(self):
        super().release()
        self.__dict__.pop("_saved", None)
        self.__dict__.pop("_to_save", None)


class _FunctionMeta(type):
    """Gives every Function subclass its own node class, `<Name>Backward`."""

    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_cls = type(name + "Backward", (FunctionCtx,), {"_forward_cls": cls})


class Function(metaclass=_FunctionMeta):
    """Base class of custom differentiable operations.

    Subclass it with two static methods and call `.apply(*args)`:

    - `forward(ctx, *args, **kwargs)` computes the outputs (runs with grad disabled);
      any argument may be a non-tensor (its gradient is None).
    - `backward(ctx, *grad_outputs)` gets one gradient per output and returns one
      gradient (or None) per forward argument.

    Instead of taking ctx in forward, a subclass may define
    `setup_context(ctx, inputs, output)`, as PyTorch 2 allows.

    Example:
        >>> import plugtorch as torch
        >>> class MulConst(torch.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x, k):
        ...         ctx.k = k
        ...         return x * k
        ...     @staticmethod
        ...     def backward(ctx, g):
        ...         return g * ctx.k, None
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> y = MulConst.apply(x, 3.0)
        >>> y.grad_fn.name()
        'MulConstBackward'
        >>> y.sum().backward(); x.grad
        tensor([3., 3.])
    """

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method: MyFunction.apply(...).")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward and, when an input requires grad, record the node for backward."""
        return _apply(cls, args, kwargs)


def once_differentiable(fn):
    """Decorate a Function's backward that is not itself differentiable: it runs with grad
    disabled, and differentiating its result (double backward) raises a clear error."""
    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        with grad_mode.no_grad():
            result = fn(ctx, *grads)
        if not grad_mode.is_grad_enabled():
            return result
        needing = [g for g in grads if isinstance(g, Tensor) and g._rg]
        if not needing:
            return result
        return _delayed_error(result, needing, ctx.name)
    return wrapper


# ----------------------------------------------------------------------------- apply

def _apply(cls, args, kwargs):
    recording = grad_mode.STATE.enabled and any(
        isinstance(a, Tensor) and a._rg for a in args)
    ctx = cls._backward_cls(_backward, cls.__name__ + "Backward",
                            args if recording else (None,) * len(args))
    ctx._in_meta = tuple((a._shape, a._dtype) if isinstance(a, Tensor) else None
                         for a in args)
    custom_setup = cls.setup_context is not Function.setup_context
    with grad_mode.no_grad():
        if custom_setup:
            outputs = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, outputs)
        else:
            outputs = cls.forward(ctx, *args, **kwargs)
    single = not isinstance(outputs, tuple)
    outs = (outputs,) if single else tuple(outputs)
    ctx.n_out = len(outs)
    d = ctx.__dict__
    dirty = d.pop("_dirty", ())
    non_diff = d.pop("_non_diff", ())
    for t in dirty:
        if not any(t is o for o in outs):
            raise RuntimeError(f"{ctx.name}: some elements marked as dirty during the forward "
                               f"method were not returned as output. The inputs that are "
                               f"modified inplace must all be outputs of the Function.")
    final = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            final.append(o)
            continue
        is_dirty = any(o is t for t in dirty)
        differentiable = not any(o is t for t in non_diff)
        if not is_dirty and any(o is a for a in args):
            o = _view_of(o)        # an input returned as is: the output is a new view of it
        if recording and o._dtype.is_floating_point and differentiable:
            if is_dirty:
                _set_dirty_history(ctx, o, i)
            else:
                o._rg, o._node, o._output_nr = True, ctx, i
                if o._base is not None:     # NOTE [stale views] in graph.py
                    o._vnode = o._base._node
        final.append(o)
    # enough to make zeros for a missing gradient, without keeping the output's memory
    ctx._out_meta = tuple((o._shape, o._dtype, o._storage.device, o._storage.backend)
                          if isinstance(o, Tensor) else None for o in outs)
    _store_saved(ctx, args, outs, final)
    if not recording:
        ctx.release()
    return final[0] if single else tuple(final)


def _view_of(t):
    v = _wrap(t._storage, t._shape, t._stride, t._offset)
    v._base = t._base if t._base is not None else t
    return v


def _set_dirty_history(ctx, t, i):
    """An input modified in place by forward: its history now leads through ctx."""
    if t._node is None and t._rg:
        raise RuntimeError(f"{ctx.name}: a leaf Variable that requires grad has been used in "
                           f"an in-place operation.")
    base = t._base
    if base is not None and base._rg:
        if base._node is None:
            raise RuntimeError(f"{ctx.name}: a view of a leaf Variable that requires grad is "
                               f"being used in an in-place operation.")
        from ..ops.slicing import copy_slices
        r = _wrap(t._storage, t._shape, t._stride, t._offset)
        r._rg, r._node, r._output_nr = True, ctx, i
        copy_slices(base, t, r)
        return
    t._rg, t._node, t._output_nr = True, ctx, i
    if base is not None:
        t._vnode = base._node


def _store_saved(ctx, args, outs, final):
    """Turn save_for_backward's tensors into what the node may hold: an output is kept as
    storage and geometry, never as the tensor (NOTE [graph ownership] in graph.py)."""
    to_save = ctx.__dict__.pop("_to_save", None)
    if to_save is None:
        return
    spec, metas = [], [None] * len(outs)
    for t in to_save:
        if t is None:
            spec.append(("none", None, 0))
            continue
        k = next((j for j, o in enumerate(outs) if o is t), None)
        if k is not None and final[k]._node is ctx:
            metas[k] = out_meta(final[k])
            spec.append(("out", k, 0))
        else:
            spec.append(("t", t, t._storage.version))
    if any(m is not None for m in metas):
        ctx.outs = tuple(metas)
    ctx._saved = spec


def _backward(ctx, *grads):
    """The node's derivative: materialize missing gradients, call the user's backward,
    check what it returned."""
    cls = ctx._forward_cls
    if ctx.__dict__.get("_materialize", True):
        grads = tuple(g if g is not None or m is None else _zeros(m)
                      for g, m in zip(grads, ctx._out_meta))
    result = cls.backward(ctx, *grads)
    if not isinstance(result, tuple):
        result = (result,)
    n_in = len(ctx.edges)
    if len(result) != n_in:
        if len(result) > n_in and all(r is None for r in result[n_in:]):
            result = result[:n_in]
        else:
            raise RuntimeError(f"function {ctx.name} returned an incorrect number of gradients "
                               f"(expected {n_in}, got {len(result)})")
    checked = []
    for i, (g, e, meta) in enumerate(zip(result, ctx.edges, ctx._in_meta)):
        if g is None or e is None:
            checked.append(None)
            continue
        if not isinstance(g, Tensor):
            raise TypeError(f"function {ctx.name} returned a gradient of type "
                            f"{type(g).__name__} at index {i}; expected a Tensor or None")
        shape, dtype = meta
        if g._shape != shape:
            from ..ops._core import sum_to
            from .graph import _sums_to
            if not _sums_to(g._shape, shape):
                raise RuntimeError(f"Function {ctx.name} returned an invalid gradient at index "
                                   f"{i} - got {list(g._shape)} but expected shape compatible "
                                   f"with {list(shape)}")
            g = sum_to(g, shape)
        if g._dtype is not dtype:
            g = g.to(dtype)
        checked.append(g)
    return tuple(checked)


# gradients a user's backward returns may be tensors it keeps: never adopt them as .grad
FOREIGN_GRADS.add(_backward)


def _zeros(meta):
    from .._tensor import empty_on
    shape, dtype, dev, backend = meta
    return empty_on(shape, dtype, dev, backend).zero_()


def _delayed_error(result, needing, name):
    """Attach to each tensor in `result` a node that raises when differentiated."""
    msg = (f"trying to differentiate twice a function that was marked with "
           f"@once_differentiable ({name})")

    def bw(node, *grads):
        raise RuntimeError(msg)

    single = not isinstance(result, tuple)
    items = (result,) if single else result
    out = []
    for r in items:
        if isinstance(r, Tensor) and r._dtype.is_floating_point:
            a = _wrap(r._storage, r._shape, r._stride, r._offset)
            node = Node(bw, "DelayedError", needing)
            a._rg, a._node, a._output_nr = True, node, 0
            r = a
        out.append(r)
    return out[0] if single else tuple(out)


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """Legacy wrapper: `Variable(t, requires_grad=...)` returns a tensor sharing t's data.

    Example:
        >>> import plugtorch as torch
        >>> v = torch.autograd.Variable(torch.ones(2), requires_grad=True)
        >>> isinstance(v, torch.Tensor), v.requires_grad
        (True, True)
    """

    def __new__(cls, data, requires_grad=False, volatile=False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got "
                            f"{type(data).__name__}")
        t = _wrap(data._storage, data._shape, data._stride, data._offset)
        t.requires_grad = requires_grad
        return t
