"""plugtorch.linalg.vector_norm and linalg.norm on every backend: closed forms, PyTorch's
values where it is installed, gradients by finite differences, and argument errors."""
import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd import gradcheck

X = [[3.0, -4.0, 0.0], [1.0, 2.0, -2.0]]


def _close(got, expected, rtol=1e-12):
    np.testing.assert_allclose(got.detach().cpu().numpy(), np.asarray(expected, np.float64),
                               rtol=rtol, atol=1e-14)


def test_vector_norm_closed_forms(device):
    x = pt.tensor(X, dtype=pt.float64, device=device)
    vn = pt.linalg.vector_norm
    _close(vn(x), math.sqrt(34))
    _close(vn(x, 2, dim=1), [5.0, 3.0])
    _close(vn(x, 1, dim=1), [7.0, 5.0])
    _close(vn(x, 0, dim=1), [2.0, 3.0])
    _close(vn(x, math.inf), 4.0)
    _close(vn(x, -math.inf, dim=0), [1.0, 2.0, 0.0])
    _close(vn(x, 3, dim=-1), [(27 + 64) ** (1 / 3), 17 ** (1 / 3)])
    _close(vn(x[1], -1), 1 / (1 + 1 / 2 + 1 / 2))
    _close(vn(x, 2, dim=(0, 1), keepdim=True), [[math.sqrt(34)]])
    assert vn(x, 1, 0, keepdim=True).shape == (1, 3)
    r = vn(pt.tensor(X, device=device), dtype=pt.float64)
    assert r.dtype == pt.float64
    _close(r, math.sqrt(34))


def test_matrix_norms(device):
    A = pt.tensor(X, dtype=pt.float64, device=device)
    n = pt.linalg.norm
    _close(n(A), math.sqrt(34))                      # Frobenius by default
    _close(n(A, "fro"), math.sqrt(34))
    _close(n(A, math.inf), 7.0)                      # max row sum of |A|
    _close(n(A, -math.inf), 5.0)
    _close(n(A, 1), 6.0)                             # max column sum
    _close(n(A, -1), 2.0)
    _close(n(A, 1, dim=(1, 0)), 7.0)
    _close(n(A, dim=1), [5.0, 3.0])
    _close(n(A[0], 1), 7.0)
    B = pt.stack([A, 2 * A])
    _close(n(B, math.inf, dim=(1, 2)), [7.0, 14.0])
    assert n(B, 1, dim=(1, 2), keepdim=True).shape == (2, 1, 1)
    sv = np.linalg.svd(np.array(X), compute_uv=False)
    _close(n(A, "nuc"), sv.sum())
    _close(n(A, 2), sv[0])
    _close(n(A, -2, dim=(1, 0)), sv[-1])
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        n(A, 3)


def test_errors(device):
    with pytest.raises(RuntimeError, match="floating point"):
        pt.linalg.vector_norm(pt.tensor([1, 2], device=device))
    with pytest.raises(RuntimeError, match="identity"):
        pt.linalg.vector_norm(pt.zeros(0, device=device), math.inf)
    with pytest.raises(TypeError, match="ord"):
        pt.linalg.vector_norm(pt.ones(2, device=device), "fro")
    with pytest.raises(IndexError):
        pt.linalg.vector_norm(pt.ones(2, device=device), dim=3)


@pytest.mark.parametrize("args", [(2,), (1,), (3.5,), (-1.5,), (math.inf,), (2, 1), (1, 0, True)],
                         ids=str)
def test_vector_norm_gradient(args, device):
    rng = np.random.default_rng(0)
    x = pt.tensor(rng.uniform(0.3, 2, (3, 4)) * rng.choice([-1, 1], (3, 4)), dtype=pt.float64,
                  device=device, requires_grad=True)
    assert gradcheck(lambda t: pt.linalg.vector_norm(t, *args), (x,))


@pytest.mark.parametrize("ord", [None, "fro", math.inf, -math.inf, 1, -1], ids=str)
def test_norm_gradient(ord, device):
    rng = np.random.default_rng(1)
    A = pt.tensor(rng.uniform(-2, 2, (3, 4)), dtype=pt.float64, device=device,
                  requires_grad=True)
    assert gradcheck(lambda t: pt.linalg.norm(t, ord), (A,))


@pytest.mark.parametrize("ord", [2, 1, 0, 3, -2, math.inf, -math.inf])
@pytest.mark.parametrize("dim", [None, 0, (0, 2), -1])
def test_vector_norm_matches_pytorch(ord, dim, device):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(2).standard_normal((3, 4, 5))
    for keepdim in (False, True):
        ours = pt.linalg.vector_norm(pt.tensor(a, device=device), ord, dim, keepdim)
        theirs = torch.linalg.vector_norm(torch.tensor(a), ord, dim, keepdim)
        assert tuple(ours.shape) == tuple(theirs.shape)
        _close(ours, theirs.numpy(), rtol=1e-10)


@pytest.mark.parametrize("ord", [None, "fro", math.inf, -math.inf, 1, -1], ids=str)
def test_matrix_norm_matches_pytorch(ord, device):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(3).standard_normal((2, 3, 4))
    for dim in ((1, 2), (2, 0), (-1, -2)):
        ours = pt.linalg.norm(pt.tensor(a, device=device), ord, dim)
        theirs = torch.linalg.norm(torch.tensor(a), ord, dim)
        _close(ours, theirs.numpy(), rtol=1e-10)
