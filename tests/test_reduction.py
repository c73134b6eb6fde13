"""Reductions (sum, mean, prod, amax/amin, max/min, aminmax, argmax/argmin, all/any,
cumsum, count_nonzero) against numpy float64 references, with gradients checked by central
finite differences in float64."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.ops import OPS
from plugtorch.testing import double_fd_check, fd_check

RNG = np.random.default_rng(1234)
OPS_HERE = ["sum", "mean", "prod", "amax", "amin", "max", "min", "argmax", "argmin", "all",
            "any", "count_nonzero", "cumsum"]
DTYPES = ["float32", "float64", "int32", "int64", "uint8", "bool"]


# ----------------------------------------------------------------------------- helpers

def noncontiguous(a):
    """A tensor with a's values whose elements sit two apart in a larger buffer."""
    a = np.asarray(a)
    if a.ndim == 0 or a.size < 2:
        return pt.tensor(a)
    big = np.zeros(2 * a.size, a.dtype)
    big[::2] = a.ravel()
    strides = tuple(2 * s // a.itemsize for s in np.empty(a.shape, a.dtype).strides)
    t = pt.tensor(big).as_strided(a.shape, strides, 0)
    assert not t.is_contiguous()
    return t


def values(r):
    """A result (tensor or tuple of tensors) as a list of numpy arrays."""
    if isinstance(r, tuple):
        return [x for item in r for x in values(item)]
    return [np.asarray(r.detach().numpy() if isinstance(r, pt.Tensor) else r)]


def check_close(got, expected, dtype):
    tol = {"float16": 1e-2, "float32": 1e-5}.get(dtype, 1e-12)
    for g, e in zip(values(got), values(expected)):
        e = np.asarray(e)
        assert g.shape == e.shape, (g.shape, e.shape)
        np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=tol,
                                   atol=tol)


# ----------------------------------------------------------------------------- declared samples

@pytest.mark.parametrize("name,dtype", [(n, d) for n in OPS_HERE for d in DTYPES
                                        if getattr(pt, d) in OPS[n].dtypes])
def test_declared_samples_match_numpy(name, dtype):
    op = OPS[name]
    dt = getattr(pt, dtype)
    for sample in op.samples(dt, np.random.default_rng(0)):
        args = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                else a for a in sample.args]
        expected = op.ref(*args, **sample.kwargs)
        for make in (pt.tensor, noncontiguous):
            got = op.fn(*[make(a) if isinstance(a, np.ndarray) else a for a in sample.args],
                        **sample.kwargs)
            check_close(got, expected, dtype)


@pytest.mark.parametrize("name", [n for n in OPS_HERE if OPS[n].grad])
def test_declared_gradients_match_finite_differences(name):
    op = OPS[name]
    for sample in op.samples(pt.float64, np.random.default_rng(5)):
        if not sample.grad_args:
            continue
        fd_check(lambda x: op.fn(x, *sample.args[1:], **sample.kwargs), [sample.args[0]],
                 rng=RNG)


# ----------------------------------------------------------------------------- dtypes

def test_int_and_bool_sums_are_int64():
    assert pt.tensor([1, 2], dtype=pt.int8).sum().dtype is pt.int64
    assert pt.tensor([True, True, False]).sum().item() == 2
    assert pt.tensor([True, True]).sum().dtype is pt.int64
    assert pt.tensor([1, 2], dtype=pt.int32).prod().dtype is pt.int64
    assert pt.tensor([1, 2], dtype=pt.int32).cumsum(0).dtype is pt.int64
    x = pt.tensor([100, 100, 100], dtype=pt.int8)
    assert x.sum().item() == 300          # no int8 overflow: accumulated as int64


def test_sum_dtype_argument():
    x = pt.tensor([1, 2, 3])
    r = x.sum(dtype=pt.float64)
    assert r.dtype is pt.float64 and r.item() == 6.0
    assert pt.tensor([0.5, 0.25]).cumsum(0, dtype=pt.float64).dtype is pt.float64


def test_mean_of_int_raises_and_dtype_allows_it():
    with pytest.raises(RuntimeError, match="mean"):
        pt.tensor([1, 2]).mean()
    assert pt.tensor([1, 2]).mean(dtype=pt.float32).item() == 1.5


def test_all_any_output_dtypes():
    assert pt.tensor([1, 2], dtype=pt.uint8).all().dtype is pt.uint8
    assert pt.tensor([1, 0], dtype=pt.int32).all().dtype is pt.bool
    assert pt.tensor([0.0, 0.5]).any().item() is True
    assert pt.tensor([0.0, 0.5]).all().item() is False


# ----------------------------------------------------------------------------- semantics

def test_dims_tuple_negative_keepdim():
    a = RNG.standard_normal((2, 3, 4, 5))
    x = pt.tensor(a)
    check_close(x.sum((-1, 1), keepdim=True), a.sum(axis=(1, 3), keepdims=True), "float64")
    check_close(x.amax((0, -2)), a.max(axis=(0, 2)), "float64")
    check_close(x.mean(-3), a.mean(axis=1), "float64")
    check_close(x.sum(()), a.sum(), "float64")   # () means every dim, as in PyTorch


def test_zero_dim_inputs():
    x = pt.tensor(2.5)
    for r in (x.sum(), x.sum(0), x.mean(-1), x.prod(0), x.amax(), x.max(), x.cumsum(0)):
        assert r.shape == () and r.item() == 2.5
    v, i = x.max(0)
    assert v.item() == 2.5 and i.item() == 0 and i.shape == ()
    assert x.argmax().item() == 0 and x.argmin(0, keepdim=True).shape == ()
    assert x.sum(0, keepdim=True).shape == ()


