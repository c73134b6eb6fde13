"""softmax and log_softmax launchers: the kernels of the overridable composite ops of those
names (NOTE [composite kernels] in plugtorch/ops/composite.py), one launch each (NOTE
[softmax kernel] in plugtorch_kernels/softmax.py)."""
import struct

from plugtorch.backends import buffer, dtype, offset, shape, strides

from plugtorch_kernels.args import dims_struct, geo_struct
from plugtorch_kernels.geometry import global_size, merge
from plugtorch_kernels.tuning import LOCAL

_PLANS = {}
_Q = struct.Struct("q").pack


def _plan(xshape, xstrides, ostrides, dim):
    """(M lines, L elements each, x's line stride, out's line stride, kept dims, kept nd,
    x's kept strides, out's kept strides (both packed), global size) of a softmax along
    `dim`."""
    kept = [i for i in range(len(xshape)) if i != dim]
    kshp, (xst, ost) = merge(tuple(xshape[i] for i in kept),
                             [[xstrides[i] for i in kept], [ostrides[i] for i in kept]])
    M = 1
    for n in kshp:
        M *= n
    return (M, xshape[dim], xstrides[dim], ostrides[dim], dims_struct(kshp), len(kshp),
            geo_struct(0, xst)[8:], geo_struct(0, ost)[8:], global_size(M))


def make_softmax(backend, log):
    def kernel(out, x, dim):
        rt = backend.rt(out)
        gkey = (shape(x), strides(x), strides(out), dim)
        plan = _PLANS.get(gkey)
        if plan is None:
            if len(_PLANS) > 4096:
                _PLANS.clear()
            plan = _PLANS[gkey] = _plan(*gkey)
        M, L = plan[0], plan[1]
        if M == 0 or L == 0:
            return
        key = ("softmax", dtype(x), log)
        ks = rt.programs.get(key) or rt.program(key)
        rt.launch(ks["softmax"], plan[8], LOCAL, buffer(out), buffer(x),
                  _Q(offset(x)) + plan[6], _Q(offset(out)) + plan[7], plan[4], plan[5],
                  plan[2], plan[3], M, L)
    kernel.__name__ = "log_softmax" if log else "softmax"
    return kernel


def kernels(backend):
    return {"softmax": make_softmax(backend, False), "log_softmax": make_softmax(backend, True)}
