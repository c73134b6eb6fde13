"""Pickling of tensors (used by copy, multiprocessing and DataLoader workers).

A tensor pickles as its values (a host copy), dtype, device and requires_grad.
"""
import numpy as np

__all__ = []


def _rebuild(array, dtype_name, device, requires_grad):
    from . import _dtype as D
    from ._tensor import resolve_device, from_numpy_on
    dev, backend = resolve_device(device)
    t = from_numpy_on(np.asarray(array, dtype=D.to_dtype(dtype_name).np), dev, backend)
    if requires_grad:
        t.requires_grad = True
    return t


def _reduce_tensor(t):
    from ._tensor import host_array
    if t._node is not None:
        raise RuntimeError("Can't pickle a non-leaf tensor that requires grad; detach() it first")
    return (_rebuild, (np.array(host_array(t)), t._dtype.name, str(t.device),
                       bool(t.requires_grad)))
