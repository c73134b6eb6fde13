"""cat/stack, sort/argsort/topk, flip, roll, repeat/tile, tril/triu: values vs numpy float64,
non-contiguous inputs, PyTorch's errors, gradients by finite differences."""
import numpy as np
import pytest

import plugtorch as torch
from plugtorch.ops import OPS
from plugtorch.testing._cases import leaves, map_arrays
from plugtorch.testing import fd_check

RNG = np.random.default_rng(0)


def noncontig(shape):
    a = RNG.standard_normal(tuple(reversed(shape)))
    return torch.tensor(a).permute(*reversed(range(len(shape)))), a.T


def check_grad(f, *arrays):
    """Gradients of sum(f(*arrays) * w) vs central differences, for every input."""
    fd_check(f, list(arrays), rtol=1e-7, rng=np.random.default_rng(1))


# ----------------------------------------------------------------------------- cat / stack

def test_cat_values_promotion_and_grad():
    x, a = noncontig((2, 3))
    y = torch.tensor([[1, 2, 3]], dtype=torch.int32)
    out = torch.cat([x, y])
    assert out.dtype == torch.float64
    np.testing.assert_array_equal(out.numpy(), np.concatenate([a, [[1, 2, 3]]]))
    np.testing.assert_array_equal(torch.cat((x, x), dim=-1).numpy(), np.concatenate([a, a], 1))
    assert torch.cat([torch.tensor([True]), torch.tensor([2], dtype=torch.uint8)]).dtype == \
        torch.uint8
    # legacy rule: 1-d empty tensors are skipped whatever the other shapes
    np.testing.assert_array_equal(torch.cat([torch.zeros(0), x]).numpy(), a)
    np.testing.assert_array_equal(torch.concat([x, torch.zeros(0)], dim=1).numpy(), a)
    assert torch.concatenate([torch.zeros(0), torch.zeros(0)]).shape == (0,)
    b = RNG.standard_normal((2, 2))
    check_grad(lambda p, q: torch.cat([p, q, p], 1), a.copy(), b)


def test_cat_errors():
    with pytest.raises(RuntimeError, match=r"Sizes of tensors must match except in dimension 0."
                                           r" Expected size 3 but got size 4 for tensor number 1"
                                           r".*\[2, 3\] and \[2, 4\]"):
        torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)])
    with pytest.raises(RuntimeError, match="same number of dimensions: got 2 and 3"):
        torch.cat([torch.zeros(2, 3), torch.zeros(2, 3, 1)])
    with pytest.raises(ValueError, match="expected a non-empty list of Tensors"):
        torch.cat([])
    with pytest.raises(TypeError, match="expected Tensor as element 1"):
        torch.cat([torch.zeros(1), 3])
    with pytest.raises(RuntimeError, match="zero-dimensional tensor"):
        torch.cat([torch.tensor(1.0)])
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.cat([torch.zeros(2)], dim=1)


def test_stack_hstack_vstack():
    x, a = noncontig((2, 3))
    for d in (0, 1, 2, -1):
        np.testing.assert_array_equal(torch.stack([x, x * 2], d).numpy(),
                                      np.stack([a, a * 2], d))
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but "
                                           r"got \[2, 3\] at entry 0 and \[3\] at entry 1"):
        torch.stack([x, torch.zeros(3)])
    v = torch.tensor([1.0, 2.0])
    np.testing.assert_array_equal(torch.hstack([v, v]).numpy(), [1, 2, 1, 2])
    np.testing.assert_array_equal(torch.hstack([x, x]).numpy(), np.hstack([a, a]))
    np.testing.assert_array_equal(torch.vstack([v, v]).numpy(), [[1, 2], [1, 2]])
    check_grad(lambda p: torch.stack([p, p * 3], 1), a.copy())


# ----------------------------------------------------------------------------- sort / topk

def test_sort_values_indices_and_grad():
    x, a = noncontig((4, 5))
    for dim in (0, 1, -1):
        for desc in (False, True):
            r = torch.sort(x, dim=dim, descending=desc)
            order = np.argsort(-a if desc else a, axis=dim, kind="stable")
            np.testing.assert_array_equal(r.indices.numpy(), order)
            np.testing.assert_array_equal(r.values.numpy(), np.take_along_axis(a, order, dim))
            v, i = r
            assert i.dtype == torch.int64 and v is r.values
    np.testing.assert_array_equal(x.argsort(dim=0).numpy(), np.argsort(a, 0, kind="stable"))
    ties = torch.tensor([2, 1, 2, 1, 2])
    np.testing.assert_array_equal(ties.sort(stable=True).indices.numpy(), [1, 3, 0, 2, 4])
    np.testing.assert_array_equal(ties.sort(descending=True, stable=True).indices.numpy(),
                                  [0, 2, 4, 1, 3])
    nan = torch.tensor([1.0, float("nan"), -1.0]).sort()
    np.testing.assert_array_equal(nan.indices.numpy(), [2, 0, 1])
    check_grad(lambda p: p.sort(dim=0, descending=True).values, a.copy())


