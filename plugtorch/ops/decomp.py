"""Matrix factorizations and the linear algebra built on them: inv, det, slogdet, solve,
cholesky, qr, svd, svdvals, eigh, eigvalsh, pinv, matrix_rank, lstsq, matrix_power,
multi_dot, matrix_norm and PyTorch's older top-level names (inverse, logdet, pinverse, ...).

NOTE [factorization kernels]
Eight ops have no composite definition: `linalg.solve` (LU with partial pivoting),
`linalg.slogdet`, `linalg.cholesky`, `linalg.qr`, `linalg.svd`, `linalg.svdvals`,
`linalg.eigh` and `linalg.eigvalsh`. Each is declared overridable with a host kernel written
with numpy (`_dispatch.HOST_KERNELS`): cpu runs it as its own kernel, a device backend may
register a kernel of the same name, and a backend without one runs the host kernel through
the counted CPU fallback (warned once, refused in strict mode, listed by `plugtorch
coverage NAME`). A kernel gets its outputs first (contiguous, allocated by the frontend),
then its inputs (contiguous, float32 or float64, batch dims already broadcast), then its
options. `linalg.solve` and `linalg.cholesky` report a singular / not positive-definite
matrix in an int64 `info` output with LAPACK's convention (0, or the 1-based index of the
zero pivot / of the leading minor that is not positive-definite); the frontend reads it and
raises the same error on every backend. Everything else here is written with these kernels
and frontend ops, and every derivative with frontend ops, so the results stay on the device
and double backward works.
"""
import math
from collections import namedtuple

import numpy as np

from .. import _dtype as D
from .. import _dispatch
from .._tensor import Tensor, empty_like_meta
from ..autograd.grad_mode import no_grad
from ..backends.api import numpy_view
from . import _core as C
from ._decl import declare, declare_alias, Sample
from . import samples as S
from .linalg import matmul, cross as _cross
from .norms import vector_norm

__all__ = []


class LinAlgError(RuntimeError):
    """A matrix the operation cannot handle: singular, not positive-definite, or with
    values the algorithm cannot converge on (PyTorch's `torch.linalg.LinAlgError`)."""


class return_types:
    """The named tuples the factorizations return (as PyTorch's `torch.return_types`)."""
    slogdet = namedtuple("slogdet", ["sign", "logabsdet"])
    linalg_slogdet = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
    qr = namedtuple("qr", ["Q", "R"])
    linalg_qr = namedtuple("linalg_qr", ["Q", "R"])
    svd = namedtuple("svd", ["U", "S", "V"])
    linalg_svd = namedtuple("linalg_svd", ["U", "S", "Vh"])
    linalg_eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
    linalg_lstsq = namedtuple("linalg_lstsq", ["solution", "residuals", "rank",
                                               "singular_values"])


# ----------------------------------------------------------------------------- host kernels

def _np(t):
    return numpy_view(t)


def _lu_info(a):
    """LAPACK getrf's info for one square matrix: the 1-based column of the first exactly
    zero pivot of LU with partial pivoting, 0 when there is none."""
    a = np.array(a, dtype=a.dtype)
    n = a.shape[0]
    for j in range(n):
        p = j + int(np.argmax(np.abs(a[j:, j])))
        if a[p, j] == 0:
            return j + 1
        a[[j, p]] = a[[p, j]]
        a[j + 1:, j] /= a[j, j]
        a[j + 1:, j + 1:] -= np.outer(a[j + 1:, j], a[j, j + 1:])
    return 0


def _host_solve(X, info, A, B):
    a, b, x, inf = _np(A), _np(B), _np(X), _np(info)
    try:
        x[...] = np.linalg.solve(a, b)
        inf[...] = 0
        return
    except np.linalg.LinAlgError:
        pass
    n = a.shape[-1]
    a2, b2 = a.reshape(-1, n, n), b.reshape(-1, n, b.shape[-1])
    x2, inf2 = x.reshape(-1, n, b.shape[-1]), inf.reshape(-1)
    for i in range(a2.shape[0]):
        inf2[i] = _lu_info(a2[i])
        try:
            x2[i] = np.linalg.solve(a2[i], b2[i]) if inf2[i] == 0 else np.nan
        except np.linalg.LinAlgError:       # a pivot that rounds to zero in LAPACK only
            inf2[i], x2[i] = n, np.nan


def _host_slogdet(sign, logabsdet, A):
    s, lad = np.linalg.slogdet(_np(A))
    _np(sign)[...] = s
    _np(logabsdet)[...] = lad


def _host_cholesky(L, info, A):
    a, lo, inf = _np(A), _np(L), _np(info)
    try:
        lo[...] = np.linalg.cholesky(a)
        inf[...] = 0
        return
    except np.linalg.LinAlgError:
        pass
    n = a.shape[-1]
    a2, l2, inf2 = a.reshape(-1, n, n), lo.reshape(-1, n, n), inf.reshape(-1)
    for i in range(a2.shape[0]):
        try:
            l2[i], inf2[i] = np.linalg.cholesky(a2[i]), 0
        except np.linalg.LinAlgError:
            l2[i] = np.nan
            inf2[i] = next(k for k in range(1, n + 1)
                           if not _is_pd(a2[i, :k, :k]))


def _is_pd(a):
    try:
        np.linalg.cholesky(a)
        return True
    except np.linalg.LinAlgError:
        return False


def _finite(name, a):
    if not np.isfinite(a).all():
        raise LinAlgError(f"{name}: The algorithm failed to converge because the input matrix "
                          f"contained non-finite values.")


def _host_qr(Q, R, A, mode):
    a = _np(A)
    if mode == "r":
        _np(R)[...] = np.linalg.qr(a, mode="r")
        return
    q, r = np.linalg.qr(a, mode=mode)
    _np(Q)[...] = q
    _np(R)[...] = r


