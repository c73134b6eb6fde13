"""Reductions over any dims (sum, prod, amax, amin, any, all), argmax/argmin and cumsum.

NOTE [reduction layout]
The input's dims split into kept dims (the output's shape) and reduced dims; each set is
merged on its own (geometry.merge), so the common cases reach the kernel as one kept and one
reduced dim and the inner loop just adds a stride. Work-item g handles output m = g / P and
the g % P-th chunk of the K reduced elements. When there are few outputs (M small, K large)
P > 1: a first pass writes M x P partial results in the accumulator dtype and a second
pass of the same kernel (sum for sum, or for any, ...) reduces them; otherwise P = 1 and
the first pass writes the output directly.
"""
import struct

import plugtorch
from plugtorch.backends import buffer, device_index, dtype, numel, offset, shape, strides

from .cl_source import CTYPE, VTYPE, preamble, cast, load, store
from .geometry import merge, dims_struct, geo_struct
from .runtime import LOCAL_SIZE

# kernel scalars go as Python ints (see NOTE [launch cost] in runtime.py)
_i64 = _i32 = int

_TEMPLATE = r"""
KERNEL void red(GLOBAL %(OT)s* out, long oo, GLOBAL const %(XT)s* x, geo_t kg, dims_t ks,
                int knd, geo_t rg, dims_t rs, int rnd, long M, long K, long P, long chunk) {
    long g = GID(0);
    if (g >= M * P) return;
    long m = g / P, part = g - m * P;
    long base = at(m, ks, knd, kg);
    long k0 = part * chunk, k1 = k0 + chunk < K ? k0 + chunk : K;
    %(ACC)s acc = %(ID)s;
    if (rnd <= 1) {
        long st = rg.s[0];
        long p = base + k0 * st;
        for (long k = k0; k < k1; ++k, p += st) {
            %(XV)s xv = %(XP)s;
            %(ACC)s v = %(LOAD)s;
            acc = %(COMBINE)s;
        }
    } else {
        for (long k = k0; k < k1; ++k) {
            %(XV)s xv = %(XAT)s;
            %(ACC)s v = %(LOAD)s;
            acc = %(COMBINE)s;
        }
    }
    %(STORE)s;
}
"""

_INT_MIN = {plugtorch.uint8: "0", plugtorch.int8: "(-128)", plugtorch.int16: "(-32768)",
            plugtorch.int32: "(-2147483647 - 1)", plugtorch.int64: "(-9223372036854775807L - 1)",
            plugtorch.bool: "0"}
_INT_MAX = {plugtorch.uint8: "255", plugtorch.int8: "127", plugtorch.int16: "32767",
            plugtorch.int32: "2147483647", plugtorch.int64: "9223372036854775807L",
            plugtorch.bool: "1"}


def _spec(op, xdt, odt):
    """(accumulator dtype, identity, load expr over xv, combine expr over acc and v).

    float16 sums and products accumulate in float32 and round once, as PyTorch does.
    """
    if op in ("sum", "prod"):
        acc = plugtorch.float32 if odt is plugtorch.float16 else odt
        return (acc, "0" if op == "sum" else "1", f"({VTYPE[acc]})xv",
                "acc + v" if op == "sum" else "acc * v")
    if op in ("any", "all"):
        return (plugtorch.bool, "0" if op == "any" else "1", "(xv != 0)",
                "acc | v" if op == "any" else "acc & v")
    f = xdt.kind == 2
    if op == "amax":
        ident = "(-INFINITY)" if f else _INT_MIN[xdt]
        comb = "((isnan(acc) || acc >= v) ? acc : v)" if f else "(acc >= v ? acc : v)"
    else:
        ident = "INFINITY" if f else _INT_MAX[xdt]
        comb = "((isnan(acc) || acc <= v) ? acc : v)" if f else "(acc <= v ? acc : v)"
    return xdt, ident, "xv", comb


def red_source(op, xdt, odt):
    """Source of reduction `op` (sum, prod, amax, amin, any, all) from xdt into odt."""
    acc, ident, load_v, comb = _spec(op, xdt, odt)
    return preamble(xdt, odt, acc) + _TEMPLATE % {
        "OT": CTYPE[odt], "XT": CTYPE[xdt], "XV": VTYPE[xdt], "ACC": VTYPE[acc], "ID": ident,
        "LOAD": load_v, "COMBINE": comb, "XP": load(xdt, "x", "p"),
        "XAT": load(xdt, "x", "base + at(k, rs, rnd, rg)"),
        "STORE": store(odt, "out", "oo + g", cast("acc", acc, odt))}