def test_topk():
    x, a = noncontig((3, 6))
    v, i = torch.topk(x, 2)
    order = np.argsort(-a, axis=1, kind="stable")[:, :2]
    np.testing.assert_array_equal(i.numpy(), order)
    np.testing.assert_array_equal(v.numpy(), np.take_along_axis(a, order, 1))
    v, i = x.topk(3, dim=0, largest=False)
    np.testing.assert_array_equal(v.numpy(), np.sort(a, 0)[:3])
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        x.topk(7)
    check_grad(lambda p: p.topk(2, dim=1).values, a.copy())


# ----------------------------------------------------------------------------- flip / roll

def test_flip_roll():
    x, a = noncontig((3, 4, 2))
    for dims in ((0,), (1, 2), (-1, 0), (0, 1, 2)):
        np.testing.assert_array_equal(x.flip(dims).numpy(), np.flip(a, dims))
    np.testing.assert_array_equal(torch.fliplr(x).numpy(), np.fliplr(a))
    np.testing.assert_array_equal(torch.flipud(x).numpy(), np.flipud(a))
    assert x.flip((0,))._storage is not x._storage
    np.testing.assert_array_equal(torch.roll(x, 5).numpy(), np.roll(a, 5))
    np.testing.assert_array_equal(x.roll(-1, 1).numpy(), np.roll(a, -1, 1))
    np.testing.assert_array_equal(x.roll((1, 7), (0, 2)).numpy(), np.roll(a, (1, 7), (0, 2)))
    with pytest.raises(RuntimeError, match="shifts and dimensions must align"):
        x.roll((1, 2), 0)
    check_grad(lambda p: p.flip((0, 2)), a.copy())
    check_grad(lambda p: p.roll((1, -2), (0, 1)), a.copy())


# ----------------------------------------------------------------------------- repeat / tile

def test_repeat_tile():
    x, a = noncontig((2, 3))
    np.testing.assert_array_equal(x.repeat(2, 3).numpy(), np.tile(a, (2, 3)))
    np.testing.assert_array_equal(x.repeat(2, 1, 2).numpy(), np.tile(a, (2, 1, 2)))
    np.testing.assert_array_equal(x.repeat(0, 1).numpy(), np.tile(a, (0, 1)))
    np.testing.assert_array_equal(x.tile((2,)).numpy(), np.tile(a, (1, 2)))
    np.testing.assert_array_equal(torch.tile(x, (2, 1, 1)).numpy(), np.tile(a, (2, 1, 1)))
    with pytest.raises(RuntimeError, match="can not be smaller than number of dimensions"):
        x.repeat(2)
    check_grad(lambda p: p.repeat(2, 1, 3), a.copy())


# ----------------------------------------------------------------------------- tril / triu

def test_tril_triu():
    x, a = noncontig((2, 3, 4))
    for k in (-1, 0, 2):
        np.testing.assert_array_equal(torch.tril(x, k).numpy(), np.tril(a, k))
        np.testing.assert_array_equal(x.triu(k).numpy(), np.triu(a, k))
    b = torch.ones(3, 3, dtype=torch.bool).tril()
    assert b.dtype == torch.bool
    np.testing.assert_array_equal(b.numpy(), np.tril(np.ones((3, 3), bool)))
    y = x.clone()
    y.triu_(1)
    np.testing.assert_array_equal(y.numpy(), np.triu(a, 1))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        torch.tril(torch.zeros(3))
    check_grad(lambda p: p.tril(-1), a.copy())


def test_declared_shape_ops_match_their_references():
    rng = np.random.default_rng(4)
    for name in ("cat", "stack", "sort", "topk", "flip", "roll", "repeat", "tile", "tril",
                 "triu"):
        op = OPS[name]
        for dt in (torch.float64, torch.int64, torch.bool):
            if dt not in op.dtypes:
                continue
            for s in op.samples(dt, rng):
                args = map_arrays(s.args, torch.tensor)
                got = leaves(op.fn(*args, **s.kwargs))
                exp = leaves(op.ref(*s.args, **s.kwargs))
                assert len(got) == len(exp), (name, s)
                for g, e in zip(got, exp):
                    np.testing.assert_array_equal(g.numpy(), e, err_msg=f"{name} {dt} {s}")
