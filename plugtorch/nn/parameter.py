"""Parameter and Buffer: tensors that a Module registers when they are assigned to it.

NOTE [Parameter construction]
Tensor has no usable __init__ (tensors are built by `_wrap` from a storage and a geometry),
so Parameter.__new__ builds the instance itself: a Parameter is a new Tensor object over
the *same* storage and geometry as `data` (writes to either are seen in both, as
PyTorch's `Parameter(data)`), a leaf with its own requires_grad. Ops on a Parameter
allocate their outputs with `_wrap`, so they return plain Tensors; only `to()` without a
change returns the Parameter itself, as in PyTorch.
"""
from .._tensor import Tensor

__all__ = ["Parameter", "Buffer"]


def _alias(cls, data):
    """A new leaf object of class `cls` viewing data's storage (see NOTE above)."""
    if not isinstance(data, Tensor):
        raise TypeError(f"{cls.__name__}: expected a Tensor as data, got "
                        f"{type(data).__name__}")
    t = Tensor.__new__(cls)
    t._storage, t._shape, t._stride, t._offset = (data._storage, data._shape, data._stride,
                                                  data._offset)
    t._dtype = data._dtype
    return t


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning it to a Module attribute registers it,
    so it appears in `parameters()` and `state_dict()`.

    Args:
        data: the tensor to wrap; the Parameter shares its storage. Default: an empty tensor.
        requires_grad: whether the parameter requires gradient. Default: True.

    Example:
        >>> import plugtorch as torch
        >>> p = torch.nn.Parameter(torch.zeros(2))
        >>> p
        Parameter containing:
        tensor([0., 0.], requires_grad=True)
        >>> (p * 2).__class__.__name__
        'Tensor'
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from ..ops.creation import empty
            data = empty(0)
        p = _alias(cls, data)
        p.requires_grad = requires_grad   # validated: only float tensors can require grad
        return p

    def __init__(self, data=None, requires_grad=True):
        pass   # everything happens in __new__ (Tensor.__init__ refuses to run)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__


class Buffer(Tensor):
    """Marks a tensor as a module buffer: `module.x = Buffer(t)` is
    `module.register_buffer("x", t, persistent=...)`. The module stores `t` itself.

    Args:
        data: the tensor (shared, not copied).
        persistent: whether the buffer is part of the module's state_dict. Default: True.

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.Module()
        >>> m.running = torch.nn.Buffer(torch.zeros(2))
        >>> list(m.state_dict())
        ['running']
    """

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            from ..ops.creation import empty
            data = empty(0)
        b = _alias(cls, data)
        b.persistent = persistent
        b._data = data
        return b

    def __init__(self, data=None, *, persistent=True):
        pass


#: classes whose instances fast paths may treat as plain tensors (Parameter adds only its
#: registration in modules; another subclass may override ops, so it takes general paths)
PLAIN = (Tensor, Parameter)
