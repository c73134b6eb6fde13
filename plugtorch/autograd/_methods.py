"""Autograd methods of Tensor: backward, requires_grad_, register_hook, retain_grad."""
import weakref

from .._tensor import Tensor
from .engine import backward as _backward
from .graph import _Handle


def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(self)/d(leaf) into every leaf's .grad. See plugtorch.autograd.backward."""
    _backward((self,), None if gradient is None else (gradient,), retain_graph, create_graph,
              inputs)


def requires_grad_(self, requires_grad=True):
    if not self.is_leaf:
        if not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        return self
    if requires_grad and not self._dtype.is_floating_point:
        raise RuntimeError("only Tensors of floating point dtype can require gradients")
    self.requires_grad = bool(requires_grad)
    return self


def _set_requires_grad(self, value):
    if not self.is_leaf and not value:
        raise RuntimeError("you can only change requires_grad flags of leaf variables. If you "
                           "want to use a computed variable in a subgraph that doesn't require "
                           "differentiation use var_no_grad = var.detach().")
    if value and not self._dtype.is_floating_point:
        raise RuntimeError("only Tensors of floating point dtype can require gradients")
    self.__dict__["requires_grad"] = bool(value)


def register_hook(self, hook):
    """Call hook(grad) whenever the gradient of this tensor is computed; a non-None return
    replaces the gradient. Returns a handle with .remove()."""
    if not self.requires_grad:
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
    if self._node is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if self._post_accumulate_hooks is None:
        self._post_accumulate_hooks = []
    self._post_accumulate_hooks.append(hook)
    return _Handle(self._post_accumulate_hooks, hook)


def retain_grad(self):
    """Keep .grad for this non-leaf tensor after backward."""
    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self._node is None or self._retains_grad:
        return
    node = self._node
    if node.retain is None:
        node.retain = {}
    node.retain[self._output_nr] = weakref.ref(self)
    self._retains_grad = True


for _name, _fn in [("backward", backward), ("requires_grad_", requires_grad_),
                   ("register_hook", register_hook), ("retain_grad", retain_grad),
                   ("register_post_accumulate_grad_hook", register_post_accumulate_grad_hook)]:
    setattr(Tensor, _name, _fn)
Tensor.retains_grad = property(lambda self: self._retains_grad)
