"""Batched matmul sources, out (B, M, N) = a (B, M, K) @ b (B, K, N): several kernel shapes
(variants) of one signature, the ones the tuner (autotune.py) chooses among.

NOTE [register-blocked matmul]
Each work-item computes a TM x TN block of the output with its accumulators in registers,
reading TN values of a row of b and TM values of a column of a per step of k straight from
global memory. On a CPU device (PoCL) this is several times faster than local-memory tiles,
because barriers become loops and local memory is ordinary RAM (see BASELINES.md). The
variants, named by their shape:

- `v{TM}x{TN}w{W}` (CPU-shaped): a TM x TN block held in W-wide vectors (W = 8 or 16),
  TM x TN / W vector accumulators plus TN / W vectors of b; `acc += av * bv` with
  -cl-mad-enable becomes FMA. A block that fits the vector registers is fastest: 6 x 16 in
  8-wide vectors fits AVX2's 16, 6 x 32 or 12 x 16 in 16-wide vectors fits AVX-512's 32,
  and which one wins differs between CPUs, hence the tuner. The accumulators are spelled
  out one by one (generated), so they never live in an array. The vector type and its
  loads/stores are the macros VEC8/VLOAD8/VSTORE8 and VEC16/..., which cuda_compat.h
  defines as structs with operators.
- `l{BM}x{BN}k{BK}` (GPU-shaped): a work-group of 64 work-items computes a BM x BN tile,
  staging BK-deep slices of a and b in local memory; each work-item owns a (BM / 8) x
  (BN / 8) block of scalar accumulators, its rows and columns 8 apart.
- `s8x8`: an 8 x 8 block of scalar accumulators that handles any block, full or partial:
  every dtype but float32, and the edges of the others.

The vector and local-memory variants compute full blocks only: the launcher runs them over
the largest multiple of their block and the scalar variant over the strips left at the
right and bottom edges (launch/matmul.py). Each output's products are added in k order
whatever the variant, so every variant gives the same bits for float16 (computed as
float32, rounded once) and integer results are exact.

The kernels take a with any strides (a's values are scalars broadcast across a vector, so a
transposed a costs nothing) and want b with unit stride in its last dim; another b layout
is copied to row-major first, which costs O(K N) against the O(M K N) product. c is written
with its own batch and row strides (scb, ldc), so a launch can cover a sub-block of it.
Integer products accumulate in the output type (wrapping as numpy's int64 matmul cast back
does); bool accumulates in long and stores "nonzero"; float16 accumulates in float and
rounds once.

Work-items are numbered with the row block fastest, so the work-items of one work-group
share one column strip of b (TN x K values, kept in the core's cache) and stream rows of a.
"""
import re

import plugtorch

from .cl_source import CTYPE, VTYPE, preamble, cast, load, store
from .tuning import BMM_CANDIDATES

_SIGNATURE = r"""
KERNEL void bmm(GLOBAL %(OT)s* c, long co, long scb, long ldc, GLOBAL const T* a, long ao,
                long sab, long sam, long sak, GLOBAL const T* b, long bo, long sbb, long sbk,
                long M, long N, long K, long nbm, long nbn, long total) {
"""

_BLOCK = r"""
    long g = GID(0);
    if (g >= total) return;
    long bi = g %% nbm, r = g / nbm;
    long bj = r %% nbn, batch = r / nbn;
    long i0 = bi * TM, j0 = bj * TN;
    a += ao + batch * sab + i0 * sam;
    b += bo + batch * sbb + j0;
    c += co + batch * scb + i0 * ldc + j0;
"""

# any block, scalar accumulators; the full-block loop has constant bounds so it unrolls
_SCALAR_BODY = r"""
    ACC acc[TM][TN];
    for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) acc[i][j] = 0;
    int mi = M - i0 < TM ? (int)(M - i0) : TM;
    int nj = N - j0 < TN ? (int)(N - j0) : TN;
    if (mi == TM && nj == TN) {
        for (long k = 0; k < K; ++k) {
            ACC bv[TN];
            for (int j = 0; j < TN; ++j) bv[j] = LD_B(k * sbk + j);
            for (int i = 0; i < TM; ++i) {
                ACC av = LD_A(i * sam + k * sak);
                for (int j = 0; j < TN; ++j) acc[i][j] += av * bv[j];
            }
        }
    } else {
        /* a partial block computes the whole block with zeros outside, so its loops keep
           constant bounds (several times faster than bounds of mi and nj: a skinny
           product, e.g. N = 6, is all partial blocks) */
        for (long k = 0; k < K; ++k) {
            ACC bv[TN];
            for (int j = 0; j < TN; ++j) bv[j] = j < nj ? (ACC)LD_B(k * sbk + j) : (ACC)0;
            for (int i = 0; i < TM; ++i) {
                ACC av = i < mi ? (ACC)LD_A(i * sam + k * sak) : (ACC)0;
                for (int j = 0; j < TN; ++j) acc[i][j] += av * bv[j];
            }
        }
    }
    for (int i = 0; i < mi; ++i)
        for (int j = 0; j < nj; ++j) ST_C(i * ldc + j, %(STORE)s);
}
"""

