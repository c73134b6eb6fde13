"""gather, scatter (scatter_add, scatter_reduce), index_select, index_add and take.

Every op checks its index values with `_bounds`/`_minmax` (see NOTE [indexing] in
indexing.py) before a kernel runs, then calls the `gather`/`scatter` primitives.
"""
import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap, empty_like_meta, numel_of
from ..autograd.grad_mode import STATE
from . import _core as C
from ._decl import declare
from .indexing import (checked, _raise_if_out, _index_tensor, _take, _contig, _commit,
                       _samples)

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
           "take"]


# ----------------------------------------------------------------------------- gather/scatter

def _dim(x, dim, op):
    d = x._wrap_dim(dim, op)
    return d if x._shape else 0


def _check_dim_index(op, x, dim, index, src=None):
    d = _dim(x, dim, op)
    index = _index_tensor(op, index, x)
    ni, nx = len(index._shape), len(x._shape)
    if ni != nx and not (ni <= 1 and nx <= 1):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"input tensor")
    ish = index._shape or (1,)
    xsh = x._shape or (1,)
    for k, (a, b) in enumerate(zip(ish, xsh)):
        if k != d and a > b:
            raise RuntimeError(f"{op}(): Size does not match at dimension {k} expected index "
                               f"{list(index._shape)} to be no larger than self "
                               f"{list(x._shape)} apart from dimension {d}")
    if isinstance(src, Tensor):
        ns = len(src._shape)
        if ns != ni and not (ni <= 1 and ns <= 1):
            raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                               f"src tensor (index {list(index._shape)}, src {list(src._shape)})")
        ssh = src._shape or (1,)
        for k, (a, b) in enumerate(zip(ish, ssh)):
            if a > b:
                raise RuntimeError(f"{op}(): Expected index {list(index._shape)} to be no "
                                   f"larger than src {list(src._shape)} in any dimension")
    n = xsh[d]
    # RuntimeError, not IndexError, for gather and scatter: PyTorch's classes
    return d, checked(op, index, n, d, negative=False,
                      raise_out=lambda lo, hi: _raise_if_out(op, lo, hi, n, d, False,
                                                             RuntimeError))


def _narrow_to(t, shape, skip=None):
    """t (a 1-d view for 0-d t) cut to `shape` in every dim but `skip` (metadata only)."""
    sh = t._shape or (1,)
    st = t._stride or (1,)
    shape = tuple(sh[k] if k == skip else n for k, n in enumerate(shape))
    return _wrap(t._storage, shape, st, t._offset)


def _gather_bw(n, g):
    d, index, shape = n.params
    return (scatter_add(g.new_zeros(shape), d, index, g),)


