"""View ops: new tensors over the same storage, metadata only, on every backend.

A view records how to send its gradient back to its input. Slicing views (narrow, select,
diagonal, as_strided, basic indexing) and their shared backward live in slicing.py.
"""
from .. import _dtype as D
from .._tensor import _wrap, contiguous_strides, numel_of, empty_like_meta
from ..autograd.grad_mode import STATE
from ..autograd import graph
from . import _core as C
from .._dispatch import kernel as _kernel

__all__ = ["reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "t", "transpose",
           "swapaxes", "swapdims", "permute", "movedim", "clone", "detach", "expand_copy",
           "broadcast_to", "broadcast_tensors", "atleast_1d", "atleast_2d", "ravel"]


def make_view(x, shape, stride, offset):
    v = _wrap(x._storage, shape, stride, offset)
    v._base = x._base if x._base is not None else x
    return v


def _infer_shape(op, shape, numel):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"{op}: invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _view_strides(old_shape, old_stride, new_shape):
    """Strides for viewing (old_shape, old_stride) as new_shape, or None when a copy is
    needed: each run of merged old dims must be contiguous within itself.

    The old dims split into chunks that are contiguous within themselves (a size-1 dim never
    ends one); walking both shapes from the last dim, each chunk takes new dims until their
    sizes multiply to its own, strided like a contiguous tensor from the chunk's innermost
    stride -- size-1 new dims included, which gives them PyTorch's strides."""
    if not old_shape or old_stride == contiguous_strides(old_shape) or \
            numel_of(old_shape) == 0:
        return contiguous_strides(new_shape)     # (a contiguous tensor: the common case)
    new_stride = [0] * len(new_shape)
    vd = len(new_shape) - 1
    base = old_stride[-1]
    old_n = view_n = 1
    for od in range(len(old_shape) - 1, -1, -1):
        old_n *= old_shape[od]
        if od and (old_shape[od - 1] == 1 or old_stride[od - 1] == old_n * base):
            continue                                 # the chunk goes on
        while vd >= 0 and (view_n < old_n or new_shape[vd] == 1):
            new_stride[vd] = view_n * base
            view_n *= new_shape[vd]
            vd -= 1
        if view_n != old_n:
            return None
        if od:
            base = old_stride[od - 1]
            old_n = view_n = 1
    return tuple(new_stride) if vd < 0 else None


def _reshape_bw(n, g):
    return (g.reshape(n.params),)


def view(x, *shape):
    """A view with a new shape; raises when the strides don't allow one (use reshape)."""
    if len(shape) == 1 and isinstance(shape[0], D.dtype):
        raise RuntimeError("view(dtype) is not supported")
    shape = _infer_shape("view", shape, numel_of(x._shape))
    stride = _view_strides(x._shape, x._stride, shape)
    if stride is None:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return _record_view(x, make_view(x, shape, stride, x._offset), _reshape_bw, "ViewBackward0",
                        x._shape)


def _record_view(x, v, bw, name, params):
    if STATE.enabled and x._rg:
        graph.record(bw, name, (x,), v, params=params)
    return v


def reshape(input, *shape):
    """Like view when the strides allow, else a contiguous copy."""
    x = input
    shape = _infer_shape("reshape", shape, numel_of(x._shape))
    if shape == x._shape:
        return _record_view(x, make_view(x, shape, x._stride, x._offset), _reshape_bw,
                            "ViewBackward0", x._shape)
    stride = _view_strides(x._shape, x._stride, shape)
    if stride is None:
        return view(x.contiguous(), shape)
    return _record_view(x, make_view(x, shape, stride, x._offset), _reshape_bw,
                        "ViewBackward0", x._shape)


