"""replicate: copies of a module on several devices that stay connected to the original.

NOTE [replicas]
A replica is a shallow copy of each submodule whose parameters are `p.to(device)`: a
differentiable copy, so backward sends each replica's gradient back to the original
parameter, where the gradients of all replicas add up (the broadcast's backward is a sum
on the source device). The first replica, on the parameters' own device, uses the original
parameters and buffers themselves: its gradients land in place, and its buffer updates
(BatchNorm's running statistics) are the original's. Other replicas get detached copies of
the buffers, so their updates are dropped, as in PyTorch. Parameters shared between
submodules stay shared within a replica.
"""
from collections import OrderedDict

from .scatter_gather import _device

__all__ = ["replicate"]


def _copy_module(module, memo, copy):
    """The replica of `module`: a shallow copy with its parameters, buffers and submodules
    replaced (each shared object replaced once, through `memo`)."""
    if id(module) in memo:
        return memo[id(module)]
    replica = module.__new__(type(module))
    memo[id(module)] = replica
    replica.__dict__ = module.__dict__.copy()
    for store in ("_parameters", "_buffers"):
        items = OrderedDict()
        for name, t in module.__dict__[store].items():
            if t is not None and id(t) not in memo:
                memo[id(t)] = copy(t)
            items[name] = None if t is None else memo[id(t)]
        replica.__dict__[store] = items
    replica.__dict__["_modules"] = OrderedDict(
        (name, None if m is None else _copy_module(m, memo, copy))
        for name, m in module._modules.items())
    return replica


def replicate(network, devices, detach=False):
    """One replica of `network` per device in `devices` (see NOTE [replicas]).

    Args:
        network: the module; its parameters and buffers must be on one device.
        devices: the devices (devices, names, or accelerator indices).
        detach: give the replicas detached parameters (no gradient reaches the original).

    Returns:
        a list of modules, one per device.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.parallel import replicate
        >>> lin = torch.nn.Linear(2, 1)
        >>> [r.weight is lin.weight for r in replicate(lin, ["cpu", "cpu"])]
        [True, False]
    """
    devices = [_device("replicate", d) for d in devices]
    tensors = list(network.parameters()) + list(network.buffers())
    sources = {t.device for t in tensors}
    if len(sources) > 1:
        raise RuntimeError(f"replicate: the module's parameters and buffers must be on one "
                           f"device, found them on {sorted(map(str, sources))}")
    source = sources.pop() if sources else None
    replicas = []
    for i, dev in enumerate(devices):
        own = i == 0 and dev == source and not detach

        def copy(t, dev=dev, own=own):
            if own:
                return t
            if t.requires_grad and not detach:      # parameters (and buffers that need grad)
                return t.to(dev, copy=True)
            return t.detach().to(dev, copy=True)
        replicas.append(_copy_module(network, {}, copy))
    return replicas
