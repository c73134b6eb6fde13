"""Elementwise kernels: unary, binary, where, copy (with casts), fill, arange.

One template serves them all: an output and up to three operands, each a tensor or a scalar
passed by value. A program holds two kernels, `k_c` for the contiguous fast path (one
index, an offset per operand) and `k_s` for strided operands (shape and strides as struct
arguments, see cl_source.HEADER). Programs are keyed by (op, output dtype, operand dtypes,
operand kinds); see NOTE [program cache] in runtime.py.
"""
import itertools

import numpy as np

from plugtorch import _dtype as D

from .cl_source import CTYPE, preamble, cast, scalar_np
from .cl_source import MAXD
from .geometry import merge, dims_struct, geo_struct, fits
from . import ops_table

_i64, _i32 = np.int64, np.int32

_TEMPLATE = r"""
#define T %(T)s
%(helpers)s
KERNEL void k_c(GLOBAL %(OT)s* out, long oo%(cparams)s, long n) {
    long i = GID(0);
    if (i >= n) return;
%(cloads)s
    out[oo + i] = %(value)s;
}
KERNEL void k_s(GLOBAL %(OT)s* out, geo_t go%(sparams)s, dims_t shape, int nd, long n) {
    long i = GID(0);
    if (i >= n) return;
%(sloads)s
    out[at(i, shape, nd, go)] = %(value)s;
}
"""


def source(expr, edt, odt, idts, kinds, tdt, helpers=""):
    """Kernel source computing `expr` (of dtype edt) from operands x0.. into dtype odt."""
    cp, cl, sp, sl = [], [], [], []
    for k, (dt, kind) in enumerate(zip(idts, kinds)):
        c = CTYPE[dt]
        if kind == "s":
            cp.append(f", {c} s{k}")
            sp.append(f", {c} s{k}")
            cl.append(f"    {c} x{k} = s{k};")
            sl.append(f"    {c} x{k} = s{k};")
        else:
            cp.append(f", GLOBAL const {c}* p{k}, long o{k}")
            sp.append(f", GLOBAL const {c}* p{k}, geo_t g{k}")
            cl.append(f"    {c} x{k} = p{k}[o{k} + i];")
            sl.append(f"    {c} x{k} = p{k}[at(i, shape, nd, g{k})];")
    return preamble(odt, tdt, *idts) + _TEMPLATE % {
        "T": CTYPE[tdt], "OT": CTYPE[odt], "helpers": helpers, "value": cast(expr, edt, odt),
        "cparams": "".join(cp), "sparams": "".join(sp), "cloads": "\n".join(cl),
        "sloads": "\n".join(sl)}


def run(rt, key, make_source, what, out, operands, idts):
    """Launch the program cached under `key` on `out` and `operands` (tensors or scalars
    already converted with scalar_np)."""
    ks = rt.kernels(key, make_source, what)
    shape = out._shape
    n = 1
    for s in shape:
        n *= s
    if n == 0:
        return
    tens = [o for o in operands if hasattr(o, "_storage")]
    shp, sts = merge(shape, [out._stride] + [t._stride for t in tens])
    if len(shp) <= 1 and all(not s or s[0] == 1 for s in sts):
        args = [out._storage.data, _i64(out._offset)]
        for o in operands:
            if hasattr(o, "_storage"):
                args += [o._storage.data, _i64(o._offset)]
            else:
                args.append(o)
        rt.launch(ks["k_c"], n, *args, _i64(n))
        return
    if not fits(shp):
        return _split(rt, ks, out, operands, shp, sts)
    it = iter(sts[1:])
    args = [out._storage.data, geo_struct(out._offset, sts[0])]
    for o in operands:
        if hasattr(o, "_storage"):
            args += [o._storage.data, geo_struct(o._offset, next(it))]
        else:
            args.append(o)
    rt.launch(ks["k_s"], n, *args, dims_struct(shp), _i32(len(shp)), _i64(n))


def _split(rt, ks, out, operands, shp, sts):
    """More merged dims than the kernel's MAXD: launch once per index of the leading dims."""
    lead = len(shp) - MAXD
    tail = shp[lead:]
    n = 1
    for s in tail:
        n *= s
    tens = [o for o in operands if hasattr(o, "_storage")]
    for idx in itertools.product(*(range(s) for s in shp[:lead])):
        offs = [t._offset + sum(i * st[d] for d, i in enumerate(idx))
                for t, st in zip([out] + tens, sts)]
        args = [out._storage.data, geo_struct(offs[0], sts[0][lead:])]
        k = 1
        for o in operands:
            if hasattr(o, "_storage"):
                args += [o._storage.data, geo_struct(offs[k], sts[k][lead:])]
                k += 1
            else:
                args.append(o)
        rt.launch(ks["k_s"], n, *args, dims_struct(tail), _i32(len(tail)), _i64(n))




