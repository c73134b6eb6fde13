"""The launchers: plugtorch kernel-table entries that run the library's programs.

Each launcher is a backend kernel (the signature plugtorch.backends documents) that picks a
program from the registry, plans its geometry and queues it through the Runtime protocol
(runtime.py). They never touch a device API, so every backend built on this library (pyopencl
in plugtorch_opencl, CuPy in plugtorch_cuda) shares them. A backend passes itself: the
launchers need only `backend.rt(tensor)` (the Runtime of a tensor's device),
`backend.runtimes` (index -> Runtime) and `backend.kernels` (its finished table, for the
launchers that call other kernels).
"""


def kernel_table(backend):
    """{primitive name: kernel} of every launcher, bound to `backend`."""
    from . import elementwise, indexing, matmul, reductions, softmax
    table = elementwise.kernels(backend)
    table.update(reductions.kernels(backend))
    table.update(matmul.kernels(backend))
    table.update(indexing.kernels(backend))
    table.update(softmax.kernels(backend))
    return table
