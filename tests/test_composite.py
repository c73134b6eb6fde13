"""Composite reductions (var/std, norm, logsumexp, softmax, log_softmax) against numpy
float64 references, gradients and double backward by central finite differences."""
import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.ops import OPS
from plugtorch.testing import double_fd_check, fd_check, kernel_override

RNG = np.random.default_rng(7)
OPS_HERE = ["var", "std", "norm", "logsumexp", "softmax", "log_softmax"]


def strided(a):
    """A non-contiguous tensor holding a's values (a transposed copy, transposed back)."""
    if a.ndim < 2:
        return pt.tensor(a)
    t = pt.tensor(np.ascontiguousarray(np.moveaxis(a, 0, -1))).movedim(-1, 0)
    assert not t.is_contiguous() or a.size == 0    # an empty tensor is always contiguous
    return t


def np_softmax(x, axis):
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


# ----------------------------------------------------------------------------- forward

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", OPS_HERE)
def test_declared_samples_match_numpy(name, dtype):
    op, dt = OPS[name], getattr(pt, dtype)
    tol = 2e-5 if dtype == "float32" else 1e-12
    for s in op.samples(dt, np.random.default_rng(11)):
        x = s.args[0]
        expected = np.asarray(op.ref(x.astype(np.float64), *s.args[1:], **s.kwargs))
        for make in (pt.tensor, strided):
            got = op.fn(make(x), *s.args[1:], **s.kwargs)
            assert got.dtype is dt and got.shape == expected.shape, (s, got.shape)
            np.testing.assert_allclose(got.numpy(), expected, rtol=tol, atol=tol, err_msg=str(s))


@pytest.mark.parametrize("name", OPS_HERE)
def test_declared_gradients_match_finite_differences(name):
    op = OPS[name]
    for s in op.samples(pt.float64, np.random.default_rng(2)):
        fd_check(lambda x: op.fn(x, *s.args[1:], **s.kwargs), [s.args[0]], rng=RNG)


def test_softmax_is_stable_and_normalised():
    a = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1e4, -999.0]])
    for dim in (1, -1, 0):
        y = pt.softmax(pt.tensor(a), dim)
        np.testing.assert_allclose(y.numpy(), np_softmax(a, dim), rtol=1e-12)
        np.testing.assert_allclose(y.numpy().sum(axis=dim), 1.0, rtol=1e-12)
        ly = pt.tensor(a).log_softmax(dim)
        assert np.isfinite(ly.numpy()).all()
        z = a - a.max(axis=dim, keepdims=True)
        np.testing.assert_allclose(ly.numpy(), z - np.log(np.exp(z).sum(axis=dim, keepdims=True)),
                                   rtol=1e-12)
    assert pt.softmax(pt.tensor(3.0), 0).item() == 1.0
    assert pt.log_softmax(pt.zeros(0, 3), 1).shape == (0, 3)


def test_softmax_dtype_argument_and_int_inputs():
    x = pt.tensor([[1, 2], [3, 3]])
    with pytest.raises(RuntimeError, match="softmax"):
        pt.softmax(x, 1)
    y = pt.softmax(x, 1, dtype=pt.float64)
    assert y.dtype is pt.float64
    np.testing.assert_allclose(y.numpy(), np_softmax(np.array([[1.0, 2], [3, 3]]), 1))
    assert pt.tensor([1.0, 2.0]).log_softmax(0, dtype=pt.float64).dtype is pt.float64
    with pytest.raises(IndexError):
        pt.softmax(pt.zeros(2, 3), 2)


def test_backend_softmax_kernel_is_preferred():
    calls = []

    def kernel(out, x, dim):
        calls.append(dim)
        out.copy_(pt.full(out.shape, 0.25, dtype=out.dtype))

    x = pt.tensor(RNG.standard_normal((2, 4)), requires_grad=True)
    with kernel_override("cpu", "softmax", kernel):
        y = pt.softmax(x, -1)
    assert calls == [1]                    # called with a non-negative dim
    np.testing.assert_array_equal(y.detach().numpy(), 0.25)
    y.sum().backward()                     # its derivative still comes from the frontend
    assert x.grad.shape == (2, 4)
    assert not np.allclose(pt.softmax(x, -1).detach().numpy(), 0.25)


