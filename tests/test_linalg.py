"""Matrix products (matmul/@, mm, bmm, mv, dot, inner, outer/ger, cross) against numpy
float64, with gradients and double backward checked by central finite differences."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.ops import OPS
from plugtorch.testing import double_fd_check, fd_check

RNG = np.random.default_rng(99)
OPS_HERE = ["matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "cross"]


def randn(*shape):
    return RNG.standard_normal(shape)


# ----------------------------------------------------------------------------- forward

@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8"])
@pytest.mark.parametrize("name", OPS_HERE)
def test_declared_samples_match_numpy(name, dtype):
    op, dt = OPS[name], getattr(pt, dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for s in op.samples(dt, np.random.default_rng(3)):
        ref_args = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in s.args]
        expected = op.ref(*ref_args, **s.kwargs)
        got = op.fn(*[pt.tensor(a) for a in s.args], **s.kwargs)
        assert got.dtype is dt and got.shape == expected.shape
        np.testing.assert_allclose(got.numpy().astype(np.float64),
                                   np.asarray(expected, np.float64), rtol=tol, atol=tol)


MATMUL_SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((3, 4), (4, 2)),
                 ((2, 3, 4), (4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)),
                 ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (2, 4, 2)), ((3, 0), (0, 2)),
                 ((0, 3), (3, 2)), ((2, 0, 3), (3, 4))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul_shapes_match_numpy(sa, sb):
    a, b = randn(*sa), randn(*sb)
    got = pt.tensor(a) @ pt.tensor(b)
    expected = np.matmul(a, b)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_strided_operands_transposed_expanded_and_sliced():
    a, b = randn(4, 3), randn(5, 4)
    # transposed views, no copies needed
    np.testing.assert_allclose((pt.tensor(a).t() @ pt.tensor(b).t()).numpy(), a.T @ b.T)
    # a broadcast batch (stride 0) and a permuted batch that cannot be flattened
    x = randn(3, 2, 4, 5)
    tx = pt.tensor(x).permute(1, 0, 2, 3)            # (2, 3, 4, 5), batch strides swapped
    w = randn(5, 6)
    np.testing.assert_allclose((tx @ pt.tensor(w)).numpy(), x.transpose(1, 0, 2, 3) @ w)
    np.testing.assert_allclose((pt.tensor(w).t() @ tx.transpose(-1, -2)).numpy(),
                               w.T @ x.transpose(1, 0, 3, 2))
    e = pt.tensor(randn(1, 4, 5)).expand(3, 4, 5)
    np.testing.assert_allclose(pt.bmm(e, pt.tensor(w).unsqueeze(0).expand(3, 5, 6)).numpy(),
                               np.matmul(e.numpy(), w))
    # every other column
    big = randn(4, 10)
    sl = pt.tensor(big).as_strided((4, 5), (10, 2))
    np.testing.assert_allclose((sl @ pt.tensor(w)).numpy(), big[:, ::2] @ w)


def test_int_matmul_is_exact():
    a = np.arange(12).reshape(3, 4) - 5
    b = np.arange(8).reshape(4, 2) * 1000003
    got = pt.tensor(a) @ pt.tensor(b)
    assert got.dtype is pt.int64
    np.testing.assert_array_equal(got.numpy(), a @ b)


def test_dot_mv_outer_cross_values():
    assert pt.dot(pt.tensor([1.0, 2.0]), pt.tensor([3.0, 4.0])).item() == 11.0
    np.testing.assert_array_equal(pt.tensor([[1.0, 2.0], [3.0, 4.0]]).mv(pt.tensor([1.0, 1.0]))
                                  .numpy(), [3.0, 7.0])
    o = pt.outer(pt.tensor([1, 2]), pt.tensor([1.0, 10.0]))     # promotes like PyTorch
    assert o.dtype is pt.float32 and o.tolist() == [[1.0, 10.0], [2.0, 20.0]]
    assert pt.ger(pt.tensor([1, 2]), pt.tensor([3])).tolist() == [[3], [6]]
    c = pt.cross(pt.tensor([1.0, 0.0, 0.0]), pt.tensor([0.0, 1.0, 0.0]))
    assert c.tolist() == [0.0, 0.0, 1.0]
    a, b = randn(3, 5), randn(3, 5)
    np.testing.assert_allclose(pt.cross(pt.tensor(a), pt.tensor(b)).numpy(),
                               np.cross(a, b, axis=0), atol=1e-14)    # first dim of size 3
    a, b = randn(2, 4, 3), randn(4, 3)
    np.testing.assert_allclose(pt.tensor(a).cross(pt.tensor(b).unsqueeze(0), dim=-1).numpy(),
                               np.cross(a, b), atol=1e-14)
    ai = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pt.cross(pt.tensor(ai), pt.tensor(ai[::-1].copy()),
                                           dim=1).numpy(), np.cross(ai, ai[::-1]))


def test_methods_and_operator():
    a, b = pt.tensor(randn(2, 3)), pt.tensor(randn(3, 2))
    for r in (a.matmul(b), a.mm(b), a @ b, pt.mm(a, b)):
        np.testing.assert_allclose(r.numpy(), a.numpy() @ b.numpy())
    np.testing.assert_allclose(pt.inner(a, a).numpy(), np.inner(a.numpy(), a.numpy()))


# ----------------------------------------------------------------------------- errors

def test_shape_errors_name_both_shapes():
    with pytest.raises(RuntimeError, match=r"mm: expected a.shape\[-1\] == b.shape\[-2\], got "
                                           r"\(3, 4\) @ \(5, 6\)"):
        pt.mm(pt.zeros(3, 4), pt.zeros(5, 6))
    with pytest.raises(RuntimeError, match=r"matmul: .*got \(2, 3, 4\) @ \(5,\)"):
        pt.zeros(2, 3, 4) @ pt.zeros(5)
    with pytest.raises(RuntimeError, match="at least 1D, but they are 0D and 1D"):
        pt.matmul(pt.zeros(()), pt.zeros(3))
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        pt.zeros(2, 3, 4) @ pt.zeros(3, 4, 5)
    with pytest.raises(RuntimeError, match=r"bmm: expected a.shape\[0\] == b.shape\[0\]"):
        pt.bmm(pt.zeros(2, 3, 4), pt.zeros(3, 4, 5))
    with pytest.raises(RuntimeError, match="bmm: expected 3-D"):
        pt.bmm(pt.zeros(3, 4), pt.zeros(4, 5))
    with pytest.raises(RuntimeError, match="mm: expected 2-D"):
        pt.mm(pt.zeros(3), pt.zeros(3, 4))
    with pytest.raises(RuntimeError, match="mv: "):
        pt.mv(pt.zeros(3, 4), pt.zeros(5))
    with pytest.raises(RuntimeError, match="dot: inconsistent tensor size"):
        pt.dot(pt.zeros(3), pt.zeros(4))
    with pytest.raises(RuntimeError, match="1D tensors expected, but got 2D and 1D"):
        pt.dot(pt.zeros(3, 1), pt.zeros(3))
    with pytest.raises(RuntimeError, match="outer: Expected 1-D argument self"):
        pt.outer(pt.zeros(3, 4), pt.zeros(5))
    with pytest.raises(RuntimeError, match="no dimension of size 3"):
        pt.cross(pt.zeros(4, 4), pt.zeros(4, 4))
    with pytest.raises(RuntimeError, match="dimension 0 must have length 3. Got 4 and 4"):
        pt.cross(pt.zeros(4, 3), pt.zeros(4, 3), dim=0)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        pt.cross(pt.zeros(4, 3), pt.zeros(3))


def test_dtype_mismatch_is_an_error():
    for fn, a, b in [(pt.mm, (3, 4), (4, 2)), (pt.matmul, (3, 4), (4,)), (pt.dot, (3,), (3,)),
                     (pt.bmm, (2, 3, 4), (2, 4, 1))]:
        with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype, "
                                               "but got: float32 != float64"):
            fn(pt.zeros(*a), pt.zeros(*b, dtype=pt.float64))
    with pytest.raises(RuntimeError, match="bool"):
        pt.ones(2, 2, dtype=pt.bool) @ pt.ones(2, 2, dtype=pt.bool)


# ----------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("sa,sb", [s for s in MATMUL_SHAPES if 0 not in s[0] + s[1]],
                         ids=str)
def test_matmul_gradients(sa, sb):
    fd_check(lambda a, b: a @ b, [randn(*sa), randn(*sb)], rng=RNG)


@pytest.mark.parametrize("fn,shapes", [
    (pt.mm, [(3, 4), (4, 2)]), (pt.bmm, [(2, 3, 4), (2, 4, 2)]), (pt.mv, [(3, 4), (4,)]),
    (pt.dot, [(4,), (4,)]), (pt.outer, [(3,), (2,)]), (pt.inner, [(2, 4), (3, 4)]),
    (lambda a, b: pt.cross(a, b, dim=1), [(2, 3), (1, 3)]),
    (lambda a, b: a.t() @ b.transpose(0, 1), [(4, 3), (2, 4)]),
], ids=["mm", "bmm", "mv", "dot", "outer", "inner", "cross", "transposed"])
def test_gradients(fn, shapes):
    fd_check(fn, [randn(*s) for s in shapes], rng=RNG)


def test_gradient_of_broadcast_operand_is_summed():
    a = pt.tensor(randn(2, 3, 4), requires_grad=True)
    w = pt.tensor(randn(4, 5), requires_grad=True)
    (a @ w).sum().backward()
    assert w.grad.shape == (4, 5)
    np.testing.assert_allclose(w.grad.numpy(),
                               np.broadcast_to(a.detach().numpy().sum(axis=(0, 1))[:, None],
                                               (4, 5)), atol=1e-12)


@pytest.mark.parametrize("fn,shapes", [
    (lambda a, b: a @ b, [(2, 3, 4), (4, 2)]), (lambda a, b: (a @ b) * a.sum(), [(3,), (3,)]),
    (lambda a, b: (a @ b) ** 2, [(2, 1, 3), (2, 3, 2)]),
    (lambda a, b: pt.cross(a, b, dim=-1) ** 2, [(2, 3), (2, 3)]),
], ids=["batched", "dot", "square", "cross"])
def test_double_backward(fn, shapes):
    double_fd_check(fn, [randn(*s) for s in shapes], rng=RNG)


def test_matches_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    a, b = randn(2, 1, 3, 4), randn(5, 4, 2)
    expected = (torch.tensor(a) @ torch.tensor(b)).numpy()
    np.testing.assert_allclose((pt.tensor(a) @ pt.tensor(b)).numpy(), expected, atol=1e-12)


# ----------------------------------------------------------------------------- einsum, addmm

EINSUM = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]),
          ("ij", [(2, 3)]), ("ji", [(2, 3)]), ("i,j", [(3,), (2,)]), ("ij,ij->", [(2, 3), (2, 3)]),
          ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]), ("...ij,jk->...ik", [(2, 3, 4, 5), (5, 2)]),
          ("b...,b->b...", [(2, 3, 4), (2,)]), ("iij,jk->ik", [(2, 2, 3), (3, 4)]),
          ("ab,bc,cd,da->", [(2, 3), (3, 4), (4, 5), (5, 2)]), ("i,i,i->i", [(1,), (4,), (1,)]),
          ("ij,jk", [(2, 0), (0, 3)]), (" i j , j k -> i k ", [(2, 3), (3, 4)])]


@pytest.mark.parametrize("eq,shapes", EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum_matches_numpy_with_gradients(eq, shapes):
    arrays = [randn(*s) for s in shapes]
    got = pt.einsum(eq, *[pt.tensor(a) for a in arrays])
    expected = np.einsum(eq.replace(" ", ""), *arrays)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)
    if all(min(s, default=1) > 0 for s in shapes):
        fd_check(lambda *ts: pt.einsum(eq, *ts), arrays)


def test_einsum_list_operands_double_backward_and_errors():
    a, b = randn(2, 3), randn(3, 4)
    np.testing.assert_allclose(pt.einsum("ij,jk->ik", [pt.tensor(a), pt.tensor(b)]).numpy(),
                               a @ b, rtol=1e-12)
    double_fd_check(lambda x, y: pt.einsum("ij,jk->ik", x, y * y), [a, b])
    t = pt.ones(2, 3)
    with pytest.raises(RuntimeError, match="number of subscripts"):
        pt.einsum("ijk->i", t)
    with pytest.raises(RuntimeError, match="fewer operands"):
        pt.einsum("ij,jk->ik", t)
    with pytest.raises(RuntimeError, match="more than once"):
        pt.einsum("ij->ii", t)
    with pytest.raises(RuntimeError, match="does not appear"):
        pt.einsum("ij->k", t)
    with pytest.raises(RuntimeError, match="subscript j has size 2 for operand 1"):
        pt.einsum("ij,jk->ik", t, pt.ones(2, 2))
    with pytest.raises(RuntimeError, match="not part of any ellipsis"):
        pt.einsum("i.j", t)
    with pytest.raises(RuntimeError, match="invalid subscript given at index 1"):
        pt.einsum("i1", t)


@pytest.mark.parametrize("fn,shapes", [(pt.addmm, [(4,), (2, 3), (3, 4)]),
                                       (pt.addmm, [(2, 1), (2, 3), (3, 4)]),
                                       (pt.baddbmm, [(3, 4), (2, 3, 5), (2, 5, 4)])])
def test_addmm_baddbmm_match_numpy(fn, shapes):
    c, a, b = (randn(*s) for s in shapes)
    got = fn(pt.tensor(c), pt.tensor(a), pt.tensor(b), beta=0.5, alpha=-2.0)
    np.testing.assert_allclose(got.numpy(), 0.5 * c - 2.0 * (a @ b), rtol=1e-12, atol=1e-12)
    fd_check(lambda *ts: fn(*ts, beta=0.5, alpha=-2.0), [c, a, b])
    # beta=0 ignores input, NaNs included, as PyTorch
    nan = pt.full(shapes[0], float("nan"), dtype=pt.float64)
    np.testing.assert_allclose(fn(nan, pt.tensor(a), pt.tensor(b), beta=0).numpy(), a @ b,
                               rtol=1e-12)
    with pytest.raises(RuntimeError):
        fn(pt.ones(5, 7, dtype=pt.float64), pt.tensor(a), pt.tensor(b))


def test_diag_trace_cdist_match_numpy_with_gradients():
    v, m = randn(3), randn(3, 4)
    for k in (0, 2, -1):
        np.testing.assert_allclose(pt.diag(pt.tensor(v), k).numpy(), np.diag(v, k))
        np.testing.assert_allclose(pt.tensor(m).diag(k).numpy(), np.diag(m, k))
    fd_check(lambda t: pt.diag(t, 1), [v])
    assert pt.trace(pt.arange(9).reshape(3, 3)).item() == 12
    np.testing.assert_allclose(pt.tensor(m).trace().item(), np.trace(m))
    with pytest.raises(RuntimeError, match="expected a 2D tensor"):
        pt.trace(pt.ones(3))
    a, b = randn(2, 4, 3), randn(5, 3)
    for p in (1.0, 2.0, 3.0):
        expected = np.linalg.norm(a[:, :, None, :] - b[None, None], ord=p, axis=-1)
        np.testing.assert_allclose(pt.cdist(pt.tensor(a), pt.tensor(b), p=p).numpy(), expected,
                                   rtol=1e-12)
    fd_check(pt.cdist, [a, b])
    # a zero distance has a zero gradient, not NaN
    x = pt.tensor([[1.0, 2.0]], dtype=pt.float64, requires_grad=True)
    pt.cdist(x, x.detach()).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0]]
    with pytest.raises(RuntimeError, match="same number of columns"):
        pt.cdist(pt.ones(2, 3), pt.ones(2, 4))
