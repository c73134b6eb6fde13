"""plugtorch.nn.parallel: PyTorch's data-parallel wrappers, for code that uses them.

`DataParallel` over one device (or none named) runs its module directly, as PyTorch's does
without GPUs, and keeps PyTorch's `module.` prefix in state_dict keys, so checkpoints move
between the two. Splitting a batch over several devices, and `DistributedDataParallel`,
need the multi-device work that is not in plugtorch yet; they raise NotImplementedError.
"""
from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
