"""Batched matmul, out (B, M, N) = a (B, M, K) @ b (B, K, N).

NOTE [register-blocked matmul]
Each work-item computes a TM x TN (8 x 8) block of the output with its accumulators in registers,
reading a row of TN values of b and TM values of a per step of k straight from global
memory. On a CPU device (PoCL) this is several times faster than local-memory tiles,
because barriers become loops and local memory is ordinary RAM (see BASELINES.md); a GPU
variant with local tiles can be chosen per device type later. The kernel wants a and b
with unit stride in their last dim; other layouts (e.g. transposed views) are copied to
contiguous first, which costs O(n^2) against the O(n^3) product. Integer products
accumulate in the output type (wrapping as numpy's int64 matmul cast back does); bool
accumulates in long and stores "nonzero".
"""
import numpy as np

from plugtorch import _dtype as D
from plugtorch._tensor import empty_like_meta

from .cl_source import CTYPE, preamble, cast

_i64 = np.int64

_TEMPLATE = r"""
#define TM %(TM)d
#define TN %(TN)d
typedef %(T)s T;
typedef %(ACC)s ACC;
KERNEL void bmm(GLOBAL %(OT)s* c, long co, GLOBAL const T* a, long ao, long sab, long sam,
                GLOBAL const T* b, long bo, long sbb, long sbk, long M, long N, long K,
                long nbm, long nbn, long total) {
    long g = GID(0);
    if (g >= total) return;
    long bj = g %% nbn, r = g / nbn;
    long bi = r %% nbm, batch = r / nbm;
    long i0 = bi * TM, j0 = bj * TN;
    a += ao + batch * sab + i0 * sam;
    b += bo + batch * sbb + j0;
    c += co + batch * M * N + i0 * N + j0;
    ACC acc[TM][TN];
    for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) acc[i][j] = 0;
    if (i0 + TM <= M && j0 + TN <= N) {
        for (long k = 0; k < K; ++k) {
            ACC bv[TN];
            for (int j = 0; j < TN; ++j) bv[j] = b[k * sbk + j];
            for (int i = 0; i < TM; ++i) {
                ACC av = a[i * sam + k];
                for (int j = 0; j < TN; ++j) acc[i][j] += av * bv[j];
            }
        }
        for (int i = 0; i < TM; ++i)
            for (int j = 0; j < TN; ++j) c[i * N + j] = %(STORE)s;
    } else {
        int mi = M - i0 < TM ? (int)(M - i0) : TM;
        int nj = N - j0 < TN ? (int)(N - j0) : TN;
        for (long k = 0; k < K; ++k)
            for (int i = 0; i < mi; ++i) {
                ACC av = a[i * sam + k];
                for (int j = 0; j < nj; ++j) acc[i][j] += av * (ACC)b[k * sbk + j];
            }
        for (int i = 0; i < mi; ++i)
            for (int j = 0; j < nj; ++j) c[i * N + j] = %(STORE)s;
    }
}
"""

TM, TN = 8, 8


def _source(dt, odt):
    acc = D.int64 if dt is D.bool else dt
    return preamble(dt, odt, acc) + _TEMPLATE % {
        "TM": TM, "TN": TN, "T": CTYPE[dt], "ACC": CTYPE[acc], "OT": CTYPE[odt],
        "STORE": cast("acc[i][j]", acc, odt)}


def _rowmajor(t):
    """t, or a contiguous copy when its last dim is not unit-stride (or it broadcasts rows)."""
    B, R, C = t._shape
    if t._stride[2] == 1 or C == 1:
        return t
    out = empty_like_meta(t)
    t._storage.backend.kernels["copy"](out, t)
    return out


def make_bmm(backend):
    def bmm(out, a, b):
        rt = backend.rt(out)
        dt, odt = a._dtype, out._dtype
        B, M, K = a._shape
        N = b._shape[2]
        if B * M * N == 0:
            return
        if K == 0:
            backend.kernels["fill"](out, 0)
            return
        a, b = _rowmajor(a), _rowmajor(b)
        ks = rt.kernels(("bmm", dt, odt, TM, TN), lambda: _source(dt, odt), f"bmm ({dt.name})")
        nbm, nbn = -(-M // TM), -(-N // TN)
        total = B * nbm * nbn
        sam = a._stride[1] if M > 1 else K
        sbk = b._stride[1] if K > 1 else N
        rt.launch(ks["bmm"], total, out._storage.data, _i64(out._offset), a._storage.data,
                  _i64(a._offset), _i64(a._stride[0]), _i64(sam), b._storage.data,
                  _i64(b._offset), _i64(b._stride[0]), _i64(sbk), _i64(M), _i64(N), _i64(K),
                  _i64(nbm), _i64(nbn), _i64(total))
    return bmm


def kernels(backend):
    return {"bmm": make_bmm(backend)}
