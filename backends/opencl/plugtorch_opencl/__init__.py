"""The OpenCL backend: cl buffers as storage, kernels from the shared kernel library.

Found through the ``plugtorch.backends`` entry point like any outside backend. pyopencl is
imported only when the backend starts, so a machine without it lists "opencl" as
unavailable with the reason instead of failing at import.

Example:
    >>> import plugtorch
    >>> x = plugtorch.ones(3, device="opencl")      # doctest: +SKIP
    >>> (x * 2).sum().item()                          # doctest: +SKIP
    6.0
"""
import plugtorch

__all__ = ["plugtorch_register_backends", "make_backend"]


def make_backend():
    """Create the backend object (imports pyopencl lazily, see `OpenCLBackend`)."""
    from .backend import OpenCLBackend
    return OpenCLBackend()


@plugtorch.backends.hookimpl
def plugtorch_register_backends(register):
    register("opencl", make_backend)