def _host_svd(U, S, Vh, A, full_matrices):
    a = _np(A)
    _finite("linalg.svd", a)
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    _np(U)[...], _np(S)[...], _np(Vh)[...] = u, s, vh


def _host_svdvals(S, A):
    a = _np(A)
    _finite("linalg.svd", a)
    _np(S)[...] = np.linalg.svd(a, compute_uv=False)


def _host_eigh(L, V, A):
    a = _np(A)
    _finite("linalg.eigh", a)
    w, v = np.linalg.eigh(a, UPLO="L")
    _np(L)[...], _np(V)[...] = w, v


def _host_eigvalsh(L, A):
    a = _np(A)
    _finite("linalg.eigh", a)
    _np(L)[...] = np.linalg.eigvalsh(a, UPLO="L")


_KERNELS = {"linalg.solve": (_host_solve, 2), "linalg.slogdet": (_host_slogdet, 2),
            "linalg.cholesky": (_host_cholesky, 2), "linalg.qr": (_host_qr, 2),
            "linalg.svd": (_host_svd, 3), "linalg.svdvals": (_host_svdvals, 1),
            "linalg.eigh": (_host_eigh, 2), "linalg.eigvalsh": (_host_eigvalsh, 1)}
_dispatch.HOST_KERNELS.update(_KERNELS)


def _run(name, outs, ins, *options):
    """Run factorization kernel `name` (NOTE [factorization kernels]) on contiguous inputs."""
    ins = [t.detach().contiguous() for t in ins]
    _dispatch.override(name, ins[0])(*outs, *ins, *options)


# ----------------------------------------------------------------------------- checks

def _matrix(name, A, square=False):
    if not isinstance(A, Tensor):
        raise TypeError(f"{name}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if A._dtype.kind != 2:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. "
                           f"Got {D.scalar_name(A._dtype)}")
    if A._dtype is D.float16:
        raise RuntimeError(f"{name}: Low precision dtypes not supported. Got "
                           f"{D.scalar_name(A._dtype)}")
    if square and A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{A._shape[-2]} by {A._shape[-1]} matrices")
    return A


def _check_info(name, info, message):
    """Raise LinAlgError for the first batch element whose info is not 0."""
    if info.numel() == 0:
        return
    flat = info.cpu().numpy().reshape(-1)
    bad = np.flatnonzero(flat)
    if bad.size:
        i = int(bad[0])
        where = f"(Batch element {i}): " if info.dim() else ""
        raise LinAlgError(f"{name}: {where}{message(int(flat[i]))}")


def _new(like, shape, dtype=None):
    return empty_like_meta(like, shape=tuple(shape), dtype=dtype)


def _eye(n, like):
    from .creation import eye
    return eye(n, dtype=like._dtype, device=like.device)


def _diag_embed(v):
    return v.unsqueeze(-1) * _eye(v._shape[-1], v)


def _same(name, A, B):
    if not isinstance(B, Tensor):
        raise TypeError(f"{name}(): argument 'B' must be Tensor, not {type(B).__name__}")
    C.check_devices(name, A, B)
    if A._dtype is not B._dtype:
        raise RuntimeError(f"{name}: Expected A and B to have the same dtype, but found "
                           f"A of type {D.scalar_name(A._dtype)} and B of type "
                           f"{D.scalar_name(B._dtype)} instead")


# ----------------------------------------------------------------------------- solve, inv

def _solve(name, A, B, message):
    """X with A X = B for A (*, n, n) and B (*, n, k), batch dims broadcast; one node."""
    batch = C.broadcast_shapes(name, A._shape[:-2], B._shape[:-2])
    Ab = A.detach().expand(batch + A._shape[-2:])
    Bb = B.detach().expand(batch + B._shape[-2:])
    X = _new(A, Bb._shape)
    info = _new(A, batch, D.int64)
    _run("linalg.solve", (X, info), (Ab, Bb))
    _check_info(name, info, message)
    if C.needs_grad(A, B):
        C.record(_solve_bw, "LinalgSolveExBackward0", (A, B), X, params=B._shape, saved=(A,),
                 save_out=True)
    return X


def _solve_bw(n, g):
    (A,) = n.inputs
    X = n.out(0)
    gB = _solve("linalg.solve", A.mT, g, _singular_solve)
    gA = -matmul(gB, X.mT) if n.edges[0] is not None else None
    return (None if gA is None else C.sum_to(gA, A._shape),
            C.sum_to(gB, n.params) if n.edges[1] is not None else None)


def _singular_solve(k):
    return "The solver failed because the input matrix is singular."


def _singular_inv(k):
    return (f"The diagonal element {k} is zero, the inversion could not be completed because "
            f"the input matrix is singular.")


def solve(A, B, *, left=True):
    """X with A X = B (left=True) or X A = B, for square A (*, n, n) and B (*, n, k) or a
    batch of vectors B (*, n); batch dims broadcast. Raises LinAlgError for a singular A.

    Example:
        >>> import plugtorch
        >>> A = plugtorch.tensor([[2., 0.], [0., 4.]])
        >>> plugtorch.linalg.solve(A, plugtorch.tensor([2., 2.]))
        tensor([1.0000, 0.5000])
    """
    name = "linalg.solve"
    _matrix(name, A, square=True)
    _same(name, A, B)
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and B._shape == A._shape[:-1])
    if not left:
        if vector:
            raise RuntimeError(f"{name}: Vector broadcasting of the left hand side is not "
                               f"supported for left=False. In this case linalg.solve is "
                               f"equivalent to B / A.squeeze(-1)")
        return solve(A.mT, B.mT).mT
    B2 = B.unsqueeze(-1) if vector else B
    if B2.dim() < 2 or B2._shape[-2] != A._shape[-1]:
        rows, cols = (B2._shape[-2], B2._shape[-1]) if B2.dim() >= 2 else (B2.numel(), 1)
        raise RuntimeError(f"{name}: Incompatible shapes of A and B for the equation AX = B "
                           f"({A._shape[-2]}x{A._shape[-1]} and {rows}x{cols})")
    X = _solve("torch.linalg.solve", A, B2, _singular_solve)
    return X.squeeze(-1) if vector else X


