"""What a kernel may read of a tensor: its buffer and its geometry.

Kernels receive `plugtorch.Tensor` objects (NOTE [backend contract] in `base.py`) and read
them only through these functions, never through private fields, so the tensor's internals
can change without breaking any backend.

- `buffer(t)`: the storage object the backend's `empty`/`from_numpy` returned for t.
- `shape(t)`: t's sizes, a tuple of ints.
- `strides(t)`: t's strides in elements (0 for broadcast dimensions), a tuple of ints.
- `offset(t)`: the index of t's first element in its buffer, in elements.
- `dtype(t)`: t's `plugtorch.dtype` (`.np` is the numpy dtype, `.itemsize` its size).

These five are attribute getters (a kernel calls them on every launch, so they cost no
Python frame); the helpers below them are ordinary functions.

Example:
    >>> import plugtorch
    >>> from plugtorch.backends import buffer, shape, strides, offset, dtype
    >>> t = plugtorch.arange(6.).reshape(2, 3).t()
    >>> shape(t), strides(t), offset(t), dtype(t).np
    ((3, 2), (1, 3), 0, dtype('float32'))
    >>> buffer(t).shape          # the cpu backend's buffer is a flat numpy array
    (6,)
"""

import operator

import numpy as np

from .. import _dispatch as _D  # the dispatcher imports this package: read at call time
from .. import _tensor as _T   # the tensor layer: read at call time (it imports this package)

__all__ = ["buffer", "shape", "strides", "offset", "dtype", "device_index", "backend_of", "is_tensor",
           "is_contiguous", "contiguous_strides", "numel", "new_tensor", "view", "cast",
           "numpy_view", "philox_uniform"]


buffer = operator.attrgetter("_storage.data")
shape = operator.attrgetter("_shape")
strides = operator.attrgetter("_stride")
offset = operator.attrgetter("_offset")
dtype = operator.attrgetter("_dtype")


def device_index(t):
    """The index of `t`'s device (None on a backend without device indices)."""
    return t._storage.device.index


def backend_of(t):
    """The `Backend` object that owns `t`'s storage."""
    return t._storage.backend


def is_tensor(x):
    """Whether `x` is a tensor (a binary primitive's operand may be a Python scalar)."""
    return hasattr(x, "_storage")


def contiguous_strides(shape):
    """Row-major strides, in elements, of a tensor of `shape`."""
    return _T.contiguous_strides(tuple(shape))


def numel(shape):
    """The number of elements of a tensor of `shape`."""
    return _T.numel_of(tuple(shape))


def is_contiguous(t):
    """Whether `t` is row-major with no gaps (its elements are buffer[offset:offset+numel])."""
    return t.is_contiguous()


def new_tensor(like, shape=None, dtype=None):
    """A new contiguous tensor on `like`'s device (a kernel's temporary); its values are
    uninitialised. `shape` and `dtype` default to `like`'s."""
    return _T.empty_like_meta(like, shape=None if shape is None else tuple(shape), dtype=dtype)


def view(t, shape, strides, offset):
    """A tensor sharing `t`'s buffer with other geometry (offset in elements from the start
    of the buffer). The caller keeps it inside the buffer."""
    return _T._wrap(t._storage, tuple(shape), tuple(strides), offset)


def cast(t, dtype):
    """`t` converted to `dtype` with the backend's `copy` kernel (`t` itself if it has it)."""
    if t._dtype is dtype:
        return t
    out = _T.empty_like_meta(t, dtype=dtype)
    _D.kernel("copy", out)(out, t)
    return out


def numpy_view(t):
    """For a backend whose buffers are flat numpy arrays: the strided numpy view of `t`
    (cached on the tensor; writes through it change the tensor)."""
    v = t._view
    if v is None:
        data = t._storage.data
        shape = t._shape
        if t._offset == 0 and t._stride is _T._STRIDES.get(shape) and \
                data.size == _T._NUMEL.get(shape):
            # the whole buffer in order (the output of an op): 1-d, the buffer itself
            v = data if len(shape) == 1 else data.reshape(shape)
        elif data.size == 0 or 0 in shape:
            # no element to reach (its offset may even lie past the buffer's end)
            v = np.empty(shape, data.dtype)
        else:
            item = data.itemsize
            v = np.ndarray(shape, data.dtype, buffer=data, offset=t._offset * item,
                           strides=tuple(s * item for s in t._stride))
        t._view = v
    return v


def philox_uniform(n, seed, offset, np_dtype):
    """Reference numbers of the `uniform` primitive on the host: `n` uniform [0, 1) values of
    numpy dtype `np_dtype` from Philox4x32-10 with key `seed`, counters `offset`, offset + 1...
    A host backend may call it; a device backend must produce the same numbers."""
    from .._generator import philox_uniform_numpy
    return philox_uniform_numpy(n, seed, offset, np_dtype)
