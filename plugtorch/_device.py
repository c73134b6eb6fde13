"""Device names: "cpu", "opencl:1", "cuda:0"."""

__all__ = ["device"]


class device:
    """A device a tensor lives on: a backend name and, for multi-device backends, an index.

    Example:
        >>> from plugtorch import device
        >>> device("opencl:1").type, device("opencl:1").index
        ('opencl', 1)
    """
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, str) and ":" in type:
            if index is not None:
                raise ValueError(f"device: type {type!r} already names an index; got index={index}")
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        elif isinstance(type, int):
            raise TypeError("device: an integer device needs a type, e.g. device('opencl', 0)")
        if not isinstance(type, str) or not type:
            raise TypeError(f"device: expected a string like 'cpu' or 'opencl:0', got {type!r}")
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", index)

    def __setattr__(self, k, v):
        raise AttributeError("device is immutable")

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self):
        """`with plugtorch.device("opencl"):` makes factories without device= use this
        device until the block ends, as `set_default_device` does."""
        from . import _default_device, set_default_device
        _REPLACED.append(_default_device[0])
        set_default_device(self)
        return self

    def __exit__(self, *exc):
        from . import _default_device
        _default_device[0] = _REPLACED.pop()


_REPLACED = []      # the default devices that open `with device(...)` blocks replaced
