"""cumprod/cummax/cummin, diff, repeat_interleave, bincount, unique, is_nonzero (ops.sequence)
and meshgrid, rot90, moveaxis, memory formats (ops.grid): values vs numpy float64,
gradients by finite differences (zeros included), PyTorch's errors and, where PyTorch is
installed, its results."""
import pickle

import numpy as np
import pytest

import plugtorch as torch
from plugtorch.testing import double_fd_check, fd_check

RNG = np.random.default_rng(0)


def check_grad(f, *arrays):
    fd_check(f, list(arrays), rtol=1e-7, rng=np.random.default_rng(1))


# ----------------------------------------------------------------------------- cumprod

def test_cumprod_values_and_dtypes():
    a = RNG.standard_normal((3, 6))
    np.testing.assert_allclose(torch.tensor(a).cumprod(1).numpy(), np.cumprod(a, 1),
                               rtol=1e-13)
    np.testing.assert_allclose(torch.cumprod(torch.tensor(a), 0).numpy(), np.cumprod(a, 0),
                               rtol=1e-13)
    i = torch.tensor([3, -2, 5, 7, 1, 2, 9], dtype=torch.int32)
    out = i.cumprod(0)
    assert out.dtype == torch.int64
    assert out.tolist() == np.cumprod([3, -2, 5, 7, 1, 2, 9]).tolist()
    assert torch.tensor([True, True, False]).cumprod(0).tolist() == [1, 1, 0]
    assert torch.tensor([1.5, 2.0]).cumprod(0, dtype=torch.int32).tolist() == [1, 2]
    assert torch.tensor(3.0).cumprod(0).item() == 3.0
    # integer products wrap exactly, whatever order the scan multiplies in
    big = np.array([3 ** 20, 3 ** 20, 7, 11, 13], np.int64)
    with np.errstate(over="ignore"):
        assert torch.tensor(big).cumprod(0).tolist() == np.cumprod(big).tolist()


def test_cumprod_errors():
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.ones(3).cumprod(1)
    with pytest.raises(TypeError, match="dim"):
        torch.ones(3).cumprod(None)


@pytest.mark.parametrize("zeros", [(), (2,), (1, 4), (0, 5), (3, 3, 4)])
def test_cumprod_gradient_with_zeros(zeros):
    a = RNG.uniform(0.5, 1.5, 7) * RNG.choice([-1, 1], 7)
    a[list(zeros)] = 0.0
    check_grad(lambda x: x.cumprod(0), a)
    double_fd_check(lambda x: x.cumprod(0), [a], rng=np.random.default_rng(2))


def test_cumprod_gradient_nd():
    a = RNG.standard_normal((3, 4, 2))
    a[1, 2, 0] = a[0, 0, 1] = 0.0
    check_grad(lambda x: torch.cumprod(x, 1), a)
    check_grad(lambda x: torch.cumprod(x, -1), a)


# ----------------------------------------------------------------------------- cummax/cummin

def test_cummax_cummin_ties_nan_and_gradient():
    v, i = torch.tensor([1, 3, 3, 2, 5]).cummax(0)
    assert v.tolist() == [1, 3, 3, 3, 5] and i.tolist() == [0, 1, 2, 2, 4]
    v, i = torch.cummin(torch.tensor([3, 1, 1, 2]), 0)
    assert v.tolist() == [3, 1, 1, 1] and i.tolist() == [0, 1, 2, 2]
    v, i = torch.tensor([1.0, np.nan, 2.0, np.nan, 5.0]).cummax(0)
    assert np.isnan(v.numpy()[1:]).all() and i.tolist() == [0, 1, 1, 3, 3]
    a = RNG.standard_normal((4, 5))
    np.testing.assert_array_equal(torch.tensor(a).cummax(1).values.numpy(),
                                  np.maximum.accumulate(a, 1))
    check_grad(lambda x: x.cummax(1).values, a)
    check_grad(lambda x: x.cummin(0).values, a)


# ----------------------------------------------------------------------------- diff

