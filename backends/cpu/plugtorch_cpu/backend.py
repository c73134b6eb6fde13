"""CPUBackend: storage is a flat numpy array; a tensor's numpy view is cached on it."""
import numpy as np

import plugtorch
from plugtorch.backends import Backend, numpy_view

from . import allocator, threads
from .kernels import KERNELS


class CPUBackend(Backend):
    """Host memory through numpy."""
    name = "cpu"
    multi_device = False
    host_memory = True
    dtypes = frozenset((plugtorch.bool, plugtorch.uint8, plugtorch.int8, plugtorch.int16,
                        plugtorch.int32, plugtorch.int64, plugtorch.float16, plugtorch.float32,
                        plugtorch.float64))
    kernels = KERNELS

    def __init__(self):
        self.allocator = allocator.keep_freed_memory()

    def set_num_threads(self, n):
        threads.POOL.configure(n)

    def empty(self, numel, dtype, index):
        return np.empty(numel, dtype.np)

    def from_numpy(self, array, index):
        return np.array(array, copy=True).reshape(-1)

    def to_numpy(self, tensor):
        return numpy_view(tensor)

    def describe(self):
        import platform
        return [{"device": "cpu", "name": platform.processor() or platform.machine(),
                 "allocator": self.allocator, "threads": threads.POOL.threads}]
