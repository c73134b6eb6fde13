"""Slicing views: narrow, select, unbind, split, chunk, diagonal, as_strided, and the
geometry helpers basic indexing uses (`slice_view`, `embed`).

Slicing views share one backward: embed the gradient into zeros shaped like the input
(`embed`). Writes through views are handled by `copy_slices`, see
NOTE [in-place autograd] in _core.py.
"""
from .. import _dtype as D
from .._tensor import Tensor, numel_of
from ..autograd.grad_mode import STATE
from ..autograd import graph
from .views import make_view, detach

__all__ = ["narrow", "select", "unbind", "split", "chunk", "diagonal", "as_strided"]


def _slice_bw(n, g):
    return (embed(g, *n.params),)


def as_strided(input, size, stride, storage_offset=None):
    """A view with explicit geometry over input's storage (offsets in elements)."""
    x = input
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    off = x._offset if storage_offset is None else int(storage_offset)
    if len(size) != len(stride):
        raise RuntimeError(f"as_strided: mismatch in length of strides and shape ({size} vs "
                           f"{stride})")
    if numel_of(size) and off + sum((n - 1) * s for n, s in zip(size, stride)) >= \
            x._storage.numel or off < 0 or min(stride, default=0) < 0:
        raise RuntimeError(f"as_strided: storage size {x._storage.numel} is too small for "
                           f"size {list(size)}, stride {list(stride)}, offset {off}")
    return slice_view(x, size, stride, off)


def slice_view(x, shape, stride, offset, replay=None):
    """A view of x with the given geometry, recorded for autograd.

    `replay(z)` must make the same view of any tensor z shaped like x (e.g.
    `lambda z: z.narrow(0, 1, 2)`): backward then scatters the gradient into zeros shaped like
    x through it, which is right even when x overlaps itself (an expanded tensor). Without
    it (as_strided), the gradient is placed by storage position, see `embed`.
    """
    v = make_view(x, shape, stride, offset)
    if STATE.enabled and x._rg:
        if replay is not None:
            graph.record(_replay_bw, "SliceBackward0", (x,), v, params=(x._shape, replay))
        else:
            graph.record(_slice_bw, "AsStridedBackward0", (x,), v,
                         params=(x._shape, x._stride, x._offset, shape, stride, offset))
    return v


def _replay_bw(n, g):
    shape, replay = n.params
    z = g.new_zeros(shape)
    replay(z).copy_(g)
    return (z,)


def embed(g, xshape, xstride, xoffset, vshape, vstride, voffset):
    """A tensor with x's geometry that is zero except for the view's region, which holds g.
    Differentiable in g (the copy into the region goes through copy_slices)."""
    span = 1 + sum((n - 1) * s for n, s in zip(xshape, xstride)) if numel_of(xshape) else 1
    z = g.new_zeros((span,))
    if graph._non_overlapping(vshape, vstride):
        slice_view(z, vshape, vstride, voffset - xoffset).copy_(g)
    else:
        # the view reads some positions more than once (e.g. im2col windows): their
        # gradients add up, so scatter-add g at every element's storage position
        from .creation import arange
        pos = g.new_full((), voffset - xoffset, dtype=D.int64)
        for d, (n, st) in enumerate(zip(vshape, vstride)):
            shape = (1,) * d + (n,) + (1,) * (len(vshape) - d - 1)
            pos = pos + (arange(n, device=g.device) * st).reshape(shape)
        z = z.index_add(0, pos.expand(vshape).reshape(-1), g.reshape(-1))
    return slice_view(z, xshape, xstride, 0)


def narrow(input, dim, start, length):
    x = input
    d = x._wrap_dim(dim, "narrow")
    n = x._shape[d]
    if isinstance(start, Tensor):
        start = int(start.item())
    if not -n <= start <= n:
        raise IndexError(f"narrow: start ({start}) out of range for dimension {d} of size {n}")
    start = start + n if start < 0 else start
    if length < 0 or start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension "
                           f"size ({n}).")
    shape = x._shape[:d] + (length,) + x._shape[d + 1:]
    return slice_view(x, shape, x._stride, x._offset + start * x._stride[d],
                      lambda z: narrow(z, d, start, length))


def select(input, dim, index):
    x = input
    if not x._shape:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = x._wrap_dim(dim, "select")
    n = x._shape[d]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(x._shape)} at dimension {d}")
    index = index + n if index < 0 else index
    return slice_view(x, x._shape[:d] + x._shape[d + 1:], x._stride[:d] + x._stride[d + 1:],
                      x._offset + index * x._stride[d], lambda z: select(z, d, index))


def unbind(input, dim=0):
    d = input._wrap_dim(dim, "unbind")
    return tuple(select(input, d, i) for i in range(input._shape[d]))


def split(tensor, split_size_or_sections, dim=0):
    x = tensor
    d = x._wrap_dim(dim, "split")
    n = x._shape[d]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        if s <= 0 and n:
            raise RuntimeError(f"split: split_size must be positive, got {s}")
        sizes = [min(s, n - i) for i in range(0, n, s)] if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(narrow(x, d, start, s))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = input._wrap_dim(dim, "chunk")
    n = input._shape[d]
    if n == 0:          # an empty dim gives `chunks` empty pieces, as PyTorch
        return tuple(narrow(input, d, 0, 0) for _ in range(chunks))
    return split(input, -(-n // chunks), dim)


def diagonal(input, offset=0, dim1=0, dim2=1):
    x = input
    a, b = x._wrap_dim(dim1, "diagonal"), x._wrap_dim(dim2, "diagonal")
    if a == b:
        raise RuntimeError("diagonal dimensions cannot be identical")
    na, nb = x._shape[a], x._shape[b]
    if offset >= 0:
        length = max(0, min(na, nb - offset))
        start = x._offset + offset * x._stride[b]
    else:
        length = max(0, min(na + offset, nb))
        start = x._offset - offset * x._stride[a]
    if length == 0:
        start = x._offset
    keep = [i for i in range(len(x._shape)) if i not in (a, b)]
    shape = tuple(x._shape[i] for i in keep) + (length,)
    stride = tuple(x._stride[i] for i in keep) + (x._stride[a] + x._stride[b],)
    return slice_view(x, shape, stride, start, lambda z: diagonal(z, offset, a, b))


def copy_slices(base, view, r):
    """Make base's history say: base is its old self with view's region replaced by r."""
    geom = (view._shape, view._stride, view._offset)
    bgeom = (base._shape, base._stride, base._offset)
    old = detach(base)
    old.requires_grad = base._rg
    old._node, old._output_nr = base._node, base._output_nr

    def bw(n, g):
        ga = gr = None
        if n.edges[0] is not None:
            mask = embed(g.new_ones(geom[0]), *bgeom, *geom)
            ga = g * (1 - mask)
        if n.edges[1] is not None:
            full = embed(g, *bgeom, *bgeom)     # g laid out with base's geometry
            gr = slice_view(full, geom[0], geom[1], full._offset + geom[2] - bgeom[2])
        return ga, gr

    graph.record(bw, "CopySlices", (old if old._rg else None, r), base)
    base.requires_grad = True
    # the view's own history: a slice of the new base
    name = "AsStridedBackward0"
    node = graph.node_class(name)(_slice_bw, name, (base,),
                                  params=(base._shape, base._stride, base._offset) + geom)
    view.requires_grad = True
    view._node, view._output_nr = node, 0


