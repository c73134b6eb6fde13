"""The CUDA backend's own kernels, beside the kernel library's launchers: floating-point
matmul through cuBLAS (CuPy's `matmul`), and CuPy views of tensors, which it and DLPack use.

Integer and bool matmul stay with the library's `bmm` kernel, whose products and sums wrap
exactly as the contract asks; float16, float32 and float64 go to cuBLAS, which CuPy calls
with float32 accumulation for float16 and without TF32 for float32 (CuPy's defaults), the
precision the CPU backend computes in. Where cuBLAS cannot be loaded (CuPy finds it in a
CUDA toolkit or the nvidia-cublas-cu12 wheel), the first matmul says so once and every
matmul then takes the library's kernel.
"""
import warnings

from plugtorch.backends import buffer, device_index, dtype, offset, shape, strides


def view(cp, t):
    """A CuPy array over t's elements in its buffer (t's shape, strides and offset); the
    current device must be t's."""
    buf = buffer(t)
    shp = shape(t)
    if 0 in shp:
        return cp.empty(shp, buf.dtype)
    item = buf.dtype.itemsize
    return cp.ndarray(shp, buf.dtype, memptr=buf.data + offset(t) * item,
                      strides=tuple(s * item for s in strides(t)))


def make_bmm(backend, exact):
    """The `bmm` kernel: cuBLAS for floats, `exact` (the library's kernel) otherwise."""
    cp = backend.cp
    cublas = [True]

    def bmm(out, a, b):
        if dtype(out).kind != 2 or not cublas[0]:
            return exact(out, a, b)
        B, M, K = shape(a)
        if B * M * shape(b)[2] == 0:
            return
        if K == 0:
            backend.kernels["fill"](out, 0)
            return
        rt = backend.runtimes[device_index(out)]
        try:
            # CuPy's temporaries (a contiguous copy of a strided operand) come from the
            # backend's pool too, so plugtorch.cuda.memory_allocated counts them while
            # they live
            with rt.device(), cp.cuda.using_allocator(rt.pool.malloc):
                cp.matmul(view(cp, a), view(cp, b), out=view(cp, out))
        except (ImportError, OSError, RuntimeError) as e:
            if "cublas" not in str(e).lower():
                raise
            cublas[0] = False
            warnings.warn(f"cuda: cuBLAS is not usable ({e}); matmul runs plugtorch's own "
                          f"kernel instead (pip install nvidia-cublas-cu12)", RuntimeWarning,
                          stacklevel=2)
            exact(out, a, b)
    return bmm
