"""Index launchers: gather, scatter (None/sum/prod), sort, nonzero, and Philox `uniform`
(sources: plugtorch_kernels.indexing and .sorting; NOTE [index bounds] there)."""
import plugtorch
from plugtorch.backends import (buffer, cast as cast_to, dtype, is_tensor, numel, offset,
                                shape, strides)

from plugtorch_kernels.args import dims_struct, geo_struct, scalar_arg
from plugtorch_kernels.tuning import elementwise_chunk

_offset_of = offset      # `uniform` has a parameter named offset

# kernel scalars go as Python ints (see NOTE [launch cost] in runtime.py)
_i64 = _i32 = _u32 = int


def _full_geo(tshape, tstrides, drop=None):
    """(shape, strides) of a tensor without dim `drop` (kept un-merged: few dims, exact
    order)."""
    dims = [i for i in range(len(tshape)) if i != drop]
    return [tshape[i] for i in dims], [tstrides[i] for i in dims]


def make_gather(backend):
    def gather(out, src, dim, index):
        rt = backend.rt(out)
        dt = dtype(src)
        n = numel(shape(out))
        if n == 0:
            return
        index = cast_to(index, plugtorch.int64)
        ishape = shape(index)
        ks = rt.program(("gather", dt))
        chunk = elementwise_chunk(rt.kind, n, rt.compute_units)
        rt.launch_n(ks["gather"], -(-n // chunk), buffer(out),
                    geo_struct(offset(out), strides(out)), buffer(src),
                    geo_struct(offset(src), strides(src)), buffer(index),
                    geo_struct(offset(index), strides(index)), dims_struct(ishape),
                    _i32(len(ishape)), _i32(dim), _i64(shape(src)[dim]), _i64(n), chunk)
    return gather


def make_scatter(backend):
    def scatter(out, dim, index, src, reduce):
        rt = backend.rt(out)
        dt = dtype(out)
        is_t = is_tensor(src)
        xshape, xstrides = shape(index), strides(index)
        oshape, ostrides = shape(out), strides(out)
        L = xshape[dim] if xshape else 1
        n = numel(xshape) // L if L else 0
        if n == 0:
            return
        index = cast_to(index, plugtorch.int64)     # a contiguous copy if it was not int64
        xstrides = strides(index)
        if is_t:
            src = cast_to(src, dt)
        ks = rt.program(("scatter", dt, reduce, is_t))
        ishape, ist = _full_geo(xshape, xstrides, dim) if xshape else ([], [])
        _, ost = _full_geo(oshape, ostrides, dim) if oshape else ([], [])
        if is_t:
            sshape, sstrides = shape(src), strides(src)
            _, sst = _full_geo(sshape, sstrides, dim) if sshape else ([], [])
            sbuf, soff, sd = buffer(src), offset(src), (sstrides[dim] if sshape else 0)
        else:
            sbuf, soff, sst, sd = buffer(out), 0, [], 0
        rt.launch_n(ks["scatter"], n, buffer(out), geo_struct(offset(out), ost),
                    buffer(index), geo_struct(offset(index), ist), sbuf,
                    geo_struct(soff, sst), scalar_arg(0 if is_t else src, dt),
                    dims_struct(ishape), _i32(len(ishape)),
                    _i64(ostrides[dim] if oshape else 0),
                    _i64(xstrides[dim] if xshape else 0), _i64(sd), _i64(L),
                    _i64(oshape[dim] if oshape else 1), _i64(n))
    return scatter


def make_uniform(backend):
    def uniform(out, seed, offset):
        rt = backend.rt(out)
        dt = dtype(out)
        oshape = shape(out)
        n = numel(oshape)
        if n == 0:
            return
        ks = rt.program(("uniform", dt))
        seed = int(seed) & (2 ** 64 - 1)
        rt.launch_n(ks["uniform"], n, buffer(out),
                    geo_struct(_offset_of(out), strides(out)), dims_struct(oshape),
                    _i32(len(oshape)), _u32(seed & 0xFFFFFFFF), _u32(seed >> 32),
                    int(offset) % 2 ** 64, _i64(n))
    return uniform


def kernels(backend):
    from .sorting import make_sort, make_nonzero
    return {"gather": make_gather(backend), "scatter": make_scatter(backend),
            "uniform": make_uniform(backend), "sort": make_sort(backend),
            "nonzero": make_nonzero(backend)}
