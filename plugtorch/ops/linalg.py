"""Matrix products on the `bmm` primitive: matmul (`@`), mm, bmm, mv, dot, outer/ger, cross.

NOTE [matmul on bmm]
Every product is one call of the backend's `bmm(out, a, b)` with a (B, M, K) and b
(B, K, N). The frontend turns its operands into such views without copying: a 1-d operand
gets a size-1 dim, broadcast batch dims get stride 0, and batch dims are flattened into B
by restriding. Only when batch dims cannot be flattened into one stride (e.g. a transposed
batch) is an operand copied. `x @ W` with a 2-d W and a contiguous batched x is folded into
one (1, B*M, K) @ (1, K, N) product. Each op records a single node whose derivative is
written with matmul itself, so double backward works on every backend.
"""
import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap, contiguous_strides, empty_like_meta, numel_of
from ..autograd.grad_mode import STATE
from . import _core as C
from ._decl import declare, Sample
from . import samples as S
from .views import _view_strides
from ._einsum import einsum
from ._matrix import cdist, diag, trace
from .._dispatch import kernel as _kernel

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "ger", "cross", "addmm",
           "baddbmm", "einsum", "diag", "trace", "cdist"]


def _check_operands(name, a, b):
    for t in (a, b):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensor arguments, got {type(t).__name__}")
    C.check_devices(name, a, b)
    if a._dtype is not b._dtype:
        raise RuntimeError(f"{name}: expected m1 and m2 to have the same dtype, but got: "
                           f"{a._dtype.name} != {b._dtype.name}")
    if a._dtype is D.bool:
        raise RuntimeError(f"{name}: not implemented for bool tensors")


def _shape_error(name, a, b):
    return RuntimeError(f"{name}: expected a.shape[-1] == b.shape[-2], got "
                        f"{tuple(a._shape)} @ {tuple(b._shape)}")


# ----------------------------------------------------------------------------- the core

def _batched(t, shape, stride, batch):
    """A (B, rows, cols) kernel view of t (geometry shape/stride) broadcast to `batch`."""
    rows, cols = shape[-2:]
    pad = len(batch) - (len(shape) - 2)
    full_stride = (0,) * pad + tuple(s if n == batch[pad + i] else 0
                                     for i, (n, s) in enumerate(zip(shape[:-2], stride[:-2])))
    full_stride += tuple(stride[-2:])
    full = tuple(batch) + (rows, cols)
    target = (numel_of(batch), rows, cols)
    st = _view_strides(full, full_stride, target)
    v = _wrap(t._storage, full, full_stride, t._offset)
    if st is None:
        # batch dims that cannot share one stride: copy them out (see NOTE [matmul on bmm])
        c = empty_like_meta(t, shape=full)
        _kernel("copy", t)(c, v)
        v, st = c, contiguous_strides(target)
    return _wrap(v._storage, target, st, v._offset)


def _product(name, a, b, a_shape, a_stride, b_shape, b_stride, out_shape):
    """out = a @ b where a and b are seen with (..., M, K) / (..., K, N) geometry."""
    K, N = a_shape[-1], b_shape[-1]
    batch = C.broadcast_shapes(name, a_shape[:-2], b_shape[:-2])
    fold = None
    if len(b_shape) == 2 and len(a_shape) > 2:
        fold = _view_strides(a_shape, a_stride, (1, numel_of(a_shape[:-1]), K))
    if fold is not None:
        a3 = _wrap(a._storage, (1, numel_of(a_shape[:-1]), K), fold, a._offset)
        b3 = _batched(b, b_shape, b_stride, ())
    else:
        a3 = _batched(a, a_shape, a_stride, batch)
        b3 = _batched(b, b_shape, b_stride, batch)
    out = empty_like_meta(a, shape=(a3._shape[0], a3._shape[1], N))
    if numel_of(out._shape):
        if K == 0:
            _kernel("fill", a)(out, C.scalar_for(0, a._dtype))
        else:
            _kernel("bmm", a)(out, a3, b3)
    out = _wrap(out._storage, out_shape, contiguous_strides(out_shape), 0)
    if STATE.enabled and (a._rg or b._rg):
        C.record(_matmul_bw, name.capitalize() + "Backward0", (a, b), out, saved=(a, b))
    return out


