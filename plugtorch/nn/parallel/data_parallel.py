"""DataParallel on one device (see plugtorch.nn.parallel)."""
from ..modules.module import Module

__all__ = ["DataParallel", "data_parallel"]


class DataParallel(Module):
    """Wrap `module`; its forward is the module's (one device only).

    Args:
        module: the module to run.
        device_ids: at most one device (an int index or a device); None for the module's own.
        output_device, dim: accepted for PyTorch compatibility.

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.DataParallel(torch.nn.Linear(2, 3))
        >>> m(torch.zeros(4, 2)).shape, list(m.state_dict())
        (plugtorch.Size([4, 3]), ['module.weight', 'module.bias'])
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if device_ids is not None and len(device_ids) > 1:
            raise NotImplementedError(
                f"DataParallel: splitting a batch over several devices (device_ids="
                f"{list(device_ids)}) is not supported yet; pass one device, or none")
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    """The functional form of DataParallel: `module(*inputs)` on one device."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return DataParallel(module, device_ids, output_device, dim)(*inputs, **(module_kwargs or {}))
