"""CPUBackend: storage is a flat numpy array; a tensor's numpy view is cached on it."""
import numpy as np

from plugtorch.backends import Backend
from plugtorch import _dtype as D
from plugtorch._tensor import contiguous_strides, numel_of

from .kernels import KERNELS


def view(t):
    """The numpy view of tensor t (created once, cached on the tensor)."""
    v = t._view
    if v is None:
        st = t._storage
        data = st.data
        if t._offset == 0 and st.numel == data.size and t._stride == contiguous_strides(
                t._shape) and st.numel == numel_of(t._shape):
            v = data.reshape(t._shape)
        else:
            item = data.itemsize
            v = np.ndarray(t._shape, data.dtype, buffer=data, offset=t._offset * item,
                           strides=tuple(s * item for s in t._stride)) if data.size else \
                np.empty(t._shape, data.dtype)
        t._view = v
    return v


class CPUBackend(Backend):
    """Host memory through numpy."""
    name = "cpu"
    multi_device = False
    dtypes = frozenset(D.ALL)
    kernels = KERNELS

    def empty(self, numel, dtype, index):
        return np.empty(numel, dtype.np)

    def from_numpy(self, array, index):
        return np.array(array, copy=True).reshape(-1)

    def to_numpy(self, tensor):
        return view(tensor)

    def describe(self):
        import platform
        return [{"device": "cpu", "name": platform.processor() or platform.machine()}]
