"""Batched matmul sources, out (B, M, N) = a (B, M, K) @ b (B, K, N).

NOTE [register-blocked matmul]
Each work-item computes a TM x TN block of the output with its accumulators in registers,
reading TN values of a row of b and TM values of a column of a per step of k straight from
global memory. On a CPU device (PoCL) this is several times faster than local-memory tiles,
because barriers become loops and local memory is ordinary RAM (see BASELINES.md). The
block sizes and which device takes which variant are in tuning.py. Two
variants share that structure:

- `vec` (CPU devices, float32): a 6 x 16 block held in 8-wide vectors, 12 vector
  accumulators plus two vectors of b: it fits the 16 AVX2 registers PoCL targets, and
  `acc += av * bv` with -cl-mad-enable becomes FMA. (PoCL 3.0 drops a double8 kernel
  silently, so float64 takes the scalar variant.) The
  accumulators are spelled out one by one (generated), so they never live in an array.
  The vector type and its loads/stores are the macros VEC8, VLOAD8 and VSTORE8, which a
  CUDA translation header can define as a struct with operators.
- `scalar` (GPUs, other dtypes, and every partial edge block of `vec`): a TM x TN
  (8 x 8) block of scalar accumulators.

The kernels take a with any strides (a's values are scalars broadcast across a vector, so a
transposed a costs nothing) and want b with unit stride in its last dim; another b layout
is copied to row-major first, which costs O(K N) against the O(M K N) product. Integer
products accumulate in the output type (wrapping as numpy's int64 matmul cast back does);
bool accumulates in long and stores "nonzero"; float16 accumulates in float and rounds once.

Work-items are numbered with the row block fastest, so the work-items of one work-group
share one column strip of b (TN x K values, kept in the core's cache) and stream rows of a.
"""
import plugtorch

from .cl_source import CTYPE, VTYPE, preamble, cast, load, store
from .tuning import BMM_SCALAR_TILE, BMM_VECTOR_TILE

_SIGNATURE = r"""
KERNEL void bmm(GLOBAL %(OT)s* c, long co, GLOBAL const T* a, long ao, long sab, long sam,
                long sak, GLOBAL const T* b, long bo, long sbb, long sbk, long M, long N,
                long K, long nbm, long nbn, long total) {
    long g = GID(0);
    if (g >= total) return;
    long bi = g %% nbm, r = g / nbm;
    long bj = r %% nbn, batch = r / nbn;
    long i0 = bi * TM, j0 = bj * TN;
    a += ao + batch * sab + i0 * sam;
    b += bo + batch * sbb + j0;
    c += co + batch * M * N + i0 * N + j0;
"""

# any block, scalar accumulators; the full-block loop has constant bounds so it unrolls
_SCALAR_BODY = r"""
    ACC acc[STM][STN];
    for (int i = 0; i < STM; ++i)
        for (int j = 0; j < STN; ++j) acc[i][j] = 0;
    int mi = M - i0 < STM ? (int)(M - i0) : STM;
    int nj = N - j0 < STN ? (int)(N - j0) : STN;
    if (mi == STM && nj == STN) {
        for (long k = 0; k < K; ++k) {
            ACC bv[STN];
            for (int j = 0; j < STN; ++j) bv[j] = LD_B(k * sbk + j);
            for (int i = 0; i < STM; ++i) {
                ACC av = LD_A(i * sam + k * sak);
                for (int j = 0; j < STN; ++j) acc[i][j] += av * bv[j];
            }
        }
    } else {
        for (long k = 0; k < K; ++k)
            for (int i = 0; i < mi; ++i) {
                ACC av = LD_A(i * sam + k * sak);
                for (int j = 0; j < nj; ++j) acc[i][j] += av * (ACC)LD_B(k * sbk + j);
            }
    }
    for (int i = 0; i < mi; ++i)
        for (int j = 0; j < nj; ++j) ST_C(i * N + j, %(STORE)s);
}
"""

