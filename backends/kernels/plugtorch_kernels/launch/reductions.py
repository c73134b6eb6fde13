"""Reduction launchers: sum, prod, amax, amin, any, all over any dims, argmax/argmin and
cumsum (sources, layout and plans: plugtorch_kernels.reductions, NOTE [reduction layout]
and NOTE [reduction plans])."""
import struct

from plugtorch.backends import buffer, device_index, dtype, numel, offset, shape, strides

from plugtorch_kernels.args import dims_struct, geo_struct
from plugtorch_kernels.geometry import merge, reduction_plan, split_dims
from plugtorch_kernels.reductions import spec
from plugtorch_kernels.tuning import LOCAL

# kernel scalars go as Python ints (see NOTE [launch cost] in runtime.py)
_i64 = _i32 = int


def _launch_red(rt, op, out_buf, oo, xbuf, xdt, odt, kshape, kstrides, xoff, rshape, rstrides,
                P, chunk):
    ks = rt.program(("reduce", op, xdt, odt))
    M = 1
    for n in kshape:
        M *= n
    K = 1
    for n in rshape:
        K *= n
    rt.launch_n(ks["red"], M * P, out_buf, oo, xbuf, geo_struct(xoff, kstrides),
                dims_struct(kshape), len(kshape), geo_struct(0, rstrides or [0]),
                dims_struct(rshape), len(rshape), M, K, P, chunk)


_PLANS = {}
_Q = struct.Struct("q").pack


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
            plan = _PLANS[gkey] = reduction_plan(*gkey)
        M, K, P = plan[0], plan[1], plan[2]
        if M == 0:              # out is empty (M is the product of x's kept dims)
            return
        xdt, odt = dtype(x), dtype(out)
        col = plan[14]
        if col is not None:         # neighbouring outputs side by side: `redcol`
            g, parts, chunk = col
            if parts == 1:
                key = ("reduce", op, xdt, odt)
                ks = rt.programs.get(key) or rt.program(key)
                rt.launch(ks["redcol"], g, LOCAL, buffer(out), offset(out), buffer(x),
                          offset(x), plan[6], plan[7], plan[8], M, K, 1, K)
                return
            acc = spec(op, xdt, odt)[0]
            part = rt.allocate(M * parts * acc.itemsize)
            ks = rt.program(("reduce", op, xdt, acc))
            rt.launch(ks["redcol"], g, LOCAL, part, 0, buffer(x), offset(x), plan[6],
                      plan[7], plan[8], M, K, parts, chunk)
            _launch_red(rt, op, buffer(out), offset(out), part, acc, odt, [M], [parts], 0,
                        [parts], [1], 1, parts)
            return
        if P == 1:
            key = ("reduce", op, xdt, odt)
            ks = rt.programs.get(key) or rt.program(key)
            rt.launch(ks["red"], plan[13], LOCAL, buffer(out), offset(out),
                      buffer(x), _Q(offset(x)) + plan[3], plan[4], plan[5], plan[6],
                      plan[7], plan[8], M, K, 1, K)
            return
        kshp, kst, rshp, rst = plan[9:13]
        acc = spec(op, xdt, odt)[0]
        chunk = -(-K // P)
        part = rt.allocate(M * P * acc.itemsize)
        _launch_red(rt, op, part, 0, buffer(x), xdt, acc, kshp, kst, offset(x), rshp,
                    rst, P, chunk)
        _launch_red(rt, op, buffer(out), offset(out), part, acc, odt, [M], [P], 0,
                    [P], [1], 1, P)
    kernel.__name__ = op
    return kernel


def make_arg(backend, op):
    def kernel(out, x, dim):
        rt = backend.rt(out)
        xdt = dtype(x)
        xshape, xstrides = shape(x), strides(x)
        ks = rt.program(("arg", op, xdt))
        kshp, kst, _, _ = split_dims(xshape, xstrides, (dim,))
        M = 1
        for n in kshp:
            M *= n
        rt.launch_n(ks["arg"], M, buffer(out), _i64(offset(out)), buffer(x),
                    geo_struct(offset(x), kst), dims_struct(kshp), _i32(len(kshp)),
                    _i64(xstrides[dim]), _i64(M), _i64(xshape[dim]))
    kernel.__name__ = op
    return kernel


def make_cumsum(backend):
    def cumsum(out, x, dim):
        rt = backend.rt(out)
        xdt, odt = dtype(x), dtype(out)
        xshape, xstrides, ostrides = shape(x), strides(x), strides(out)
        if numel(shape(out)) == 0:
            return
        ks = rt.program(("cumsum", xdt, odt))
        kept = [i for i in range(len(xshape)) if i != dim]
        kshp, (xst, ost) = merge(tuple(xshape[i] for i in kept),
                                 [[xstrides[i] for i in kept], [ostrides[i] for i in kept]])
        M = 1
        for n in kshp:
            M *= n
        rt.launch_n(ks["cumsum"], M, buffer(out), geo_struct(offset(out), ost),
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