def flatten(input, start_dim=0, end_dim=-1):
    x = input
    if not x._shape:
        return reshape(x, (1,))
    s = x._wrap_dim(start_dim, "flatten")
    e = x._wrap_dim(end_dim, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = x._shape[:s] + (numel_of(x._shape[s:e + 1]),) + x._shape[e + 1:]
    return reshape(x, shape)


ravel = lambda input: reshape(input, (-1,))  # noqa: E731


def unflatten(input, dim, sizes):
    x = input
    d = x._wrap_dim(dim, "unflatten")
    sizes = _infer_shape("unflatten", tuple(sizes), x._shape[d])
    return reshape(x, x._shape[:d] + sizes + x._shape[d + 1:])


def squeeze(input, dim=None):
    x = input
    if dim is None:
        dims = [i for i, n in enumerate(x._shape) if n == 1]
    else:
        dims = [d for d in C.wrap_dims("squeeze", dim, len(x._shape))
                if x._shape and x._shape[d] == 1]
    shape = tuple(n for i, n in enumerate(x._shape) if i not in dims)
    stride = tuple(s for i, s in enumerate(x._stride) if i not in dims)
    return _record_view(x, make_view(x, shape, stride, x._offset), _reshape_bw,
                        "SqueezeBackward0", x._shape)


def unsqueeze(input, dim):
    x = input
    d = x._wrap_dim(dim, "unsqueeze", len(x._shape) + 1)
    shape = x._shape[:d] + (1,) + x._shape[d:]
    inner = x._stride[d] * x._shape[d] if d < len(x._shape) else 1
    stride = x._stride[:d] + (inner,) + x._stride[d:]
    return _record_view(x, make_view(x, shape, stride, x._offset), _reshape_bw,
                        "UnsqueezeBackward0", x._shape)


def _permute_bw(n, g):
    inv = [0] * len(n.params)
    for i, p in enumerate(n.params):
        inv[p] = i
    return (permute(g, inv),)


def permute(input, *dims):
    x = input
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if len(dims) != len(x._shape):
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {len(x._shape)} is not equal to len(dims) = "
                           f"{len(dims)}".replace("(sparse_coo)", ""))
    dims = tuple(x._wrap_dim(d, "permute") for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"permute: repeated dim in {dims}")
    v = make_view(x, tuple(x._shape[d] for d in dims), tuple(x._stride[d] for d in dims),
                  x._offset)
    return _record_view(x, v, _permute_bw, "PermuteBackward0", dims)


def transpose(input, dim0, dim1):
    x = input
    n = len(x._shape)
    if n == 0:
        return permute(x, ())
    a, b = x._wrap_dim(dim0, "transpose"), x._wrap_dim(dim1, "transpose")
    order = list(range(n))
    order[a], order[b] = order[b], order[a]
    return permute(x, order)


swapaxes = swapdims = transpose


def t(input):
    if len(input._shape) > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{len(input._shape)}D")
    return transpose(input, 0, 1) if len(input._shape) == 2 else input.view(input._shape)


def movedim(input, source, destination):
    n = len(input._shape)
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    src = [input._wrap_dim(s, "movedim") for s in src]
    dst = [input._wrap_dim(d, "movedim") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in source ({src}) or destination ({dst})")
    if n == 0:                 # a 0-d tensor: dim 0 or -1 names the tensor itself
        return permute(input, ())
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(n) if i not in src)
    order = [o if o is not None else next(rest) for o in order]
    return permute(input, order)


def _expand_bw(n, g):
    return (C.sum_to(g, n.params),)


def expand(input, *sizes):
    x = input
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < len(x._shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor "
                           f"({len(x._shape)})")
    pad = len(sizes) - len(x._shape)
    shape, stride = [], []
    for i, s in enumerate(sizes):
        if i < pad:
            if s < 0:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing "
                                   f"dimension {i}")
            shape.append(s)
            stride.append(0)
            continue
        n, st = x._shape[i - pad], x._stride[i - pad]
        if s == -1:
            s = n
        if n == s:
            shape.append(n)
            stride.append(st)
        elif n == 1:
            shape.append(s)
            stride.append(0)
        else:
            raise RuntimeError(f"expand: the expanded size of the tensor ({s}) must match the "
                               f"existing size ({n}) at non-singleton dimension {i}.  Target "
                               f"sizes: {list(sizes)}.  Tensor sizes: {list(x._shape)}")
    v = make_view(x, tuple(shape), tuple(stride), x._offset)
    return _record_view(x, v, _expand_bw, "ExpandBackward0", x._shape)


def broadcast_to(input, shape):
    return expand(input, shape)


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    shape = C.broadcast_shapes("broadcast_tensors", *(t._shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


def atleast_1d(x):
    return reshape(x, (1,)) if not x._shape else x


def atleast_2d(x):
    return reshape(x, (1,) * (2 - len(x._shape)) + x._shape) if len(x._shape) < 2 else x


# ----------------------------------------------------------------------------- copies

def _identity_bw(n, g):
    return (g,)


def clone(input, *, memory_format=None):
    """A copy with its own (contiguous) storage; gradients flow through."""
    x = input
    out = empty_like_meta(x)
    _kernel("copy", x)(out, x)
    if STATE.enabled and x._rg:
        graph.record(_identity_bw, "CloneBackward0", (x,), out)
    return out


def contiguous(self, memory_format=None):
    return self if self.is_contiguous() else clone(self)


def detach(input):
    """A tensor sharing storage (and version counter) with input, outside the graph."""
    x = input
    return _wrap(x._storage, x._shape, x._stride, x._offset)


def detach_(self):
    if self._base is not None and self._base._rg:
        raise RuntimeError("Can't detach views in-place. Use detach() instead.")
    self._node = None
    self.requires_grad = False
    return self


def expand_copy(input, *sizes):
    return expand(input, *sizes).clone()