def inv(A):
    """The inverse of square matrices (*, n, n). Raises LinAlgError for a singular matrix.

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.inv(plugtorch.tensor([[2., 0.], [0., 4.]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.2500]])
    """
    name = "linalg.inv"
    _matrix(name, A, square=True)
    return _solve(name, A, _eye(A._shape[-1], A), _singular_inv)


def inverse(input):
    """`linalg.inv` under PyTorch's older name."""
    return inv(input)


# ----------------------------------------------------------------------------- determinants

def slogdet(A):
    """(sign, logabsdet) of square matrices (*, n, n): det = sign * exp(logabsdet); a
    singular matrix gives (0, -inf).

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.slogdet(plugtorch.tensor([[-2., 0.], [0., 3.]])).sign
        tensor(-1.)
    """
    return return_types.linalg_slogdet(*_slogdet("linalg.slogdet", A))


def _slogdet(name, A):
    _matrix(name, A, square=True)
    batch = A._shape[:-2]
    sign, lad = _new(A, batch), _new(A, batch)
    _run("linalg.slogdet", (sign, lad), (A,))
    if C.needs_grad(A):
        C.record(_slogdet_bw, "LinalgSlogdetBackward0", (A,), (sign, lad), saved=(A,))
    return sign, lad


def _slogdet_bw(n, gsign, glad):
    (A,) = n.inputs
    if glad is None:
        return (None,)
    return (glad.unsqueeze(-1).unsqueeze(-1) * inv(A).mT,)


def det(A):
    """The determinant of square matrices (*, n, n).

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.det(plugtorch.tensor([[1., 2.], [3., 4.]])).item()
        -2.0...
    """
    sign, lad = _slogdet("linalg.det", A)
    return sign.detach() * lad.exp()


def _det_old(input):
    """`linalg.det` under its top-level name."""
    return det(input)


def _slogdet_old(input):
    """`linalg.slogdet` under its top-level name."""
    return return_types.slogdet(*_slogdet("linalg.slogdet", input))


def logdet(input):
    """log(det(input)): nan for a negative determinant, -inf for a singular matrix.

    Example:
        >>> import plugtorch
        >>> plugtorch.logdet(plugtorch.eye(2) * 2)
        tensor(1.3863)
    """
    sign, lad = _slogdet("logdet", input)
    from .ternary import where
    return where(sign.detach() < 0, math.nan, lad)


# ----------------------------------------------------------------------------- cholesky

def cholesky(A, *, upper=False):
    """The Cholesky factor of symmetric positive-definite matrices (*, n, n): lower L with
    A = L L^T (from A's lower triangle), or upper U = L^T (from A's upper triangle).
    Raises LinAlgError when A is not positive-definite.

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.cholesky(plugtorch.tensor([[4., 2.], [2., 5.]]))
        tensor([[2., 0.],
                [1., 2.]])
    """
    name = "linalg.cholesky"
    _matrix(name, A, square=True)
    src = A.mT if upper else A
    L = _new(A, A._shape)
    info = _new(A, A._shape[:-2], D.int64)
    _run("linalg.cholesky", (L, info), (src,))
    _check_info(name, info, lambda k: (
        f"The factorization could not be completed because the input is not positive-definite "
        f"(the leading minor of order {k} is not positive-definite)."))
    if C.needs_grad(A):
        C.record(_cholesky_bw, "LinalgCholeskyExBackward0", (A,), L, save_out=True)
    return L.mT if upper else L


def _phi(X):
    """The lower triangle of X with its diagonal halved."""
    return X.tril() - 0.5 * _diag_embed(X.diagonal(0, -2, -1))


def _cholesky_bw(n, g):
    L = n.out(0)
    P = _phi(matmul(L.mT, g.tril()))
    Y = _solve("linalg.cholesky", L.mT, P, _singular_solve)            # L^-T P
    Sm = _solve("linalg.cholesky", L.mT, Y.mT, _singular_solve).mT     # L^-T P L^-1
    return (0.5 * (Sm + Sm.mT),)


def _cholesky_old(input, upper=False):
    """`linalg.cholesky` under PyTorch's older name, with `upper` positional."""
    return cholesky(input, upper=upper)


# ----------------------------------------------------------------------------- qr

def qr(A, mode="reduced"):
    """The QR decomposition A = Q R of matrices (*, m, n): Q with orthonormal columns and R
    upper triangular. mode 'reduced' (Q (*, m, k), R (*, k, n), k = min(m, n)), 'complete'
    (Q (*, m, m), R (*, m, n)) or 'r' (R only; Q is empty).

    Example:
        >>> import plugtorch
        >>> Q, R = plugtorch.linalg.qr(plugtorch.tensor([[3., 1.], [4., 2.]]))
        >>> R.abs()
        tensor([[5.0000, 2.2000],
                [0.0000, 0.4000]])
    """
    name = "linalg.qr"
    _matrix(name, A)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    m, n = A._shape[-2:]
    k = min(m, n)
    batch = A._shape[:-2]
    rows = m if mode == "complete" else k
    R = _new(A, batch + (rows, n))
    Q = None if mode == "r" else _new(A, batch + (m, rows))
    _run("linalg.qr", (Q, R), (A,), mode)
    if Q is None:
        Q = _new(A, (0,))
    if C.needs_grad(A):
        C.record(_qr_bw, "LinalgQrBackward0", (A,), (Q, R), params=mode, save_out=True)
    return return_types.linalg_qr(Q, R)