def _launch_red(rt, op, out_buf, oo, xbuf, xdt, odt, kshape, kstrides, xoff, rshape, rstrides,
                P, chunk):
    key = ("reduce", op, xdt, odt)
    ks = rt.programs.get(key) or rt.kernels(key, lambda: red_source(op, xdt, odt),
                                            f"{op} ({xdt.name})")
    M = 1
    for n in kshape:
        M *= n
    K = 1
    for n in rshape:
        K *= n
    rt.launch(ks["red"], M * P, out_buf, oo, xbuf, geo_struct(xoff, kstrides),
              dims_struct(kshape), len(kshape), geo_struct(0, rstrides or [0]),
              dims_struct(rshape), len(rshape), M, K, P, chunk)


def _split_dims(xshape, xstrides, dims):
    """Merged (kept shape, kept strides), (reduced shape, reduced strides) of a tensor of
    shape `xshape` and strides `xstrides` reduced over `dims`."""
    kept = [i for i in range(len(xshape)) if i not in dims]
    kshape = tuple(xshape[i] for i in kept)
    out_st = []
    acc = 1
    for n in reversed(kshape):
        out_st.append(acc)
        acc *= n
    kshp, (kst, _) = merge(kshape, [[xstrides[i] for i in kept], out_st[::-1]])
    rshp, (rst,) = merge(tuple(xshape[i] for i in dims), [[xstrides[i] for i in dims]])
    return kshp, kst, rshp, rst


# NOTE [reduction plans]
# Everything of a one-pass launch but the buffers and offsets depends only on (input shape,
# input strides, dims), so it is computed once and kept: the packed kept strides (the
# input's geo_t minus its offset), the packed kept dims, the reduced geo_t and dims, M, K,
# and the global size of a one-pass launch (M rounded up to LOCAL_SIZE).
_PLANS = {}
_Q = struct.Struct("q").pack


