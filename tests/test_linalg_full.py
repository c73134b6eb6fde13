"""plugtorch.linalg's factorizations and what is built on them, on every backend: values
against numpy float64 (and PyTorch where installed), batched and unbatched, gradients by
finite differences (gauge-invariant losses for svd / eigh), PyTorch's error messages, and
the counted CPU fallback on backends without a kernel of their own."""
import math
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import _dispatch, debug
from plugtorch.testing import double_fd_check, fd_check

RNG = np.random.default_rng(7)
FACTORIZATIONS = sorted(_dispatch.HOST_KERNELS)


def _square(*shape):
    return RNG.standard_normal(shape) + 3 * np.eye(shape[-1])


def _spd(*shape):
    a = RNG.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _general(*shape):
    a = RNG.standard_normal(shape)
    k = min(shape[-2:])
    a[..., range(k), range(k)] += 3.0 * np.arange(k, 0, -1)
    return a


def _t(a, device, dtype=pt.float64):
    return pt.tensor(a, dtype=dtype, device=device)


def _close(got, expected, tol=1e-10):
    got = got.cpu().numpy() if hasattr(got, "cpu") else np.asarray(got)
    np.testing.assert_allclose(got.astype(np.float64), np.asarray(expected, np.float64),
                               rtol=tol, atol=tol)