def _copyutl(M):
    """The symmetric matrix with M's upper triangle."""
    return M.triu() + M.triu(1).mT


def _qr_bw(n, gQ, gR):
    mode = n.params
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                           "when mode='r'. Please use linalg.qr(A, mode='reduced') if you are "
                           "going to differentiate through linalg.qr.")
    Q, R = n.out(0), n.out(1)
    m, cols = R._shape[-2], R._shape[-1]
    if mode == "complete" and Q._shape[-1] > cols:
        raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                           "and nrows > ncols.")
    k = Q._shape[-1]
    gQ = Q.new_zeros(Q._shape) if gQ is None else gQ
    gR = R.new_zeros(R._shape) if gR is None else gR
    if cols > k:                       # wide A = [X | Y]: Q R1 = X, R2 = Q^T Y
        Y = matmul(Q, R[..., :, k:])
        gR2 = gR[..., :, k:]
        gQ = gQ + matmul(Y, gR2.mT)
        R, gR = R[..., :, :k], gR[..., :, :k]
    M = matmul(Q.mT, gQ) - matmul(gR, R.mT)
    b = gQ - matmul(Q, _copyutl(M))
    gX = _solve("linalg.qr", R, b.mT, _singular_solve).mT          # b R^-T
    if cols > k:
        from .shape_ops import cat
        gX = cat([gX, matmul(Q, gR2)], -1)
    return (gX,)


def _qr_old(input, some=True):
    """`linalg.qr` under PyTorch's older name: some=True is mode 'reduced', False
    'complete'."""
    Q, R = qr(input, "reduced" if some else "complete")
    return return_types.qr(Q, R)


# ----------------------------------------------------------------------------- svd

def svd(A, full_matrices=True):
    """The singular value decomposition A = U diag(S) Vh of matrices (*, m, n), S descending.
    full_matrices=False gives the reduced U (*, m, k) and Vh (*, k, n), k = min(m, n).
    Gradients follow PyTorch's formula: they are defined for distinct singular values, and
    only losses that do not depend on the signs of singular vectors are meaningful.

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.svd(plugtorch.tensor([[3., 0.], [0., -4.]])).S
        tensor([4., 3.])
    """
    name = "linalg.svd"
    _matrix(name, A)
    m, n = A._shape[-2:]
    k = min(m, n)
    batch = A._shape[:-2]
    U = _new(A, batch + ((m, m) if full_matrices else (m, k)))
    Sv = _new(A, batch + (k,))
    Vh = _new(A, batch + ((n, n) if full_matrices else (k, n)))
    _run("linalg.svd", (U, Sv, Vh), (A,), bool(full_matrices))
    if C.needs_grad(A):
        C.record(_svd_bw, "LinalgSvdBackward0", (A,), (U, Sv, Vh), save_out=True)
    return return_types.linalg_svd(U, Sv, Vh)


def _offdiag_inverse(E):
    """1 / E off the diagonal, 0 on it."""
    I = _eye(E._shape[-1], E)
    return (1 - I) / (E + I)


def _svd_bw(n, gU, gS, gVh):
    U, Sv, Vh = n.out(0), n.out(1), n.out(2)
    k = Sv._shape[-1]
    U, Vh = U[..., :, :k], Vh[..., :k, :]
    if gU is not None:
        gU = gU[..., :, :k]
    if gVh is not None:
        gVh = gVh[..., :k, :]
    inner = 0 if gS is None else _diag_embed(gS)
    extra = 0
    if gU is not None or gVh is not None:
        S2 = Sv * Sv
        F = _offdiag_inverse(S2.unsqueeze(-2) - S2.unsqueeze(-1))   # 1 / (s_j^2 - s_i^2)
        if gU is not None:
            M = matmul(U.mT, gU)
            inner = inner + (F * (M - M.mT)) * Sv.unsqueeze(-2)
            if U._shape[-2] > k:
                extra = extra + matmul((gU - matmul(U, M)) / Sv.unsqueeze(-2), Vh)
        if gVh is not None:
            N = matmul(Vh, gVh.mT)
            inner = inner + Sv.unsqueeze(-1) * (F * (N - N.mT))
            if Vh._shape[-1] > k:
                extra = extra + matmul(U, (gVh - matmul(N.mT, Vh)) / Sv.unsqueeze(-1))
    return (matmul(matmul(U, inner), Vh) + extra,)


def svdvals(A):
    """The singular values of matrices (*, m, n), descending.

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.svdvals(plugtorch.tensor([[3., 0.], [0., -4.]]))
        tensor([4., 3.])
    """
    _matrix("linalg.svd", A)
    if C.needs_grad(A):
        return svd(A, full_matrices=False).S
    Sv = _new(A, A._shape[:-2] + (min(A._shape[-2:]),))
    _run("linalg.svdvals", (Sv,), (A,))
    return Sv


def _svd_old(input, some=True, compute_uv=True):
    """PyTorch's older svd: (U, S, V) with V = Vh^T; some=True is the reduced one; with
    compute_uv=False U and V are zeros (*, m, m) and (*, n, n)."""
    m, n = input._shape[-2:] if isinstance(input, Tensor) and input.dim() >= 2 else (0, 0)
    if not compute_uv:
        Sv = svdvals(input)
        batch = input._shape[:-2]
        return return_types.svd(input.new_zeros(batch + (m, m)), Sv,
                                input.new_zeros(batch + (n, n)))
    U, Sv, Vh = svd(input, full_matrices=not some)
    return return_types.svd(U, Sv, Vh.mT)