def _matmul_bw(n, g):
    a, b = n.inputs
    da, db = len(a._shape), len(b._shape)
    a2 = a.unsqueeze(0) if da == 1 else a
    b2 = b.unsqueeze(-1) if db == 1 else b
    if db == 1:
        g = g.unsqueeze(-1)
    if da == 1:
        g = g.unsqueeze(-2)
    ga = gb = None
    if n.edges[0] is not None:
        ga = C.sum_to(matmul(g, b2.mT), a2._shape).reshape(a._shape)
    if n.edges[1] is not None:
        if len(b2._shape) == 2 and len(a2._shape) == 2 and b2._stride == (1, b2._shape[0]):
            # b is a transposed matrix (linear's weight.t()): make the gradient in b's own
            # memory order, so the one its leaf receives is contiguous and needs no copy
            gb = matmul(g.mT, a2).mT
        else:
            gb = C.sum_to(matmul(a2.mT, g), b2._shape)
        gb = gb.reshape(b._shape)
    return ga, gb


# ----------------------------------------------------------------------------- the ops

def matmul(input, other):
    """Matrix product with NumPy's rules: 1-d·1-d is a dot product, a 1-d operand is a row
    (left) or column (right) vector, and batch dims broadcast. Also `a @ b`.

    Args:
        input: tensor of shape (..., M, K) or (K,).
        other: tensor of shape (..., K, N) or (K,), same dtype as input.

    Shape:
        (..., M, K) @ (..., K, N) -> (broadcast(...), M, N); a 1-d operand's dim is dropped
        from the result.

    Example:
        >>> import plugtorch
        >>> a = plugtorch.ones(2, 3, 4); b = plugtorch.ones(4, 5)
        >>> (a @ b).shape
        plugtorch.Size([2, 3, 5])
    """
    a, b = input, other
    _check_operands("matmul", a, b)
    da, db = len(a._shape), len(b._shape)
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{da}D and {db}D")
    a_shape, a_stride = ((1,) + a._shape, (0,) + a._stride) if da == 1 else (a._shape,
                                                                              a._stride)
    b_shape, b_stride = (b._shape + (1,), b._stride + (0,)) if db == 1 else (b._shape,
                                                                              b._stride)
    if a_shape[-1] != b_shape[-2]:
        raise _shape_error("matmul", a, b)
    batch = C.broadcast_shapes("matmul", a_shape[:-2], b_shape[:-2])
    out_shape = batch + (a_shape[-2],) * (da > 1) + (b_shape[-1],) * (db > 1)
    return _product("matmul", a, b, a_shape, a_stride, b_shape, b_stride, out_shape)


def mm(input, mat2):
    """Product of two matrices: (M, K) @ (K, N) -> (M, N).

    Example:
        >>> import plugtorch
        >>> plugtorch.mm(plugtorch.ones(2, 3), plugtorch.ones(3, 4)).shape
        plugtorch.Size([2, 4])
    """
    a, b = input, mat2
    _check_operands("mm", a, b)
    if len(a._shape) != 2 or len(b._shape) != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got {len(a._shape)}-D and "
                           f"{len(b._shape)}-D")
    if a._shape[1] != b._shape[0]:
        raise _shape_error("mm", a, b)
    return _product("mm", a, b, a._shape, a._stride, b._shape, b._stride,
                    (a._shape[0], b._shape[1]))


def bmm(input, mat2):
    """Batched matrix product without broadcasting: (B, M, K) @ (B, K, N) -> (B, M, N).

    Example:
        >>> import plugtorch
        >>> plugtorch.bmm(plugtorch.ones(5, 2, 3), plugtorch.ones(5, 3, 4)).shape
        plugtorch.Size([5, 2, 4])
    """
    a, b = input, mat2
    _check_operands("bmm", a, b)
    if len(a._shape) != 3 or len(b._shape) != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got {len(a._shape)}-D and "
                           f"{len(b._shape)}-D")
    if a._shape[0] != b._shape[0]:
        raise RuntimeError(f"bmm: expected a.shape[0] == b.shape[0] (batch size), got "
                           f"{tuple(a._shape)} @ {tuple(b._shape)}")
    if a._shape[2] != b._shape[1]:
        raise _shape_error("bmm", a, b)
    return _product("bmm", a, b, a._shape, a._stride, b._shape, b._stride,
                    a._shape[:2] + b._shape[2:])