def test_var_std_arguments():
    a = RNG.standard_normal((3, 4, 5))
    x = pt.tensor(a)
    np.testing.assert_allclose(x.var().item(), a.var(ddof=1))
    np.testing.assert_allclose(x.std(1).numpy(), a.std(axis=1, ddof=1))
    np.testing.assert_allclose(x.var((0, -1), keepdim=True).numpy(),
                               a.var(axis=(0, 2), ddof=1, keepdims=True))
    np.testing.assert_allclose(x.var(1, False).numpy(), a.var(axis=1))        # unbiased=False
    np.testing.assert_allclose(pt.var(x, 2, True, True).numpy(),
                               a.var(axis=2, ddof=1, keepdims=True))
    np.testing.assert_allclose(x.std(correction=0).item(), a.std())
    np.testing.assert_allclose(x.var(dim=0, correction=2).numpy(), a.var(axis=0, ddof=2))
    np.testing.assert_allclose(x.var(False).item(), a.var())                  # var(x, unbiased)
    v, m = pt.var_mean(x, 1)
    np.testing.assert_allclose(v.numpy(), a.var(axis=1, ddof=1))
    np.testing.assert_allclose(m.numpy(), a.mean(axis=1))
    s, m = pt.std_mean(x, (0, 2), keepdim=True)
    assert s.shape == m.shape == (1, 4, 1)
    assert np.isnan(pt.tensor([1.0]).var().item())   # N - correction = 0
    with pytest.raises(RuntimeError, match="floating point"):
        pt.tensor([1, 2]).std()
    with pytest.raises(RuntimeError, match="both"):
        x.var(0, True, correction=1)


@pytest.mark.parametrize("p", [2, "fro", 1, 3, 0.5, 0, math.inf, -math.inf])
def test_norm_values(p):
    a = RNG.standard_normal((3, 4))
    q = 2 if p == "fro" else p
    expected_all = np.linalg.norm(a.ravel(), ord=q)
    np.testing.assert_allclose(pt.tensor(a).norm(p).item(), expected_all, rtol=1e-12)
    np.testing.assert_allclose(pt.norm(pt.tensor(a), p, dim=0, keepdim=True).numpy(),
                               np.linalg.norm(a, ord=q, axis=0, keepdims=True), rtol=1e-12)


def test_norm_errors_and_dtype():
    with pytest.raises(RuntimeError, match="floating point"):
        pt.tensor([3, 4]).norm()
    assert pt.tensor([3, 4]).norm(dtype=pt.float64).item() == 5.0
    with pytest.raises(RuntimeError, match="nuc"):
        pt.ones(2, 2).norm("nuc")
    with pytest.raises(RuntimeError, match="fro"):
        pt.ones(2, 2, 2).norm("fro", dim=(0, 1, 2))


def test_norm_gradient_at_zero_is_zero_and_inf_norm_splits_ties():
    x = pt.zeros(3, dtype=pt.float64, requires_grad=True)
    x.norm().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)
    x.grad = None
    x.norm(3).backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)
    y = pt.tensor([-2.0, 1.0, 2.0], requires_grad=True)
    y.norm(math.inf).backward()
    np.testing.assert_allclose(y.grad.numpy(), [-0.5, 0.0, 0.5])


def test_logsumexp_limits():
    assert pt.tensor([1000.0, 1000.0]).logsumexp(0).item() == pytest.approx(1000 + math.log(2))
    assert pt.tensor([-math.inf, -math.inf]).logsumexp(0).item() == -math.inf
    assert pt.tensor([math.inf, 1.0]).logsumexp(0).item() == math.inf
    e = pt.zeros(0, 3).logsumexp(0)
    assert e.shape == (3,) and (e.numpy() == -math.inf).all()
    r = pt.tensor([[1, 2], [3, 4]]).logsumexp(1)      # ints are computed in float
    assert r.dtype is pt.float32
    np.testing.assert_allclose(r.numpy(), np.log(np.exp([[1, 2], [3, 4]]).sum(1)), rtol=1e-6)


# ----------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("fn", [
    lambda x: pt.softmax(x, 1), lambda x: pt.log_softmax(x, 0), lambda x: x.std(1),
    lambda x: x.var((0, 1)), lambda x: x.norm(), lambda x: x.norm(3, dim=0),
    lambda x: x.logsumexp(1), lambda x: pt.softmax(x.t(), -1) * x.t(),
], ids=["softmax", "log_softmax", "std", "var", "norm2", "norm3", "logsumexp", "softmax_t"])
def test_double_backward(fn):
    double_fd_check(fn, [RNG.uniform(0.5, 2.0, (3, 4)) * RNG.choice([-1, 1], (3, 4))],
                    rng=RNG)


def test_gradients_on_non_contiguous_inputs():
    a = RNG.standard_normal((4, 3))
    for fn in (lambda x: pt.softmax(x.t(), 1), lambda x: x.t().std(0),
               lambda x: x.t().norm(dim=1), lambda x: x.t().log_softmax(-1)):
        fd_check(fn, [a], rng=RNG)


def test_matches_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((3, 5))
    ta, pa = torch.tensor(a), pt.tensor(a)
    pairs = [(torch.softmax(ta, 1), pt.softmax(pa, 1)),
             (torch.log_softmax(ta, 0), pt.log_softmax(pa, 0)),
             (ta.std(1, keepdim=True), pa.std(1, keepdim=True)),
             (ta.var(correction=0), pa.var(correction=0)),
             (ta.norm(3, dim=1), pa.norm(3, dim=1)),
             (ta.logsumexp((0, 1)), pa.logsumexp((0, 1)))]
    for t, p in pairs:
        np.testing.assert_allclose(p.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)
