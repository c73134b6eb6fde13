"""scatter and gather: split inputs over devices along a dimension, and join outputs on one.

Both are built from differentiable frontend ops (`chunk`, `to`, `cat`), so gradients flow
back through them: a chunk's gradient returns to the input's device, a gathered output's
gradient to the device that computed it.
"""
import warnings

from ..._device import device as Device
from ..._tensor import Tensor, resolve_device
from ...ops.shape_ops import cat

__all__ = ["scatter", "scatter_kwargs", "gather"]


def _device(op, d):
    """A device from a device, a name, or an index of the accelerator's devices."""
    if isinstance(d, Tensor):
        return d.device
    if isinstance(d, int) and not isinstance(d, bool):
        if d == -1:                     # PyTorch's index for the cpu
            return resolve_device("cpu")[0]
        from ... import accelerator
        acc = accelerator.current_accelerator()
        if acc is None:
            raise ValueError(f"{op}: device index {d} needs an accelerator, and there is none "
                             f"here; name the device instead (e.g. 'opencl:{d}')")
        d = Device(acc.type, d)
    if not isinstance(d, (str, Device)):
        raise TypeError(f"{op}: expected a device, a device name or an index, got "
                        f"{type(d).__name__}")
    return resolve_device(d)[0]


def scatter(inputs, target_gpus, dim=0):
    """Split `inputs` into one piece per device of `target_gpus`.

    Tensors are cut into chunks along `dim` (as `Tensor.chunk`, so a batch smaller than the
    number of devices gives fewer pieces) and each chunk is copied to its device; tuples,
    lists and dicts are split element-wise; any other object is given to every piece as is.

    Args:
        inputs: a tensor, or tuples / lists / dicts of them (nested).
        target_gpus: the devices (devices, names, or accelerator indices).
        dim: the dimension to split tensors along.

    Returns:
        a list with one object per piece, of the structure of `inputs`.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.parallel import scatter
        >>> [t.tolist() for t in scatter(torch.arange(5.), ["cpu", "cpu"])]
        [[0.0, 1.0, 2.0], [3.0, 4.0]]
    """
    devices = [_device("scatter", d) for d in target_gpus]

    def split(obj):
        if isinstance(obj, Tensor):
            return [c.to(d) for c, d in zip(obj.chunk(len(devices), dim), devices)]
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):       # namedtuple
            return [type(obj)(*parts) for parts in zip(*map(split, obj))]
        if isinstance(obj, tuple) and obj:
            return [tuple(parts) for parts in zip(*map(split, obj))]
        if isinstance(obj, list) and obj:
            return [list(parts) for parts in zip(*map(split, obj))]
        if isinstance(obj, dict) and obj:
            return [type(obj)(parts) for parts in zip(*map(split, obj.items()))]
        return [obj for _ in devices]

    return split(inputs)


def scatter_kwargs(inputs, kwargs, target_gpus, dim=0):
    """scatter() positional and keyword arguments alike, padding the shorter list (with ()
    or {}) so that there is one (args, kwargs) pair per piece."""
    inputs = scatter(inputs, target_gpus, dim) if inputs else []
    kwargs = scatter(kwargs, target_gpus, dim) if kwargs else []
    inputs = list(inputs) + [() for _ in range(len(kwargs) - len(inputs))]
    kwargs = list(kwargs) + [{} for _ in range(len(inputs) - len(kwargs))]
    return tuple(inputs), tuple(kwargs)


def gather(outputs, target_device, dim=0):
    """Join the pieces in `outputs` on `target_device`: tensors are concatenated along `dim`,
    tuples, lists and dicts are joined element-wise, None stays None.

    0-dim tensors (a loss per device, say) are joined into a vector, with a warning.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.parallel import gather
        >>> gather([torch.zeros(2), torch.ones(1)], "cpu").tolist()
        [0.0, 0.0, 1.0]
    """
    device = _device("gather", target_device)

    def join(outs):
        out = outs[0]
        if isinstance(out, Tensor):
            for o in outs:
                if not isinstance(o, Tensor):
                    raise TypeError(f"gather: expected every piece to be a tensor, got "
                                    f"{type(o).__name__}")
            if all(o.dim() == 0 for o in outs):
                warnings.warn("gather: the outputs are scalars (0-dim tensors); they are "
                              "joined into a vector, one element per device", stacklevel=3)
                outs = [o.reshape(1) for o in outs]
                return cat([o.to(device) for o in outs], 0)
            return cat([o.to(device) for o in outs], dim)
        if out is None:
            return None
        if isinstance(out, dict):
            if any(set(o) != set(out) for o in outs):
                raise ValueError("gather: every piece must be a dict with the same keys")
            return type(out)((k, join([o[k] for o in outs])) for k in out)
        if isinstance(out, tuple) and hasattr(out, "_fields"):
            return type(out)(*map(join, zip(*outs)))
        if isinstance(out, (tuple, list)):
            return type(out)(map(join, zip(*outs)))
        raise TypeError(f"gather: cannot join outputs of type {type(out).__name__}; expected "
                        f"tensors, or tuples, lists or dicts of them")

    return join(outputs)
