"""Flatten parameters into one vector and back (used by second-order methods)."""
from ..._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check(param, device):
    if not isinstance(param, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(param).__name__}")
    if device is not None and param.device != device:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return param.device


def parameters_to_vector(parameters):
    """One 1-D tensor holding every parameter's values, in order.

    Example:
        >>> import plugtorch as torch
        >>> lin = torch.nn.Linear(3, 2)
        >>> torch.nn.utils.parameters_to_vector(lin.parameters()).shape
        plugtorch.Size([8])
    """
    from ...ops.shape_ops import cat
    device, flat = None, []
    for p in parameters:
        device = _check(p, device)
        flat.append(p.reshape(-1))
    return cat(flat)


def vector_to_parameters(vec, parameters):
    """Set the parameters' values from slices of `vec` (each becomes a view into vec, as
    PyTorch).

    Example:
        >>> import plugtorch as torch
        >>> lin = torch.nn.Linear(3, 2)
        >>> torch.nn.utils.vector_to_parameters(torch.zeros(8), lin.parameters())
        >>> lin.bias.tolist()
        [0.0, 0.0]
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    device, pointer = None, 0
    for p in parameters:
        device = _check(p, device)
        n = p.numel()
        p.data = vec[pointer:pointer + n].view_as(p).data
        pointer += n
