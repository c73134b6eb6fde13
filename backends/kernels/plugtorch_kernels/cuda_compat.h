/* OpenCL C -> CUDA translation header for plugtorch's kernel sources.
 *
 * A CUDA backend prepends this file to the unchanged OpenCL kernel text (see NOTE [portable
 * kernel sources] in cl_source.py) and compiles the result as CUDA C++ (nvcc or NVRTC).
 * It defines the macro layer the sources are written against (KERNEL, GLOBAL, LOCAL,
 * INLINE, GID/LID/GROUP, BARRIER, VEC8/VLOAD8/VSTORE8, VEC16/VLOAD16/VSTORE16), the OpenCL
 * scalar type names, and the OpenCL built-ins a kernel may use that CUDA spells differently.
 * Built-ins with the same name and meaning in both languages (exp, log1p, fmod, rint,
 * copysign, isnan, ...) resolve to CUDA's float/double device overloads and need nothing
 * here.
 *
 * Launch geometry is 1-d per dimension as in OpenCL: a CUDA launch of <<<G, L>>> with
 * G * L work-items equals an NDRange of global size G * L and local size L.
 */
#ifndef PLUGTORCH_CUDA_COMPAT_H
#define PLUGTORCH_CUDA_COMPAT_H

#include <cuda_fp16.h>

/* OpenCL's long is 64-bit everywhere; so is CUDA's on LP64 hosts (Linux, macOS). A
 * Windows (LLP64) build would need `#define long long long` before the kernel text. */
static_assert(sizeof(long) == 8, "plugtorch kernels need a 64-bit long (LP64 host)");

/* ---- the macro layer --------------------------------------------------------------- */
/* Kernels are looked up by name (cuModuleGetFunction), so no C++ name mangling. */
#ifndef PT_KERNEL_LINKAGE
#define PT_KERNEL_LINKAGE extern "C"
#endif
#define KERNEL PT_KERNEL_LINKAGE __global__
#define GLOBAL                  /* device pointers are global by default */
#define LOCAL __shared__
#define CONSTANT __constant__
#define INLINE __device__ __forceinline__
#define BARRIER() __syncthreads()

__device__ __forceinline__ unsigned pt_dim3(const uint3 v, int d) {
    return d == 0 ? v.x : (d == 1 ? v.y : v.z);
}
__device__ __forceinline__ unsigned pt_dim3(const dim3 v, int d) {
    return d == 0 ? v.x : (d == 1 ? v.y : v.z);
}
/* 64-bit arithmetic: blockIdx * blockDim can exceed 2^32 work-items */
#define GID(d) ((long)pt_dim3(blockIdx, d) * (long)pt_dim3(blockDim, d) + \
                (long)pt_dim3(threadIdx, d))
#define LID(d) ((long)pt_dim3(threadIdx, d))
#define GROUP(d) ((long)pt_dim3(blockIdx, d))
#define get_global_id(d) ((size_t)GID(d))
#define get_local_id(d) ((size_t)LID(d))
#define get_group_id(d) ((size_t)GROUP(d))
#define get_local_size(d) ((size_t)pt_dim3(blockDim, d))
#define get_num_groups(d) ((size_t)pt_dim3(gridDim, d))
#define get_global_size(d) ((size_t)pt_dim3(gridDim, d) * pt_dim3(blockDim, d))

/* ---- OpenCL scalar type names ------------------------------------------------------ */
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
typedef __half half;

/* ---- float16: a storage format, values are float ----------------------------------- */
/* Kernels read and write half buffers only through these OpenCL 1.2 built-ins and compute
 * in float (NOTE [float16 storage] in cl_source.py); stores round to nearest even, and a
 * double is rounded once, not through float. */
__device__ __forceinline__ float vload_half(size_t i, const half* p) {
    return __half2float(p[i]);
}
__device__ __forceinline__ void vstore_half_rte(float v, size_t i, half* p) {
    p[i] = __float2half_rn(v);
}
__device__ __forceinline__ void vstore_half_rte(double v, size_t i, half* p) {
    p[i] = __double2half(v);
}