def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j][k] = input[index[i][j][k]][j][k] (for dim=0), index shaped like out.

    Example:
        >>> import plugtorch as torch
        >>> torch.gather(torch.tensor([[1, 2], [3, 4]]), 1, torch.tensor([[0, 0], [1, 0]]))
        tensor([[1, 1],
                [4, 3]])
    """
    x = input
    d, index = _check_dim_index("gather", x, dim, index)
    out = empty_like_meta(x, shape=index._shape)
    if numel_of(index._shape):
        ish = index._shape or (1,)
        C.run("gather", _wrap(out._storage, ish, _contig(ish), 0), _narrow_to(x, ish, d), d,
              _narrow_to(index, ish))
    if STATE.enabled and x._rg:
        C.record(_gather_bw, "GatherBackward0", (x,), out, params=(d, index, x._shape))
    return out


_REDUCE = {None: None, "add": "sum", "sum": "sum", "multiply": "prod", "prod": "prod"}


def _scatter_bw(n, g):
    d, index, reduce, src_is_tensor, sshape = n.params
    gx = gs = None
    if n.edges[0] is not None:
        gx = g if reduce == "sum" else scatter(g, d, index, 0)
    if src_is_tensor and n.edges[1] is not None:
        gs = gather(g, d, index)
        if gs._shape != sshape:   # src larger than index: zero beyond
            gs = _pad_to(gs, sshape)
    return gx, gs


def _pad_to(g, shape):
    from .creation import zeros
    z = zeros(shape, dtype=g._dtype, device=g.device)
    region = z
    for k, n in enumerate(g._shape):
        region = region.narrow(k, 0, n)
    region.copy_(g)
    return z


def _scatter(op, x, dim, index, src, reduce):
    if reduce not in _REDUCE:
        raise RuntimeError(f"{op}(): reduce argument must be either add or multiply, got "
                           f"{reduce!r}")
    kreduce = _REDUCE[reduce]
    st = isinstance(src, Tensor)
    if st:
        C.check_devices(op, x, src)
        if src._dtype is not x._dtype:
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype, got "
                               f"{x._dtype.name} and {src._dtype.name}")
    elif not isinstance(src, (int, float, bool)):
        raise TypeError(f"{op}(): src must be a Tensor or a number, got {type(src).__name__}")
    d, index = _check_dim_index(op, x, dim, index, src)
    out = empty_like_meta(x)
    C.run("copy", out, x)
    if numel_of(index._shape):
        ish = index._shape or (1,)
        s = _narrow_to(src, ish) if st else C.scalar_for(src, x._dtype)
        C.run("scatter", _wrap(out._storage, x._shape or (1,), _contig(x._shape or (1,)), 0), d,
              _narrow_to(index, ish), s, kreduce)
    if C.needs_grad(x, src if st else None):
        if kreduce == "prod":
            raise RuntimeError(f"{op}(): the derivative for reduce='multiply' is not "
                               f"implemented")
        C.record(_scatter_bw, "ScatterBackward0", (x, src if st else None), out,
                 params=(d, index, kreduce, st, src._shape if st else None))
    return out


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """Out of place scatter: a copy of input with out[index[i][j]][j] = src[i][j] (dim=0).

    Args:
        src: a tensor (at least as large as index) or a number; `value=` is an alias.
        reduce: None, 'add' or 'multiply' to combine with the existing values.
    Example:
        >>> import plugtorch as torch
        >>> torch.zeros(3).scatter(0, torch.tensor([2, 0]), torch.tensor([5., 6.]))
        tensor([6., 0., 5.])
    """
    return _scatter("scatter", input, dim, index, value if src is None else src, reduce)


def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
    """In-place scatter (see scatter)."""
    C.check_inplace("scatter_", self)
    src = value if src is None else src
    return _commit(self, _scatter("scatter_", self, dim, index, src, reduce))


def scatter_add(input, dim, index, src):
    """Out of place: out[index[i][j]][j] += src[i][j] (dim=0); repeated indices add up."""
    return _scatter("scatter_add", input, dim, index, src, "add")


def scatter_add_(self, dim, index, src):
    C.check_inplace("scatter_add_", self)
    return _commit(self, _scatter("scatter_add_", self, dim, index, src, "add"))


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Scatter with reduce 'sum', 'prod' or 'mean'; include_self=False ignores the old values
    at scattered positions. ('amax'/'amin' need a scatter primitive reduction that the backend
    contract does not have yet.)"""
    if reduce not in ("sum", "prod", "mean"):
        raise RuntimeError(f"scatter_reduce(): reduce argument must be one of sum, prod, mean "
                           f"(amax/amin are not supported), got {reduce!r}")
    x = input
    if not include_self:
        x = scatter(x, dim, index, 1 if reduce == "prod" else 0)
    if reduce == "mean":
        total = scatter_add(x, dim, index, src)
        ones = x.detach().new_ones(x._shape)
        base = ones if include_self else scatter(ones, dim, index, 0)
        # every position counts itself (once) unless replaced, plus what is scattered to it
        count = scatter_add(base, dim, index, ones.new_ones(index._shape))
        return total / count if x._dtype.kind == 2 else total.floor_divide(count)
    return _scatter("scatter_reduce", x, dim, index, src, "add" if reduce == "sum"
                    else "multiply")