_VEC_HEADER = r"""
#ifdef __OPENCL_VERSION__
#define VEC8(T) T##8
#define VLOAD8(off, p) vload8(off, p)
#define VSTORE8(v, off, p) vstore8(v, off, p)
#endif
"""

TM, TN = BMM_SCALAR_TILE          # scalar variant
VTM, VTN = BMM_VECTOR_TILE       # vector variant: VTN = 8 * nv columns


def _vec_body(nv):
    """The full-block body of the vector variant with 6 x nv vec8 accumulators, spelled out;
    partial blocks fall through to the scalar code (_SCALAR_BODY with STM=TM, STN=TN)."""
    lines = ["    if (i0 + TM <= M && j0 + TN <= N) {"]
    for i in range(VTM):
        lines.append("        " + " ".join(f"V acc{i}_{v} = (V)0;" for v in range(nv)))
    lines.append("        for (long k = 0; k < K; ++k) {")
    lines.append("            GLOBAL const T* bk = b + k * sbk;")
    for v in range(nv):
        lines.append(f"            V b{v} = VLOAD8({v}, bk);")
    for i in range(VTM):
        lines.append(f"            V a{i} = (V)(a[{i} * sam + k * sak]);")
        lines.append("            " + " ".join(f"acc{i}_{v} += a{i} * b{v};" for v in range(nv)))
    lines.append("        }")
    for i in range(VTM):
        for v in range(nv):
            lines.append(f"        VSTORE8(acc{i}_{v}, {v}, c + {i} * N);")
    lines.append("        return;")
    lines.append("    }")
    return "\n".join(lines) + "\n"


def bmm_source(dt, odt, vec):
    """Source of bmm of dtype dt into odt; `vec` picks the vector variant."""
    # float16 accumulates in float32 and rounds once (NOTE [float16 storage] in cl_source)
    acc = {plugtorch.bool: plugtorch.int64, plugtorch.float16: plugtorch.float32}.get(dt, dt)
    head = preamble(dt, odt, acc) + f"typedef {CTYPE[dt]} T;\ntypedef {VTYPE[acc]} ACC;\n"
    head += (f"#define LD_A(i) {load(dt, 'a', '(i)')}\n#define LD_B(i) {load(dt, 'b', '(i)')}\n"
             f"#define ST_C(i, v) {store(odt, 'c', '(i)', '(v)')}\n")
    value = cast("acc[i][j]", acc, odt)
    if vec:
        nv = VTN // 8
        head += _VEC_HEADER + f"typedef VEC8({CTYPE[dt]}) V;\n"
        head += f"#define TM {VTM}\n#define TN {VTN}\n#define STM {VTM}\n#define STN {VTN}\n"
        body = _vec_body(nv) + _SCALAR_BODY % {"STORE": value}
    else:
        head += f"#define TM {TM}\n#define TN {TN}\n#define STM TM\n#define STN TN\n"
        body = _SCALAR_BODY % {"STORE": value}
    return head + _SIGNATURE % {"OT": CTYPE[odt]} + body


_TCOPY = r"""
#define TB 16
KERNEL void tcopy(GLOBAL T* out, GLOBAL const T* src, long so, long sb, long sr, long sc,
                  long R, long C, long nbr, long nbc, long total) {
    long g = GID(0);
    if (g >= total) return;
    long bc = g %% nbc, t = g / nbc;
    long br = t %% nbr, batch = t / nbr;
    long r0 = br * TB, c0 = bc * TB;
    int nr = R - r0 < TB ? (int)(R - r0) : TB;
    int nc = C - c0 < TB ? (int)(C - c0) : TB;
    src += so + batch * sb + r0 * sr + c0 * sc;
    out += batch * R * C + r0 * C + c0;
    for (int c = 0; c < nc; ++c)
        for (int r = 0; r < nr; ++r) %(COPY)s;
}
"""


def tcopy_source(dt):
    """Source of the blocked transposing copy of dtype dt."""
    return preamble(dt) + f"typedef {CTYPE[dt]} T;\n" + _TCOPY % {
        "COPY": store(dt, "out", "r * C + c", load(dt, "src", "r * sr + c * sc"))}