/* ---- OpenCL built-ins without a CUDA twin of the same name ---------------------------- */
/* OpenCL's float constants; nvcc has them from the host's <math.h>, NVRTC has none */
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fffffff)
#endif
template <typename T> __device__ __forceinline__ T clamp(T x, T lo, T hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}
template <typename T> __device__ __forceinline__ T mad(T a, T b, T c) { return a * b + c; }
template <typename T> __device__ __forceinline__ T mix(T a, T b, T t) { return a + (b - a) * t; }
/* scalar select(a, b, c): c != 0 ? b : a */
template <typename T, typename C> __device__ __forceinline__ T select(T a, T b, C c) {
    return c ? b : a;
}
__device__ __forceinline__ int mul_hi(int a, int b) { return __mulhi(a, b); }
__device__ __forceinline__ uint mul_hi(uint a, uint b) { return __umulhi(a, b); }
__device__ __forceinline__ long mul_hi(long a, long b) { return __mul64hi(a, b); }
__device__ __forceinline__ ulong mul_hi(ulong a, ulong b) { return __umul64hi(a, b); }
#define native_exp __expf
#define native_log __logf
#define native_sin __sinf
#define native_cos __cosf
#define native_sqrt sqrtf
#define native_rsqrt rsqrtf
#define native_recip(x) (1.0f / (x))
#define native_divide(a, b) __fdividef(a, b)
#define native_powr __powf

/* convert_T / convert_T_sat / convert_T_rte: plain C casts (the kernels write the
 * rounding they need explicitly; OpenCL's default float->int rounding is towards zero, as
 * C's cast) */
#define PT_CONVERT(T) \
    template <typename S> __device__ __forceinline__ T convert_##T(S x) { return (T)x; }
PT_CONVERT(char) PT_CONVERT(uchar) PT_CONVERT(short) PT_CONVERT(ushort) PT_CONVERT(int)
PT_CONVERT(uint) PT_CONVERT(long) PT_CONVERT(ulong) PT_CONVERT(float) PT_CONVERT(double)
#undef PT_CONVERT
/* as_T: reinterpret the bits of a same-sized value */
#define PT_AS(T) \
    template <typename S> __device__ __forceinline__ T as_##T(S x) { \
        static_assert(sizeof(S) == sizeof(T), "as_" #T ": size mismatch"); \
        union { S s; T t; } u; u.s = x; return u.t; }
PT_AS(char) PT_AS(uchar) PT_AS(short) PT_AS(ushort) PT_AS(int) PT_AS(uint) PT_AS(long)
PT_AS(ulong) PT_AS(float) PT_AS(double)
#undef PT_AS

/* 32-bit global/local atomics, OpenCL 1.1 names (return the old value) */
#define atomic_add(p, v) atomicAdd(p, v)
#define atomic_sub(p, v) atomicSub(p, v)
#define atomic_xchg(p, v) atomicExch(p, v)
#define atomic_min(p, v) atomicMin(p, v)
#define atomic_max(p, v) atomicMax(p, v)
#define atomic_and(p, v) atomicAnd(p, v)
#define atomic_or(p, v) atomicOr(p, v)
#define atomic_xor(p, v) atomicXor(p, v)
#define atomic_cmpxchg(p, cmp, v) atomicCAS(p, cmp, v)
#define atomic_inc(p) atomicAdd(p, 1)
#define atomic_dec(p) atomicSub(p, 1)
#define atom_add atomic_add
#define atom_cmpxchg atomic_cmpxchg

/* ---- 8-wide vectors (VEC8/VLOAD8/VSTORE8 of matmul.py) -------------------------------- */
/* Eight named lanes, never an array, so every lane stays in a register; loads and stores
 * go lane by lane because vload8 only promises element alignment. */