_VEC_HEADER = r"""
#ifdef __OPENCL_VERSION__
#define VEC8(T) T##8
#define VLOAD8(off, p) vload8(off, p)
#define VSTORE8(v, off, p) vstore8(v, off, p)
#define VEC16(T) T##16
#define VLOAD16(off, p) vload16(off, p)
#define VSTORE16(v, off, p) vstore16(v, off, p)
#endif
"""

# a BM x BN tile per work-group of 64 (8 x 8) work-items; full tiles only
_LOCAL_BODY = r"""
    LOCAL ACC ta[BK][BM];
    LOCAL ACC tb[BK][BN];
    long grp = GROUP(0);
    int lid = (int)LID(0), ty = lid / 8, tx = lid %% 8;
    if (grp >= total) return;
    long bi = grp %% nbm, r = grp / nbm;
    long bj = r %% nbn, batch = r / nbn;
    long i0 = bi * BM, j0 = bj * BN;
    a += ao + batch * sab + i0 * sam;
    b += bo + batch * sbb + j0;
    c += co + batch * scb + i0 * ldc + j0;
    ACC acc[BM / 8][BN / 8];
    for (int i = 0; i < BM / 8; ++i)
        for (int j = 0; j < BN / 8; ++j) acc[i][j] = 0;
    for (long k0 = 0; k0 < K; k0 += BK) {
        for (int e = lid; e < BM * BK; e += 64) {
            int ii = e / BK, kk = e - ii * BK;
            ta[kk][ii] = k0 + kk < K ? (ACC)LD_A(ii * sam + (k0 + kk) * sak) : (ACC)0;
        }
        for (int e = lid; e < BK * BN; e += 64) {
            int kk = e / BN, jj = e - kk * BN;
            tb[kk][jj] = k0 + kk < K ? (ACC)LD_B((k0 + kk) * sbk + jj) : (ACC)0;
        }
        BARRIER();
        for (int kk = 0; kk < BK; ++kk) {
            ACC av[BM / 8], bv[BN / 8];
            for (int i = 0; i < BM / 8; ++i) av[i] = ta[kk][ty + 8 * i];
            for (int j = 0; j < BN / 8; ++j) bv[j] = tb[kk][tx + 8 * j];
            for (int i = 0; i < BM / 8; ++i)
                for (int j = 0; j < BN / 8; ++j) acc[i][j] += av[i] * bv[j];
        }
        BARRIER();
    }
    for (int i = 0; i < BM / 8; ++i)
        for (int j = 0; j < BN / 8; ++j)
            ST_C((ty + 8 * i) * ldc + tx + 8 * j, %(STORE)s);
}
"""

_NAME = re.compile(r"^(?:s(\d+)x(\d+)|v(\d+)x(\d+)w(8|16)|l(\d+)x(\d+)k(\d+))$")


def variant(name):
    """(kind, block rows, block columns, vector width or local depth) of a variant name:
    "s8x8" -> ("scalar", 8, 8, 1), "v6x32w16" -> ("vec", 6, 32, 16), "l64x64k8" ->
    ("local", 64, 64, 8)."""
    m = _NAME.match(name)
    if m is None:
        raise ValueError(f"bmm: unknown kernel variant {name!r}")
    g = m.groups()
    if g[0]:
        return ("scalar", int(g[0]), int(g[1]), 1)
    if g[2]:
        tm, tn, w = int(g[2]), int(g[3]), int(g[4])
        if tn % w:
            raise ValueError(f"bmm: variant {name!r}: {tn} columns are not whole vectors")
        return ("vec", tm, tn, w)
    bm, bn, bk = int(g[5]), int(g[6]), int(g[7])
    if bm % 8 or bn % 8:
        raise ValueError(f"bmm: variant {name!r}: the tile must be a multiple of 8 x 8")
    return ("local", bm, bn, bk)