def _expand_index(index, d, shape):
    """A 1-d index viewed as (1,..,m,..,1) and broadcast to `shape` (metadata only)."""
    m = index._shape[0] if index._shape else 1
    view = _wrap(index._storage, tuple(m if k == d else 1 for k in range(len(shape))),
                 tuple((index._stride[0] if index._shape else 1) if k == d else 0
                       for k in range(len(shape))), index._offset)
    return C.expand_meta(view, shape)


def _check_select(op, x, dim, index):
    d = _dim(x, dim, op)
    index = _index_tensor(op, index, x)
    if len(index._shape) > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got shape "
                         f"{list(index._shape)}")
    n = x._shape[d] if x._shape else 1
    return d, checked(op, index, n, d, negative=False)


def _index_select_bw(n, g):
    d, index, shape = n.params
    return (index_add(g.new_zeros(shape), d, index, g),)


def index_select(input, dim, index):
    """The entries of input at `index` (a 1-d int tensor) along dim.

    Example:
        >>> import plugtorch as torch
        >>> torch.arange(6).reshape(2, 3).index_select(1, torch.tensor([2, 0]))
        tensor([[2, 0],
                [5, 3]])
    """
    x = input
    if not x._shape and isinstance(index, Tensor) and index.numel() != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                           f"{index.numel()} value(s)")
    d, index = _check_select("index_select", x, dim, index)
    xs = x._shape or (1,)
    shape = tuple(index.numel() if k == d else n for k, n in enumerate(xs))
    out = empty_like_meta(x, shape=shape if x._shape else ())
    if numel_of(shape):
        C.run("gather", _wrap(out._storage, shape, _contig(shape), 0),
              _wrap(x._storage, xs, x._stride or (1,), x._offset), d,
              _expand_index(index, d, shape))
    if STATE.enabled and x._rg:
        C.record(_index_select_bw, "IndexSelectBackward0", (x,), out,
                 params=(d, index, x._shape))
    return out


def _index_add_bw(n, g):
    d, index, alpha = n.params
    gs = g.index_select(d, index) if n.edges[1] is not None else None
    return g, (gs * alpha if alpha != 1 and gs is not None else gs)


def index_add(input, dim, index, source, *, alpha=1):
    """Out of place: out[index[i]] += alpha * source[i] along dim (repeats add up)."""
    x = input
    d, index = _check_select("index_add", x, dim, index)
    C.check_devices("index_add", x, source)
    xs = x._shape or (1,)
    shape = tuple(index.numel() if k == d else n for k, n in enumerate(xs))
    if tuple(source._shape or (1,)) != shape:
        raise RuntimeError(f"index_add(): source shape {list(source._shape)} must equal input "
                           f"shape {list(x._shape)} with dim {d} sized {index.numel()}")
    src = source if alpha == 1 else source * alpha
    out = empty_like_meta(x)
    C.run("copy", out, x)
    if numel_of(shape):
        C.run("scatter", _wrap(out._storage, xs, _contig(xs), 0), d,
              _expand_index(index, d, shape),
              C.cast_meta(_narrow_to(src, shape), x._dtype), "sum")
    if C.needs_grad(x, source):
        C.record(_index_add_bw, "IndexAddBackward0", (x, source), out, params=(d, index, alpha))
    return out


def index_add_(self, dim, index, source, *, alpha=1):
    C.check_inplace("index_add_", self)
    return _commit(self, index_add(self, dim, index, source, alpha=alpha))


def take(input, index):
    """input treated as 1-d, read at `index` (any shape; negative indices wrap)."""
    index = _index_tensor("take", index, input)
    n = input.numel()

    def raise_out(lo, hi):
        if hi >= n or lo < -n:
            raise IndexError(f"take(): out of range: tried to access index "
                             f"{hi if hi >= n else lo} on a tensor of {n} elements.")
    return _take(input.reshape(-1), [(0, checked("take", index, n, 0, True, raise_out))])




