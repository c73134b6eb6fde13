"""Elementwise launchers: unary, binary, where, copy (with casts), fill, arange.

The sources and launch plans are the kernel library's (plugtorch_kernels.elementwise,
NOTE [elementwise launch plans] in plugtorch_kernels/geometry.py); programs are the
registry's keys ("unary", name, dtype, output dtype), ("binary", ...), ... and every
launch goes through the Runtime protocol.
"""
import itertools
import struct

import plugtorch
from plugtorch import Tensor
from plugtorch.backends import buffer, device_index, dtype, is_tensor, offset, shape, strides

from plugtorch_kernels.args import dims_struct, geo_struct, scalar_arg
from plugtorch_kernels.cl_source import MAXD
from plugtorch_kernels.geometry import contiguous_strides, elementwise_plan, merge
from plugtorch_kernels.launch.matmul import tcopy
from plugtorch_kernels.tuning import LOCAL, elementwise_chunk

_Q = struct.Struct("q").pack


def _new_plan(rt, key):
    """The plan of `key` (NOTE [elementwise launch plans]), kept in `rt.plans`."""
    plans = rt.plans
    if len(plans) > 4096:
        plans.clear()
    plan = plans[key] = elementwise_plan(key[0], key[1:], rt.kind, rt.compute_units)
    return plan


def run1(rt, ks, out, x):
    """run() with one tensor operand (unary ops, copy), spelled out: the hot path."""
    key = (shape(out), strides(out), strides(x))
    plan = rt.plans.get(key) or _new_plan(rt, key)
    kind = plan[0]
    if kind == "c":
        rt.launch(ks["k_c"], plan[2], LOCAL, buffer(out), offset(out), buffer(x), offset(x),
                  plan[1], plan[3])
    elif kind == "s":
        _, n, g, sts, dims, nd, chunk = plan
        rt.launch(ks["k_s"], g, LOCAL, buffer(out), _Q(offset(out)) + sts[0], buffer(x),
                  _Q(offset(x)) + sts[1], dims, nd, n, chunk)
    elif kind == "x":
        _split(rt, ks, out, (x,), plan[1], plan[2])


def run2(rt, ks, out, a, b):
    """run() with two tensor operands (binary ops), spelled out: the hot path."""
    key = (shape(out), strides(out), strides(a), strides(b))
    plan = rt.plans.get(key) or _new_plan(rt, key)
    kind = plan[0]
    if kind == "c":
        rt.launch(ks["k_c"], plan[2], LOCAL, buffer(out), offset(out), buffer(a), offset(a),
                  buffer(b), offset(b), plan[1], plan[3])
    elif kind == "s":
        _, n, g, sts, dims, nd, chunk = plan
        rt.launch(ks["k_s"], g, LOCAL, buffer(out), _Q(offset(out)) + sts[0], buffer(a),
                  _Q(offset(a)) + sts[1], buffer(b), _Q(offset(b)) + sts[2], dims, nd, n,
                  chunk)
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
    plan = rt.plans.get(key) or _new_plan(rt, key)
    kind = plan[0]
    if kind == "c":
        args = [buffer(out), offset(out)]
        for o, k in zip(operands, kinds):
            if k == "t":
                args += (buffer(o), offset(o))
            else:
                args.append(o)
        args += (plan[1], plan[3])
        rt.launch(ks["k_c"], plan[2], LOCAL, *args)
    elif kind == "s":
        _, n, g, sts, dims, nd, chunk = plan
        args = [buffer(out), _Q(offset(out)) + sts[0]]
        j = 1
        for o, k in zip(operands, kinds):
            if k == "t":
                args += (buffer(o), _Q(offset(o)) + sts[j])
                j += 1
            else:
                args.append(o)
        args += (dims, nd, n, chunk)
        rt.launch(ks["k_s"], g, LOCAL, *args)
    elif kind == "x":
        _split(rt, ks, out, operands, plan[1], plan[2])