def test_diff_matches_numpy():
    a = RNG.standard_normal((3, 5))
    for n, dim in [(1, -1), (2, 0), (3, 1), (9, 1), (0, 0)]:
        np.testing.assert_allclose(torch.diff(torch.tensor(a), n, dim).numpy(),
                                   np.diff(a, n, dim), rtol=1e-13)
    p, q = RNG.standard_normal((3, 2)), RNG.standard_normal((3, 1))
    out = torch.tensor(a).diff(2, 1, prepend=torch.tensor(p), append=torch.tensor(q))
    np.testing.assert_allclose(out.numpy(), np.diff(a, 2, 1, prepend=p, append=q), rtol=1e-13)
    assert torch.diff(torch.tensor([True, False, False])).tolist() == [True, False]
    assert torch.diff(torch.tensor([1, 2], dtype=torch.uint8)).dtype == torch.uint8
    mixed = torch.diff(torch.tensor([1, 2, 4]), prepend=torch.tensor([0.5]))
    assert mixed.dtype == torch.float32 and mixed.tolist() == [0.5, 1.0, 2.0]
    check_grad(lambda x, p: torch.diff(x, 2, 1, prepend=p), a, p)


def test_diff_errors():
    with pytest.raises(RuntimeError, match="at least one-dimensional"):
        torch.diff(torch.tensor(1.0))
    with pytest.raises(RuntimeError, match="order must be non-negative but got -1"):
        torch.diff(torch.ones(3), -1)
    with pytest.raises(RuntimeError, match="same dimension as input"):
        torch.diff(torch.ones(3), prepend=torch.tensor(1.0))
    with pytest.raises(TypeError, match="'prepend' must be Tensor, not int"):
        torch.diff(torch.ones(3), prepend=5)
    with pytest.raises(IndexError):
        torch.diff(torch.ones(3), dim=1)


# ----------------------------------------------------------------------------- repeat_interleave

def test_repeat_interleave_forms():
    a = RNG.standard_normal((2, 3))
    x = torch.tensor(a)
    np.testing.assert_array_equal(x.repeat_interleave(2).numpy(), np.repeat(a, 2))
    np.testing.assert_array_equal(x.repeat_interleave(3, dim=1).numpy(), np.repeat(a, 3, 1))
    r = [2, 0, 1]
    np.testing.assert_array_equal(
        torch.repeat_interleave(x, torch.tensor(r), dim=-1).numpy(), np.repeat(a, r, 1))
    np.testing.assert_array_equal(
        x.repeat_interleave(torch.tensor(2), dim=0, output_size=4).numpy(), np.repeat(a, 2, 0))
    flat = [1, 0, 0, 2, 1, 3]
    np.testing.assert_array_equal(x.repeat_interleave(torch.tensor(flat)).numpy(),
                                  np.repeat(a.reshape(-1), flat))
    counts = torch.tensor([1, 2, 0, 3], dtype=torch.int32)
    out = torch.repeat_interleave(counts)
    assert out.dtype == torch.int32 and out.tolist() == [0, 1, 1, 3, 3, 3]
    assert torch.tensor(3.0).repeat_interleave(2).tolist() == [3.0, 3.0]
    assert x.repeat_interleave(torch.tensor([0, 0]), dim=0).shape == (0, 3)
    check_grad(lambda t: t.repeat_interleave(torch.tensor([2, 0, 3]), dim=1), a)
    check_grad(lambda t: t.repeat_interleave(2, dim=0), a)


def test_repeat_interleave_errors():
    x = torch.ones(2, 3)
    with pytest.raises(RuntimeError, match="Repeats must be non-negative"):
        x.repeat_interleave(-1)
    with pytest.raises(RuntimeError, match="repeats can not be negative"):
        x.repeat_interleave(torch.tensor([1, -2]), dim=0)
    with pytest.raises(RuntimeError, match=r"repeats.size\(0\) = 3 and input.size\(0\) = 2"):
        x.repeat_interleave(torch.tensor([1, 2, 3]), dim=0)
    with pytest.raises(RuntimeError, match="0-dim or 1-dim"):
        x.repeat_interleave(torch.tensor([[1, 2]]), dim=0)
    with pytest.raises(TypeError, match="float32"):
        x.repeat_interleave(torch.tensor([1.0, 2.0]), dim=0)
    with pytest.raises(RuntimeError, match="Invalid output_size, expected 4 but got 5"):
        x.repeat_interleave(2, dim=0, output_size=5)
    with pytest.raises(RuntimeError, match="allocated size does not match"):
        x.repeat_interleave(torch.tensor([1, 2]), dim=0, output_size=4)
    with pytest.raises(RuntimeError, match="only accept 1D vector"):
        torch.repeat_interleave(torch.tensor([[1, 2]]))
    with pytest.raises(IndexError):
        x.repeat_interleave(2, dim=2)
    with pytest.raises(IndexError, match="0-d"):
        torch.tensor(3.0).repeat_interleave(2, dim=0)