def mv(input, vec):
    """Matrix-vector product: (M, K) @ (K,) -> (M,).

    Example:
        >>> import plugtorch
        >>> plugtorch.mv(plugtorch.ones(2, 3), plugtorch.ones(3))
        tensor([3., 3.])
    """
    a, b = input, vec
    _check_operands("mv", a, b)
    if len(a._shape) != 2 or len(b._shape) != 1:
        raise RuntimeError(f"mv: expected a 2-D matrix and a 1-D vector, got "
                           f"{len(a._shape)}-D and {len(b._shape)}-D")
    if a._shape[1] != b._shape[0]:
        raise _shape_error("mv", a, b)
    return _product("mv", a, b, a._shape, a._stride, b._shape + (1,), b._stride + (0,),
                    a._shape[:1])


def dot(input, other):
    """Dot product of two 1-d tensors of the same size and dtype; a 0-d result.

    Example:
        >>> import plugtorch
        >>> plugtorch.dot(plugtorch.tensor([1., 2.]), plugtorch.tensor([3., 4.]))
        tensor(11.)
    """
    a, b = input, other
    _check_operands("dot", a, b)
    if len(a._shape) != 1 or len(b._shape) != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {len(a._shape)}D and "
                           f"{len(b._shape)}D tensors")
    if a._shape != b._shape:
        raise RuntimeError(f"dot: inconsistent tensor size, expected tensors {tuple(a._shape)} "
                           f"and {tuple(b._shape)} to have the same number of elements")
    return _product("dot", a, b, (1,) + a._shape, (0,) + a._stride, b._shape + (1,),
                    b._stride + (0,), ())


def inner(input, other):
    """Sum of products over the last dims: dot for 1-d, else input @ other.mT over (..., K).

    Example:
        >>> import plugtorch
        >>> plugtorch.inner(plugtorch.ones(2, 3), plugtorch.ones(4, 3)).shape
        plugtorch.Size([2, 4])
    """
    a, b = input, other
    if len(a._shape) == 0 or len(b._shape) == 0:
        return a * b
    if a._shape[-1] != b._shape[-1]:
        raise RuntimeError(f"inner: expected a.shape[-1] == b.shape[-1], got "
                           f"{tuple(a._shape)} and {tuple(b._shape)}")
    lead_a, lead_b = a._shape[:-1], b._shape[:-1]
    r = matmul(a.reshape(-1, a._shape[-1]), b.reshape(-1, b._shape[-1]).mT)
    return r.reshape(lead_a + lead_b)


def outer(input, vec2):
    """Outer product of two 1-d tensors: (M,) x (N,) -> (M, N), with type promotion.

    Example:
        >>> import plugtorch
        >>> plugtorch.outer(plugtorch.tensor([1., 2.]), plugtorch.tensor([1., 10.]))
        tensor([[ 1., 10.],
                [ 2., 20.]])
    """
    a, b = input, vec2
    for t, which in ((a, "self"), (b, "vec2")):
        if not isinstance(t, Tensor):
            raise TypeError(f"outer(): expected Tensor arguments, got {type(t).__name__}")
        if len(t._shape) != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {which}, but got "
                               f"{len(t._shape)}-D")
    dt = D.result_type(a, b)
    a, b = (a if a._dtype is dt else a.to(dt)), (b if b._dtype is dt else b.to(dt))
    _check_operands("outer", a, b)
    return matmul(a.unsqueeze(1), b.unsqueeze(0))


ger = outer


def _levi_civita(like):
    """E of shape (9, 3) with E[3*j + k, i] = epsilon_ijk, so cross(a, b) = vec(a b^T) @ E."""
    e = np.zeros((3, 3, 3))
    for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        e[j, k, i], e[k, j, i] = 1, -1
    from .creation import tensor
    return tensor(e.reshape(9, 3), dtype=like._dtype, device=like.device)