# ----------------------------------------------------------------------------- eigh

def _uplo(A, UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return A.mT if UPLO == "U" else A


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric matrices (*, n, n),
    read from the lower (UPLO='L') or upper ('U') triangle. Gradients follow PyTorch's
    formula (defined for distinct eigenvalues; losses must not depend on the eigenvectors'
    signs).

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.eigh(plugtorch.tensor([[2., 1.], [1., 2.]])).eigenvalues
        tensor([1., 3.])
    """
    name = "linalg.eigh"
    _matrix(name, A, square=True)
    src = _uplo(A, UPLO)
    L, V = _new(A, A._shape[:-1]), _new(A, A._shape)
    _run("linalg.eigh", (L, V), (src,))
    if C.needs_grad(A):
        C.record(_eigh_bw, "LinalgEighBackward0", (A,), (L, V), save_out=True)
    return return_types.linalg_eigh(L, V)


def _eigh_bw(n, gL, gV):
    L, V = n.out(0), n.out(1)
    inner = 0 if gL is None else _diag_embed(gL)
    if gV is not None:
        M = matmul(V.mT, gV)
        F = _offdiag_inverse(L.unsqueeze(-2) - L.unsqueeze(-1))      # 1 / (l_j - l_i)
        inner = inner + F * (0.5 * (M - M.mT))
    return (matmul(matmul(V, inner), V.mT),)


def eigvalsh(A, UPLO="L"):
    """The eigenvalues (ascending) of symmetric matrices (*, n, n).

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.eigvalsh(plugtorch.tensor([[2., 1.], [1., 2.]]))
        tensor([1., 3.])
    """
    name = "linalg.eigvalsh"
    _matrix(name, A, square=True)
    if C.needs_grad(A):
        return eigh(A, UPLO).eigenvalues
    L = _new(A, A._shape[:-1])
    _run("linalg.eigvalsh", (L,), (_uplo(A, UPLO),))
    return L


# ----------------------------------------------------------------------------- pinv, rank

def _tolerance(S, atol, rtol, m, n):
    """The cutoff max(atol, rtol * S.max) per matrix, shaped (*, 1)."""
    if atol is None and rtol is None:
        rtol = float(np.finfo(S._dtype.np).eps) * max(m, n)
    elif rtol is None:
        rtol = 0.0
    smax = S.amax(-1, keepdim=True) if S._shape[-1] else S.new_zeros(S._shape[:-1] + (1,))
    cut = smax * rtol
    if atol is not None:
        from .binary import maximum
        at = atol if isinstance(atol, Tensor) else S.new_full((), float(atol))
        cut = maximum(cut, at.unsqueeze(-1) if at.dim() else at)
    return cut


def _spectrum(name, A, atol, rtol, hermitian):
    """(singular values, a function of the kept reciprocal values giving A's pseudo-inverse)
    of A, with no history."""
    m, n = A._shape[-2:]
    with no_grad():
        if hermitian:
            L, V = eigh(A)
            Sv = L.abs()
            cut = _tolerance(Sv, atol, rtol, m, n)
            recip = (Sv > cut).to(L._dtype) / L.where(Sv > cut, 1.0)
            return Sv, lambda: matmul(V * recip.unsqueeze(-2), V.mT)
        U, Sv, Vh = svd(A, full_matrices=False)
        cut = _tolerance(Sv, atol, rtol, m, n)
        recip = (Sv > cut).to(Sv._dtype) / Sv.where(Sv > cut, 1.0)
        return Sv, lambda: matmul(Vh.mT * recip.unsqueeze(-2), U.mT)


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse of matrices (*, m, n), (*, n, m), from the SVD
    (eigh when hermitian); singular values at most max(atol, rtol * largest) count as zero
    (rtol defaults to eps * max(m, n) when atol is not given either).

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.pinv(plugtorch.tensor([[2., 0.], [0., 0.]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.0000]])
    """
    if not isinstance(A, Tensor) or A.dim() < 2 or A._dtype not in (D.float32, D.float64):
        what = (f"{D.scalar_name(A._dtype)}{{{list(A._shape)}}}" if isinstance(A, Tensor)
                else type(A).__name__)
        raise RuntimeError(f"linalg.pinv({what}): expected a tensor with 2 or more dimensions "
                           f"of float, double, cfloat or cdouble types")
    _, make = _spectrum("linalg.pinv", A, atol, rtol, hermitian)
    with no_grad():
        P = make()
    if C.needs_grad(A):
        C.record(_pinv_bw, "LinalgPinvBackward0", (A,), P, saved=(A,), save_out=True)
    return P


def _pinv_bw(n, g):
    (A,) = n.inputs
    P = n.out(0)
    m, k = A._shape[-2:]
    PPt = matmul(P, P.mT)
    PtP = matmul(P.mT, P)
    gA = -matmul(matmul(P.mT, g), P.mT)
    gA = gA + matmul(_eye(m, A) - matmul(A, P), matmul(g.mT, PPt))
    gA = gA + matmul(matmul(PtP, g.mT), _eye(k, A) - matmul(P, A))
    return (gA,)


def pinverse(input, rcond=1e-15):
    """PyTorch's older pseudo-inverse: `linalg.pinv` with rtol=rcond."""
    return pinv(input, rtol=rcond)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The number of singular values of each matrix (*, m, n) above max(atol, rtol *
    largest), as int64 (rtol as in pinv).

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.matrix_rank(plugtorch.ones(3, 3))
        tensor(1)
    """
    name = "linalg.matrix_rank"
    _matrix(name, A)
    m, n = A._shape[-2:]
    with no_grad():
        Sv = eigvalsh(A).abs() if hermitian else svdvals(A)
        return (Sv > _tolerance(Sv, atol, rtol, m, n)).sum(-1)


# ----------------------------------------------------------------------------- lstsq

_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution X of A X = B for A (*, m, n) and B (*, m, k) or (*, m),
    through the pseudo-inverse (singular values at most rcond * largest count as zero; rcond
    defaults to eps * max(m, n)). Returns (solution, residuals, rank, singular_values) as
    PyTorch does for `driver`: rank for every driver but 'gels', singular values for
    'gelsd' / 'gelss', and the squared residuals when m > n, every A has full rank and the
    driver is not 'gelsy'; the others are empty.

    Example:
        >>> import plugtorch
        >>> A = plugtorch.tensor([[1., 0.], [0., 1.], [0., 0.]])
        >>> plugtorch.linalg.lstsq(A, plugtorch.tensor([[1.], [2.], [3.]])).solution
        tensor([[1.],
                [2.]])
    """
    name = "torch.linalg.lstsq"
    _matrix("linalg.lstsq", A)
    _same("linalg.lstsq", A, B)
    if driver is not None and driver not in _DRIVERS:
        raise RuntimeError(f"{name}: parameter `driver` should be one of "
                           f"({', '.join(_DRIVERS)})")
    driver = driver or "gelsy"
    vector = B.dim() == A.dim() - 1
    B2 = B.unsqueeze(-1) if vector else B
    if B2.dim() < 2 or B2._shape[-2] != A._shape[-2]:
        raise RuntimeError(f"{name}: input.size(-2) should match other.size(-2)")
    m, n = A._shape[-2:]
    rtol = float(np.finfo(A._dtype.np).eps) * max(m, n) if rcond is None or rcond < 0 else rcond
    X = matmul(pinv(A, rtol=rtol), B2)
    empty = A.new_zeros((0,))
    rank = A.new_zeros((0,), dtype=D.int64)
    Sv = empty
    if driver != "gels":
        with no_grad():
            Sv = svdvals(A)
            rank = (Sv > _tolerance(Sv, None, rtol, m, n)).sum(-1)
        if driver == "gelsy":
            Sv = empty
    residuals = empty
    if m > n and driver != "gelsy" and (driver == "gels" or bool((rank == n).all())):
        residuals = ((matmul(A, X) - B2) ** 2).sum(-2)
        if vector:
            residuals = residuals.squeeze(-1)
    return return_types.linalg_lstsq(X.squeeze(-1) if vector else X, residuals, rank, Sv)


# ----------------------------------------------------------------------------- products

def matrix_power(A, n):
    """A to the integer power n for square matrices (*, n, n): repeated squaring; n = 0
    gives the identity, n < 0 powers of the inverse.

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.matrix_power(plugtorch.tensor([[1., 1.], [0., 1.]]), 3)
        tensor([[1., 3.],
                [0., 1.]])
    """
    name = "linalg.matrix_power"
    if not isinstance(A, Tensor):
        raise TypeError(f"{name}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name}(): argument 'n' must be int, not {type(n).__name__}")
    if A.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{A._shape[-2]} by {A._shape[-1]} matrices")
    if n == 0:         # the identity, with a (zero) gradient path to A as PyTorch's
        return A.clone().copy_(_eye(A._shape[-1], A).expand(A._shape))
    if n < 0:
        A, n = inv(A), -n
    result = None
    while True:
        if n & 1:
            result = A if result is None else matmul(result, A)
        n >>= 1
        if not n:
            return result if result is not A else A.clone()
        A = matmul(A, A)


def _matrix_power_old(input, n):
    """`linalg.matrix_power` under its top-level name."""
    return matrix_power(input, n)


def _chain_order(dims):
    """Split points of the cheapest parenthesisation of matrices dims[i] x dims[i+1]."""
    k = len(dims) - 1
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = math.inf
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s
    return split


def multi_dot(tensors):
    """The product of a chain of matrices in the cheapest order; the first and last may be
    1-d (a row and a column vector, dropped from the result).

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.multi_dot([plugtorch.ones(2, 3), plugtorch.ones(3, 4),
        ...                             plugtorch.ones(4)])
        tensor([12., 12.])
    """
    name = "multi_dot()"
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"{name}: expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected Tensor arguments, got {type(t).__name__}")
        where = "first" if i == 0 else "last" if i == len(tensors) - 1 else None
        if where and t.dim() not in (1, 2):
            raise RuntimeError(f"{name}: the {where} tensor must be 1D or 2D but got "
                               f"{t.dim()}D")
        if not where and t.dim() != 2:
            raise RuntimeError(f"{name}: tensor {i} must be 2D but got {t.dim()}D")
        if t._dtype is not tensors[0]._dtype:
            raise RuntimeError(f"{name}: all tensors must have be the same dtype but tensor 0 "
                               f"is {D.scalar_name(tensors[0]._dtype)} and tensor {i} is "
                               f"{D.scalar_name(t._dtype)}")
        C.check_devices("multi_dot", tensors[0], t)
    first_vec, last_vec = tensors[0].dim() == 1, tensors[-1].dim() == 1
    mats = list(tensors)
    if first_vec:
        mats[0] = mats[0].unsqueeze(0)
    if last_vec:
        mats[-1] = mats[-1].unsqueeze(-1)
    for i in range(len(mats) - 1):
        if mats[i]._shape[1] != mats[i + 1]._shape[0]:
            raise RuntimeError(f"{name}: tensors {i} and {i + 1} with shapes "
                               f"{list(mats[i]._shape)} and {list(mats[i + 1]._shape)} "
                               f"cannot be multiplied")
    split = _chain_order([mats[0]._shape[0]] + [t._shape[1] for t in mats])

    def product(i, j):
        if i == j:
            return mats[i]
        s = split[i][j]
        return matmul(product(i, s), product(s + 1, j))

    out = product(0, len(mats) - 1)
    if first_vec:
        out = out.squeeze(0)
    if last_vec:
        out = out.squeeze(-1)
    return out


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along `dim` (default the last), batch dims
    broadcasting.

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.cross(plugtorch.tensor([0., 1., 0.]),
        ...                        plugtorch.tensor([0., 0., 1.]))
        tensor([1., 0., 0.])
    """
    return _cross(input, other, dim)


# ----------------------------------------------------------------------------- matrix norm

def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """A matrix norm over the two dims `dim`: 'fro' (default), 'nuc' (sum of singular
    values), 2 / -2 (largest / smallest singular value), inf / -inf (max / min row sum of
    |A|) or 1 / -1 (max / min column sum).

    Example:
        >>> import plugtorch
        >>> plugtorch.linalg.matrix_norm(plugtorch.tensor([[3., 0.], [0., -4.]]), 2)
        tensor(4.)
    """
    name = "linalg.matrix_norm"
    if not isinstance(A, Tensor):
        raise TypeError(f"{name}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if dtype is not None:
        A = A.to(D.to_dtype(dtype))
    if A._dtype.kind != 2:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. "
                           f"Got {D.scalar_name(A._dtype)}")
    dim = tuple(dim)
    if len(dim) != 2:
        raise RuntimeError(f"{name}: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    r, c = C.wrap_dims(name, dim, A.dim())
    if r == c:
        raise RuntimeError(f"{name}: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord in ("fro", "nuc", 2, -2) or ord in (math.inf, -math.inf, 1, -1):
        if ord == "fro":
            return vector_norm(A, 2, (r, c), keepdim)
        if ord in ("nuc", 2, -2):
            Sv = svdvals(A.movedim((r, c), (-2, -1)))
            out = Sv.sum(-1) if ord == "nuc" else Sv.amax(-1) if ord == 2 else Sv.amin(-1)
            if keepdim:
                for d in sorted((r, c)):
                    out = out.unsqueeze(d)
            return out
        from .norms import norm
        return norm(A, ord, (r, c), keepdim)
    raise RuntimeError(f"{name}: Order {ord} not supported.")


# ----------------------------------------------------------------------------- declarations

def _square(shape, dtype, rng):
    """A well-conditioned square (batch of) matrix."""
    a = S.array(shape, dtype, rng, "small").astype(np.float64)
    return (a + 2 * np.eye(shape[-1])).astype(dtype.np)


def _spd(shape, dtype, rng):
    a = S.array(shape, dtype, rng, "small").astype(np.float64)
    return (a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype.np)


def _general(shape, dtype, rng):
    """A matrix with well-separated singular values."""
    a = S.array(shape, dtype, rng, "small").astype(np.float64)
    k = min(shape[-2:])
    a[..., range(k), range(k)] += 3.0 * np.arange(k, 0, -1)
    return a.astype(dtype.np)


def _one(make, shapes, grad=True, **kw):
    def gen(dtype, rng):
        return [Sample(make(s, dtype, rng), grad=(0,) if grad else None, **kw) for s in shapes]
    return gen


_SQ = [(3, 3), (2, 4, 4), (1, 1)]
_RECT = [(4, 3), (3, 5), (2, 4, 3), (2, 2)]


def _solve_samples(dtype, rng):
    return [Sample(_square((3, 3), dtype, rng), S.array((3, 2), dtype, rng), grad=(0, 1)),
            Sample(_square((2, 3, 3), dtype, rng), S.array((3,), dtype, rng), grad=(0, 1)),
            Sample(_square((2, 1, 3, 3), dtype, rng), S.array((3, 3, 1), dtype, rng),
                   grad=(0, 1))]


def _ref_solve(A, B, left=True):
    if B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1]):
        return np.linalg.solve(A, B[..., None])[..., 0]
    return np.linalg.solve(A, B)


def _ref_lstsq(A, B, rcond=None, driver=None):
    x = np.linalg.pinv(A) @ B
    rank = np.linalg.matrix_rank(A)
    return x, np.zeros((0,)), np.asarray(rank), np.zeros((0,))


def _ref_qr(A, mode="reduced"):
    return np.linalg.qr(A, mode=mode)


def _ref_svd(A, full_matrices=True):
    return np.linalg.svd(A, full_matrices=full_matrices)


def _ref_matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False):
    return np.asarray(np.linalg.norm(A, ord=ord, axis=dim, keepdims=keepdim))


def _ref_multi_dot(ts):
    return np.linalg.multi_dot(ts)


def _multi_dot_samples(dtype, rng):
    return [Sample([S.array(s, dtype, rng) for s in shapes], grad=(0,))
            for shapes in ([(2, 3), (3, 4)], [(3,), (3, 5), (5, 2), (2,)],
                           [(4, 2), (2, 6), (6, 3), (3, 1)])]


def _matrix_power_samples(dtype, rng):
    return [Sample(_square((3, 3), dtype, rng), p, grad=(0,)) for p in (3, 0, 1, -2)] + \
        [Sample(_square((2, 2, 2), dtype, rng), 5, grad=(0,))]


def _matrix_norm_samples(dtype, rng):
    out = [Sample(_general((3, 4), dtype, rng), ord, grad=(0,), name=f"ord={ord}")
           for ord in ("fro", "nuc", 2, -2, math.inf, -math.inf, 1, -1)]
    out.append(Sample(_general((2, 3, 3), dtype, rng), "nuc", (0, 2), True, grad=(0,)))
    return out


def _ref_matrix_power(A, n):
    return np.linalg.matrix_power(A, n)


def _ref_cross(a, b, dim=-1):
    return np.cross(a, b, axis=dim)


_F = (D.float32, D.float64)
_TOL = dict(atol=1e-4, rtol=1e-4)
declare("linalg.solve", solve, ref=_ref_solve, samples=_solve_samples, dtypes=_F,
        overridable="X info A B", **_TOL)
declare("linalg.inv", inv, ref=np.linalg.inv, samples=_one(_square, _SQ), dtypes=_F, **_TOL)
declare("linalg.slogdet", slogdet, ref=np.linalg.slogdet, samples=_one(_square, _SQ),
        dtypes=_F, overridable="sign logabsdet A", **_TOL)
declare("linalg.det", det, ref=np.linalg.det, samples=_one(_square, _SQ), dtypes=_F, **_TOL)
declare("logdet", logdet, ref=lambda A: np.linalg.slogdet(A)[1], samples=_one(_spd, _SQ),
        dtypes=_F, **_TOL)
declare("linalg.cholesky", cholesky, ref=np.linalg.cholesky,
        samples=_one(_spd, _SQ, grad=False), dtypes=_F, overridable="L info A", **_TOL)
declare("linalg.qr", qr, ref=_ref_qr, dtypes=_F, overridable="Q R A mode", **_TOL,
        samples=lambda dt, rng: _one(_general, _RECT)(dt, rng) + [
            Sample(_general((4, 3), dt, rng), "complete"), Sample(_general((3, 3), dt, rng),
                                                                  "complete", grad=(0,))])
declare("linalg.svd", svd, ref=_ref_svd, dtypes=_F, overridable="U S Vh A full_matrices",
        **_TOL, samples=lambda dt, rng: _one(_general, _RECT, full_matrices=False)(dt, rng) + [
            Sample(_general((3, 3), dt, rng))])
declare("linalg.svdvals", svdvals, ref=lambda A: np.linalg.svd(A, compute_uv=False),
        samples=_one(_general, _RECT), dtypes=_F, overridable="S A", **_TOL)
declare("linalg.eigh", eigh, ref=np.linalg.eigh, samples=_one(_spd, _SQ[:2], grad=False),
        dtypes=_F, overridable="L V A", **_TOL)
declare("linalg.eigvalsh", eigvalsh, ref=np.linalg.eigvalsh,
        samples=_one(_spd, _SQ, grad=False), dtypes=_F, overridable="L A", **_TOL)
declare("linalg.pinv", pinv, ref=lambda A: np.linalg.pinv(A), samples=_one(_general, _RECT),
        dtypes=_F, **_TOL)
declare("pinverse", pinverse, ref=lambda A: np.linalg.pinv(A), samples=_one(_general, _RECT),
        dtypes=_F, **_TOL)
declare("linalg.matrix_rank", matrix_rank, ref=np.linalg.matrix_rank, grad=False,
        samples=lambda dt, rng: _one(_general, _RECT, grad=False)(dt, rng) + [
            Sample(np.ones((3, 4), dt.np)), Sample(np.zeros((2, 2), dt.np))], dtypes=_F)
declare("linalg.lstsq", lstsq, ref=_ref_lstsq, dtypes=_F, **_TOL,
        samples=lambda dt, rng: [Sample(_general((4, 3), dt, rng), S.array((4, 2), dt, rng),
                                        grad=(0, 1)),
                                 Sample(_general((2, 3, 3), dt, rng),
                                        S.array((2, 3, 1), dt, rng), grad=(0, 1))])
declare("linalg.matrix_power", matrix_power, ref=_ref_matrix_power, dtypes=_F, **_TOL,
        samples=_matrix_power_samples)
declare("linalg.multi_dot", multi_dot, ref=_ref_multi_dot, dtypes=_F, **_TOL,
        samples=_multi_dot_samples)
declare("linalg.cross", cross, ref=_ref_cross, dtypes=_F,
        samples=lambda dt, rng: [Sample(S.array((3,), dt, rng), S.array((3,), dt, rng),
                                        grad=(0, 1)),
                                 Sample(S.array((2, 3), dt, rng), S.array((1, 3), dt, rng),
                                        grad=(0, 1))])
declare("linalg.matrix_norm", matrix_norm, ref=_ref_matrix_norm, dtypes=_F, **_TOL,
        samples=_matrix_norm_samples)
declare("svd", _svd_old, dtypes=_F, **_TOL, samples=_one(_general, _RECT),
        ref=lambda A, some=True: (lambda u, s, vh: (u, s, np.swapaxes(vh, -1, -2)))(
            *np.linalg.svd(A, full_matrices=not some)))
declare("qr", _qr_old, ref=lambda A, some=True: np.linalg.qr(A), dtypes=_F, **_TOL,
        samples=_one(_general, _RECT))
declare_alias("inverse", "linalg.inv", inverse)
declare_alias("det", "linalg.det", _det_old)
declare_alias("slogdet", "linalg.slogdet", _slogdet_old)
declare_alias("cholesky", "linalg.cholesky", _cholesky_old)
declare_alias("matrix_power", "linalg.matrix_power", _matrix_power_old)

#: PyTorch's top-level names of these ops (`plugtorch.inverse`, ...); `cross` is in linalg.py
TOP_LEVEL = {"inverse": inverse, "det": _det_old, "logdet": logdet, "slogdet": _slogdet_old,
             "cholesky": _cholesky_old, "qr": _qr_old, "svd": _svd_old, "pinverse": pinverse,
             "matrix_power": _matrix_power_old}