# ----------------------------------------------------------------------------- bincount

def test_bincount_values_and_dtypes():
    v = RNG.integers(0, 6, 20)
    w = RNG.standard_normal(20)
    assert torch.bincount(torch.tensor(v)).tolist() == np.bincount(v).tolist()
    assert torch.tensor(v).bincount(minlength=10).tolist() == np.bincount(v, minlength=10).tolist()
    out = torch.bincount(torch.tensor(v, dtype=torch.uint8), torch.tensor(w))
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), np.bincount(v, w), rtol=1e-13)
    assert torch.bincount(torch.tensor(v), torch.tensor(w, dtype=torch.float32)).dtype == \
        torch.float32
    assert torch.bincount(torch.tensor(v), torch.tensor(v)).dtype == torch.float64
    empty = torch.bincount(torch.zeros(0, dtype=torch.int64), torch.zeros(0), minlength=2)
    assert empty.dtype == torch.int64 and empty.tolist() == [0, 0]


def test_bincount_errors():
    with pytest.raises(RuntimeError, match="non-negative integral"):
        torch.bincount(torch.tensor([1, 2, -1]))
    with pytest.raises(RuntimeError, match="non-negative integral"):
        torch.bincount(torch.zeros(2, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match="float32"):
        torch.bincount(torch.ones(3))
    with pytest.raises(RuntimeError, match="minlength should be >= 0"):
        torch.bincount(torch.tensor([1]), minlength=-1)
    with pytest.raises(RuntimeError, match="same length as input"):
        torch.bincount(torch.tensor([1, 2]), torch.ones(3))


# ----------------------------------------------------------------------------- unique

def test_unique_matches_numpy():
    a = RNG.integers(0, 5, (4, 6)).astype(np.float64)
    vals, inv, cnt = torch.unique(torch.tensor(a), return_inverse=True, return_counts=True)
    evals, einv, ecnt = np.unique(a, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(vals.numpy(), evals)
    np.testing.assert_array_equal(inv.numpy(), einv.reshape(a.shape))
    np.testing.assert_array_equal(cnt.numpy(), ecnt)
    assert inv.dtype == cnt.dtype == torch.int64
    assert torch.tensor([3, 1, 3, 2]).unique(sorted=False).tolist() == [1, 2, 3]
    v, i, c = torch.unique(torch.tensor(3.0), return_inverse=True, return_counts=True)
    assert v.tolist() == [3.0] and i.shape == () and i.item() == 0 and c.tolist() == [1]
    # each NaN is a value of its own, as in PyTorch
    v, c = torch.unique(torch.tensor([1.0, np.nan, np.nan, 1.0]), return_counts=True)
    assert v.shape == (3,) and np.isnan(v.numpy()[1:]).all() and c.tolist() == [2, 1, 1]
    v = torch.tensor([True, False, True]).unique()
    assert v.tolist() == [False, True]


def test_unique_consecutive_and_dim():
    v, i, c = torch.tensor([1, 1, 2, 2, 3, 1, 1, 2]).unique_consecutive(
        return_inverse=True, return_counts=True)
    assert v.tolist() == [1, 2, 3, 1, 2] and c.tolist() == [2, 2, 1, 2, 1]
    assert i.tolist() == [0, 0, 1, 1, 2, 3, 3, 4]
    with pytest.raises(NotImplementedError, match="dim"):
        torch.unique(torch.ones(2, 2), dim=0)


def test_unique_is_not_differentiable():
    x = torch.tensor([2.0, 1.0, 2.0], requires_grad=True)
    assert not torch.unique(x).requires_grad


# ----------------------------------------------------------------------------- is_nonzero

def test_is_nonzero():
    assert torch.is_nonzero(torch.tensor([2.0])) is True
    assert torch.tensor(0).is_nonzero() is False
    assert torch.is_nonzero(torch.tensor(float("nan"))) is True
    with pytest.raises(RuntimeError, match="no values is ambiguous"):
        torch.is_nonzero(torch.tensor([]))
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        torch.is_nonzero(torch.tensor([1, 2]))


# ----------------------------------------------------------------------------- meshgrid / rot90

def test_meshgrid_indexing_and_gradient():
    a, b, c = RNG.standard_normal(3), RNG.standard_normal(2), RNG.standard_normal(4)
    for indexing in ("ij", "xy"):
        got = torch.meshgrid(torch.tensor(a), torch.tensor(b), torch.tensor(c),
                             indexing=indexing)
        for g, e in zip(got, np.meshgrid(a, b, c, indexing=indexing)):
            np.testing.assert_array_equal(g.numpy(), e)
    x, y = torch.meshgrid([torch.tensor(a), torch.tensor(b)])      # a list, default 'ij'
    assert x.shape == y.shape == (3, 2)
    check_grad(lambda s, t: torch.meshgrid(s, t, indexing="xy")[0] *
               torch.meshgrid(s, t, indexing="xy")[1], a, b)


def test_meshgrid_errors():
    x = torch.ones(3)
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.meshgrid(x, torch.ones(2, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="0D or 1D"):
        torch.meshgrid(x, torch.ones(2, 2))
    with pytest.raises(RuntimeError, match='indexing must be one of "xy" or "ij"'):
        torch.meshgrid(x, x, indexing="foo")
    with pytest.raises(RuntimeError, match="non-empty"):
        torch.meshgrid()


def test_rot90_matches_numpy_and_errors():
    a = RNG.standard_normal((2, 3, 4))
    for k in range(-5, 6):
        for dims in [(0, 1), (2, 0), (-1, 1)]:
            np.testing.assert_array_equal(torch.tensor(a).rot90(k, dims).numpy(),
                                          np.rot90(a, k, dims))
    check_grad(lambda t: torch.rot90(t, 1, (1, 2)), a)
    x = torch.zeros(2, 3)
    with pytest.raises(RuntimeError, match="total rotation dims == 2, but got dims = 1"):
        torch.rot90(x, 1, [0])
    with pytest.raises(RuntimeError, match="total dims >= 2, but got total dims = 1"):
        torch.rot90(torch.zeros(3))
    with pytest.raises(RuntimeError, match="dim0 = 0 and dim1 = -2"):
        torch.rot90(x, 1, [0, -2])
    with pytest.raises(IndexError):
        torch.rot90(x, 1, [0, 2])


# ----------------------------------------------------------------------------- aliases, formats

def test_moveaxis_and_memory_formats():
    a = RNG.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(torch.moveaxis(torch.tensor(a), 0, -1).numpy(),
                                  np.moveaxis(a, 0, -1))
    assert torch.tensor(a).moveaxis((0, 1), (2, 0)).shape == np.moveaxis(a, (0, 1), (2, 0)).shape
    x = torch.tensor(a).unsqueeze(0)
    for fmt in (torch.contiguous_format, torch.channels_last, torch.preserve_format):
        assert isinstance(fmt, torch.memory_format)
        np.testing.assert_array_equal(x.contiguous(memory_format=fmt).numpy(), a[None])
        np.testing.assert_array_equal(x.clone(memory_format=fmt).numpy(), a[None])
        np.testing.assert_array_equal(torch.empty_like(x, memory_format=fmt).shape, x.shape)
    assert repr(torch.channels_last) == "plugtorch.channels_last"
    assert pickle.loads(pickle.dumps(torch.channels_last)) is torch.channels_last


# ----------------------------------------------------------------------------- PyTorch

def test_against_pytorch():
    pt = pytest.importorskip("torch")
    a = RNG.standard_normal((3, 5))
    a[1, 2] = 0.0
    a[2, 0] = a[2, 3] = 0.0
    x, xt = torch.tensor(a, requires_grad=True), pt.tensor(a, requires_grad=True)
    w = RNG.standard_normal((3, 5))
    (x.cumprod(1) * torch.tensor(w)).sum().backward()
    (xt.cumprod(1) * pt.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    v = RNG.integers(0, 4, 12)
    for kw in [{}, {"return_inverse": True}, {"return_counts": True},
               {"return_inverse": True, "return_counts": True}]:
        ours, theirs = torch.unique(torch.tensor(v), **kw), pt.unique(pt.tensor(v), **kw)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        for o, t in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(o.numpy(), t.numpy())
    r = pt.tensor([2, 0, 1])
    np.testing.assert_array_equal(
        torch.repeat_interleave(torch.tensor(a), torch.tensor(r.numpy()), dim=0).detach().numpy(),
        pt.repeat_interleave(pt.tensor(a), r, dim=0).numpy())
