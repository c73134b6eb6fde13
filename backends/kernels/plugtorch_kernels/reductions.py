"""Reduction sources: sum, prod, amax, amin, any, all over any dims, argmax/argmin, cumsum.

NOTE [reduction layout]
The input's dims split into kept dims (the output's shape) and reduced dims; each set is
merged on its own (geometry.merge), so the common cases reach the kernel as one kept and one
reduced dim and the inner loop just adds a stride. Work-item g handles output m = g / P and
the g % P-th chunk of the K reduced elements. When there are few outputs (M small, K large)
P > 1: a first pass writes M x P partial results in the accumulator dtype and a second
pass of the same kernel (sum for sum, or for any, ...) reduces them; otherwise P = 1 and
the first pass writes the output directly.
"""
import plugtorch

from .cl_source import CTYPE, VTYPE, preamble, cast, load, store

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


def spec(op, xdt, odt):
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
    acc, ident, load_v, comb = spec(op, xdt, odt)
    return preamble(xdt, odt, acc) + _TEMPLATE % {
        "OT": CTYPE[odt], "XT": CTYPE[xdt], "XV": VTYPE[xdt], "ACC": VTYPE[acc], "ID": ident,
        "LOAD": load_v, "COMBINE": comb, "XP": load(xdt, "x", "p"),
        "XAT": load(xdt, "x", "base + at(k, rs, rnd, rg)"),
        "STORE": store(odt, "out", "oo + g", cast("acc", acc, odt))}


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
