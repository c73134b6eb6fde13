"""Module.state_dict / load_state_dict and the argument parsing of Module.to.

Kept apart from module.py so that file stays about registration and traversal.
"""
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

from ... import _dtype as D
from ..._device import device as Device
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What load_state_dict returns (as PyTorch's)."""
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def parse_to(args, kwargs):
    """(device or None, dtype or None) from Module.to's arguments."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "memory_format", "copy"}
    if unknown:
        raise TypeError(f"to() got an unexpected keyword argument '{sorted(unknown)[0]}'")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, D.dtype):
            dtype = a
        elif isinstance(a, (str, Device)):
            device = a
        elif isinstance(a, int) and not isinstance(a, bool):
            device = f"cuda:{a}"
        elif isinstance(a, bool):
            pass   # the old positional non_blocking
        else:
            raise TypeError(f"to() received an invalid combination of arguments: got "
                            f"{type(a).__name__}; expected a device, a dtype or a tensor")
    if dtype is not None:
        dtype = D.to_dtype(dtype)
    return device, dtype


def _has_extra_state(module):
    from .module import Module
    return type(module).get_extra_state is not Module.get_extra_state


def state_dict(module, destination, prefix, keep_vars):
    if destination is None:
        destination = OrderedDict()
    for name, p in module._parameters.items():
        if p is not None:
            destination[prefix + name] = p if keep_vars else p.detach()
    for name, b in module._buffers.items():
        if b is not None and name not in module._non_persistent_buffers_set:
            destination[prefix + name] = b if keep_vars else b.detach()
    if _has_extra_state(module):
        destination[prefix + "_extra_state"] = module.get_extra_state()
    for name, child in module._modules.items():
        if child is not None:
            child.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
    return destination


def load_own(module, state, prefix, strict, missing, unexpected, errors, assign):
    """Load `module`'s own parameters and persistent buffers from `state` (whose keys
    start with `prefix`), recording missing / unexpected keys and errors."""
    from ..parameter import Parameter
    persistent = {k: v for k, v in module._buffers.items()
                  if k not in module._non_persistent_buffers_set}
    local = {k: v for k, v in list(module._parameters.items()) + list(persistent.items())
             if v is not None}
    for name, param in local.items():
        key = prefix + name
        if key not in state:
            if strict:
                missing.append(key)
            continue
        value = state[key]
        if not isinstance(value, Tensor):
            errors.append(f'While copying the parameter named "{key}", expected torch.Tensor '
                          f'or Tensor-like object from checkpoint but received {type(value)}')
            continue
        if value.shape != param.shape:
            errors.append(f"size mismatch for {key}: copying a param with shape {value.shape} "
                          f"from checkpoint, the shape in current model is {param.shape}.")
            continue
        try:
            with no_grad():
                if assign:
                    if isinstance(param, Parameter) and not isinstance(value, Parameter):
                        value = Parameter(value, requires_grad=param.requires_grad)
                    setattr(module, name, value)
                else:
                    param.copy_(value)
        except Exception as ex:
            errors.append(f'While copying the parameter named "{key}", whose dimensions in the '
                          f'model are {param.shape} and whose dimensions in the checkpoint are '
                          f'{value.shape}, an exception occurred : {ex.args}.')
    extra_key = prefix + "_extra_state"
    if _has_extra_state(module):
        if extra_key in state:
            module.set_extra_state(state[extra_key])
        elif strict:
            missing.append(extra_key)
    elif strict and extra_key in state:
        unexpected.append(extra_key)
    if strict:
        for key in state:
            if not key.startswith(prefix) or key == extra_key:
                continue
            head = key[len(prefix):].split(".", 1)
            # a dotted rest must belong to a submodule; a plain name to this module
            if len(head) > 1:
                if head[0] not in module._modules:
                    unexpected.append(key)
            elif head[0] not in local:
                unexpected.append(key)


def load_state_dict(module, state, strict, assign):
    if not isinstance(state, Mapping):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(state)}.")
    missing, unexpected, errors = [], [], []
    state = OrderedDict(state)
    meta = {"assign": assign}

    def load(mod, local_state, prefix):
        mod._load_from_state_dict(local_state, prefix, meta, True, missing, unexpected,
                                  errors)
        for name, child in mod._modules.items():
            if child is not None:
                child_prefix = prefix + name + "."
                load(child, {k: v for k, v in local_state.items()
                             if k.startswith(child_prefix)}, child_prefix)

    load(module, state, "")
    if strict:
        if unexpected:
            errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                ", ".join(f'"{k}"' for k in unexpected)))
        if missing:
            errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                ", ".join(f'"{k}"' for k in missing)))
    if errors:
        raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
            type(module).__name__, "\n\t".join(errors)))
    return _IncompatibleKeys(missing, unexpected)
