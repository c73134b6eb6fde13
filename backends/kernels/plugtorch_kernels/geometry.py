"""Launch plans on the host side: merging dims, global sizes, and the per-shape plans of the
elementwise and reduction kernels.

Operands of one elementwise launch share a shape; merging drops size-1 dims and joins
neighbouring dims that are laid out contiguously in *every* operand, so most views reach
the kernel as 1-d (the contiguous fast path) or 2-d.
"""
from .args import dims_struct, geo_struct
from .cl_source import MAXD
from .tuning import (LOCAL_SIZE, REDUCE_COLUMNS, elementwise_chunk, reduce_col_parts,
                     reduce_parts)


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


def contiguous_strides(shape):
    """The row-major strides of `shape`, as a list."""
    out, acc = [], 1
    for n in reversed(shape):
        out.append(acc)
        acc *= n
    return out[::-1]


def fits(shape):
    return len(shape) <= MAXD


_GLOBALS = {}


def global_size(n):
    """The 1-d global size for n work-items: n rounded up to LOCAL_SIZE (cached)."""
    g = _GLOBALS.get(n)
    if g is None:
        if len(_GLOBALS) > 4096:
            _GLOBALS.clear()
        g = _GLOBALS[n] = ((n + LOCAL_SIZE - 1) // LOCAL_SIZE * LOCAL_SIZE,)
    return g


# NOTE [elementwise launch plans]
# A launch's geometry depends only on the output shape and the operands' strides (and the
# device kind, which picks the chunk), and a program runs the same few shapes over and
# over, so the merged geometry is computed once per (shape, strides) and kept as a plan:
# ("c", n, global size, chunk) for the contiguous kernel, or ("s", n, global size,
# [packed strides per tensor operand], packed dims, nd, chunk) for the strided one (an
# operand's geo_t is its packed offset followed by those stride bytes), or ("x", shp, sts)
# when more than MAXD merged dims remain (the launcher splits the leading ones). Offsets
# are not part of the key. The chunk is the elements per work-item (NOTE [elementwise
# chunks] in elementwise.py), and the global size covers n / chunk work-items.

def elementwise_plan(oshape, ostrides, kind="gpu", compute_units=1):
    """The plan of an elementwise launch over `oshape` with operand strides `ostrides`
    (the output's first) on a device of `kind`; (None, 0) when there is nothing to do."""
    n = 1
    for s in oshape:
        n *= s
    shp, sts = merge(oshape, ostrides)
    if n == 0:
        return (None, 0)
    chunk = elementwise_chunk(kind, n, compute_units)
    g = global_size(-(-n // chunk))
    if len(shp) <= 1 and all(not s or s[0] == 1 for s in sts):
        return ("c", n, g, chunk)
    if not fits(shp):
        return ("x", shp, sts)
    return ("s", n, g, [geo_struct(0, st)[8:] for st in sts], dims_struct(shp), len(shp),
            chunk)


def split_dims(xshape, xstrides, dims):
    """Merged (kept shape, kept strides), (reduced shape, reduced strides) of a tensor of
    shape `xshape` and strides `xstrides` reduced over `dims`."""
    kept = [i for i in range(len(xshape)) if i not in dims]
    kshape = tuple(xshape[i] for i in kept)
    out_st = []
    acc = 1
    for n in reversed(kshape):
        out_st.append(acc)
        acc *= n
    kshp, (kst, _) = merge(kshape, [[xstrides[i] for i in kept], out_st[::-1]])
    rshp, (rst,) = merge(tuple(xshape[i] for i in dims), [[xstrides[i] for i in dims]])
    return kshp, kst, rshp, rst


# NOTE [reduction plans]
# Everything of a one-pass launch but the buffers and offsets depends only on (input shape,
# input strides, dims), so it is computed once and kept: the packed kept strides (the
# input's geo_t minus its offset), the packed kept dims, the reduced geo_t and dims, M, K,
# the global size of a one-pass launch (M rounded up to LOCAL_SIZE), and, when the launch
# takes the `redcol` kernel (NOTE [reduction layout] in reductions.py), its global size,
# parts and reduced elements per part.

def reduction_plan(xshape, xstrides, dims):
    """(M, K, P, kept strides bytes, kept dims, kept nd, reduced geo_t, reduced dims,
    reduced nd, kshp, kst, rshp, rst, one-pass global size, (redcol global size, parts,
    chunk) or None) of a reduction."""
    kshp, kst, rshp, rst = split_dims(xshape, xstrides, dims)
    M = 1
    for n in kshp:
        M *= n
    K = 1
    for n in rshp:
        K *= n
    col = None
    if M >= REDUCE_COLUMNS and kst == [1] and rst and rst[-1] != 1:
        parts = reduce_col_parts(K)
        col = (global_size(parts * -(-M // REDUCE_COLUMNS)), parts, -(-K // parts))
    return (M, K, reduce_parts(M, K), geo_struct(0, kst)[8:], dims_struct(kshp), len(kshp),
            geo_struct(0, rst or [0]), dims_struct(rshp), len(rshp), kshp, kst, rshp, rst,
            global_size(M), col)