def _quiet(fn, *args, **kw):
    """Call fn with fallback warnings silenced (a backend without a kernel warns once)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _dispatch.FallbackWarning)
        return fn(*args, **kw)


@pytest.fixture
def counted(device):
    """Asserts after the test that every factorization ran natively or through the counted
    fallback: on a backend with no kernel of its own, the fallback counter moved."""
    before = dict(debug.fallbacks(device))
    yield
    after = debug.fallbacks(device)
    backend = pt.backends.get(device)
    for name in _used:
        native = _dispatch.resolution(name, backend) == "kernel"
        moved = after.get(name, 0) > before.get(name, 0)
        assert native != moved, (name, device, "native" if native else "fallback not counted")
    _used.clear()


_used = set()


def _uses(*names):
    _used.update(names)


# ----------------------------------------------------------------------------- values

@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (2, 1, 2, 2)], ids=str)
def test_lu_family_values(device, counted, shape):
    _uses("linalg.solve", "linalg.slogdet")
    A = _square(*shape)
    a = _t(A, device)
    _close(_quiet(pt.linalg.inv, a), np.linalg.inv(A))
    _close(_quiet(pt.inverse, a), np.linalg.inv(A))
    _close(_quiet(pt.linalg.det, a), np.linalg.det(A))
    _close(_quiet(pt.det, a), np.linalg.det(A))
    sign, lad = _quiet(pt.linalg.slogdet, a)
    s_ref, l_ref = np.linalg.slogdet(A)
    _close(sign, s_ref)
    _close(lad, l_ref)
    assert pt.slogdet(a)._fields == ("sign", "logabsdet")
    _close(_quiet(pt.logdet, a), np.where(s_ref < 0, np.nan, l_ref))
    B = RNG.standard_normal(shape[:-1] + (2,))
    _close(_quiet(pt.linalg.solve, a, _t(B, device)), np.linalg.solve(A, B))
    b = RNG.standard_normal(shape[:-1])            # a batch of vectors
    _close(_quiet(pt.linalg.solve, a, _t(b, device)), np.linalg.solve(A, b[..., None])[..., 0])
    _close(_quiet(pt.linalg.solve, a, _t(B, device).mT, left=False),
           np.swapaxes(np.linalg.solve(np.swapaxes(A, -1, -2), B), -1, -2))


def test_solve_broadcasts_batches(device, counted):
    _uses("linalg.solve")
    A, B = _square(2, 1, 3, 3), RNG.standard_normal((4, 3, 2))
    got = _quiet(pt.linalg.solve, _t(A, device), _t(B, device))
    assert got.shape == (2, 4, 3, 2)
    _close(got, np.linalg.solve(A, B))
    v = RNG.standard_normal(3)
    _close(_quiet(pt.linalg.solve, _t(A, device), _t(v, device)),
           np.linalg.solve(A, np.broadcast_to(v[:, None], (2, 1, 3, 1)))[..., 0])


@pytest.mark.parametrize("shape", [(4, 4), (3, 3, 3)], ids=str)
def test_cholesky_and_eigh_values(device, counted, shape):
    _uses("linalg.cholesky", "linalg.eigh", "linalg.eigvalsh")
    A = _spd(*shape)
    a = _t(A, device)
    L = np.linalg.cholesky(A)
    _close(_quiet(pt.linalg.cholesky, a), L)
    _close(_quiet(pt.linalg.cholesky, a, upper=True), np.swapaxes(L, -1, -2))
    _close(_quiet(pt.cholesky, a, True), np.swapaxes(L, -1, -2))
    # only the named triangle is read
    junk = np.triu(RNG.standard_normal(shape), 1)
    _close(_quiet(pt.linalg.cholesky, _t(np.tril(A) + junk, device)), L)
    _close(_quiet(pt.linalg.cholesky, _t(np.triu(A) + np.swapaxes(junk, -1, -2), device),
                  upper=True), np.swapaxes(L, -1, -2))
    w, V = _quiet(pt.linalg.eigh, a)
    w_ref = np.linalg.eigvalsh(A)
    _close(w, w_ref)
    _close((V * w.unsqueeze(-2)) @ V.mT, A)
    _close(V.mT @ V, np.broadcast_to(np.eye(shape[-1]), shape))
    _close(_quiet(pt.linalg.eigvalsh, a), w_ref)
    _close(_quiet(pt.linalg.eigvalsh, _t(np.triu(A) + np.swapaxes(junk, -1, -2), device),
                  UPLO="U"), w_ref)
    assert pt.linalg.eigh(a)._fields == ("eigenvalues", "eigenvectors")


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (2, 3, 2)], ids=str)
def test_qr_svd_values(device, counted, shape):
    _uses("linalg.qr", "linalg.svd", "linalg.svdvals")
    A = _general(*shape)
    a = _t(A, device)
    m, n = shape[-2:]
    k = min(m, n)
    eye_k = np.broadcast_to(np.eye(k), shape[:-2] + (k, k))
    Q, R = _quiet(pt.linalg.qr, a)
    assert Q.shape == shape[:-2] + (m, k) and R.shape == shape[:-2] + (k, n)
    _close(Q @ R, A)
    _close(Q.mT @ Q, eye_k)
    _close(R, np.triu(R.cpu().numpy()))
    _close(R.abs(), np.abs(np.linalg.qr(A)[1]))          # R is unique up to row signs
    Qc, Rc = _quiet(pt.linalg.qr, a, "complete")
    assert Qc.shape == shape[:-2] + (m, m) and Rc.shape == shape[:-2] + (m, n)
    _close(Qc @ Rc, A)
    Q0, Rr = _quiet(pt.linalg.qr, a, "r")
    assert Q0.shape == (0,)
    _close(Rr.abs(), np.abs(np.linalg.qr(A)[1]))
    U, S, Vh = _quiet(pt.linalg.svd, a, full_matrices=False)
    _close(S, np.linalg.svd(A, compute_uv=False))
    _close((U * S.unsqueeze(-2)) @ Vh, A)
    _close(U.mT @ U, eye_k)
    _close(Vh @ Vh.mT, eye_k)
    Uf, Sf, Vhf = _quiet(pt.linalg.svd, a)
    assert Uf.shape == shape[:-2] + (m, m) and Vhf.shape == shape[:-2] + (n, n)
    _close(Uf.mT @ Uf, np.broadcast_to(np.eye(m), shape[:-2] + (m, m)))
    _close(_quiet(pt.linalg.svdvals, a), np.linalg.svd(A, compute_uv=False))
    Uo, So, Vo = _quiet(pt.svd, a)
    _close((Uo * So.unsqueeze(-2)) @ Vo.mT, A)
    Uz, Sz, Vz = _quiet(pt.svd, a, compute_uv=False)
    _close(Sz, So)
    assert Uz.shape[-2:] == (m, m) and not Uz.abs().sum().item()
    Qo, Ro = _quiet(pt.qr, a)
    _close(Qo @ Ro, A)


def test_pinv_rank_lstsq_values(device, counted):
    _uses("linalg.svd")
    A = _general(2, 5, 3)
    A[1, :, 2] = A[1, :, 0] + A[1, :, 1]           # rank 2
    a = _t(A, device)
    _close(_quiet(pt.linalg.pinv, a), np.linalg.pinv(A), 1e-8)
    _close(_quiet(pt.pinverse, a), np.linalg.pinv(A), 1e-8)
    _close(_quiet(pt.linalg.matrix_rank, a), [3, 2])
    S = _spd(4, 4)
    _close(_quiet(pt.linalg.pinv, _t(S, device), hermitian=True), np.linalg.inv(S))
    _close(_quiet(pt.linalg.matrix_rank, _t(S, device), hermitian=True), 4)
    _close(_quiet(pt.linalg.matrix_rank, _t(S, device), atol=S.trace()), 0)
    B = RNG.standard_normal((2, 5, 2))
    sol, res, rank, sv = _quiet(pt.linalg.lstsq, a, _t(B, device), driver="gelsd")
    _close(sol, np.linalg.pinv(A) @ B, 1e-8)
    _close(rank, [3, 2])
    _close(sv, np.linalg.svd(A, compute_uv=False))
    assert res.shape == (0,)                        # not every A has full rank
    full = a[:1]
    sol, res, rank, sv = _quiet(pt.linalg.lstsq, full, _t(B[:1], device), driver="gelsd")
    _close(res, ((A[:1] @ np.linalg.pinv(A[:1]) @ B[:1] - B[:1]) ** 2).sum(-2))
    sol, res, rank, sv = _quiet(pt.linalg.lstsq, full, _t(B[:1], device))   # gelsy
    assert res.shape == (0,) and sv.shape == (0,)
    _close(rank, [3])


def test_composed_ops(device, counted):
    _uses("linalg.solve", "linalg.svdvals")
    A = _square(2, 3, 3)
    a = _t(A, device)
    for n in (0, 1, 2, 5, -1, -3):
        _close(_quiet(pt.linalg.matrix_power, a, n), np.linalg.matrix_power(A, n), 1e-9)
    _close(_quiet(pt.matrix_power, a, 3), np.linalg.matrix_power(A, 3))
    mats = [RNG.standard_normal(s) for s in [(3,), (3, 10), (10, 2), (2, 7), (7,)]]
    _close(pt.linalg.multi_dot([_t(m, device) for m in mats]), np.linalg.multi_dot(mats))
    mats = [RNG.standard_normal(s) for s in [(4, 3), (3, 5)]]
    _close(pt.linalg.multi_dot([_t(m, device) for m in mats]), mats[0] @ mats[1])
    x, y = RNG.standard_normal((4, 3)), RNG.standard_normal((1, 3))
    _close(pt.linalg.cross(_t(x, device), _t(y, device)), np.cross(x, y))
    _close(pt.cross(_t(x.T, device), _t(y.T, device), dim=0), np.cross(x, y).T)
    M = _general(2, 3, 4)
    m = _t(M, device)
    for ord in ("fro", "nuc", 2, -2, math.inf, -math.inf, 1, -1):
        _close(_quiet(pt.linalg.matrix_norm, m, ord), np.linalg.norm(M, ord, axis=(-2, -1)))
        _close(_quiet(pt.linalg.norm, m, ord, (-2, -1)), np.linalg.norm(M, ord, axis=(-2, -1)))
    _close(_quiet(pt.linalg.matrix_norm, m, "nuc", (0, 2), keepdim=True),
           np.linalg.norm(M, "nuc", axis=(0, 2), keepdims=True))
    _close(_quiet(pt.linalg.norm, m[0], "nuc"), np.linalg.norm(M[0], "nuc"))


def test_float32(device, counted):
    _uses("linalg.solve", "linalg.svdvals", "linalg.cholesky")
    A = _square(2, 4, 4).astype(np.float32)
    a = pt.tensor(A, device=device)
    got = _quiet(pt.linalg.inv, a)
    assert got.dtype is pt.float32
    _close(got, np.linalg.inv(A.astype(np.float64)), 1e-4)
    _close(_quiet(pt.linalg.svdvals, a), np.linalg.svd(A.astype(np.float64), compute_uv=False),
           1e-4)
    S = _spd(3, 3)
    _close(_quiet(pt.linalg.cholesky, pt.tensor(S.astype(np.float32), device=device)),
           np.linalg.cholesky(S), 1e-4)


def test_empty_batch(device):
    A = np.zeros((0, 3, 3))
    assert _quiet(pt.linalg.inv, _t(A, device)).shape == (0, 3, 3)
    assert _quiet(pt.linalg.det, _t(A, device)).shape == (0,)
    assert _quiet(pt.linalg.svdvals, _t(np.zeros((0, 3, 2)), device)).shape == (0, 2)


# ----------------------------------------------------------------------------- fallback

def test_fallback_is_counted_warned_and_refused_in_strict_mode(device):
    backend = pt.backends.get(device)
    if _dispatch.resolution("linalg.svdvals", backend) == "kernel":
        pytest.skip(f"{device} has its own svdvals kernel")
    a = _t(_general(3, 3), device)
    before = debug.fallbacks(device).get("linalg.svdvals", 0)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        _dispatch._warned.discard((device, "linalg.svdvals"))
        with pytest.warns(_dispatch.FallbackWarning, match="linalg.svdvals"):
            pt.linalg.svdvals(a)
    assert debug.fallbacks(device)["linalg.svdvals"] == before + 1
    assert "linalg.svdvals" in _dispatch.coverage(backend)["fallback_ops"]
    old = _dispatch.set_strict(True)
    try:
        with pytest.raises(_dispatch.FallbackError, match="linalg.svdvals"):
            pt.linalg.svdvals(a)
    finally:
        _dispatch.set_strict(old)


def test_cpu_runs_factorizations_natively():
    cpu = pt.backends.get("cpu")
    assert all(_dispatch.resolution(n, cpu) == "kernel" for n in FACTORIZATIONS)
    assert _dispatch.coverage(cpu)["fallback_ops"] == []
    before = dict(debug.fallbacks("cpu"))
    pt.linalg.svd(pt.eye(3))
    assert debug.fallbacks("cpu") == before


def test_a_backend_kernel_replaces_the_host_one():
    from plugtorch.testing import kernel_override
    calls = []

    def svdvals_kernel(S, A):
        calls.append(tuple(A.shape))
        S.copy_(pt.ones(S.shape, dtype=S.dtype))

    minimal = pt.backends.get("minimal")
    with kernel_override("minimal", "linalg.svdvals", svdvals_kernel):
        assert _dispatch.resolution("linalg.svdvals", minimal) == "kernel"
        before = debug.fallbacks("minimal").get("linalg.svdvals", 0)
        got = pt.linalg.svdvals(pt.zeros(2, 3, 4, device="minimal"))
        assert debug.fallbacks("minimal").get("linalg.svdvals", 0) == before
    assert calls == [(2, 3, 4)]
    _close(got, np.ones((2, 3)))


def test_coverage_command_lists_the_fallback_ops():
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-m", "plugtorch", "coverage", "minimal", "--plugin",
                          "plugtorch_minimal"], capture_output=True, text=True, env=env,
                         check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("ops on the CPU fallback"))
    assert all(n in line.split() for n in FACTORIZATIONS), line


# ----------------------------------------------------------------------------- gradients

def _sym(x):
    return x + x.mT


def _eye6(x):
    return 6 * pt.eye(x.shape[-1], dtype=x.dtype, device=x.device)


def _gauge_svd(x):
    U, S, Vh = pt.linalg.svd(x, full_matrices=False)
    # invariant under U[:, i], Vh[i] -> -U[:, i], -Vh[i]
    return pt.cat([((U * S.unsqueeze(-2)) @ Vh).flatten(), (U @ Vh).flatten(), S.flatten(),
                   (U @ U.mT).flatten(), (Vh.mT @ Vh).flatten()])


GRADS = {
    "inv": (lambda x: pt.linalg.inv(x), [(3, 3), (2, 3, 3)]),
    "det": (lambda x: pt.linalg.det(x), [(3, 3), (2, 3, 3)]),
    "slogdet": (lambda x: pt.linalg.slogdet(x).logabsdet, [(3, 3), (2, 3, 3)]),
    "logdet": (lambda x: pt.logdet(x @ x.mT), [(3, 3)]),
    "solve": (lambda x: pt.linalg.solve(x, x[..., :2] * 2 + 1), [(3, 3), (2, 3, 3)]),
    "cholesky": (lambda x: pt.linalg.cholesky(_sym(x) + _eye6(x)),
                 [(3, 3), (2, 3, 3)]),
    "cholesky_upper": (lambda x: pt.linalg.cholesky(_sym(x) + _eye6(x), upper=True),
                       [(3, 3)]),
    "qr_tall": (lambda x: pt.cat([t.flatten() for t in pt.linalg.qr(x)]), [(4, 3), (2, 3, 3)]),
    "qr_wide": (lambda x: pt.cat([t.flatten() for t in pt.linalg.qr(x)]), [(3, 5)]),
    "svd": (_gauge_svd, [(4, 3), (3, 5), (2, 3, 3)]),
    "svdvals": (lambda x: pt.linalg.svdvals(x), [(4, 3)]),
    "eigh": (lambda x: (lambda w, V: pt.cat([w.flatten(), (V * w.unsqueeze(-2) @ V.mT).flatten(),
                                             (V[..., :1] @ V[..., :1].mT).flatten()]))(
        *pt.linalg.eigh(_sym(x))), [(3, 3), (2, 3, 3)]),
    "eigvalsh": (lambda x: pt.linalg.eigvalsh(_sym(x)), [(4, 4)]),
    "pinv": (lambda x: pt.linalg.pinv(x), [(4, 3), (3, 5)]),
    "pinv_hermitian": (lambda x: pt.linalg.pinv(_sym(x), hermitian=True), [(3, 3)]),
    "lstsq": (lambda x: pt.linalg.lstsq(x, x[..., :1] ** 2).solution, [(4, 3)]),
    "matrix_power": (lambda x: pt.linalg.matrix_power(x, -3), [(3, 3)]),
    "matrix_norm_nuc": (lambda x: pt.linalg.matrix_norm(x, "nuc"), [(4, 3)]),
    "matrix_norm_2": (lambda x: pt.linalg.matrix_norm(x, 2), [(2, 4, 3)]),
    "cross": (lambda x: pt.linalg.cross(x[..., :3], x[..., 1:]), [(2, 4)]),
    "multi_dot": (lambda x: pt.linalg.multi_dot([x, x.mT, x]), [(2, 3)]),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_by_finite_differences(name, device):
    fn, shapes = GRADS[name]
    make = _square if name in ("inv", "det", "slogdet", "solve", "matrix_power", "logdet") \
        else _general
    for shape in shapes:
        x = make(*shape) / 2
        if name.startswith("cholesky") or name in ("eigvalsh", "pinv_hermitian") or \
                name == "eigh":
            x = x + np.diag(np.arange(shape[-1]) * 1.5)     # distinct eigenvalues
        _quiet(fd_check, fn, [x], device=device, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["inv", "det", "solve", "cholesky", "svd", "eigh", "pinv"])
def test_double_backward(name):
    fn, shapes = GRADS[name]
    make = _square if name in ("inv", "det", "solve") else _general
    x = make(*shapes[0]) / 2
    if name in ("cholesky", "eigh"):
        x = x + np.diag(np.arange(shapes[0][-1]) * 1.5)
    double_fd_check(fn, [x], atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients_match_pytorch(name):
    torch = pytest.importorskip("torch")
    fn, shapes = GRADS[name]
    make = _square if name in ("inv", "det", "slogdet", "solve", "matrix_power", "logdet") \
        else _general
    x = make(*shapes[0]) / 2
    if name.startswith("cholesky") or name in ("eigvalsh", "pinv_hermitian", "eigh"):
        x = x + np.diag(np.arange(shapes[0][-1]) * 1.5)
    # the same function written with torch: swap the module, keep the formula
    mod = _TorchShim(torch)
    xt = torch.tensor(x, requires_grad=True)
    xp = pt.tensor(x, requires_grad=True)
    out_t = _call_with(fn, mod, xt)
    out_p = fn(xp)
    _close(out_p.detach(), out_t.detach().numpy(), 1e-8)
    w = RNG.standard_normal(tuple(out_t.shape))
    (out_t * torch.tensor(w)).sum().backward()
    (out_p * pt.tensor(w)).sum().backward()
    _close(xp.grad, xt.grad.numpy(), 1e-7)


class _TorchShim:
    """Stands in for the `pt` module inside GRADS' lambdas when they run on torch."""

    def __init__(self, torch):
        self.torch = torch

    def __getattr__(self, name):
        return getattr(self.torch, name)


