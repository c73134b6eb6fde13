"""Declarations of the layout ops: views (reshape, permute, ...), slicing views (narrow,
split, ...) and the rearranging ops of shape_ops not declared there (hstack, argsort, ...).

Their references are numpy's own reshapes, transposes and slices, on float64 copies.
"""
import numpy as np

from .. import _dtype as D
from ._decl import declare, Sample
from . import samples as S, shape_ops, slicing, views


def _maker(dtype, rng):
    return lambda *shape: S.array(shape, dtype, rng)


def _gen(build):
    """A samples(dtype, rng) from build(A) -> [Sample], A(*shape) a random array."""
    return lambda dtype, rng: build(_maker(dtype, rng))


def _layout(name, fn, ref, build, dtypes=D.ALL, **kw):
    declare(name, fn, ref=ref, samples=_gen(build), dtypes=dtypes, **kw)


def _shape_of(shape):
    """A shape given as ints or as one sequence."""
    return tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape


def _dim(d, n):
    return d + n if d < 0 else d


# ----------------------------------------------------------------------------- views

def _flatten_ref(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return x.reshape(1)
    s, e = _dim(start_dim, x.ndim), _dim(end_dim, x.ndim)
    return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])


def _unflatten_ref(x, dim, sizes):
    d = _dim(dim, x.ndim)
    return x.reshape(x.shape[:d] + tuple(sizes) + x.shape[d + 1:])


def _t_ref(x):
    return x.T if x.ndim == 2 else x


def _expand_ref(x, *sizes):
    sizes = _shape_of(sizes)
    pad = len(sizes) - x.ndim
    shape = [x.shape[i - pad] if s == -1 else s for i, s in enumerate(sizes)]
    return np.broadcast_to(x, shape).copy()


_layout("reshape", views.reshape, lambda x, *shape: x.reshape(_shape_of(shape)),
        lambda A: [Sample(A(2, 3, 4), (4, -1), grad=(0,)), Sample(A(6), 2, 3, grad=(0,)),
                   Sample(A(), (1, 1))])
_layout("flatten", views.flatten, _flatten_ref,
        lambda A: [Sample(A(2, 3, 4), grad=(0,)), Sample(A(2, 3, 2), 1, grad=(0,)),
                   Sample(A(), name="scalar")])
_layout("unflatten", views.unflatten, _unflatten_ref,
        lambda A: [Sample(A(2, 6), 1, (2, -1), grad=(0,)), Sample(A(4, 3), 0, (2, 2))])
_layout("squeeze", views.squeeze,
        lambda x, dim=None: np.squeeze(x, dim if dim is None or x.shape[dim] == 1 else ()),
        lambda A: [Sample(A(1, 3, 1), grad=(0,)), Sample(A(1, 3, 1), 2, grad=(0,)),
                   Sample(A(2, 3), 0, name="not_one")])
_layout("unsqueeze", views.unsqueeze, np.expand_dims,
        lambda A: [Sample(A(2, 3), 1, grad=(0,)), Sample(A(2, 3), -1), Sample(A(), 0)])
_layout("t", views.t, _t_ref, lambda A: [Sample(A(2, 3), grad=(0,)), Sample(A(4))])
_layout("transpose", views.transpose, np.swapaxes,
        lambda A: [Sample(A(2, 3, 4), 0, 2, grad=(0,)), Sample(A(3, 4), -1, 0)])
_layout("permute", views.permute, lambda x, *dims: np.transpose(x, _shape_of(dims)),
        lambda A: [Sample(A(2, 3, 4), 2, 0, 1, grad=(0,)), Sample(A(2, 3, 4), (1, -1, 0))])
_layout("movedim", views.movedim, np.moveaxis,
        lambda A: [Sample(A(2, 3, 4), 0, 2, grad=(0,)), Sample(A(2, 3, 4), (0, 1), (2, 0))])
_layout("clone", views.clone, np.copy, lambda A: [Sample(A(3, 4), grad=(0,)), Sample(A())])
_layout("detach", views.detach, np.copy, lambda A: [Sample(A(3, 4)), Sample(A())], grad=False)
_layout("expand_copy", views.expand_copy, _expand_ref,
        lambda A: [Sample(A(3, 1), 2, 3, 4, grad=(0,)), Sample(A(3, 1), (-1, 2))])
_layout("broadcast_to", views.broadcast_to, np.broadcast_to,
        lambda A: [Sample(A(3, 1), (2, 3, 4), grad=(0,)), Sample(A(), (2,))])
