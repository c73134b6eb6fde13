"""DistributedDataParallel: not supported yet (see plugtorch.nn.parallel)."""
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Not supported yet: constructing one raises NotImplementedError."""

    def __init__(self, module, *args, **kwargs):
        raise NotImplementedError(
            "DistributedDataParallel: distributed training (process groups, gradient "
            "all-reduce) is not supported by plugtorch yet; train the module directly")