# ----------------------------------------------------------------------------- primitives

def make_unary(backend, name):
    def kernel(out, x):
        rt = backend.rt(out)
        dt, odt = x._dtype, out._dtype
        key = ("unary", name, dt, odt)

        def make():
            expr, edt = ops_table.unary_expr(name, dt)
            return source(expr, edt, odt, (dt,), "t", dt)
        run(rt, key, make, f"{name} ({dt.name})", out, (x,), (dt,))
    kernel.__name__ = name
    return kernel


def make_binary(backend, name):
    def kernel(out, a, b):
        rt = backend.rt(out)
        ta, tb = hasattr(a, "_storage"), hasattr(b, "_storage")
        dt = a._dtype if ta else b._dtype
        odt = out._dtype
        kinds = ("t" if ta else "s") + ("t" if tb else "s")
        key = ("binary", name, dt, odt, kinds)

        def make():
            expr, edt, helpers = ops_table.binary_expr(name, dt, CTYPE[dt])
            return source(expr, edt, odt, (dt, dt), kinds, dt, helpers)
        if not ta:
            a = scalar_np(a, dt)
        if not tb:
            b = scalar_np(b, dt)
        run(rt, key, make, f"{name} ({dt.name})", out, (a, b), (dt, dt))
    kernel.__name__ = name
    return kernel


def make_where(backend):
    def where(out, cond, a, b):
        rt = backend.rt(out)
        dt = out._dtype
        ops, kinds = [cond], "t"
        for v in (a, b):
            if hasattr(v, "_storage"):
                ops.append(v)
                kinds += "t"
            else:
                ops.append(scalar_np(v, dt))
                kinds += "s"
        key = ("where", dt, kinds)
        run(rt, key, lambda: source("(x0 ? x1 : x2)", dt, dt, (D.bool, dt, dt), kinds, dt),
            f"where ({dt.name})", out, ops, (D.bool, dt, dt))
    return where


def make_copy(backend):
    def copy(out, src):
        rt = backend.rt(out)
        sdt, odt = src._dtype, out._dtype
        key = ("copy", sdt, odt)
        run(rt, key, lambda: source("x0", sdt, odt, (sdt,), "t", sdt),
            f"copy ({sdt.name} to {odt.name})", out, (src,), (sdt,))
    return copy


def make_fill(backend):
    def fill(out, value):
        rt = backend.rt(out)
        odt = out._dtype
        key = ("fill", odt)
        run(rt, key, lambda: source("x0", odt, odt, (odt,), "s", odt),
            f"fill ({odt.name})", out, (scalar_np(value, odt),), (odt,))
    return fill


_ARANGE = r"""
KERNEL void arange(GLOBAL %(OT)s* out, long oo, long os, %(A)s start, %(A)s step, long n) {
    long i = GID(0);
    if (i >= n) return;
    out[oo + i * os] = %(value)s;
}
"""


def make_arange(backend):
    def arange(out, start, step):
        rt = backend.rt(out)
        odt = out._dtype
        acc = D.int64 if odt.kind != 2 else (D.float64 if rt.fp64 else D.float32)
        key = ("arange", odt, acc)

        def make():
            return preamble(odt, acc) + _ARANGE % {
                "OT": CTYPE[odt], "A": CTYPE[acc],
                "value": cast(f"start + ({CTYPE[acc]})i * step", acc, odt)}
        ks = rt.kernels(key, make, f"arange ({odt.name})")
        n = out._shape[0]
        rt.launch(ks["arange"], n, out._storage.data, _i64(out._offset), _i64(out._stride[0]),
                  scalar_np(start, acc), scalar_np(step, acc), _i64(n))
    return arange


def kernels(backend):
    """{primitive name: kernel} of this module for `backend`."""
    table = {n: make_unary(backend, n) for n in backend.UNARY}
    table.update({n: make_binary(backend, n) for n in backend.BINARY})
    table.update(where=make_where(backend), copy=make_copy(backend), fill=make_fill(backend),
                 arange=make_arange(backend))
    return table