def cross(input, other, dim=None):
    """Cross product of 3-vectors along `dim`, broadcasting the other dims. With dim=None
    the first dim of size 3 is used (torch.cross); `linalg.cross` uses dim=-1.

    Example:
        >>> import plugtorch
        >>> plugtorch.cross(plugtorch.tensor([1., 0., 0.]), plugtorch.tensor([0., 1., 0.]))
        tensor([0., 0., 1.])
    """
    a, b = input, other
    for t in (a, b):
        if not isinstance(t, Tensor):
            raise TypeError(f"cross(): expected Tensor arguments, got {type(t).__name__}")
    C.check_devices("cross", a, b)
    if len(a._shape) != len(b._shape):
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions, "
                           f"got {tuple(a._shape)} and {tuple(b._shape)}")
    if a._dtype is not b._dtype:
        raise RuntimeError(f"linalg.cross: expected both inputs to have the same dtype, got "
                           f"{a._dtype.name} and {b._dtype.name}")
    shape = C.broadcast_shapes("linalg.cross", a._shape, b._shape)
    if dim is None:
        dim = next((i for i, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise RuntimeError(f"cross: no dimension of size 3 in input, got {tuple(shape)}")
    (d,) = C.wrap_dims("linalg.cross", dim, len(shape))
    if a._shape[d] != 3 or b._shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got "
                           f"{a._shape[d]} and {b._shape[d]}")
    a = a.expand(shape).movedim(d, -1)
    b = b.expand(shape).movedim(d, -1)
    ab = matmul(a.unsqueeze(-1), b.unsqueeze(-2))            # (..., 3, 3): a_j b_k
    c = matmul(ab.reshape(ab._shape[:-2] + (9,)), _levi_civita(a))
    return c.movedim(-1, d)


def _scaled_sum(name, input, prod, beta, alpha):
    """beta * input + alpha * prod; beta == 0 ignores input (even its NaNs), as PyTorch."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    C.broadcast_shapes(name, input._shape, prod._shape)
    if prod._dtype.kind != 2:        # integer products: the factors are truncated, as PyTorch
        beta, alpha = int(beta), int(alpha)
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod.expand(C.broadcast_shapes(name, input._shape, prod._shape)).clone()
    return prod + (input if beta == 1 else input * beta)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2), input broadcast to (n, p).

    Example:
        >>> import plugtorch
        >>> plugtorch.addmm(plugtorch.zeros(2), plugtorch.ones(3, 4), plugtorch.ones(4, 2))[0]
        tensor([4., 4.])
    """
    return _scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * bmm(batch1, batch2), input broadcast to (b, n, p)."""
    return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)




# ----------------------------------------------------------------------------- declarations

def _pairs(cases, bias=False):
    def gen(dtype, rng):
        out = [Sample(S.array(sa, dtype, rng), S.array(sb, dtype, rng), grad=(0, 1), **kw)
               for sa, sb, kw in cases]
        if bias:   # addmm-style: a bias broadcast over the rows, then beta/alpha given
            out = [Sample(S.array((s.args[1].shape[-1],), dtype, rng), *s.args, grad=(0, 1, 2))
                   for s in out]
            out += [Sample(*s.args, grad=(0, 1, 2), beta=0.5, alpha=-2.0) for s in out]
        return out
    return gen


_NUM = tuple(d for d in D.ALL if d is not D.bool)
_MATMUL = [((3,), (3,), {}), ((2, 3), (3,), {}), ((3,), (3, 4), {}), ((2, 3), (3, 4), {}),
           ((2, 2, 3), (3, 4), {}), ((3,), (2, 3, 4), {}), ((2, 1, 2, 3), (3, 3, 2), {}),
           ((2, 3, 4), (4,), {}), ((0, 3), (3, 2), {}), ((2, 0), (0, 3), {})]


def _ref_cross(a, b, dim=None):
    if dim is None:
        dim = next(i for i, n in enumerate(np.broadcast_shapes(a.shape, b.shape)) if n == 3)
    return np.cross(a, b, axis=dim)


declare("matmul", matmul, ref=np.matmul, samples=_pairs(_MATMUL), dtypes=_NUM, rtol=1e-4,
        atol=1e-4)
declare("mm", mm, ref=np.matmul, samples=_pairs([((2, 3), (3, 4), {}), ((4, 1), (1, 2), {}),
                                                  ((0, 3), (3, 2), {})]), dtypes=_NUM)
declare("bmm", bmm, ref=np.matmul, samples=_pairs([((2, 2, 3), (2, 3, 4), {}),
                                                    ((0, 2, 3), (0, 3, 1), {})]),
        dtypes=_NUM, primitive="bmm")
declare("mv", mv, ref=np.matmul, samples=_pairs([((2, 3), (3,), {}), ((0, 3), (3,), {})]),
        dtypes=_NUM)
declare("dot", dot, ref=np.dot, samples=_pairs([((5,), (5,), {}), ((0,), (0,), {})]),
        dtypes=_NUM)
declare("inner", inner, ref=np.inner, samples=_pairs([((5,), (5,), {}), ((2, 3), (4, 3), {})]),
        dtypes=_NUM)
declare("outer", outer, ref=np.outer, samples=_pairs([((3,), (4,), {}), ((0,), (2,), {})]),
        dtypes=_NUM)
declare("cross", cross, ref=_ref_cross, samples=_pairs([((3,), (3,), {}),
                                                         ((4, 3), (4, 3), {"dim": 1}),
                                                         ((3, 2), (3, 1), {}),
                                                         ((2, 3, 4), (2, 3, 4), {"dim": -2})]),
        dtypes=_NUM)
declare("addmm", addmm, samples=_pairs([((2, 3), (3, 4), {}), ((0, 3), (3, 4), {})], bias=True),
        ref=lambda c, a, b, beta=1, alpha=1: beta * c + alpha * (a @ b), dtypes=D.FLOATING)
declare("baddbmm", baddbmm, samples=_pairs([((2, 2, 3), (2, 3, 4), {})], bias=True),
        ref=lambda c, a, b, beta=1, alpha=1: beta * c + alpha * (a @ b), dtypes=D.FLOATING)


def _einsum_samples(dtype, rng):
    return [Sample(eq, *[S.array(sh, dtype, rng) for sh in shapes],
                   grad=tuple(range(1, len(shapes) + 1)))
            for eq, shapes in _EINSUM]


_EINSUM = [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
           ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]),
           ("i,j->ij", [(3,), (2,)]), ("ij,ij->i", [(2, 3), (2, 3)]), ("ij,jk", [(2, 3), (3, 4)]),
           ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]), ("bhqd,bhkd->bhqk",
                                                             [(1, 2, 3, 4), (1, 2, 5, 4)]),
           ("ab,bc,cd->ad", [(2, 3), (3, 4), (4, 2)]), ("iij->j", [(2, 2, 3)]),
           ("i,i->i", [(1,), (3,)]), ("ij,kj->", [(0, 3), (2, 3)])]
declare("einsum", einsum, ref=lambda eq, *ops: np.einsum(eq, *ops), samples=_einsum_samples,
        dtypes=D.FLOATING, rtol=1e-4, atol=1e-4)


def _one(cases):
    def gen(dtype, rng):
        return [Sample(S.array(sh, dtype, rng), grad=(0,), **kw) for sh, kw in cases]
    return gen


declare("diag", diag, ref=lambda x, diagonal=0: np.diag(x, diagonal), dtypes=_NUM,
        samples=_one([((3,), {}), ((3,), {"diagonal": 1}), ((2,), {"diagonal": -2}),
                      ((3, 4), {}), ((3, 4), {"diagonal": 2}), ((4, 3), {"diagonal": -1})]))
declare("trace", trace, ref=np.trace, dtypes=_NUM, samples=_one([((3, 3), {}), ((2, 4), {}),
                                                               ((0, 2), {})]))
declare("cdist", cdist, ref=lambda a, b, p=2.0: np.linalg.norm(
            a[..., :, None, :] - b[..., None, :, :], ord=p, axis=-1),
        samples=_pairs([((3, 2), (4, 2), {}), ((2, 3, 4), (1, 5, 4), {"p": 1.0}),
                        ((3, 2), (2, 2), {"p": 3.0})]), dtypes=D.FLOATING, rtol=1e-4, atol=1e-4)
