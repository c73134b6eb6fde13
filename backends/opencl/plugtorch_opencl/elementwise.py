"""Elementwise kernels: unary, binary, where, copy (with casts), fill, arange.

One template serves them all: an output and up to three operands, each a tensor or a scalar
passed by value. A program holds two kernels, `k_c` for the contiguous fast path (one
index, an offset per operand) and `k_s` for strided operands (shape and strides as struct
arguments, see cl_source.HEADER). Programs are keyed by (op, output dtype, operand dtypes,
operand kinds); see NOTE [program cache] in runtime.py.
"""
import itertools
import struct

import plugtorch
from plugtorch import Tensor
from plugtorch.backends import buffer, device_index, dtype, is_tensor, offset, shape, strides

from .cl_source import CTYPE, VTYPE, preamble, cast, load, store, scalar_arg
from .cl_source import MAXD
from .geometry import merge, dims_struct, geo_struct, fits
from .runtime import LOCAL_SIZE
from . import ops_table

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


# NOTE [elementwise launch plans]
# A launch's geometry depends only on the output shape and the operands' strides, and a
# program runs the same few shapes over and over, so the merged geometry is computed once
# per (shape, strides) and kept as a plan: ("c", n, global size) for the contiguous kernel,
# or ("s", n, global size, [packed strides per tensor operand], packed dims, nd) for the
# strided one (an operand's geo_t is its packed offset followed by those stride bytes), or
# ("x", shp, sts) when more than MAXD merged dims remain (_split). Offsets are not part of
# the key. The global size is n rounded up to LOCAL_SIZE (NOTE [launch geometry]), the same
# on every device.
_PLANS = {}
_Q = struct.Struct("q").pack


