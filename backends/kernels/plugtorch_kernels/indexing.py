"""Index kernel sources: gather, scatter (None/sum/prod), sort, nonzero, and Philox `uniform`.

scatter runs one work-item per line of `index` along `dim` and walks the line in order:
every output element a line can touch lies in that same line of `out`, so lines never
race, no atomics are needed, and duplicate indices resolve as on the CPU (the last write
wins; sums and products accumulate in order).

NOTE [index bounds]
The frontend checks every index before these kernels run (NOTE [deferred index checks] in
plugtorch/_deferred.py) and raises at once for an empty indexed dim, where no index is
valid. The kernels still never touch memory past a tensor, whatever index they get: gather
leaves the output element of an index outside [-dsize, dsize) unwritten, scatter drops it.
"""
import plugtorch

from .cl_source import CTYPE, VTYPE, preamble, cast, load, store

_GATHER = r"""
KERNEL void gather(GLOBAL %(T)s* out, geo_t og, GLOBAL const %(T)s* src, geo_t sg,
                   GLOBAL const long* idx, geo_t ig, dims_t shape, int nd, int dim,
                   long dsize, long n, long chunk) {
    /* elements g * chunk ... of the index's shape, walked as the elementwise kernels do
       (NOTE [elementwise chunks] in elementwise.py): coordinates once, then an odometer */
    long i0 = GID(0) * chunk;
    if (i0 >= n) return;
    long i1 = i0 + chunk < n ? i0 + chunk : n;
    long c[MAXD];
    long r = i0;
    for (int d = nd - 1; d >= 0; --d) {
        long q = r / shape.n[d];
        c[d] = r - q * shape.n[d];
        r = q;
    }
    long po = og.off, ps = sg.off, pi = ig.off;
    int last = nd - 1;
    for (int d = 0; d < last; ++d) {
        po += c[d] * og.s[d];
        pi += c[d] * ig.s[d];
        if (d != dim) ps += c[d] * sg.s[d];
    }
    long len = shape.n[last], j0 = c[last];
    long so = og.s[last], si = ig.s[last], ss = last == dim ? 0 : sg.s[last];
    long sd = sg.s[dim];
    for (long i = i0;;) {
        long run = len - j0 < i1 - i ? len - j0 : i1 - i;
        for (long e = j0; e < j0 + run; ++e) {
            long j = idx[pi + e * si];
            if (j < 0) j += dsize;
            if (j < 0 || j >= dsize) continue;     /* never past the tensor: NOTE [index bounds] */
            %(COPY)s;
        }
        i += run;
        if (i >= i1) break;
        j0 = 0;
        for (int d = last - 1; d >= 0; --d) {
            po += og.s[d];
            pi += ig.s[d];
            if (d != dim) ps += sg.s[d];
            if (++c[d] < shape.n[d]) break;
            c[d] = 0;
            po -= shape.n[d] * og.s[d];
            pi -= shape.n[d] * ig.s[d];
            if (d != dim) ps -= shape.n[d] * sg.s[d];
        }
    }
}
"""


def gather_source(dt):
    """Source of gather over dtype dt."""
    return preamble(dt) + _GATHER % {
        "T": CTYPE[dt], "COPY": store(dt, "out", "po + e * so", load(dt, "src",
                                                                   "ps + e * ss + j * sd"))}


_SCATTER = r"""
KERNEL void scatter(GLOBAL %(T)s* out, geo_t og, GLOBAL const long* idx, geo_t ig,
                    GLOBAL const %(T)s* src, geo_t sg, %(V)s sval, dims_t lshape, int lnd,
                    long ost, long ist, long sst, long L, long dsize, long n) {
    long g = GID(0);
    if (g >= n) return;
    long r = g, po = og.off, pi = ig.off, ps = sg.off;
    for (int d = lnd - 1; d >= 0; --d) {
        long c = r %% lshape.n[d];
        r /= lshape.n[d];
        po += c * og.s[d];
        pi += c * ig.s[d];
        ps += c * sg.s[d];
    }
    for (long k = 0; k < L; ++k) {
        long j = idx[pi + k * ist];
        if (j < 0) j += dsize;
        if (j < 0 || j >= dsize) continue;
        %(V)s v = %(SRC)s;
        long q = po + j * ost;
        %(UPDATE)s;
    }
}
"""


def _scatter_update(dt, reduce):
    old = load(dt, "out", "q")
    upd = {None: "v", "sum": f"{old} + v", "prod": f"{old} * v"}[reduce]
    if dt is plugtorch.bool and reduce is not None:
        upd = f"{old} | v" if reduce == "sum" else f"{old} & v"
    return upd


def scatter_source(dt, reduce, is_t):
    """Source of scatter into dtype dt (reduce None/"sum"/"prod"; src a tensor if is_t)."""
    return preamble(dt) + _SCATTER % {
        "T": CTYPE[dt], "V": VTYPE[dt], "SRC": load(dt, "src", "ps + k * sst") if is_t else "sval",
        "UPDATE": store(dt, "out", "q", cast(_scatter_update(dt, reduce), dt, dt))}


_UNIFORM = r"""
KERNEL void uniform(GLOBAL %(T)s* out, geo_t og, dims_t shape, int nd, uint s0, uint s1,
                    ulong offset, long n) {
    long i = GID(0);
    if (i >= n) return;
    ulong c = offset + (ulong)i;
    uint x0 = (uint)c, x1 = (uint)(c >> 32), x2 = 0, x3 = 0, k0 = s0, k1 = s1;
    for (int r = 0; r < 10; ++r) {
        ulong p0 = (ulong)x0 * 0xD2511F53UL, p1 = (ulong)x2 * 0xCD9E8D57UL;
        uint y0 = (uint)(p1 >> 32) ^ x1 ^ k0, y2 = (uint)(p0 >> 32) ^ x3 ^ k1;
        x1 = (uint)p1; x3 = (uint)p0; x0 = y0; x2 = y2;
        k0 += 0x9E3779B9U; k1 += 0xBB67AE85U;
    }
    %(STORE)s;
}
"""

_UNIFORM_VALUE = {
    plugtorch.float32: "(float)(x0 >> 8) * (float)(1.0f / 16777216.0f)",
    plugtorch.float64: "((double)(x0 >> 5) * 67108864.0 + (double)(x1 >> 6))"
                       " * (1.0 / 9007199254740992.0)",
    plugtorch.float16: "(float)(x0 >> 21) * (1.0f / 2048.0f)",
}


def uniform_source(dt):
    """Source of the Philox uniform generator writing float dtype dt."""
    return preamble(dt) + _UNIFORM % {
        "T": CTYPE[dt], "STORE": store(dt, "out", "at(i, shape, nd, og)", _UNIFORM_VALUE[dt])}