template <typename T> struct pt_vec8 {
    T s0, s1, s2, s3, s4, s5, s6, s7;
    __device__ __forceinline__ pt_vec8() {}
    __device__ __forceinline__ pt_vec8(T x)          /* (V)x broadcasts, as in OpenCL */
        : s0(x), s1(x), s2(x), s3(x), s4(x), s5(x), s6(x), s7(x) {}
};
#define PT_VEC8_OP(op) \
    template <typename T> __device__ __forceinline__ pt_vec8<T> operator op( \
            const pt_vec8<T>& a, const pt_vec8<T>& b) { \
        pt_vec8<T> r; \
        r.s0 = a.s0 op b.s0; r.s1 = a.s1 op b.s1; r.s2 = a.s2 op b.s2; r.s3 = a.s3 op b.s3; \
        r.s4 = a.s4 op b.s4; r.s5 = a.s5 op b.s5; r.s6 = a.s6 op b.s6; r.s7 = a.s7 op b.s7; \
        return r; } \
    template <typename T> __device__ __forceinline__ pt_vec8<T>& operator op##=( \
            pt_vec8<T>& a, const pt_vec8<T>& b) { return a = a op b; }
PT_VEC8_OP(+) PT_VEC8_OP(-) PT_VEC8_OP(*) PT_VEC8_OP(/)
#undef PT_VEC8_OP
template <typename T>
__device__ __forceinline__ pt_vec8<T> pt_vload8(long off, const T* p) {
    p += off * 8;
    pt_vec8<T> r;
    r.s0 = p[0]; r.s1 = p[1]; r.s2 = p[2]; r.s3 = p[3];
    r.s4 = p[4]; r.s5 = p[5]; r.s6 = p[6]; r.s7 = p[7];
    return r;
}
template <typename T>
__device__ __forceinline__ void pt_vstore8(const pt_vec8<T>& v, long off, T* p) {
    p += off * 8;
    p[0] = v.s0; p[1] = v.s1; p[2] = v.s2; p[3] = v.s3;
    p[4] = v.s4; p[5] = v.s5; p[6] = v.s6; p[7] = v.s7;
}
#define VEC8(T) pt_vec8<T>
#define VLOAD8(off, p) pt_vload8(off, p)
#define VSTORE8(v, off, p) pt_vstore8(v, off, p)
typedef pt_vec8<float> float8;
typedef pt_vec8<double> double8;
typedef pt_vec8<int> int8;

/* ---- 16-wide vectors (VEC16/VLOAD16/VSTORE16 of matmul.py): two 8-wide halves ------- */
template <typename T> struct pt_vec16 {
    pt_vec8<T> lo, hi;
    __device__ __forceinline__ pt_vec16() {}
    __device__ __forceinline__ pt_vec16(T x) : lo(x), hi(x) {}
};
#define PT_VEC16_OP(op) \
    template <typename T> __device__ __forceinline__ pt_vec16<T> operator op( \
            const pt_vec16<T>& a, const pt_vec16<T>& b) { \
        pt_vec16<T> r; r.lo = a.lo op b.lo; r.hi = a.hi op b.hi; return r; } \
    template <typename T> __device__ __forceinline__ pt_vec16<T>& operator op##=( \
            pt_vec16<T>& a, const pt_vec16<T>& b) { return a = a op b; }
PT_VEC16_OP(+) PT_VEC16_OP(-) PT_VEC16_OP(*) PT_VEC16_OP(/)
#undef PT_VEC16_OP
template <typename T>
__device__ __forceinline__ pt_vec16<T> pt_vload16(long off, const T* p) {
    pt_vec16<T> r;
    r.lo = pt_vload8(2 * off, p);
    r.hi = pt_vload8(2 * off + 1, p);
    return r;
}
template <typename T>
__device__ __forceinline__ void pt_vstore16(const pt_vec16<T>& v, long off, T* p) {
    pt_vstore8(v.lo, 2 * off, p);
    pt_vstore8(v.hi, 2 * off + 1, p);
}
#define VEC16(T) pt_vec16<T>
#define VLOAD16(off, p) pt_vload16(off, p)
#define VSTORE16(v, off, p) pt_vstore16(v, off, p)
typedef pt_vec16<float> float16;
typedef pt_vec16<double> double16;

#endif  /* PLUGTORCH_CUDA_COMPAT_H */
