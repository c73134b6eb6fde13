"""plugtorch.nn.parallel: PyTorch's data-parallel wrappers, for code that uses them.

`DataParallel` splits each batch over several devices of one backend (e.g. opencl:0 and
opencl:1) from its building blocks `scatter`, `replicate`, `parallel_apply` and `gather`;
on one device, and on the cpu, it calls its module directly, as PyTorch's does without
GPUs. It keeps PyTorch's `module.` prefix in state_dict keys, so checkpoints move between
the two.
"""
from .data_parallel import DataParallel, data_parallel
from .parallel_apply import parallel_apply
from .replicate import replicate
from .scatter_gather import gather, scatter, scatter_kwargs
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel", "gather",
           "parallel_apply", "replicate", "scatter", "scatter_kwargs"]
