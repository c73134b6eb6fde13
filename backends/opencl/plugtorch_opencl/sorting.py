"""sort (stable merge sort per row) and nonzero (counts, scan, write; reads one count).

Sort runs one work-item per row: the row is copied into scratch buffers and merge-sorted
bottom-up, which is stable, and NaN sorts as the largest value (last ascending, first
descending), as the CPU backend does. nonzero's output shape depends on the data, so it
is the one kernel that waits: it reads the number of nonzero elements to allocate its
result.
"""
import numpy as np

import plugtorch
from plugtorch.backends import buffer, dtype, new_tensor, numel, offset, shape, strides

from .cl_source import CTYPE, VTYPE, load, preamble, store
from .geometry import dims_struct, geo_struct, merge

# kernel scalars go as Python ints (see NOTE [launch cost] in runtime.py)
_i64 = _i32 = int

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


def make_sort(backend):
    def sort(values, indices, x, dim, descending, stable):
        rt = backend.rt(values)
        dt = dtype(x)
        xshape = shape(x)
        if not xshape:
            backend.kernels["copy"](values, x)
            backend.kernels["fill"](indices, 0)
            return
        K = xshape[dim]
        M = numel(xshape) // K if K else 0
        if M == 0:
            return
        key = ("sort", dt, bool(descending))
        ks = rt.kernels(key, lambda: sort_source(dt, descending), f"sort ({dt.name})")
        xst, vst, ist = strides(x), strides(values), strides(indices)
        kept = [i for i in range(len(xshape)) if i != dim]
        kshp, (xs, vs, is_) = merge(tuple(xshape[i] for i in kept),
                                    [[st[i] for i in kept] for st in (xst, vst, ist)])
        size = 4 if dt is plugtorch.float16 else dt.itemsize      # float scratch for half
        ta, tb = rt.alloc(M * K * size), rt.alloc(M * K * size)
        ia, ib = rt.alloc(M * K * 8), rt.alloc(M * K * 8)
        rt.launch(ks["sort"], M, buffer(values), geo_struct(offset(values), vs),
                  buffer(indices), geo_struct(offset(indices), is_), buffer(x),
                  geo_struct(offset(x), xs), dims_struct(kshp), _i32(len(kshp)),
                  _i64(vst[dim]), _i64(ist[dim]), _i64(xst[dim]),
                  ta, ia, tb, ib, _i64(M), _i64(K))
    return sort


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


def make_nonzero(backend):
    def nonzero(x):
        rt = backend.rt(x)
        dt = dtype(x)
        xshape = shape(x)
        nd = len(xshape)
        n = numel(xshape)
        geo_shape = xshape or (1,)
        stride = strides(x) or (1,)
        ks = rt.kernels(("nonzero", dt), lambda: nonzero_source(dt), f"nonzero ({dt.name})")
        P = max(1, min(1024, n // 4096))
        chunk = -(-n // P) if n else 1
        counts = rt.alloc((P + 1) * 8)
        geo = (buffer(x), geo_struct(offset(x), stride), dims_struct(geo_shape),
               _i32(len(geo_shape)))
        total = np.zeros(1, np.int64)
        if n:
            rt.launch(ks["count"], P, counts, *geo, _i64(chunk), _i64(n), _i64(P))
            rt.launch(ks["scan"], 1, counts, _i64(P))
            rt.download(counts, P * 8, total)
        out = new_tensor(x, shape=(int(total[0]), nd), dtype=plugtorch.int64)
        if total[0] and nd:
            rt.launch(ks["write"], P, buffer(out), counts, *geo, _i64(chunk), _i64(n),
                      _i64(P))
        return out
    return nonzero
