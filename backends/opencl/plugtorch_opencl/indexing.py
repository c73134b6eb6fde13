"""Index kernels: gather, scatter (None/sum/prod), sort, nonzero, and Philox `uniform`.

scatter runs one work-item per line of `index` along `dim` and walks the line in order:
every output element a line can touch lies in that same line of `out`, so lines never
race, no atomics are needed, and duplicate indices resolve as on the CPU (the last write
wins; sums and products accumulate in order).
"""
from plugtorch import _dtype as D

from .cl_source import CTYPE, preamble, cast, scalar_arg
from .geometry import dims_struct, geo_struct

# kernel scalars go as Python ints (see NOTE [launch cost] in runtime.py)
_i64 = _i32 = _u32 = int


def _full_geo(t, drop=None):
    """(shape, strides) of t without dim `drop` (kept un-merged: few dims, exact order)."""
    dims = [i for i in range(len(t._shape)) if i != drop]
    return [t._shape[i] for i in dims], [t._stride[i] for i in dims]


_GATHER = r"""
KERNEL void gather(GLOBAL %(T)s* out, geo_t og, GLOBAL const %(T)s* src, geo_t sg,
                   GLOBAL const long* idx, geo_t ig, dims_t shape, int nd, int dim,
                   long dsize, long n) {
    long g = GID(0);
    if (g >= n) return;
    long r = g, po = og.off, ps = sg.off, pi = ig.off;
    for (int d = nd - 1; d >= 0; --d) {
        long c = r %% shape.n[d];
        r /= shape.n[d];
        po += c * og.s[d];
        pi += c * ig.s[d];
        if (d != dim) ps += c * sg.s[d];
    }
    long j = idx[pi];
    if (j < 0) j += dsize;
    out[po] = src[ps + j * sg.s[dim]];
}
"""


def gather_source(dt):
    """Source of gather over dtype dt."""
    return preamble(dt) + _GATHER % {"T": CTYPE[dt]}


def make_gather(backend):
    def gather(out, src, dim, index):
        rt = backend.rt(out)
        dt = src._dtype
        n = out.numel()
        if n == 0:
            return
        if index._dtype is not D.int64:
            from plugtorch.ops._core import cast_meta
            index = cast_meta(index, D.int64)
        ks = rt.kernels(("gather", dt), lambda: gather_source(dt), f"gather ({dt.name})")
        rt.launch(ks["gather"], n, out._storage.data, geo_struct(out._offset, out._stride),
                  src._storage.data, geo_struct(src._offset, src._stride), index._storage.data,
                  geo_struct(index._offset, index._stride), dims_struct(index._shape),
                  _i32(len(index._shape)), _i32(dim), _i64(src._shape[dim]), _i64(n))
    return gather


_SCATTER = r"""
KERNEL void scatter(GLOBAL %(T)s* out, geo_t og, GLOBAL const long* idx, geo_t ig,
                    GLOBAL const %(T)s* src, geo_t sg, %(T)s sval, dims_t lshape, int lnd,
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
        %(T)s v = %(SRC)s;
        long q = po + j * ost;
        out[q] = %(UPDATE)s;
    }
}
"""


def _scatter_update(dt, reduce):
    upd = {None: "v", "sum": "out[q] + v", "prod": "out[q] * v"}[reduce]
    if dt is D.bool and reduce is not None:
        upd = "out[q] | v" if reduce == "sum" else "out[q] & v"
    return upd


def scatter_source(dt, reduce, is_t):
    """Source of scatter into dtype dt (reduce None/"sum"/"prod"; src a tensor if is_t)."""
    return preamble(dt) + _SCATTER % {
        "T": CTYPE[dt], "SRC": "src[ps + k * sst]" if is_t else "sval",
        "UPDATE": cast(_scatter_update(dt, reduce), dt, dt)}


def make_scatter(backend):
    def scatter(out, dim, index, src, reduce):
        rt = backend.rt(out)
        dt = out._dtype
        is_t = hasattr(src, "_storage")
        L = index._shape[dim] if index._shape else 1
        n = index.numel() // L if L else 0
        if n == 0:
            return
        if index._dtype is not D.int64:
            from plugtorch.ops._core import cast_meta
            index = cast_meta(index, D.int64)
        if is_t and src._dtype is not dt:
            from plugtorch.ops._core import cast_meta
            src = cast_meta(src, dt)
        upd = _scatter_update(dt, reduce)
        key = ("scatter", dt, upd, is_t)
        ks = rt.kernels(key, lambda: scatter_source(dt, reduce, is_t), f"scatter ({dt.name})")
        ishape, ist = _full_geo(index, dim) if index._shape else ([], [])
        _, ost = _full_geo(out, dim) if out._shape else ([], [])
        if is_t:
            _, sst = _full_geo(src, dim) if src._shape else ([], [])
            sbuf, soff, sd = src._storage.data, src._offset, (src._stride[dim] if src._shape
                                                              else 0)
        else:
            sbuf, soff, sst, sd = out._storage.data, 0, [], 0
        rt.launch(ks["scatter"], n, out._storage.data, geo_struct(out._offset, ost),
                  index._storage.data, geo_struct(index._offset, ist), sbuf,
                  geo_struct(soff, sst), scalar_arg(0 if is_t else src, dt),
                  dims_struct(ishape), _i32(len(ishape)),
                  _i64(out._stride[dim] if out._shape else 0),
                  _i64(index._stride[dim] if index._shape else 0), _i64(sd), _i64(L),
                  _i64(out._shape[dim] if out._shape else 1), _i64(n))
    return scatter


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
    out[at(i, shape, nd, og)] = %(VALUE)s;
}
"""

_UNIFORM_VALUE = {
    D.float32: "(float)(x0 >> 8) * (float)(1.0f / 16777216.0f)",
    D.float64: "((double)(x0 >> 5) * 67108864.0 + (double)(x1 >> 6)) * (1.0 / 9007199254740992.0)",
    D.float16: "(half)((float)(x0 >> 21) * (1.0f / 2048.0f))",
}


def uniform_source(dt):
    """Source of the Philox uniform generator writing float dtype dt."""
    return preamble(dt) + _UNIFORM % {"T": CTYPE[dt], "VALUE": _UNIFORM_VALUE[dt]}


def make_uniform(backend):
    def uniform(out, seed, offset):
        rt = backend.rt(out)
        dt = out._dtype
        n = out.numel()
        if n == 0:
            return
        ks = rt.kernels(("uniform", dt), lambda: uniform_source(dt), f"uniform ({dt.name})")
        seed = int(seed) & (2 ** 64 - 1)
        rt.launch(ks["uniform"], n, out._storage.data, geo_struct(out._offset, out._stride),
                  dims_struct(out._shape), _i32(len(out._shape)), _u32(seed & 0xFFFFFFFF),
                  _u32(seed >> 32), int(offset) % 2 ** 64, _i64(n))
    return uniform


def kernels(backend):
    from .sorting import make_sort, make_nonzero
    return {"gather": make_gather(backend), "scatter": make_scatter(backend),
            "uniform": make_uniform(backend), "sort": make_sort(backend),
            "nonzero": make_nonzero(backend)}