def _plan(xshape, xstrides, dims):
    kshp, kst, rshp, rst = _split_dims(xshape, xstrides, dims)
    M = 1
    for n in kshp:
        M *= n
    K = 1
    for n in rshp:
        K *= n
    # few outputs and a long reduction: split each into P chunks (two passes)
    P = 1
    if M < 256 and K >= 4096:
        P = min(max(1, 512 // M), K // 1024)
    return (M, K, P, geo_struct(0, kst)[8:], dims_struct(kshp), len(kshp),
            geo_struct(0, rst or [0]), dims_struct(rshp), len(rshp), kshp, kst, rshp, rst,
            ((M + LOCAL_SIZE - 1) // LOCAL_SIZE * LOCAL_SIZE,))


def make_reduction(backend, op):
    runtimes = backend.runtimes
    one = len(backend.devices) == 1      # every tensor is on device 0: skip reading it

    def kernel(out, x, dims):
        rt = runtimes[0] if one else runtimes[device_index(out)]
        gkey = (shape(x), strides(x), tuple(dims))
        plan = _PLANS.get(gkey)
        if plan is None:
            if len(_PLANS) > 4096:
                _PLANS.clear()
            plan = _PLANS[gkey] = _plan(*gkey)
        M, K, P = plan[0], plan[1], plan[2]
        if M == 0:              # out is empty (M is the product of x's kept dims)
            return
        xdt, odt = dtype(x), dtype(out)
        if P == 1:
            key = ("reduce", op, xdt, odt)
            ks = rt.programs.get(key) or rt.kernels(key, lambda: red_source(op, xdt, odt),
                                                    f"{op} ({xdt.name})")
            ks["red"](rt.queue, plan[13], rt.local, buffer(out), offset(out),
                      buffer(x), _Q(offset(x)) + plan[3], plan[4], plan[5], plan[6],
                      plan[7], plan[8], M, K, 1, K)
            return
        kshp, kst, rshp, rst = plan[9:13]
        acc = _spec(op, xdt, odt)[0]
        chunk = -(-K // P)
        part = rt.alloc(M * P * acc.itemsize)
        _launch_red(rt, op, part, 0, buffer(x), xdt, acc, kshp, kst, offset(x), rshp,
                    rst, P, chunk)
        _launch_red(rt, op, buffer(out), offset(out), part, acc, odt, [M], [P], 0,
                    [P], [1], 1, P)
    kernel.__name__ = op
    return kernel


_ARG_TEMPLATE = r"""
KERNEL void arg(GLOBAL long* out, long oo, GLOBAL const %(XT)s* x, geo_t kg, dims_t ks,
                int knd, long st, long M, long K) {
    long m = GID(0);
    if (m >= M) return;
    long p = at(m, ks, knd, kg);
    %(XV)s best = %(XP)s;
    long bi = 0;
    for (long k = 1; k < K; ++k) {
        p += st;
        %(XV)s v = %(XP)s;
        if (%(BETTER)s) { best = v; bi = k; }
    }
    out[oo + m] = bi;
}
"""


def arg_source(op, xdt):
    """Source of argmax/argmin (`op`) over dtype xdt."""
    f = xdt.kind == 2
    cmp = ">" if op == "argmax" else "<"
    better = f"!isnan(best) && (isnan(v) || v {cmp} best)" if f else f"v {cmp} best"
    return preamble(xdt) + _ARG_TEMPLATE % {"XT": CTYPE[xdt], "XV": VTYPE[xdt],
                                            "XP": load(xdt, "x", "p"), "BETTER": better}


def make_arg(backend, op):
    def kernel(out, x, dim):
        rt = backend.rt(out)
        xdt = dtype(x)
        xshape, xstrides = shape(x), strides(x)
        ks = rt.kernels(("arg", op, xdt), lambda: arg_source(op, xdt), f"{op} ({xdt.name})")
        kshp, kst, _, _ = _split_dims(xshape, xstrides, (dim,))
        M = 1
        for n in kshp:
            M *= n
        rt.launch(ks["arg"], M, buffer(out), _i64(offset(out)), buffer(x),
                  geo_struct(offset(x), kst), dims_struct(kshp), _i32(len(kshp)),
                  _i64(xstrides[dim]), _i64(M), _i64(xshape[dim]))
    kernel.__name__ = op
    return kernel


_CUMSUM = r"""
KERNEL void cumsum(GLOBAL %(OT)s* out, geo_t og, GLOBAL const %(XT)s* x, geo_t xg, dims_t ks,
                   int knd, long ost, long xst, long M, long K) {
    long m = GID(0);
    if (m >= M) return;
    long p = at(m, ks, knd, xg), q = at(m, ks, knd, og);
    %(ACC)s acc = 0;
    for (long k = 0; k < K; ++k, p += xst, q += ost) {
        acc += (%(ACC)s)%(XP)s;
        %(STORE)s;
    }
}
"""


def cumsum_source(xdt, odt):
    """Source of cumsum from dtype xdt into dtype odt (float16 accumulates in float)."""
    acc = plugtorch.float32 if odt is plugtorch.float16 else odt
    return preamble(xdt, odt) + _CUMSUM % {
        "XT": CTYPE[xdt], "OT": CTYPE[odt], "ACC": VTYPE[acc], "XP": load(xdt, "x", "p"),
        "STORE": store(odt, "out", "q", cast("acc", acc, odt))}


def make_cumsum(backend):
    def cumsum(out, x, dim):
        rt = backend.rt(out)
        xdt, odt = dtype(x), dtype(out)
        xshape, xstrides, ostrides = shape(x), strides(x), strides(out)
        if numel(shape(out)) == 0:
            return
        ks = rt.kernels(("cumsum", xdt, odt), lambda: cumsum_source(xdt, odt),
                        f"cumsum ({xdt.name})")
        kept = [i for i in range(len(xshape)) if i != dim]
        kshp, (xst, ost) = merge(tuple(xshape[i] for i in kept),
                                 [[xstrides[i] for i in kept], [ostrides[i] for i in kept]])
        M = 1
        for n in kshp:
            M *= n
        rt.launch(ks["cumsum"], M, buffer(out), geo_struct(offset(out), ost),
                  buffer(x), geo_struct(offset(x), xst), dims_struct(kshp),
                  _i32(len(kshp)), _i64(ostrides[dim]), _i64(xstrides[dim]), _i64(M),
                  _i64(xshape[dim]))
    return cumsum


def kernels(backend):
    table = {op: make_reduction(backend, op) for op in ("sum", "prod", "amax", "amin", "any",
                                                         "all")}
    table.update(argmax=make_arg(backend, "argmax"), argmin=make_arg(backend, "argmin"),
                 cumsum=make_cumsum(backend))
    return table
