"""Sources of sort (a stable merge sort per row) and nonzero (count, scan, write).

Sort runs one work-item per row: the row is copied into scratch buffers and merge-sorted
bottom-up, which is stable, and NaN sorts as the largest value (last ascending, first
descending), as the CPU backend does. nonzero's output shape depends on the data, so it
is the one kernel that waits: it reads the number of nonzero elements to allocate its
result.
"""
from .cl_source import CTYPE, VTYPE, load, preamble, store

_SORT = r"""
INLINE int before(S a, S b) { return %(BEFORE)s; }
KERNEL void sort(GLOBAL T* vals, geo_t vg, GLOBAL long* inds, geo_t ig, GLOBAL const T* x,
                 geo_t xg, dims_t ks, int knd, long vst, long ist, long xst,
                 GLOBAL S* ta, GLOBAL long* ia, GLOBAL S* tb, GLOBAL long* ib, long M, long K) {
    long m = GID(0);
    if (m >= M) return;
    ta += m * K; ia += m * K; tb += m * K; ib += m * K;
    long p = at(m, ks, knd, xg);
    for (long k = 0; k < K; ++k) { ta[k] = %(LOAD)s; ia[k] = k; }
    for (long w = 1; w < K; w *= 2) {
        for (long lo = 0; lo < K; lo += 2 * w) {
            long mid = lo + w < K ? lo + w : K, hi = lo + 2 * w < K ? lo + 2 * w : K;
            long i = lo, j = mid, o = lo;
            while (i < mid && j < hi) {
                if (before(ta[j], ta[i])) { tb[o] = ta[j]; ib[o++] = ia[j++]; }
                else { tb[o] = ta[i]; ib[o++] = ia[i++]; }
            }
            while (i < mid) { tb[o] = ta[i]; ib[o++] = ia[i++]; }
            while (j < hi) { tb[o] = ta[j]; ib[o++] = ia[j++]; }
        }
        GLOBAL S* t = ta; ta = tb; tb = t;
        GLOBAL long* u = ia; ia = ib; ib = u;
    }
    long pv = at(m, ks, knd, vg), pi = at(m, ks, knd, ig);
    for (long k = 0; k < K; ++k) { %(STORE)s; inds[pi + k * ist] = ia[k]; }
}
"""


def _before(dt, descending):
    if dt.kind == 2:
        return ("(isnan(a) && !isnan(b)) || a > b" if descending
                else "a < b || (!isnan(a) && isnan(b))")
    return "a > b" if descending else "a < b"


def sort_source(dt, descending):
    """Source of the per-row stable merge sort over dtype dt; the scratch rows ta, tb hold
    values (VTYPE)."""
    return preamble(dt) + f"#define T {CTYPE[dt]}\n#define S {VTYPE[dt]}\n" + _SORT % {
        "BEFORE": _before(dt, descending), "LOAD": load(dt, "x", "p + k * xst"),
        "STORE": store(dt, "vals", "pv + k * vst", "ta[k]")}


_NONZERO = r"""
KERNEL void count(GLOBAL long* counts, GLOBAL const T* x, geo_t xg, dims_t shape, int nd,
                  long chunk, long n, long P) {
    long p = GID(0);
    if (p >= P) return;
    long c = 0, end = (p + 1) * chunk < n ? (p + 1) * chunk : n;
    for (long i = p * chunk; i < end; ++i) c += %(X)s != 0;
    counts[p] = c;
}
KERNEL void scan(GLOBAL long* counts, long P) {
    if (GID(0) != 0) return;
    long s = 0;
    for (long p = 0; p < P; ++p) { long c = counts[p]; counts[p] = s; s += c; }
    counts[P] = s;
}
KERNEL void write(GLOBAL long* out, GLOBAL const long* starts, GLOBAL const T* x, geo_t xg,
                  dims_t shape, int nd, long chunk, long n, long P) {
    long p = GID(0);
    if (p >= P) return;
    long row = starts[p], end = (p + 1) * chunk < n ? (p + 1) * chunk : n;
    for (long i = p * chunk; i < end; ++i) {
        if (%(X)s == 0) continue;
        long r = i;
        for (int d = nd - 1; d >= 0; --d) { out[row * nd + d] = r %% shape.n[d]; r /= shape.n[d]; }
        ++row;
    }
}
"""


def nonzero_source(dt):
    """Source of nonzero's count, scan and write kernels over dtype dt."""
    return preamble(dt) + f"#define T {CTYPE[dt]}\n" + _NONZERO % {
        "X": load(dt, "x", "at(i, shape, nd, xg)")}
