"""The CUDA backend's kernels, as CuPy operations on strided views of the storage.

Only `copy` (mandatory: every transfer needs it) and `fill` live here; every other
primitive runs through plugtorch's CPU fallback (or its decomposition) until the kernel
library shared with the OpenCL backend provides CUDA kernels for them.
"""
import numpy as np

from plugtorch.backends import buffer, device_index, offset, shape, strides


def kernels(cp):
    """The kernel table, built over the CuPy module `cp`."""

    def view(t):
        """A CuPy array over t's elements in its buffer (t's shape, strides and offset)."""
        buf = buffer(t)
        shp = shape(t)
        if 0 in shp:
            return cp.empty(shp, buf.dtype)
        item = buf.dtype.itemsize
        return cp.ndarray(shp, buf.dtype, memptr=buf.data + offset(t) * item,
                          strides=tuple(s * item for s in strides(t)))

    def copy(out, src):
        # C conversions, as the contract asks: floats to ints truncate, to bool is != 0
        with cp.cuda.Device(device_index(out)):
            cp.copyto(view(out), view(src), casting="unsafe")

    def fill(out, value):
        with cp.cuda.Device(device_index(out)):
            o = view(out)
            o.fill(np.asarray(value, o.dtype)[()])

    return {"copy": copy, "fill": fill}
