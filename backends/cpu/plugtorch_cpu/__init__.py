"""The CPU backend: numpy arrays as storage, numpy ufuncs as kernels.

Found through the ``plugtorch.backends`` entry point like any outside backend. It implements
every primitive natively and is the reference the conformance suite compares against.
"""
import plugtorch

from .backend import CPUBackend

__all__ = ["CPUBackend", "plugtorch_register_backends"]


@plugtorch.backends.hookimpl
def plugtorch_register_backends(register):
    register("cpu", CPUBackend)
