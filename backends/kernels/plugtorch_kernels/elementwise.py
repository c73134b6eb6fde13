"""Elementwise kernel sources: unary, binary, where, copy (with casts), fill, arange.

One template serves them all: an output and up to three operands, each a tensor or a scalar
passed by value. A program holds two kernels, `k_c` for the contiguous fast path (one
index, an offset per operand) and `k_s` for strided operands (shape and strides as struct
arguments, see cl_source.HEADER); geometry.elementwise_plan picks one per launch.
"""
from .cl_source import CTYPE, VTYPE, preamble, cast, load, store

_TEMPLATE = r"""
#define T %(T)s
%(helpers)s
KERNEL void k_c(GLOBAL %(OT)s* out, long oo%(cparams)s, long n) {
    long i = GID(0);
    if (i >= n) return;
%(cloads)s
    %(cstore)s;
}
KERNEL void k_s(GLOBAL %(OT)s* out, geo_t go%(sparams)s, dims_t shape, int nd, long n) {
    long i = GID(0);
    if (i >= n) return;
    long qo = go.off%(offs)s;
    /* the coordinates of i, computed once for every operand; 32-bit division (several
       times cheaper than 64-bit) whenever the element count allows it */
    if (n <= 0x7fffffffL) {
        uint r = (uint)i;
        for (int d = nd - 1; d > 0; --d) {
            uint len = (uint)shape.n[d], c = r %% len;
            r /= len;
            qo += (long)c * go.s[d]%(steps)s;
        }
        qo += (long)r * go.s[0]%(last)s;
    } else {
        long r = i;
        for (int d = nd - 1; d > 0; --d) {
            long len = shape.n[d], c = r %% len;
            r /= len;
            qo += c * go.s[d]%(steps)s;
        }
        qo += r * go.s[0]%(last)s;
    }
%(sloads)s
    %(sstore)s;
}
"""


def source(expr, edt, odt, idts, kinds, tdt, helpers=""):
    """Kernel source computing `expr` (of dtype edt) from operands x0.. into dtype odt."""
    cp, cl, sp, sl = [], [], [], []
    offs, steps, last = [], [], []
    for k, (dt, kind) in enumerate(zip(idts, kinds)):
        c, v = CTYPE[dt], VTYPE[dt]
        if kind == "s":
            cp.append(f", {v} s{k}")
            sp.append(f", {v} s{k}")
            cl.append(f"    {v} x{k} = s{k};")
            sl.append(f"    {v} x{k} = s{k};")
        else:
            cp.append(f", GLOBAL const {c}* p{k}, long o{k}")
            sp.append(f", GLOBAL const {c}* p{k}, geo_t g{k}")
            cl.append(f"    {v} x{k} = {load(dt, f'p{k}', f'o{k} + i')};")
            sl.append(f"    {v} x{k} = {load(dt, f'p{k}', f'q{k}')};")
            offs.append(f", q{k} = g{k}.off")
            steps.append(f"; q{k} += (long)c * g{k}.s[d]")
            last.append(f"; q{k} += (long)r * g{k}.s[0]")
    value = cast(expr, edt, odt)
    return preamble(odt, tdt, *idts) + _TEMPLATE % {
        "T": VTYPE[tdt], "OT": CTYPE[odt], "helpers": helpers,
        "cstore": store(odt, "out", "oo + i", value), "sstore": store(odt, "out", "qo", value),
        "cparams": "".join(cp), "sparams": "".join(sp), "cloads": "\n".join(cl),
        "sloads": "\n".join(sl), "offs": "".join(offs), "steps": "".join(steps),
        "last": "".join(last)}


_ARANGE = r"""
KERNEL void arange(GLOBAL %(OT)s* out, long oo, long os, %(A)s start, %(A)s step, long n) {
    long i = GID(0);
    if (i >= n) return;
    %(store)s;
}
"""


def arange_source(odt, acc):
    """Source of the arange kernel writing dtype odt, counting in dtype acc."""
    return preamble(odt, acc) + _ARANGE % {
        "OT": CTYPE[odt], "A": CTYPE[acc],
        "store": store(odt, "out", "oo + i * os", cast(f"start + ({CTYPE[acc]})i * step",
                                                      acc, odt))}