def _plan(oshape, ostrides):
    n = 1
    for s in oshape:
        n *= s
    shp, sts = merge(oshape, ostrides)
    if n == 0:
        return (None, 0)
    g = ((n + LOCAL_SIZE - 1) // LOCAL_SIZE * LOCAL_SIZE,)
    if len(shp) <= 1 and all(not s or s[0] == 1 for s in sts):
        return ("c", n, g)
    if not fits(shp):
        return ("x", shp, sts)
    return ("s", n, g, [geo_struct(0, st)[8:] for st in sts], dims_struct(shp), len(shp))


def _new_plan(key):
    if len(_PLANS) > 4096:
        _PLANS.clear()
    plan = _PLANS[key] = _plan(key[0], key[1:])
    return plan


def run1(rt, ks, out, x):
    """run() with one tensor operand (unary ops, copy), spelled out: the hot path."""
    key = (shape(out), strides(out), strides(x))
    plan = _PLANS.get(key) or _new_plan(key)
    kind = plan[0]
    if kind == "c":
        ks["k_c"](rt.queue, plan[2], rt.local, buffer(out), offset(out), buffer(x), offset(x),
                  plan[1])
    elif kind == "s":
        _, n, g, sts, dims, nd = plan
        ks["k_s"](rt.queue, g, rt.local, buffer(out), _Q(offset(out)) + sts[0], buffer(x),
                  _Q(offset(x)) + sts[1], dims, nd, n)
    elif kind == "x":
        _split(rt, ks, out, (x,), plan[1], plan[2])


def run2(rt, ks, out, a, b):
    """run() with two tensor operands (binary ops), spelled out: the hot path."""
    key = (shape(out), strides(out), strides(a), strides(b))
    plan = _PLANS.get(key) or _new_plan(key)
    kind = plan[0]
    if kind == "c":
        ks["k_c"](rt.queue, plan[2], rt.local, buffer(out), offset(out), buffer(a), offset(a),
                  buffer(b), offset(b), plan[1])
    elif kind == "s":
        _, n, g, sts, dims, nd = plan
        ks["k_s"](rt.queue, g, rt.local, buffer(out), _Q(offset(out)) + sts[0], buffer(a),
                  _Q(offset(a)) + sts[1], buffer(b), _Q(offset(b)) + sts[2], dims, nd, n)
    elif kind == "x":
        _split(rt, ks, out, (a, b), plan[1], plan[2])


def run(rt, ks, out, operands, kinds):
    """Launch program `ks` on `out` and `operands` (tensors, or scalars already converted
    with scalar_arg, as given by `kinds`, "t" or "s" per operand)."""
    if kinds == "s":        # fill
        key = (shape(out), strides(out))
    else:
        key = (shape(out), strides(out)) + tuple(
            strides(o) for o, k in zip(operands, kinds) if k == "t")
    plan = _PLANS.get(key) or _new_plan(key)
    kind = plan[0]
    if kind == "c":
        n = plan[1]
        args = [buffer(out), offset(out)]
        for o, k in zip(operands, kinds):
            if k == "t":
                args += (buffer(o), offset(o))
            else:
                args.append(o)
        args.append(n)
        ks["k_c"](rt.queue, plan[2], rt.local, *args)
    elif kind == "s":
        _, n, g, sts, dims, nd = plan
        args = [buffer(out), _Q(offset(out)) + sts[0]]
        j = 1
        for o, k in zip(operands, kinds):
            if k == "t":
                args += (buffer(o), _Q(offset(o)) + sts[j])
                j += 1
            else:
                args.append(o)
        args += (dims, nd, n)
        ks["k_s"](rt.queue, g, rt.local, *args)
    elif kind == "x":
        _split(rt, ks, out, operands, plan[1], plan[2])


def _split(rt, ks, out, operands, shp, sts):
    """More merged dims than the kernel's MAXD: launch once per index of the leading dims."""
    lead = len(shp) - MAXD
    tail = shp[lead:]
    n = 1
    for s in tail:
        n *= s
    tens = [o for o in operands if is_tensor(o)]
    bases = [offset(t) for t in [out] + tens]
    for idx in itertools.product(*(range(s) for s in shp[:lead])):
        offs = [base + sum(i * st[d] for d, i in enumerate(idx))
                for base, st in zip(bases, sts)]
        args = [buffer(out), geo_struct(offs[0], sts[0][lead:])]
        k = 1
        for o in operands:
            if is_tensor(o):
                args += [buffer(o), geo_struct(offs[k], sts[k][lead:])]
                k += 1
            else:
                args.append(o)
        rt.launch(ks["k_s"], n, *args, dims_struct(tail), len(tail), n)


# ----------------------------------------------------------------------------- primitives

def make_unary(backend, name):
    runtimes = backend.runtimes
    one = len(backend.devices) == 1      # every tensor is on device 0: skip reading it

    def kernel(out, x):
        rt = runtimes[0] if one else runtimes[device_index(out)]
        dt, odt = dtype(x), dtype(out)
        key = ("unary", name, dt, odt)
        ks = rt.programs.get(key)
        if ks is None:
            def make():
                expr, edt = ops_table.unary_expr(name, dt)
                return source(expr, edt, odt, (dt,), "t", dt)
            ks = rt.kernels(key, make, f"{name} ({dt.name})")
        run1(rt, ks, out, x)
    kernel.__name__ = name
    return kernel


def make_binary(backend, name):
    runtimes = backend.runtimes
    one = len(backend.devices) == 1

    def kernel(out, a, b):
        rt = runtimes[0] if one else runtimes[device_index(out)]
        ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
        dt = dtype(a if ta else b)
        odt = dtype(out)
        kinds = _KINDS[ta, tb]
        key = ("binary", name, dt, odt, kinds)
        ks = rt.programs.get(key)
        if ks is None:
            def make():
                expr, edt, helpers = ops_table.binary_expr(name, dt, VTYPE[dt])
                return source(expr, edt, odt, (dt, dt), kinds, dt, helpers)
            ks = rt.kernels(key, make, f"{name} ({dt.name})")
        if ta and tb:
            run2(rt, ks, out, a, b)
            return
        if not ta:
            a = scalar_arg(a, dt)
        if not tb:
            b = scalar_arg(b, dt)
        run(rt, ks, out, (a, b), kinds)
    kernel.__name__ = name
    return kernel


_KINDS = {(True, True): "tt", (True, False): "ts", (False, True): "st", (False, False): "ss"}


def make_where(backend):
    def where(out, cond, a, b):
        rt = backend.rt(out)
        dt = dtype(out)
        ops, kinds = [cond], "t"
        for v in (a, b):
            if isinstance(v, Tensor):
                ops.append(v)
                kinds += "t"
            else:
                ops.append(scalar_arg(v, dt))
                kinds += "s"
        key = ("where", dt, kinds)
        ks = rt.kernels(key, lambda: source("(x0 ? x1 : x2)", dt, dt, (plugtorch.bool, dt, dt),
                                            kinds, dt), f"where ({dt.name})")
        run(rt, ks, out, ops, kinds)
    return where


def make_copy(backend):
    runtimes = backend.runtimes
    one = len(backend.devices) == 1

    def copy(out, src):
        rt = runtimes[0] if one else runtimes[device_index(out)]
        sdt, odt = dtype(src), dtype(out)
        key = ("copy", sdt, odt)
        ks = rt.programs.get(key) or rt.kernels(
            key, lambda: source("x0", sdt, odt, (sdt,), "t", sdt),
            f"copy ({sdt.name} to {odt.name})")
        run1(rt, ks, out, src)
    return copy


def make_fill(backend):
    runtimes = backend.runtimes
    one = len(backend.devices) == 1

    def fill(out, value):
        rt = runtimes[0] if one else runtimes[device_index(out)]
        odt = dtype(out)
        key = ("fill", odt)
        ks = rt.programs.get(key) or rt.kernels(
            key, lambda: source("x0", odt, odt, (odt,), "s", odt), f"fill ({odt.name})")
        run(rt, ks, out, (scalar_arg(value, odt),), "s")
    return fill


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


def make_arange(backend):
    def arange(out, start, step):
        rt = backend.rt(out)
        odt = dtype(out)
        acc = (plugtorch.int64 if odt.kind != 2 else
               plugtorch.float64 if rt.fp64 else plugtorch.float32)
        key = ("arange", odt, acc)
        ks = rt.kernels(key, lambda: arange_source(odt, acc), f"arange ({odt.name})")
        n = shape(out)[0]
        rt.launch(ks["arange"], n, buffer(out), offset(out), strides(out)[0],
                  scalar_arg(start, acc), scalar_arg(step, acc), n)
    return arange


def kernels(backend):
    """{primitive name: kernel} of this module for `backend`."""
    table = {n: make_unary(backend, n) for n in backend.UNARY}
    table.update({n: make_binary(backend, n) for n in backend.BINARY})
    table.update(where=make_where(backend), copy=make_copy(backend), fill=make_fill(backend),
                 arange=make_arange(backend))
    return table
