"""DataParallel: split a batch over several devices of one backend (see plugtorch.nn.parallel)."""
import types
from itertools import chain

from ... import backends
from ..._device import device as Device
from ..._tensor import resolve_device
from ...autograd import grad_mode
from ..modules.module import Module
from .parallel_apply import parallel_apply
from .replicate import replicate
from .scatter_gather import gather, scatter_kwargs

__all__ = ["DataParallel", "data_parallel"]


def _device_type(module):
    """The device type that device indices refer to: the module's, else the accelerator's."""
    first = next(chain(module.parameters(), module.buffers()), None)
    if first is not None and first.device.type != "cpu":
        return first.device.type
    from ... import accelerator
    acc = accelerator.current_accelerator()
    return acc.type if acc is not None else None


def _devices(op, module, device_ids):
    """`device_ids` as devices of one backend; [] where the module is simply called (the cpu,
    or device indices with no device backend to refer to, as PyTorch without GPUs)."""
    kind = _device_type(module)
    if kind is None and device_ids is not None:       # indices next to named devices
        kind = next((resolve_device(d)[0].type for d in device_ids
                     if not isinstance(d, int) or isinstance(d, bool)), None)
        kind = None if kind == "cpu" else kind
    if device_ids is None:
        if kind is None:
            return []
        backend = backends.get(kind)
        device_ids = list(range(backend.device_count())) if backend.multi_device else [0]
    devices = []
    for d in device_ids:
        if isinstance(d, int) and not isinstance(d, bool):
            if kind is None:
                return []
            d = Device(kind, d)
        devices.append(resolve_device(d)[0])
    if len({d.type for d in devices}) > 1:
        raise ValueError(f"{op}: device_ids must be devices of one backend, got "
                         f"{[str(d) for d in devices]}")
    if devices and devices[0].type == "cpu":
        return []
    return devices


def _output_device(output_device, devices):
    if output_device is None:
        return devices[0]
    if isinstance(output_device, int) and not isinstance(output_device, bool):
        return resolve_device("cpu" if output_device == -1 else
                              Device(devices[0].type, output_device))[0]
    return resolve_device(output_device)[0]


def _forward(op, steps, module, inputs, kwargs, devices, output_device, dim):
    """Scatter, replicate, run the replicas in threads, gather (`steps` holds the four)."""
    src = devices[0]
    for t in chain(module.parameters(), module.buffers()):
        if t.device != src:
            raise RuntimeError(f"{op}: the module must have its parameters and buffers on "
                               f"device {src} (device_ids[0]), but found one of them on "
                               f"device {t.device}; move it there first: module.to('{src}')")
    inputs, kwargs = steps.scatter(inputs, kwargs, devices)
    if not inputs and not kwargs:
        inputs, kwargs = ((),), ({},)
    if len(devices) == 1:
        return module(*inputs[0], **kwargs[0])
    used = devices[:len(inputs)]
    replicas = steps.replicate(module, used)
    outputs = steps.parallel_apply(replicas, inputs, kwargs)
    return steps.gather(outputs, output_device)


class DataParallel(Module):
    """Run `module` on several devices of one backend, each on a slice of the batch.

    Each forward call scatters the inputs (tensors cut along `dim`, tuples, lists and dicts
    split element-wise, other objects copied; keyword arguments too), replicates the module
    onto the devices, runs the replicas in threads and gathers their outputs on
    `output_device`. Backward sums the replicas' gradients into the original parameters,
    which must be on `device_ids[0]`. Buffer updates (BatchNorm's running statistics) are
    kept from the replica on `device_ids[0]` only. On one device the module is called
    directly (after its inputs move there); on the cpu, always.

    Args:
        module: the module to run; `.module` of the wrapper, whose state_dict keys carry
            the `module.` prefix.
        device_ids: devices of one backend ("opencl:0"), or indices of the devices of the
            backend the module is on (else of the accelerator). Default: every device of
            that backend. Devices of several backends are refused (ValueError).
        output_device: where outputs are gathered (-1: the cpu). Default: device_ids[0].
        dim: the dimension along which inputs are split and outputs joined.

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.DataParallel(torch.nn.Linear(2, 3))
        >>> m(torch.zeros(4, 2)).shape, list(m.state_dict())
        (plugtorch.Size([4, 3]), ['module.weight', 'module.bias'])
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = _devices("DataParallel", module, device_ids)
        self.dim = dim
        if not self.device_ids:
            self.output_device = None
            return
        self.output_device = _output_device(output_device, self.device_ids)
        self.src_device_obj = self.device_ids[0]
        if len(self.device_ids) == 1:
            self.module.to(self.src_device_obj)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        return _forward("DataParallel", self, self.module, inputs, kwargs, self.device_ids,
                        self.output_device, self.dim)

    def replicate(self, module, device_ids):
        return replicate(module, device_ids, not grad_mode.is_grad_enabled())

    def scatter(self, inputs, kwargs, device_ids):
        return scatter_kwargs(inputs, kwargs, device_ids, dim=self.dim)

    def parallel_apply(self, replicas, inputs, kwargs):
        return parallel_apply(replicas, inputs, kwargs, self.device_ids[:len(replicas)])

    def gather(self, outputs, output_device):
        return gather(outputs, output_device, dim=self.dim)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    """The functional form of DataParallel: `module(*inputs, **module_kwargs)` with the batch
    split over `device_ids` (the module is not moved: it must be on device_ids[0]).

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.parallel import data_parallel
        >>> data_parallel(torch.nn.Linear(2, 3), torch.zeros(4, 2)).shape
        plugtorch.Size([4, 3])
    """
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    kwargs = module_kwargs or {}
    devices = _devices("data_parallel", module, device_ids)
    if not devices:
        return module(*inputs, **kwargs)
    steps = types.SimpleNamespace(
        scatter=lambda i, k, d: scatter_kwargs(i, k, d, dim),
        replicate=lambda m, d: replicate(m, d, not grad_mode.is_grad_enabled()),
        parallel_apply=parallel_apply,
        gather=lambda o, d: gather(o, d, dim))
    return _forward("data_parallel", steps, module, inputs, kwargs, devices,
                    _output_device(output_device, devices), dim)