def _split(rt, ks, out, operands, shp, sts):
    """More merged dims than the kernel's MAXD: launch once per index of the leading dims."""
    lead = len(shp) - MAXD
    tail = shp[lead:]
    n = 1
    for s in tail:
        n *= s
    chunk = elementwise_chunk(rt.kind, n, rt.compute_units)
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
        rt.launch_n(ks["k_s"], -(-n // chunk), *args, dims_struct(tail), len(tail), n, chunk)


# ----------------------------------------------------------------------------- primitives

def make_unary(backend, name):
    runtimes = backend.runtimes
    one = len(backend.devices) == 1      # every tensor is on device 0: skip reading it

    def kernel(out, x):
        rt = runtimes[0] if one else runtimes[device_index(out)]
        dt, odt = dtype(x), dtype(out)
        key = ("unary", name, dt, odt)
        ks = rt.programs.get(key) or rt.program(key)
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
        ks = rt.programs.get(key) or rt.program(key)
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
        ks = rt.program(key)
        run(rt, ks, out, ops, kinds)
    return where


def _transposing(rt, out, src):
    """(B, R, C, sb, sr, sc) when copying src into out transposes a matrix (or a batch of
    them) on a CPU device, else None; kept with the launch plans."""
    pkey = ("t", shape(out), strides(out), strides(src))
    plan = rt.plans.get(pkey, False)
    if plan is False:
        plan = None
        shp, (ost, sst) = merge(shape(out), [strides(out), strides(src)])
        if rt.kind == "cpu" and len(shp) in (2, 3) and sst[-2] == 1 and sst[-1] != 1 and \
                ost == contiguous_strides(shp):
            B, R, C = ([1] + shp)[-3:]
            sb = sst[0] if len(shp) == 3 else 0
            plan = (B, R, C, sb, sst[-2], sst[-1])
        rt.plans[pkey] = plan
    return plan


def make_copy(backend):
    runtimes = backend.runtimes
    one = len(backend.devices) == 1

    def copy(out, src):
        rt = runtimes[0] if one else runtimes[device_index(out)]
        sdt, odt = dtype(src), dtype(out)
        if sdt is odt:
            # a transposing copy reads and writes in 16 x 16 blocks on a CPU device: an
            # element-by-element walk of the output reads a new cache line per element
            t = _transposing(rt, out, src)
            if t is not None:
                tcopy(rt, sdt, buffer(out), offset(out), buffer(src), offset(src), *t)
                return
        key = ("copy", sdt, odt)
        ks = rt.programs.get(key) or rt.program(key)
        run1(rt, ks, out, src)
    return copy


def make_fill(backend):
    runtimes = backend.runtimes
    one = len(backend.devices) == 1

    def fill(out, value):
        rt = runtimes[0] if one else runtimes[device_index(out)]
        odt = dtype(out)
        key = ("fill", odt)
        ks = rt.programs.get(key) or rt.program(key)
        run(rt, ks, out, (scalar_arg(value, odt),), "s")
    return fill


def make_arange(backend):
    def arange(out, start, step):
        rt = backend.rt(out)
        odt = dtype(out)
        acc = (plugtorch.int64 if odt.kind != 2 else
               plugtorch.float64 if rt.fp64 else plugtorch.float32)
        key = ("arange", odt, acc)
        ks = rt.program(key)
        n = shape(out)[0]
        rt.launch_n(ks["arange"], n, buffer(out), offset(out), strides(out)[0],
                    scalar_arg(start, acc), scalar_arg(step, acc), n)
    return arange


def kernels(backend):
    """{primitive name: kernel} of this module for `backend`."""
    table = {n: make_unary(backend, n) for n in backend.UNARY}
    table.update({n: make_binary(backend, n) for n in backend.BINARY})
    table.update(where=make_where(backend), copy=make_copy(backend), fill=make_fill(backend),
                 arange=make_arange(backend))
    return table
