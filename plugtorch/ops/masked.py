"""Masked ops and nonzero: masked_fill, masked_select, nonzero, argwhere."""
import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from . import _core as C
from ._decl import declare
from .indexing import getitem, _commit, _nonzero_raw, _samples

__all__ = ["masked_fill", "masked_select", "nonzero", "argwhere"]


def _mask_value(op, x, mask, value):
    if not isinstance(mask, Tensor) or mask._dtype is not D.bool:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{getattr(mask, 'dtype', type(mask).__name__)}")
    C.check_devices(op, x, mask)
    if isinstance(value, Tensor):
        if value._shape:
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got "
                               f"tensor with {len(value._shape)} dimension(s).")
        return value if value._dtype is x._dtype else value.to(x._dtype)
    return C.scalar_for(value, x._dtype)


def masked_fill(input, mask, value):
    """input with value where mask (broadcast) is True."""
    from .ternary import where
    value = _mask_value("masked_fill", input, mask, value)
    return where(mask, value, input)


def masked_fill_(self, mask, value):
    C.check_inplace("masked_fill_", self, same_value=True)
    value = _mask_value("masked_fill_", self, mask, value)
    if C.broadcast_shapes("masked_fill_", self._shape, mask._shape) != self._shape:
        raise RuntimeError(f"masked_fill_: mask of shape {list(mask._shape)} does not broadcast "
                           f"to self of shape {list(self._shape)}")
    return _commit(self, masked_fill(self, mask, value))


def masked_select(input, mask):
    """The entries of input where mask (broadcast with input) is True, as a 1-d tensor."""
    _mask_value("masked_select", input, mask, 0)
    shape = C.broadcast_shapes("masked_select", input._shape, mask._shape)
    return getitem(input.expand(shape), mask.expand(shape) if shape else mask)


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero entries: an (n, ndim) int64 tensor, or a tuple of ndim 1-d
    tensors with as_tuple=True."""
    nz = _nonzero_raw(input)
    if not as_tuple:
        return nz
    if not input._shape:
        from .creation import zeros
        return (zeros(nz._shape[0], dtype=D.int64, device=input.device),)
    return tuple(nz[:, j].contiguous() for j in range(nz._shape[1]))


def argwhere(input):
    return nonzero(input)




# ----------------------------------------------------------------------------- declarations

declare("masked_fill", masked_fill, ref=lambda x, m, v: np.where(m, v, x), dtypes=D.ALL,
        samples=_samples(lambda a, rng: [
            ((a((3, 4)), rng.random((3, 4)) < 0.5, 1), (0,), {}),
            ((a((3, 4)), rng.random((4,)) < 0.5, 0), (0,), {})]))
declare("masked_select", masked_select, ref=lambda x, m: np.broadcast_to(
    x, np.broadcast_shapes(x.shape, m.shape))[np.broadcast_to(
        m, np.broadcast_shapes(x.shape, m.shape))], dtypes=D.ALL,
        samples=_samples(lambda a, rng: [
            ((a((3, 4)), rng.random((3, 4)) < 0.5), (0,), {}),
            ((a((3, 1)), rng.random((3, 4)) < 0.5), (0,), {})]))
declare("nonzero", nonzero, ref=lambda x: np.argwhere(x), dtypes=D.ALL, grad=False,
        primitive="nonzero", samples=_samples(lambda a, rng: [
            ((a((3, 4)),), None, {}), ((a((5,)),), None, {}), ((a((2, 0)),), None, {})]))
