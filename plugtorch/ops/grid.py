"""Layout ops: meshgrid, rot90, the moveaxis alias, and the memory_format constants.

meshgrid returns broadcast (expanded) views, as PyTorch does; rot90 is a flip and a
transpose. plugtorch stores every tensor in one (strided) layout, so `channels_last` and
the other memory formats are accepted wherever `memory_format=` is and change nothing.
"""
import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ._decl import declare, Sample
from . import samples as S

__all__ = ["meshgrid", "rot90", "moveaxis", "memory_format", "contiguous_format",
           "channels_last", "channels_last_3d", "preserve_format"]


class memory_format:
    """A memory layout name (`plugtorch.contiguous_format`, `channels_last`, ...).

    Accepted by `memory_format=` arguments for compatibility; plugtorch keeps its own
    strided layout whatever is asked.

    Example:
        >>> plugtorch.zeros(1, 3, 2, 2).contiguous(memory_format=plugtorch.channels_last).shape
        plugtorch.Size([1, 3, 2, 2])
    """
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"plugtorch.{self.name}"

    def __reduce__(self):       # pickles as the module-level singleton
        return self.name


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")


# ----------------------------------------------------------------------------- meshgrid

def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 0-d or 1-d tensors.

    With N inputs of sizes n1..nN each output has shape (n1, .., nN) ('ij', the default)
    or (n2, n1, n3, .., nN) ('xy', Cartesian: the first two dims swapped). Outputs are
    expanded views of the inputs (writing to them needs a `.clone()`).

    Args:
        *tensors: 0-d or 1-d tensors of one dtype and device (or one list of them).
        indexing (str): 'ij' or 'xy'. Default: 'ij'.

    Example:
        >>> x, y = plugtorch.meshgrid(plugtorch.tensor([1, 2, 3]), plugtorch.tensor([4, 5]),
        ...                           indexing="ij")
        >>> x.tolist()
        [[1, 1], [2, 2], [3, 3]]
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"meshgrid(): expected Tensor as element {i} in argument 0, but "
                            f"got {type(t).__name__}")
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but '
                           f'received: {indexing}')
    for t in tensors:
        if t._dtype is not tensors[0]._dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
        if t._storage.device != tensors[0]._storage.device:
            raise RuntimeError("meshgrid expects all tensors to have the same device")
        if len(t._shape) > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: {tuple(t._shape)}")
    ts = list(tensors)
    swap = indexing == "xy" and len(ts) >= 2
    if swap:     # 'xy' is 'ij' on the first two inputs exchanged, outputs exchanged back
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.numel() for t in ts)
    outs = []
    for k, t in enumerate(ts):
        view = tuple(-1 if i == k else 1 for i in range(len(ts)))
        outs.append(t.reshape(view).expand(shape))
    if swap:
        outs[0], outs[1] = outs[1], outs[0]
    return tuple(outs)


# ----------------------------------------------------------------------------- rot90

def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees k times in the plane of `dims`, from the first dim towards the
    second (as numpy.rot90).

    Example:
        >>> plugtorch.tensor([[1, 2], [3, 4]]).rot90().tolist()
        [[2, 4], [1, 3]]
    """
    from .shape_ops import flip
    if not isinstance(input, Tensor):
        raise TypeError(f"rot90(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    dims = list(dims) if isinstance(dims, (list, tuple)) else [dims]
    ndim = len(input._shape)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {ndim}")
    d0, d1 = (input._wrap_dim(d, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} "
                           f"and dim1 = {dims[1]}")
    k = k % 4
    if k == 1:
        return flip(input, (d1,)).transpose(d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return flip(input, (d0,)).transpose(d0, d1)
    return input.clone()


def moveaxis(input, source, destination):
    """Alias of movedim (numpy's name)."""
    from .views import movedim
    return movedim(input, source, destination)




# ----------------------------------------------------------------------------- declarations

def _meshgrid_ref(*ts, indexing=None):
    return tuple(np.meshgrid(*[t.reshape(-1) for t in ts], indexing=indexing or "ij"))


def _grid_samples(dtype, rng):
    def a(shape):
        return np.asarray(S.array(shape, dtype, rng))
    return [Sample(a((3,)), a((2,)), grad=(0, 1)),
            Sample(a((3,)), a((2,)), a((4,)), indexing="xy", grad=(0, 1, 2)),
            Sample(a(()), a((3,)), indexing="ij", grad=(0, 1)),
            Sample(a((2,)), indexing="xy", grad=(0,)),
            Sample(a((0,)), a((2,)), indexing="xy", grad=(1,))]


def _rot90_samples(dtype, rng):
    def a(shape):
        return np.asarray(S.array(shape, dtype, rng))
    return [Sample(a((2, 3)), grad=(0,)),
            Sample(a((2, 3, 4)), 2, (1, 2), grad=(0,)),
            Sample(a((2, 3, 4)), -1, (2, 0), grad=(0,)),
            Sample(a((3, 2)), 3, (-1, -2), grad=(0,)),
            Sample(a((3, 2)), 4, grad=(0,))]


declare("meshgrid", meshgrid, ref=_meshgrid_ref, samples=_grid_samples, dtypes=D.ALL)
declare("rot90", rot90, ref=lambda x, k=1, dims=(0, 1): np.rot90(x, k, dims),
        samples=_rot90_samples, dtypes=D.ALL)