def _call_with(fn, mod, x):
    g = fn.__globals__
    saved = g["pt"]
    g["pt"] = mod
    try:
        return fn(x)
    finally:
        g["pt"] = saved


# ----------------------------------------------------------------------------- errors

ERRORS = [
    ("inv", lambda m: m.linalg.inv(m.tensor([[1., 2.], [2., 4.]], dtype=m.float64))),
    ("inv_batch", lambda m: m.linalg.inv(m.stack([m.eye(2, dtype=m.float64),
                                                  m.tensor([[1., 2.], [2., 4.]],
                                                           dtype=m.float64)]))),
    ("inv_shape", lambda m: m.linalg.inv(m.ones(2, 3))),
    ("inv_1d", lambda m: m.linalg.inv(m.ones(3))),
    ("inv_int", lambda m: m.linalg.inv(m.ones(2, 2, dtype=m.int64))),
    ("inverse", lambda m: m.inverse(m.zeros(2, 2))),
    ("solve", lambda m: m.linalg.solve(m.tensor([[1., 2.], [2., 4.]]), m.ones(2))),
    ("solve_shape", lambda m: m.linalg.solve(m.eye(2), m.ones(3))),
    ("solve_shape2", lambda m: m.linalg.solve(m.eye(3), m.ones(2, 3))),
    ("cholesky", lambda m: m.linalg.cholesky(m.tensor([[1., 2.], [2., 1.]]))),
    ("cholesky_batch", lambda m: m.linalg.cholesky(m.stack([m.eye(3), -m.eye(3)]))),
    ("det_shape", lambda m: m.linalg.det(m.ones(2, 3))),
    ("slogdet_shape", lambda m: m.linalg.slogdet(m.ones(2, 3))),
    ("qr_1d", lambda m: m.linalg.qr(m.ones(3))),
    ("qr_mode", lambda m: m.linalg.qr(m.ones(2, 3), mode="x")),
    ("svd_1d", lambda m: m.linalg.svd(m.ones(3))),
    ("svd_nan", lambda m: m.linalg.svd(m.tensor([[float("nan"), 1.], [1., 1.]]))),
    ("svdvals_int", lambda m: m.linalg.svdvals(m.ones(3, 2, dtype=m.int64))),
    ("eigh_shape", lambda m: m.linalg.eigh(m.ones(2, 3))),
    ("eigh_uplo", lambda m: m.linalg.eigh(m.ones(3, 3), UPLO="X")),
    ("matrix_power", lambda m: m.linalg.matrix_power(m.ones(2, 3), 2)),
    ("matrix_power_singular", lambda m: m.linalg.matrix_power(m.zeros(2, 2), -1)),
    ("multi_dot_one", lambda m: m.linalg.multi_dot([m.ones(3)])),
    ("multi_dot_shapes", lambda m: m.linalg.multi_dot([m.ones(2, 3), m.ones(4, 2)])),
    ("multi_dot_3d", lambda m: m.linalg.multi_dot([m.ones(2, 3, 3), m.ones(3, 2)])),
    ("lstsq_rows", lambda m: m.linalg.lstsq(m.ones(3, 2), m.ones(2, 2))),
    ("lstsq_driver", lambda m: m.linalg.lstsq(m.ones(3, 2), m.ones(3, 2), driver="foo")),
    ("pinv_1d", lambda m: m.linalg.pinv(m.ones(3))),
    ("matrix_norm_1d", lambda m: m.linalg.matrix_norm(m.ones(3))),
    ("matrix_norm_ord", lambda m: m.linalg.matrix_norm(m.ones(3, 3), 3)),
]


