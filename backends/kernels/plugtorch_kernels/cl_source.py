"""Pieces every kernel source shares: the macro layer, C types per dtype, loads, stores and
casts, and the geometry structs of strided operands.

NOTE [portable kernel sources]
Kernels are plain OpenCL C 1.2 written against a few macros (KERNEL, GLOBAL, LOCAL, GID,
LID, BARRIER, INLINE) and fixed-width scalar types, never 8/16-wide vectors, images or
OpenCL-only built-ins without a `#define`d twin, so a CUDA backend can compile the same text
after a translation header that defines those macros (`#define KERNEL extern "C" __global__`,
`#define GID(d) (blockIdx.x * blockDim.x + threadIdx.x)` …): that header is cuda_compat.h,
and check.py compiles every registered program with it (see NOTE [CUDA translation check]
in check.py). The macro block below is only used when `__OPENCL_VERSION__` is defined.

Booleans are stored as one byte (numpy's layout) and always written as 0 or 1.

NOTE [float16 storage]
float16 is a storage format only, so it works on every OpenCL 1.2 device, with or without
cl_khr_fp16: buffers are `half*`, elements are read with `vload_half` (exact, to float)
and written with `vstore_half_rte` (round to nearest even; NaN and inf kept; overflow to
inf), and all arithmetic is done in float (VTYPE), as PyTorch computes float16 ops.
Templates therefore read and write elements through `load`/`store` and spell value types
(locals, scalar arguments, accumulators) with VTYPE; CTYPE is only for pointers. A float64
value is stored with the double overload of vstore_half_rte, so it is rounded once, as
numpy does, not first to float.
"""
import plugtorch

MAXD = 8   # strided operands carry up to this many dims (after merging, geometry.merge)

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

#: dtype -> C storage type (of buffers: pointers only for float16)
CTYPE = {plugtorch.bool: "uchar", plugtorch.uint8: "uchar", plugtorch.int8: "char",
         plugtorch.int16: "short", plugtorch.int32: "int", plugtorch.int64: "long",
         plugtorch.float16: "half", plugtorch.float32: "float", plugtorch.float64: "double"}
#: dtype -> C type of its values in a kernel (NOTE [float16 storage])
VTYPE = {**CTYPE, plugtorch.float16: "float"}


def preamble(*dtypes):
    """Header plus the extension pragmas the given dtypes need."""
    return (FP64 if plugtorch.float64 in dtypes else "") + HEADER


def load(dt, ptr, idx):
    """C expression reading element `idx` of buffer `ptr` of dtype dt, as a VTYPE value."""
    if dt is plugtorch.float16:
        return f"vload_half({idx}, {ptr})"
    return f"{ptr}[{idx}]"


def store(dt, ptr, idx, value):
    """C statement (no `;`) writing `value` (already cast to dt, see `cast`) to element
    `idx` of buffer `ptr` of dtype dt."""
    if dt is plugtorch.float16:
        return f"vstore_half_rte({value}, {idx}, {ptr})"
    return f"{ptr}[{idx}] = {value}"


def cast(expr, src, dst):
    """C expression converting `expr` (of dtype src) to dtype dst, as numpy's unsafe cast.

    Floats go to small integers through long, so out-of-range values wrap as on the CPU
    instead of hitting C's undefined float->char conversion; bool results are 0 or 1.
    A float16 result is a float (a double from float64) for `store` to round.
    """
    if dst is plugtorch.bool:
        return f"(uchar)(({expr}) != 0)"
    if dst is plugtorch.float16:
        return f"(double)({expr})" if src is plugtorch.float64 else f"(float)({expr})"
    if src is dst:
        return f"({expr})"
    if src.kind == 2 and dst.kind == 1 and dst is not plugtorch.int64:
        return f"({CTYPE[dst]})(long)({expr})"
    return f"({CTYPE[dst]})({expr})"
