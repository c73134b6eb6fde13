"""CPUBackend: storage is a flat numpy array; a tensor's numpy view is cached on it."""
import numpy as np

from plugtorch.backends import Backend
from plugtorch import _dtype as D

from .kernels import KERNELS, _v as view


class CPUBackend(Backend):
    """Host memory through numpy."""
    name = "cpu"
    multi_device = False
    host_memory = True
    dtypes = frozenset(D.ALL)
    kernels = KERNELS

    def empty(self, numel, dtype, index):
        return np.empty(numel, dtype.np)

    def from_numpy(self, array, index):
        return np.array(array, copy=True).reshape(-1)

    def to_numpy(self, tensor):
        return view(tensor)

    def describe(self):
        import platform
        return [{"device": "cpu", "name": platform.processor() or platform.machine()}]
