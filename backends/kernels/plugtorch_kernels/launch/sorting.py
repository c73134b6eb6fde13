"""sort and nonzero launchers (sources and how they work: plugtorch_kernels.sorting).

nonzero's output shape depends on the data, so it is the one kernel that waits: it reads
the number of nonzero elements to allocate its result.
"""
import numpy as np

import plugtorch
from plugtorch.backends import buffer, dtype, new_tensor, numel, offset, shape, strides

from plugtorch_kernels.args import dims_struct, geo_struct
from plugtorch_kernels.geometry import merge
from plugtorch_kernels.tuning import nonzero_parts

# kernel scalars go as Python ints (see NOTE [launch cost] in runtime.py)
_i64 = _i32 = int


def make_sort(backend):
    def sort(values, indices, x, dim, descending, stable):
        rt = backend.rt(values)
        dt = dtype(x)
        xshape = shape(x)
        if not xshape:
            backend.kernels["copy"](values, x)
            backend.kernels["fill"](indices, 0)
            return
        K = xshape[dim]
        M = numel(xshape) // K if K else 0
        if M == 0:
            return
        ks = rt.program(("sort", dt, bool(descending)))
        xst, vst, ist = strides(x), strides(values), strides(indices)
        kept = [i for i in range(len(xshape)) if i != dim]
        kshp, (xs, vs, is_) = merge(tuple(xshape[i] for i in kept),
                                    [[st[i] for i in kept] for st in (xst, vst, ist)])
        size = 4 if dt is plugtorch.float16 else dt.itemsize      # float scratch for half
        ta, tb = rt.allocate(M * K * size), rt.allocate(M * K * size)
        ia, ib = rt.allocate(M * K * 8), rt.allocate(M * K * 8)
        rt.launch_n(ks["sort"], M, buffer(values), geo_struct(offset(values), vs),
                    buffer(indices), geo_struct(offset(indices), is_), buffer(x),
                    geo_struct(offset(x), xs), dims_struct(kshp), _i32(len(kshp)),
                    _i64(vst[dim]), _i64(ist[dim]), _i64(xst[dim]),
                    ta, ia, tb, ib, _i64(M), _i64(K))
    return sort


def make_nonzero(backend):
    def nonzero(x):
        rt = backend.rt(x)
        dt = dtype(x)
        xshape = shape(x)
        nd = len(xshape)
        n = numel(xshape)
        geo_shape = xshape or (1,)
        stride = strides(x) or (1,)
        ks = rt.program(("nonzero", dt))
        P = nonzero_parts(n)
        chunk = -(-n // P) if n else 1
        counts = rt.allocate((P + 1) * 8)
        geo = (buffer(x), geo_struct(offset(x), stride), dims_struct(geo_shape),
               _i32(len(geo_shape)))
        total = np.zeros(1, np.int64)
        if n:
            rt.launch_n(ks["count"], P, counts, *geo, _i64(chunk), _i64(n), _i64(P))
            rt.launch_n(ks["scan"], 1, counts, _i64(P))
            rt.download(counts, P * 8, total)
        out = new_tensor(x, shape=(int(total[0]), nd), dtype=plugtorch.int64)
        if total[0] and nd:
            rt.launch_n(ks["write"], P, buffer(out), counts, *geo, _i64(chunk), _i64(n),
                        _i64(P))
        return out
    return nonzero