def test_empty_reductions_follow_pytorch():
    e = pt.zeros(0, 3)
    assert e.sum().item() == 0 and e.prod().item() == 1
    np.testing.assert_array_equal(e.sum(0).numpy(), np.zeros(3))
    np.testing.assert_array_equal(e.prod(0).numpy(), np.ones(3))
    assert e.all().item() is True and e.any().item() is False
    assert np.isnan(e.mean().item())
    assert e.amax(1).shape == (0,)
    with pytest.raises(IndexError, match=r"amax\(\): Expected reduction dim 0"):
        e.amax(0)
    with pytest.raises(RuntimeError, match=r"amin\(\): Expected reduction dim to be specified"):
        e.amin()
    with pytest.raises(RuntimeError, match=r"max\(\): Expected reduction dim to be specified"):
        e.max()
    with pytest.raises(IndexError, match=r"min\(\): Expected reduction dim 0"):
        e.min(0)
    with pytest.raises(IndexError, match=r"argmax\(\)"):
        e.argmax()


def test_dim_errors():
    x = pt.zeros(2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.cumsum(-3)
    with pytest.raises(RuntimeError, match="multiple times"):
        x.sum((0, -2))
    with pytest.raises(TypeError):
        x.max((0, 1))
    with pytest.raises(RuntimeError, match="bool"):
        pt.tensor([True]).argmax()


def test_max_min_forms():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    x = pt.tensor(a)
    assert x.max().item() == 7.0 and x.min().item() == 0.0
    r = x.max(1)
    assert isinstance(r, tuple) and r._fields == ("values", "indices")
    np.testing.assert_array_equal(r.values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(r.indices.numpy(), [1, 0])      # first of a tie
    assert r.indices.dtype is pt.int64
    v, i = pt.min(x, 0, keepdim=True)
    assert v.shape == (1, 3) and i.tolist() == [[0, 1, 0]]
    y = pt.tensor([[3.0, 3.0, 3.0], [3.0, 3.0, 3.0]])
    np.testing.assert_array_equal(pt.max(x, y).numpy(), np.maximum(a, 3.0))
    np.testing.assert_array_equal(x.min(y).numpy(), np.minimum(a, 3.0))
    lo, hi = x.aminmax()
    assert lo.item() == 0.0 and hi.item() == 7.0
    assert pt.aminmax(x, dim=1).max.tolist() == [5.0, 7.0]


def test_argmax_argmin():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    x = noncontiguous(a)
    assert x.argmax().item() == 3 and x.argmin().item() == 4
    assert x.argmax(keepdim=True).shape == (1, 1)
    assert x.argmax(1).tolist() == [1, 0] and x.argmin(0, keepdim=True).tolist() == [[0, 1, 0]]
    assert pt.tensor([1.0, float("nan"), 3.0]).argmax().item() == 1   # NaN is the largest


def test_nan_propagates_through_max():
    x = pt.tensor([1.0, float("nan"), 3.0])
    assert np.isnan(x.max().item()) and np.isnan(x.amin().item())


def test_count_nonzero_and_cumsum():
    a = np.array([[0, 1, 2], [3, 0, 0]])
    x = pt.tensor(a)
    assert x.count_nonzero().item() == 3
    assert x.count_nonzero((0, 1)).item() == 3
    assert pt.count_nonzero(x, dim=0).tolist() == [1, 1, 1]
    np.testing.assert_array_equal(x.cumsum(-1).numpy(), np.cumsum(a, axis=1))
    np.testing.assert_array_equal(noncontiguous(a).cumsum(0).numpy(), np.cumsum(a, axis=0))


# ----------------------------------------------------------------------------- gradients

def test_amax_gradient_splits_ties_evenly():
    x = pt.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.amax(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    x.max().backward()                       # whole-tensor max also splits among ties
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [0, 0, 0]])


def test_max_with_dim_routes_gradient_to_index():
    x = pt.tensor([[1.0, 3.0, 3.0], [2.0, 5.0, 2.0]], requires_grad=True)
    v, i = x.max(1)
    (v * pt.tensor([2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 2, 0], [0, 3, 0]])
    y = pt.tensor([[4.0, 1.0], [0.0, 2.0]], requires_grad=True)
    y.min(0, keepdim=True).values.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [[0, 1], [1, 0]])


def test_prod_gradient_with_zeros():
    a = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    x = pt.tensor(a, requires_grad=True)
    x.prod(1).sum().backward()
    # d/dx_i prod = product of the others
    expected = np.array([[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [6.0, 3.0, 2.0]])
    np.testing.assert_allclose(x.grad.numpy(), expected)
    fd_check(lambda t: t.prod(0), [np.array([[2.0, 0.5], [0.0, 1.5], [1.5, 3.0]])], rng=RNG)


@pytest.mark.parametrize("fn", [
    lambda x: x.sum((0, 2)), lambda x: x.mean(1, keepdim=True), lambda x: x.prod(-1),
    lambda x: x.amin((1, 2)), lambda x: x.min(1).values, lambda x: x.cumsum(1),
    lambda x: x.max(), lambda x: x.aminmax(dim=0).max,
], ids=["sum", "mean", "prod", "amin", "min_dim", "cumsum", "max", "aminmax"])
def test_gradients_non_contiguous_float64(fn):
    a = RNG.uniform(0.5, 2.0, (2, 3, 4))
    fd_check(lambda x: fn(x.transpose(0, 2)), [a], rng=RNG)


@pytest.mark.parametrize("fn", [lambda x: x.prod(1), lambda x: x.cumsum(0) * x,
                                lambda x: x.mean(0) ** 2, lambda x: x.amax(1) * x.sum(1)],
                         ids=["prod", "cumsum", "mean", "amax"])
def test_double_backward(fn):
    double_fd_check(fn, [RNG.uniform(0.5, 2.0, (3, 4))], rng=RNG)
