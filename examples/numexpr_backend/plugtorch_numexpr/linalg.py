"""The matrix factorizations, with LAPACK through numpy.linalg on this backend's own memory.

NOTE [factorization kernels] in plugtorch.ops.decomp has the contract: outputs first
(contiguous), then contiguous float32/float64 inputs with their batch dims broadcast, then
options. `linalg.solve` and `linalg.cholesky` report a singular / not positive-definite
matrix in `info` as LAPACK does (0, else the 1-based index of the first zero pivot of LU
with partial pivoting / of the first leading minor that is not positive-definite);
numpy.linalg only raises, so for a batch it refuses, the info is found here by the same
elimination, one column at a time over the whole batch.
"""
import numpy as np

import plugtorch
from plugtorch.backends import numpy_view

_v = numpy_view


def _stack(a):
    """A (batch, n, n) float copy of a stack of square matrices."""
    n = a.shape[-1]
    return np.array(a.reshape(-1, n, n))


def _lu_info(a):
    """getrf's info for each matrix of the (batch, n, n) array `a` (overwritten)."""
    batch, n = a.shape[0], a.shape[-1]
    info = np.zeros(batch, np.int64)
    rows = np.arange(batch)
    for j in range(n):
        p = j + np.argmax(np.abs(a[:, j:, j]), axis=1)      # the pivot row of column j
        pivot = a[rows, p, j]
        info[(pivot == 0) & (info == 0)] = j + 1
        a[rows, j], a[rows, p] = a[rows, p], a[rows, j].copy()
        # a zero pivot means a zero column below it: nothing to eliminate, as in LAPACK
        factor = a[:, j + 1:, j] / np.where(pivot == 0, 1, pivot)[:, None]
        a[:, j + 1:, j + 1:] -= factor[:, :, None] * a[:, j, None, j + 1:]
    return info


def _potrf_info(a):
    """potrf's info for each matrix of the (batch, n, n) array `a` (its lower triangle)."""
    batch, n = a.shape[0], a.shape[-1]
    info = np.zeros(batch, np.int64)
    low = np.zeros_like(a)
    for j in range(n):
        d = a[:, j, j] - np.einsum("bk,bk->b", low[:, j, :j], low[:, j, :j])
        info[~(d > 0) & (info == 0)] = j + 1                 # NaN fails too
        root = np.sqrt(np.where(d > 0, d, 1))
        low[:, j, j] = root
        low[:, j + 1:, j] = (a[:, j + 1:, j] - np.einsum("bik,bk->bi", low[:, j + 1:, :j],
                                                         low[:, j, :j])) / root[:, None]
    return info


def _solve(X, info, A, B):
    a, b, x, inf = _v(A), _v(B), _v(X), _v(info)
    try:
        x[...] = np.linalg.solve(a, b)
        inf[...] = 0
        return
    except np.linalg.LinAlgError:
        pass
    n, k = a.shape[-1], b.shape[-1]
    a2, b2, x2, inf2 = _stack(a), b.reshape(-1, n, k), x.reshape(-1, n, k), inf.reshape(-1)
    inf2[...] = _lu_info(a2.copy())
    for i in range(a2.shape[0]):
        x2[i] = np.nan
        if inf2[i] == 0:
            try:
                x2[i] = np.linalg.solve(a2[i], b2[i])
            except np.linalg.LinAlgError:      # a pivot that rounds to zero in LAPACK only
                inf2[i] = n


def _slogdet(sign, logabsdet, A):
    s, lad = np.linalg.slogdet(_v(A))
    _v(sign)[...] = s
    _v(logabsdet)[...] = lad


def _cholesky(L, info, A):
    a, low, inf = _v(A), _v(L), _v(info)
    try:
        low[...] = np.linalg.cholesky(a)
        inf[...] = 0
        return
    except np.linalg.LinAlgError:
        pass
    n = a.shape[-1]
    a2, low2, inf2 = _stack(a), low.reshape(-1, n, n), inf.reshape(-1)
    inf2[...] = _potrf_info(a2)
    for i in range(a2.shape[0]):
        low2[i] = np.nan
        if inf2[i] == 0:
            try:
                low2[i] = np.linalg.cholesky(a2[i])
            except np.linalg.LinAlgError:
                inf2[i] = n


def _require_finite(a, op):
    if not np.isfinite(a).all():
        raise plugtorch.linalg.LinAlgError(
            f"{op}: The algorithm failed to converge because the input matrix contained "
            f"non-finite values.")


def _qr(Q, R, A, mode):
    if mode == "r":
        _v(R)[...] = np.linalg.qr(_v(A), mode="r")
        return
    q, r = np.linalg.qr(_v(A), mode=mode)
    _v(Q)[...], _v(R)[...] = q, r


def _svd(U, S, Vh, A, full_matrices):
    a = _v(A)
    _require_finite(a, "linalg.svd")
    _v(U)[...], _v(S)[...], _v(Vh)[...] = np.linalg.svd(a, full_matrices=full_matrices)


def _svdvals(S, A):
    a = _v(A)
    _require_finite(a, "linalg.svd")
    _v(S)[...] = np.linalg.svd(a, compute_uv=False)


def _eigh(L, V, A):
    a = _v(A)
    _require_finite(a, "linalg.eigh")
    _v(L)[...], _v(V)[...] = np.linalg.eigh(a, UPLO="L")


def _eigvalsh(L, A):
    a = _v(A)
    _require_finite(a, "linalg.eigh")
    _v(L)[...] = np.linalg.eigvalsh(a, UPLO="L")


KERNELS = {"linalg.solve": _solve, "linalg.slogdet": _slogdet, "linalg.cholesky": _cholesky,
           "linalg.qr": _qr, "linalg.svd": _svd, "linalg.svdvals": _svdvals,
           "linalg.eigh": _eigh, "linalg.eigvalsh": _eigvalsh}