def _vec_body(tm, tn, w):
    """The body of a vector variant: tm x (tn / w) w-wide accumulators, spelled out."""
    nv = tn // w
    lines = ["    if (i0 + TM > M || j0 + TN > N) return;     /* full blocks only */"]
    for i in range(tm):
        lines.append("    " + " ".join(f"V acc{i}_{v} = (V)0;" for v in range(nv)))
    lines.append("    for (long k = 0; k < K; ++k) {")
    lines.append("        GLOBAL const T* bk = b + k * sbk;")
    for v in range(nv):
        lines.append(f"        V b{v} = VLOAD{w}({v}, bk);")
    for i in range(tm):
        lines.append(f"        V a{i} = (V)(a[{i} * sam + k * sak]);")
        lines.append("        " + " ".join(f"acc{i}_{v} += a{i} * b{v};" for v in range(nv)))
    lines.append("    }")
    for i in range(tm):
        for v in range(nv):
            lines.append(f"    VSTORE{w}(acc{i}_{v}, {v}, c + {i} * ldc);")
    lines.append("}")
    return "\n".join(lines) + "\n"


def bmm_source(dt, odt, name):
    """Source of bmm of dtype dt into odt, kernel variant `name` (see `variant`)."""
    kind, tm, tn, w = variant(name)
    # float16 accumulates in float32 and rounds once (NOTE [float16 storage] in cl_source)
    acc = {plugtorch.bool: plugtorch.int64, plugtorch.float16: plugtorch.float32}.get(dt, dt)
    head = preamble(dt, odt, acc) + f"typedef {CTYPE[dt]} T;\ntypedef {VTYPE[acc]} ACC;\n"
    head += (f"#define LD_A(i) {load(dt, 'a', '(i)')}\n#define LD_B(i) {load(dt, 'b', '(i)')}\n"
             f"#define ST_C(i, v) {store(odt, 'c', '(i)', '(v)')}\n")
    value = cast("acc[i][j]", acc, odt)
    sig = _SIGNATURE % {"OT": CTYPE[odt]}
    if kind == "vec":
        if dt is not odt or dt is plugtorch.float16 or dt is plugtorch.bool:
            raise ValueError(f"bmm: the vector variants compute in the input dtype, not "
                             f"{dt.name} into {odt.name}")
        head += _VEC_HEADER + f"typedef VEC{w}({CTYPE[dt]}) V;\n"
        head += f"#define TM {tm}\n#define TN {tn}\n"
        return head + sig + _BLOCK % {} + _vec_body(tm, tn, w)
    if kind == "local":
        head += f"#define BM {tm}\n#define BN {tn}\n#define BK {w}\n"
        return head + sig + _LOCAL_BODY % {"STORE": value}
    head += f"#define TM {tm}\n#define TN {tn}\n"
    return head + sig + _BLOCK % {} + _SCALAR_BODY % {"STORE": value}


def candidates(dt):
    """The variants registered for dtype dt: every candidate of the tuner for the dtypes
    it tunes (tuning.BMM_CANDIDATES), the scalar one for all."""
    return ("s8x8",) + tuple(n for n in BMM_CANDIDATES.get(dt, ()) if n != "s8x8")


_TCOPY = r"""
#define TB 16
KERNEL void tcopy(GLOBAL T* out, long oo, GLOBAL const T* src, long so, long sb, long sr,
                  long sc, long R, long C, long nbr, long nbc, long total) {
    long g = GID(0);
    if (g >= total) return;
    /* neighbouring work-items take neighbouring row blocks: together they read whole
       lines of a transposed src */
    long br = g %% nbr, t = g / nbr;
    long bc = t %% nbc, batch = t / nbc;
    long r0 = br * TB, c0 = bc * TB;
    int nr = R - r0 < TB ? (int)(R - r0) : TB;
    int nc = C - c0 < TB ? (int)(C - c0) : TB;
    src += so + batch * sb + r0 * sr + c0 * sc;
    out += oo + batch * R * C + r0 * C + c0;
    if (nr == TB && nc == TB) {
        /* a full block through a tile: constant bounds, and the writes go out row by row
           (2-3x faster than the strided loop below at 16 x 16) */
        V tile[TB][TB];
        for (int c = 0; c < TB; ++c)
            for (int r = 0; r < TB; ++r) tile[c][r] = %(LOAD)s;
        for (int r = 0; r < TB; ++r)
            for (int c = 0; c < TB; ++c) %(STORE)s;
        return;
    }
    for (int c = 0; c < nc; ++c)
        for (int r = 0; r < nr; ++r) %(COPY)s;
}
"""


def tcopy_source(dt):
    """Source of the blocked transposing copy of dtype dt."""
    return preamble(dt) + f"typedef {CTYPE[dt]} T;\ntypedef {VTYPE[dt]} V;\n" + _TCOPY % {
        "COPY": store(dt, "out", "r * C + c", load(dt, "src", "r * sr + c * sc")),
        "LOAD": load(dt, "src", "r * sr + c * sc"),
        "STORE": store(dt, "out", "r * C + c", "tile[c][r]")}
