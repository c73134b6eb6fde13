"""Strided geometry on the host side: merging dims and packing the kernel's structs.

Operands of one elementwise launch share a shape; merging drops size-1 dims and joins
neighbouring dims that are laid out contiguously in *every* operand, so most views reach
the kernel as 1-d (the contiguous fast path) or 2-d.
"""
import struct

from .cl_source import MAXD

_GEO = struct.Struct(f"{MAXD + 1}q").pack
_DIMS = struct.Struct(f"{MAXD}q").pack
_PAD = (0,) * MAXD


def merge(shape, strides):
    """Merge dims of `shape` shared by the operand stride tuples in `strides`.

    Returns (shape, [strides per operand]) with no size-1 dims.
    """
    keep = [i for i, n in enumerate(shape) if n != 1]
    shp = [shape[i] for i in keep]
    sts = [[s[i] for i in keep] for s in strides]
    i = len(shp) - 2
    while i >= 0:
        n1 = shp[i + 1]
        if all(st[i] == st[i + 1] * n1 for st in sts):
            shp[i] *= n1
            del shp[i + 1]
            for st in sts:
                st[i] = st[i + 1]
                del st[i + 1]
        i -= 1
    return shp, sts


def dims_struct(shape):
    """The dims_t kernel argument (bytes) of a shape of at most MAXD dims."""
    return _DIMS(*shape, *_PAD[len(shape):])


def geo_struct(offset, strides):
    """The geo_t kernel argument (bytes): offset, then strides padded with zeros."""
    return _GEO(offset, *strides, *_PAD[len(strides):])


def fits(shape):
    return len(shape) <= MAXD
