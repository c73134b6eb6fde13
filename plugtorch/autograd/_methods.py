"""Autograd methods of Tensor: backward, requires_grad_, register_hook, retain_grad."""
import weakref

from .engine import backward as _backward
from .graph import _Handle

_NOT_LEAF = ("you can only change requires_grad flags of leaf variables. If you want to use a "
             "computed variable in a subgraph that doesn't require differentiation use "
             "var_no_grad = var.detach().")
_NOT_FLOAT = "only Tensors of floating point and complex dtype can require gradients"


def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(self)/d(leaf) into every leaf's .grad.

    Args:
        gradient: d(loss)/d(self); may be omitted when self has one element.
        retain_graph: keep the graph for another backward (defaults to create_graph).
        create_graph: record the backward itself, for higher-order derivatives.
        inputs: accumulate only into these tensors.

    Example:
        >>> import plugtorch as torch
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
    """
    _backward((self,), None if gradient is None else (gradient,), retain_graph, create_graph,
              inputs)


def set_requires_grad(self, value):
    """The validated setter behind `t.requires_grad = value`."""
    value = bool(value)
    if self._node is not None:
        if not value:
            raise RuntimeError(_NOT_LEAF)
        return
    if value and not self._dtype.is_floating_point:
        raise RuntimeError(_NOT_FLOAT)
    self._rg = value


def requires_grad_(self, requires_grad=True):
    """Set requires_grad in place (leaves only) and return self.

    Example:
        >>> import plugtorch as torch
        >>> torch.zeros(2).requires_grad_().requires_grad
        True
    """
    set_requires_grad(self, requires_grad)
    return self


def register_hook(self, hook):
    """Call hook(grad) whenever the gradient of this tensor is computed; a non-None return
    replaces the gradient. Returns a handle with .remove().

    Example:
        >>> import plugtorch as torch
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> x.sum().backward()
        >>> x.grad
        tensor([10., 10.])
    """
    if not self._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self._node is None:
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _Handle(self._hooks, hook)
    node = self._node
    if node.pre_hooks is None:
        node.pre_hooks = {}
    lst = node.pre_hooks.setdefault(self._output_nr, [])
    lst.append(hook)
    return _Handle(lst, hook)


def register_post_accumulate_grad_hook(self, hook):
    """Call hook(tensor) after the gradient was accumulated into this leaf's .grad."""
    if self._node is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if not self._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self._post_accumulate_hooks is None:
        self._post_accumulate_hooks = []
    self._post_accumulate_hooks.append(hook)
    return _Handle(self._post_accumulate_hooks, hook)


def retain_grad(self):
    """Keep .grad for this non-leaf tensor after backward (a no-op on leaves).

    Example:
        >>> import plugtorch as torch
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> y = x * 3
        >>> y.retain_grad()
        >>> (y * y).sum().backward()
        >>> y.grad
        tensor([ 6., 12.])
    """
    if not self._rg:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self._node is None or self._retains_grad:
        return
    node = self._node
    if node.retain is None:
        node.retain = {}
    # a weak reference: the node must not keep its own output alive (NOTE [graph ownership])
    node.retain[self._output_nr] = weakref.ref(self)
    self._retains_grad = True


