"""Pieces every kernel source shares: the portability macros, C types per dtype, casts and
the geometry structs of strided operands.

NOTE [portable kernel sources]
Kernels are plain OpenCL C 1.2 written against a few macros (KERNEL, GLOBAL, LOCAL, GID,
LID, BARRIER, INLINE) and fixed-width scalar types, never 8/16-wide vectors, images or
OpenCL-only built-ins without a `#define`d twin, so a CUDA backend can compile the same text
after a translation header that defines those macros (`#define KERNEL extern "C" __global__`,
`#define GID(d) (blockIdx.x * blockDim.x + threadIdx.x)` …): that header is cuda_compat.h,
and tests/test_cuda_translation.py compiles every generated program with it (see NOTE [CUDA
translation check] in cuda_check.py). The macro block below is only used when
`__OPENCL_VERSION__` is defined.

Booleans are stored as one byte (numpy's layout) and always written as 0 or 1.
"""
import struct

import numpy as np

import plugtorch

MAXD = 8   # strided operands carry up to this many dims (after merging, see geometry.py)

HEADER = r"""//CL//
#ifdef __OPENCL_VERSION__
#define KERNEL __kernel
#define GLOBAL __global
#define LOCAL __local
#define INLINE inline
#define GID(d) ((long)get_global_id(d))
#define LID(d) ((long)get_local_id(d))
#define GROUP(d) ((long)get_group_id(d))
#define BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
#endif
#define MAXD %(maxd)d
typedef struct { long n[MAXD]; } dims_t;            /* shape */
typedef struct { long off; long s[MAXD]; } geo_t;   /* offset and strides, in elements */

/* the storage offset of linear (row-major) index i of `shape` in an operand */
INLINE long at(long i, dims_t shape, int nd, geo_t g) {
    long p = g.off;
    for (int d = nd - 1; d >= 0; --d) {
        long n = shape.n[d];
        p += (i %% n) * g.s[d];
        i /= n;
    }
    return p;
}
""" % {"maxd": MAXD}

FP64 = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
FP16 = "#pragma OPENCL EXTENSION cl_khr_fp16 : enable\n"

#: dtype -> C storage type
CTYPE = {plugtorch.bool: "uchar", plugtorch.uint8: "uchar", plugtorch.int8: "char",
         plugtorch.int16: "short", plugtorch.int32: "int", plugtorch.int64: "long",
         plugtorch.float16: "half", plugtorch.float32: "float", plugtorch.float64: "double"}


def preamble(*dtypes):
    """Header plus the extension pragmas the given dtypes need."""
    ext = ""
    if plugtorch.float64 in dtypes:
        ext += FP64
    if plugtorch.float16 in dtypes:
        ext += FP16
    return ext + HEADER


def cast(expr, src, dst):
    """C expression converting `expr` (of dtype src) to dtype dst, as numpy's unsafe cast.

    Floats go to small integers through long, so out-of-range values wrap as on the CPU
    instead of hitting C's undefined float->char conversion; bool results are 0 or 1.
    """
    if dst is plugtorch.bool:
        return f"(uchar)(({expr}) != 0)"
    if src is dst:
        return f"({expr})"
    if src.kind == 2 and dst.kind == 1 and dst is not plugtorch.int64:
        return f"({CTYPE[dst]})(long)({expr})"
    return f"({CTYPE[dst]})({expr})"


#: float dtype -> its largest finite value, and the struct that rounds a Python float to it
_FMAX = {plugtorch.float16: 65504.0, plugtorch.float32: float(np.finfo(np.float32).max),
         plugtorch.float64: float(np.finfo(np.float64).max)}
_ROUND = {plugtorch.float16: struct.Struct("e"), plugtorch.float32: struct.Struct("f"),
          plugtorch.float64: None}


def scalar_arg(value, dtype):
    """A Python number as the by-value kernel argument of `dtype`: a Python int or float
    that pyopencl packs directly (numpy scalars take a slow path, see NOTE [launch cost]).

    Integers wrap as the CPU's unsafe cast does; floats are rounded to `dtype` first, so
    values beyond its range become inf as on the CPU instead of failing to pack.
    """
    if dtype is plugtorch.bool:
        return 1 if value else 0
    if dtype.kind == 1:
        bits = dtype.itemsize * 8
        v = int(value) & ((1 << bits) - 1)
        if dtype.is_signed and v >= 1 << (bits - 1):
            v -= 1 << bits
        return v
    if type(value) is float and -_FMAX[dtype] <= value <= _FMAX[dtype]:
        # in range (not NaN or inf): struct rounds to nearest even as numpy does, without
        # np.errstate's ~2 us a call
        s = _ROUND[dtype]
        return value if s is None else s.unpack(s.pack(value))[0]
    with np.errstate(over="ignore"):
        return float(dtype.np.type(value))
