"""Flatten and Unflatten: reshape a range of dims (views when possible)."""
from .module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Flatten dims start_dim..end_dim into one.

    Args:
        start_dim: first dim to flatten. Default: 1 (keeps the batch dim).
        end_dim: last dim to flatten. Default: -1.

    Shape:
        - Input: (*, S_start, ..., S_end, *); Output: (*, prod(S_start..S_end), *)

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.Flatten()(torch.randn(32, 1, 5, 5)).shape
        plugtorch.Size([32, 25])
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim `dim` into the shape `unflattened_size`.

    Args:
        dim: the dim to unflatten.
        unflattened_size: the new shape of that dim (may contain one -1).

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.Unflatten(1, (2, 5, 5))(torch.randn(2, 50)).shape
        plugtorch.Size([2, 2, 5, 5])
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, str):
            raise TypeError("Unflatten: named dims are not supported; dim must be an int")
        if not isinstance(dim, int):
            raise TypeError(f"invalid argument type for dim parameter: {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(s, int) for s in unflattened_size):
            raise TypeError(f"unflattened_size must be tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input):
        return input.unflatten(self.dim, tuple(self.unflattened_size))

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
