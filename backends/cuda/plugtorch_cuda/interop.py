"""DLPack for cuda tensors, without copies, through CuPy (NOTE [interop] in
plugtorch/_interop.py).

Export hands the consumer CuPy's capsule of a CuPy view of the tensor: CuPy makes the
consumer's `stream` wait for the work queued on the current stream (where plugtorch queues
everything), as the DLPack protocol asks of a producer. Import asks CuPy to take the
producer's data (`cupy.from_dlpack`, which passes CuPy's current stream as the consumer's)
and wraps its memory as a storage: the tensor shares the producer's memory and keeps it
alive, with the producer's shape and strides.
"""
from plugtorch import _dtype
from plugtorch._tensor import Storage, _wrap, resolve_device
from plugtorch.backends import device_index

from .kernels import view


def to_dlpack(backend, tensor, stream=None, max_version=None, dl_device=None, copy=None):
    """A DLPack capsule sharing `tensor`'s memory (PyTorch's / the array API's keywords)."""
    cp = backend.cp
    kw = {"stream": stream}
    for k, v in (("max_version", max_version), ("dl_device", dl_device), ("copy", copy)):
        if v is not None:
            kw[k] = v
    with cp.cuda.Device(device_index(tensor)):
        return view(cp, tensor).__dlpack__(**kw)


def from_dlpack(backend, obj):
    """A cuda tensor sharing the memory of `obj` (anything with __dlpack__ on a CUDA
    device, or a capsule)."""
    cp = backend.cp
    try:
        arr = cp.from_dlpack(obj)
    except Exception as e:
        raise BufferError(f"from_dlpack: CuPy could not import the data: {e}") from e
    try:
        dt = _dtype.from_numpy_dtype(arr.dtype)
    except TypeError as e:
        raise BufferError(f"from_dlpack: {e}") from None
    item = arr.dtype.itemsize
    if any(s < 0 or s % item for s in arr.strides):
        raise BufferError(f"from_dlpack: strides {arr.strides} (bytes) are not non-negative "
                          f"multiples of the element size {item}")
    shape = tuple(arr.shape)
    strides = tuple(s // item for s in arr.strides)
    span = 1 + sum((n - 1) * s for n, s in zip(shape, strides)) if arr.size else 0
    index = arr.device.id
    with cp.cuda.Device(index):
        data = cp.ndarray((span,), arr.dtype, memptr=arr.data) if span else \
            cp.empty(0, arr.dtype)
    dev = resolve_device(f"cuda:{index}")[0]
    return _wrap(Storage(data, backend, dev, dt, span), shape, strides, 0)

