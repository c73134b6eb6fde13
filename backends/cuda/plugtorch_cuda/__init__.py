"""The CUDA backend: CuPy arrays as storage on NVIDIA GPUs.

Found through the ``plugtorch.backends`` entry point like any outside backend. CuPy is
imported only when the backend starts, so a machine without CuPy, a driver or a GPU lists
"cuda" as unavailable with the reason (``plugtorch info``) instead of failing at import.
Install it with ``pip install "plugtorch[cuda]"`` (CuPy for CUDA 12 and NVRTC).

The backend owns devices, memory, streams and transfers; its kernels are the shared kernel
library's (plugtorch_kernels: the programs the OpenCL backend runs, compiled for the GPU with
NVRTC through cuda_compat.h), with floating-point matmul through cuBLAS (see docs/cuda.md).

Example:
    >>> import plugtorch
    >>> x = plugtorch.ones(3, device="cuda")        # doctest: +SKIP
    >>> (x * 2).sum().item()                          # doctest: +SKIP
    6.0
"""
import plugtorch

__all__ = ["plugtorch_register_backends", "make_backend"]


def make_backend():
    """Create the backend object (imports CuPy lazily, see `CudaBackend`)."""
    from .backend import CudaBackend
    return CudaBackend()


@plugtorch.backends.hookimpl
def plugtorch_register_backends(register):
    register("cuda", make_backend)