# ----------------------------------------------------------------------------- declarations

def _perm_index(rng, shape, dim, n):
    """An index of `shape` whose entries along dim are distinct values below n."""
    out = np.empty(shape, np.int64)
    moved = np.moveaxis(out, dim, -1)
    for pos in np.ndindex(moved.shape[:-1]):
        moved[pos] = rng.permutation(n)[:shape[dim]]
    return out


def _scatter_ref(x, dim, index, src):
    out = x.copy()
    coords = list(np.indices(index.shape))
    coords[dim] = index
    out[tuple(coords)] = src[tuple(slice(0, n) for n in index.shape)] if isinstance(
        src, np.ndarray) else src
    return out


def _scatter_add_ref(x, dim, index, src):
    out = x.copy()
    coords = list(np.indices(index.shape))
    coords[dim] = index
    np.add.at(out, tuple(coords), src[tuple(slice(0, n) for n in index.shape)])
    return out


def _index_add_ref(x, dim, index, src):
    out = np.moveaxis(x.copy(), dim, 0)
    np.add.at(out, index, np.moveaxis(src, dim, 0))
    return np.moveaxis(out, 0, dim)


declare("gather", gather, ref=lambda x, dim, idx: np.take_along_axis(
    x[tuple(slice(0, n) if k != dim else slice(None) for k, n in enumerate(idx.shape))], idx,
    axis=dim), dtypes=D.ALL, primitive="gather", samples=_samples(lambda a, rng: [
        ((a((3, 4)), 0, rng.integers(0, 3, (2, 4))), (0,), {}),
        ((a((3, 4)), 1, rng.integers(-0, 4, (2, 6))), (0,), {}),
        ((a((5,)), 0, rng.integers(0, 5, (7,))), (0,), {})]))
declare("scatter", scatter, ref=_scatter_ref, dtypes=D.ALL, primitive="scatter",
        samples=_samples(lambda a, rng: [
            ((a((4, 3)), 0, _perm_index(rng, (3, 3), 0, 4), a((3, 3))), (0, 3), {}),
            ((a((3, 5)), 1, _perm_index(rng, (2, 3), 1, 5), a((3, 4))), (0, 3), {}),
            ((a((4, 3)), 0, _perm_index(rng, (2, 3), 0, 4), 2), (0,), {})]))
declare("scatter_add", scatter_add, ref=_scatter_add_ref, dtypes=D.NUMERIC,
        samples=_samples(lambda a, rng: [
            ((a((4, 3)), 0, rng.integers(0, 4, (5, 3)), a((5, 3))), (0, 3), {}),
            ((a((3, 5)), 1, rng.integers(0, 5, (2, 4)), a((3, 4))), (0, 3), {})]))
declare("index_select", index_select, ref=lambda x, dim, idx: np.take(x, idx, axis=dim),
        dtypes=D.ALL, samples=_samples(lambda a, rng: [
            ((a((4, 3)), 0, rng.integers(0, 4, (6,))), (0,), {}),
            ((a((2, 5, 3)), 1, rng.integers(0, 5, (3,))), (0,), {}),
            ((a((4,)), 0, np.zeros(0, np.int64)), (0,), {})]))
declare("index_add", index_add, ref=_index_add_ref, dtypes=D.NUMERIC,
        samples=_samples(lambda a, rng: [
            ((a((4, 3)), 0, rng.integers(0, 4, (6,)), a((6, 3))), (0, 3), {}),
            ((a((2, 5)), 1, rng.integers(0, 5, (3,)), a((2, 3))), (0, 3), {})]))
declare("take", take, ref=lambda x, idx: np.take(x.reshape(-1), idx), dtypes=D.ALL,
        samples=_samples(lambda a, rng: [
            ((a((3, 4)), rng.integers(-12, 12, (2, 5))), (0,), {}),
            ((a((5,)), rng.integers(0, 5, (3,))), (0,), {})]))