def _message(fn, module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn(module)
        except Exception as e:         # noqa: BLE001 -- the error itself is compared
            return e
    raise AssertionError("no error raised")


@pytest.mark.parametrize("name", [n for n, _ in ERRORS])
def test_errors_match_pytorch(name):
    torch = pytest.importorskip("torch")
    fn = dict(ERRORS)[name]
    ours, theirs = _message(fn, pt), _message(fn, torch)
    assert isinstance(ours, RuntimeError) and isinstance(theirs, RuntimeError)
    assert str(ours) == str(theirs)
    assert isinstance(ours, pt.linalg.LinAlgError) == isinstance(theirs,
                                                                 torch.linalg.LinAlgError)


@pytest.mark.parametrize("name", ["inv_batch", "cholesky_batch", "solve", "svd_nan"])
def test_value_errors_are_the_same_on_every_backend(name, device):
    fn = dict(ERRORS)[name]

    class OnDevice:
        def __getattr__(self, attr):
            obj = getattr(pt, attr)
            if attr in ("tensor", "eye", "ones", "zeros"):
                return lambda *a, **kw: obj(*a, device=device, **kw)
            return obj

    with pytest.raises(pt.linalg.LinAlgError) as info:
        _quiet(fn, OnDevice())
    assert str(info.value) == str(_message(fn, pt))


def test_named_tuples():
    a = pt.tensor(_general(4, 3))
    assert pt.linalg.qr(a)._fields == ("Q", "R")
    assert pt.linalg.svd(a)._fields == ("U", "S", "Vh")
    assert pt.svd(a)._fields == ("U", "S", "V")
    assert pt.linalg.slogdet(a[:3])._fields == ("sign", "logabsdet")
    assert pt.linalg.lstsq(a, a)._fields == ("solution", "residuals", "rank",
                                             "singular_values")
