"""NumexprBackend: host memory as flat numpy arrays, kernels from numexpr and numpy."""
import numexpr
import numpy as np

import plugtorch
from plugtorch.backends import Backend, numpy_view

from .kernels import KERNELS


class NumexprBackend(Backend):
    """Host memory; elementwise kernels evaluated by numexpr on its thread pool.

    numexpr's thread count is its own setting: `numexpr.set_num_threads(n)`, or the
    environment variables NUMEXPR_NUM_THREADS / NUMEXPR_MAX_THREADS before the first import.
    """
    name = "numexpr"
    multi_device = False
    # The memory is the host's: checks read values at once, with no deferred device read
    host_memory = True
    dtypes = frozenset((plugtorch.bool, plugtorch.uint8, plugtorch.int8, plugtorch.int16,
                        plugtorch.int32, plugtorch.int64, plugtorch.float16, plugtorch.float32,
                        plugtorch.float64))
    kernels = KERNELS

    def empty(self, numel, dtype, index):
        return np.empty(numel, dtype.np)

    def from_numpy(self, array, index):
        return np.array(array, copy=True).reshape(-1)

    def to_numpy(self, tensor):
        return np.array(numpy_view(tensor), copy=True)

    def describe(self):
        return [{"device": "numexpr",
                 "name": f"numexpr {numexpr.__version__}, {numexpr.get_num_threads()} threads"}]