_layout("broadcast_tensors", views.broadcast_tensors, np.broadcast_arrays,
        lambda A: [Sample(A(3, 1), A(4), grad=(0, 1)), Sample(A(2), A(), A(1, 2))])
_layout("atleast_1d", views.atleast_1d, np.atleast_1d,
        lambda A: [Sample(A(), grad=(0,)), Sample(A(3))])
_layout("atleast_2d", views.atleast_2d, np.atleast_2d,
        lambda A: [Sample(A(), grad=(0,)), Sample(A(3), grad=(0,)), Sample(A(2, 3))])
_layout("ravel", views.ravel, np.ravel, lambda A: [Sample(A(2, 3), grad=(0,)), Sample(A())])


# ----------------------------------------------------------------------------- slicing

def _narrow_ref(x, dim, start, length):
    start = _dim(start, x.shape[dim])
    return np.take(x, np.arange(start, start + length), axis=dim)


def _split_ref(x, split_size_or_sections, dim=0):
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        cuts = list(range(split_size_or_sections, n, split_size_or_sections))
    else:
        cuts = list(np.cumsum(split_size_or_sections)[:-1])
    return tuple(np.split(x, cuts, axis=dim))


def _chunk_ref(x, chunks, dim=0):
    return _split_ref(x, -(-x.shape[dim] // chunks), dim)


def _as_strided_ref(x, size, stride, storage_offset=0):
    flat = x.ravel()
    idx = storage_offset + sum(np.arange(n).reshape((-1,) + (1,) * (len(size) - 1 - i)) * s
                               for i, (n, s) in enumerate(zip(size, stride)))
    return flat[idx]


_layout("narrow", slicing.narrow, _narrow_ref,
        lambda A: [Sample(A(4, 5), 1, 1, 3, grad=(0,)), Sample(A(4, 5), 0, -2, 2)])
_layout("select", slicing.select, lambda x, dim, index: np.take(x, index, axis=dim),
        lambda A: [Sample(A(3, 4), 1, 2, grad=(0,)), Sample(A(3, 4), 0, -1)])
_layout("unbind", slicing.unbind, lambda x, dim=0: tuple(np.moveaxis(x, dim, 0)),
        lambda A: [Sample(A(3, 4), grad=(0,)), Sample(A(2, 3), 1)])
_layout("split", slicing.split, _split_ref,
        lambda A: [Sample(A(5, 3), 2, grad=(0,)), Sample(A(3, 5), [1, 4], 1)])
_layout("chunk", slicing.chunk, _chunk_ref,
        lambda A: [Sample(A(5, 3), 3, grad=(0,)), Sample(A(4, 6), 2, 1)])
_layout("diagonal", slicing.diagonal, lambda *a: np.diagonal(*a).copy(),
        lambda A: [Sample(A(3, 4), grad=(0,)), Sample(A(2, 3, 4), 1, 1, 2),
                   Sample(A(3, 4), -1, grad=(0,))])
_layout("as_strided", slicing.as_strided, _as_strided_ref,
        lambda A: [Sample(A(3, 4), (2, 2), (1, 4), grad=(0,)), Sample(A(8), (3, 2), (2, 1), 1)],
        any_layout=False)


# ----------------------------------------------------------------------------- rearranging

def _argsort_ref(x, dim=-1, descending=False, stable=False):
    return shape_ops._sort_ref(x, dim, descending)[1]


_layout("hstack", shape_ops.hstack, np.hstack,
        lambda A: [Sample([A(2, 3), A(2, 1)], grad=(0,)), Sample((A(3), A(2)))])
_layout("vstack", shape_ops.vstack, np.vstack,
        lambda A: [Sample([A(2, 3), A(1, 3)], grad=(0,)), Sample((A(3), A(3)))])
_layout("fliplr", shape_ops.fliplr, np.fliplr, lambda A: [Sample(A(3, 4), grad=(0,))])
_layout("flipud", shape_ops.flipud, np.flipud,
        lambda A: [Sample(A(3, 4), grad=(0,)), Sample(A(3))])
declare("argsort", shape_ops.argsort, ref=_argsort_ref, dtypes=D.ALL, grad=False,
        samples=lambda dtype, rng: [
            Sample(shape_ops._perm_array((5,), dtype, rng)),
            Sample(shape_ops._perm_array((3, 4), dtype, rng), 0, True),
            Sample(shape_ops._perm_array((2, 3), dtype, rng), descending=True, stable=True)])
