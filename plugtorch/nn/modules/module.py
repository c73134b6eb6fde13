"""Module: the base class of every layer. Registration, traversal, conversion, hooks, repr.

The state_dict / load_state_dict machinery lives in _state.py; Module's methods delegate.

NOTE [module registration]
A Module keeps its parameters, buffers and submodules in three ordered dicts
(`_parameters`, `_buffers`, `_modules`) rather than in `__dict__`, so traversal
(`named_parameters`, `state_dict`, `to`) sees them in registration order. `__setattr__`
routes a Parameter, a Module or a value for an existing buffer to the right dict, and
`__getattr__` (called only when normal lookup fails) finds them there.
"""
import itertools
from collections import OrderedDict

from .. import parameter as P
from ..._tensor import Tensor
from ... import _dtype as D
from ...autograd.grad_mode import no_grad
from . import _state
from ._backward_hook import BackwardHook

__all__ = ["Module"]


class RemovableHandle:
    """What register_*_hook returns: `handle.remove()` unregisters the hook; also a
    context manager that removes it on exit."""
    _ids = itertools.count()

    def __init__(self, *hook_dicts):
        self.id = next(RemovableHandle._ids)
        self._dicts = hook_dicts

    def remove(self):
        for d in self._dicts:
            if isinstance(d, set):
                d.discard(self.id)
            else:
                d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _typename(v):
    return f"{type(v).__module__}.{type(v).__name__}" if isinstance(v, Tensor) \
        else type(v).__name__


def _addindent(s, n):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


class Module:
    """Base class for all neural-network modules; subclass it and define `forward`.

    Assigning a Parameter, a Module or a Buffer to an attribute registers it (see NOTE
    [module registration]); `model(x)` runs forward hooks around `forward(x)`.

    Example:
        >>> import plugtorch as torch
        >>> class Net(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = torch.nn.Linear(3, 2)
        ...     def forward(self, x):
        ...         return self.fc(x).relu()
        >>> [name for name, _ in Net().named_parameters()]
        ['fc.weight', 'fc.bias']
    """
    training = True
    _version = 1

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments: "
                            f"{args!r} {kwargs!r}")
        s = object.__setattr__
        s(self, "training", True)
        s(self, "_parameters", OrderedDict())
        s(self, "_buffers", OrderedDict())
        s(self, "_non_persistent_buffers_set", set())
        s(self, "_modules", OrderedDict())
        s(self, "_forward_pre_hooks", OrderedDict())
        s(self, "_forward_hooks", OrderedDict())
        s(self, "_hooks_with_kwargs", set())
        s(self, "_backward_hooks", OrderedDict())
        s(self, "_backward_pre_hooks", OrderedDict())
        s(self, "_is_full_backward_hook", None)

    def forward(self, *input):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    # -- registration ------------------------------------------------------------------
    def _check_name(self, kind, name, store):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f"{kind} name can't contain \".\", got: {name}")
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in store:
            raise KeyError(f"attribute '{name}' already exists")

    def register_buffer(self, name, tensor, persistent=True):
        """Register a tensor that is module state but not a parameter (e.g. running means).

        Args:
            name: attribute name.
            tensor: a Tensor or None (None buffers are skipped by state_dict).
            persistent: include it in state_dict. Default: True.

        Example:
            >>> import plugtorch as torch
            >>> m = torch.nn.Module()
            >>> m.register_buffer("count", torch.zeros(()))
            >>> [n for n, _ in m.named_buffers()]
            ['count']
        """
        self._check_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            f"(torch Tensor or None required)")
        if isinstance(tensor, P.Buffer):
            persistent, tensor = tensor.persistent, tensor._data
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name, param):
        """Register a Parameter (or None) under `name`.

        Example:
            >>> import plugtorch as torch
            >>> m = torch.nn.Module()
            >>> m.register_parameter("w", torch.nn.Parameter(torch.ones(2)))
            >>> m.w.shape
            plugtorch.Size([2])
        """
        self._check_name("parameter", name, self._parameters)
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, P.Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            f"(torch.nn.Parameter or None required)")
        if param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly. To express '{name}' as "
                             f"a function of another Tensor, compute the value in the "
                             f"forward() method.")
        self._parameters[name] = param

    def add_module(self, name, module):
        """Register a submodule (or None) under `name`; it shows up in children() and its
        parameters get the prefix `name.`."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        self._check_name("module", name, self._modules)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params, buffers, modules = (d.get("_parameters"), d.get("_buffers"),
                                    d.get("_modules"))

        def remove_from(*stores):
            for s in stores:
                if s is not None and name in s:
                    del s[name]
            d.pop(name, None)
            if buffers is not None:
                self._non_persistent_buffers_set.discard(name)

        if isinstance(value, P.Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(buffers, modules)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                f"(torch.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            remove_from(params, buffers)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                f"(torch.nn.Module or None expected)")
            modules[name] = value
        elif isinstance(value, P.Buffer) or (buffers is not None and name in buffers):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                f"(torch.nn.Buffer, torch.Tensor or None expected)")
            if isinstance(value, P.Buffer):
                persistent = value.persistent
                remove_from(params, modules)
            else:
                persistent = name not in self._non_persistent_buffers_set
            self.register_buffer(name, value, persistent)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # only called when normal lookup failed: look in the registries
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(object.__dir__(self)) + list(self._parameters) + list(self._buffers) + \
            list(self._modules)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def get_submodule(self, target):
        """The submodule at dotted path `target` ("" is self).

        Example:
            >>> import plugtorch as torch
            >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
            >>> net.get_submodule("1")
            ReLU()
        """
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if item not in mod._modules:
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = mod._modules[item]
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def _get_owned(self, target, store, kind):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in getattr(mod, store):
            raise AttributeError(f"{mod._get_name()} has no {kind} `{name}`")
        return getattr(mod, store)[name]

    def get_parameter(self, target):
        """The parameter at dotted path `target`, e.g. "0.weight"."""
        return self._get_owned(target, "_parameters", "parameter")

    def get_buffer(self, target):
        """The buffer at dotted path `target`."""
        return self._get_owned(target, "_buffers", "buffer")

    def get_extra_state(self):
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called.")

    def set_extra_state(self, state):
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called.")

    # -- traversal ---------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yield (dotted name, module) for self and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """Yield (name, module) for each direct submodule (each module once)."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, v in getattr(mod, store).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield (dotted name, parameter), e.g. ("0.weight", p) in a Sequential.

        Args:
            prefix: prepended to every name.
            recurse: include the parameters of submodules. Default: True.
            remove_duplicate: yield a parameter shared by two modules once. Default: True.
        """
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """Yield every parameter (each once); what an optimizer takes."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield (dotted name, buffer), persistent or not."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # -- modes and gradients -------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (True) or evaluation mode (False) here and in every
        submodule; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        """Evaluation mode (dropout off, batch norm uses running stats); returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradient of every parameter: to None (default) or to zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                g.zero_()

    def apply(self, fn):
        """Call fn(module) on every submodule (children first), then on self; returns self.

        Example:
            >>> import plugtorch as torch
            >>> def init(m):
            ...     if isinstance(m, torch.nn.Linear):
            ...         torch.nn.init.zeros_(m.bias)
            >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2)).apply(init)
            >>> net[0].bias
            Parameter containing:
            tensor([0., 0.], requires_grad=True)
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- conversion ----------------------------------------------------------------------
    def _apply(self, fn):
        """Replace every parameter's and buffer's values by fn(tensor), in place: each
        Parameter object (and its .grad object) stays the same, so optimizers built before
        `to()` keep working."""
        for m in self.children():
            m._apply(fn)
        with no_grad():
            for key, p in self._parameters.items():
                if p is None:
                    continue
                new = fn(p)
                if new is not p:
                    p.data = new
                if p.grad is not None:
                    g = fn(p.grad)
                    if g is not p.grad:
                        p.grad.data = g
            for key, b in self._buffers.items():
                if b is not None:
                    self._buffers[key] = fn(b)
        return self

    def to(self, *args, **kwargs):
        """Move and/or cast parameters and buffers: to(device), to(dtype), to(device, dtype),
        to(tensor). Only floating-point tensors change dtype. Parameters are converted in
        place (same objects). Returns self.

        Example:
            >>> import plugtorch as torch
            >>> lin = torch.nn.Linear(2, 2)
            >>> w = lin.weight
            >>> lin.to(torch.float64).weight is w, w.dtype
            (True, plugtorch.float64)
        """
        device, dtype = _state.parse_to(args, kwargs)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but "
                            f"got desired dtype={dtype}")

        def convert(t):
            return t.to(device=device, dtype=dtype if t.is_floating_point() else None)
        return self._apply(convert)

    def cpu(self):
        return self._apply(lambda t: t.cpu())

    def cuda(self, device=None):
        return self._apply(lambda t: t.cuda(device))

    def _cast_float(self, dtype):
        return self._apply(lambda t: t.to(dtype) if t.is_floating_point() else t)

    def float(self):
        """Cast floating-point parameters and buffers to float32; returns self."""
        return self._cast_float(D.float32)

    def double(self):
        """Cast floating-point parameters and buffers to float64; returns self."""
        return self._cast_float(D.float64)

    def half(self):
        """Cast floating-point parameters and buffers to float16; returns self."""
        return self._cast_float(D.float16)

    def type(self, dst_type):
        """Cast every parameter and buffer to `dst_type`; returns self."""
        dt = D.to_dtype(dst_type)
        return self._apply(lambda t: t.to(dt))

    # -- state ---------------------------------------------------------------------------
    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An OrderedDict from dotted names to parameters and persistent buffers.

        Values are detached tensors sharing storage with the module (parameters themselves
        with keep_vars=True).

        Example:
            >>> import plugtorch as torch
            >>> list(torch.nn.Sequential(torch.nn.Linear(2, 3)).state_dict())
            ['0.weight', '0.bias']
        """
        return _state.state_dict(self, destination, prefix, keep_vars)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from `state_dict` into this module and its descendants.

        Args:
            state_dict: a mapping from dotted names to tensors.
            strict: raise if keys are missing or unexpected. Default: True.
            assign: replace the module's tensors by the state dict's instead of copying into
                them (parameters stay Parameters). Default: False.

        Returns:
            A named tuple (missing_keys, unexpected_keys).

        Raises:
            RuntimeError listing missing and unexpected keys (strict) and every shape
            mismatch (always).
        """
        return _state.load_state_dict(self, state_dict, strict, assign)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        _state.load_own(self, state_dict, prefix, strict, missing_keys, unexpected_keys,
                        error_msgs, local_metadata.get("assign", False))

    # -- hooks and calling ---------------------------------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call hook(module, args) before forward; a non-None result replaces args (a
        non-tuple is wrapped in one). With with_kwargs=True: hook(module, args, kwargs)
        may return (args, kwargs). Returns a handle with remove()."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """Call hook(module, args, output) after forward; a non-None result replaces the
        output. With with_kwargs=True: hook(module, args, kwargs, output). Returns a handle
        with remove().

        Example:
            >>> import plugtorch as torch
            >>> relu = torch.nn.ReLU()
            >>> h = relu.register_forward_hook(lambda m, args, out: out * 2)
            >>> relu(torch.tensor([-1., 3.]))
            tensor([0., 6.])
            >>> h.remove()
        """
        return self._add_hook(self._forward_hooks, hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook, prepend=False):
        """Call hook(module, grad_input, grad_output) when the gradients of the module's
        inputs have been computed; grad_input and grad_output are tuples with one entry per
        positional input / output (None where it is not a tensor or needs no grad). A
        returned tuple replaces grad_input. See NOTE [module backward hooks] in
        _backward_hook.py. Returns a handle with remove().

        Example:
            >>> import plugtorch as torch
            >>> lin = torch.nn.Linear(2, 1)
            >>> seen = []
            >>> h = lin.register_full_backward_hook(
            ...     lambda m, gin, gout: seen.append((gin[0].shape, gout[0].shape)))
            >>> lin(torch.ones(3, 2, requires_grad=True)).sum().backward()
            >>> seen
            [(plugtorch.Size([3, 2]), plugtorch.Size([3, 1]))]
        """
        self._set_backward_kind(True)
        return self._add_hook(self._backward_hooks, hook, prepend, False)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Call hook(module, grad_output) when the gradients of the module's outputs have
        been computed, before the module's own backward; a returned tuple replaces
        grad_output. Returns a handle with remove().

        Example:
            >>> import plugtorch as torch
            >>> lin = torch.nn.Linear(2, 1)
            >>> h = lin.register_full_backward_pre_hook(lambda m, gout: (gout[0] * 0,))
            >>> x = torch.ones(1, 2, requires_grad=True)
            >>> lin(x).sum().backward()
            >>> x.grad
            tensor([[0., 0.]])
        """
        return self._add_hook(self._backward_pre_hooks, hook, prepend, False)

    def register_backward_hook(self, hook):
        """Legacy name: registers `hook` with the semantics of register_full_backward_hook
        (PyTorch's old per-last-op behaviour is deprecated there and not reproduced)."""
        self._set_backward_kind(False)
        return self._add_hook(self._backward_hooks, hook, False, False)

    def _set_backward_kind(self, full):
        if self._is_full_backward_hook is (not full) and self._backward_hooks:
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks "
                               "on a single Module. Please use only one of them.")
        self._is_full_backward_hook = full

    def _add_hook(self, hooks, hook, prepend, with_kwargs):
        handle = RemovableHandle(hooks, self._hooks_with_kwargs)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        if with_kwargs:
            self._hooks_with_kwargs.add(handle.id)
        return handle

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks or
                self._backward_pre_hooks):
            return self.forward(*args, **kwargs)
        kw_ids = self._hooks_with_kwargs
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in kw_ids:
                r = hook(self, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {r}.")
                    args, kwargs = r
            else:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        bw = None
        if self._backward_hooks or self._backward_pre_hooks:
            bw = BackwardHook(self, list(self._backward_hooks.values()),
                              list(self._backward_pre_hooks.values()))
            args = bw.setup_input_hook(args)
        result = self.forward(*args, **kwargs)
        for hid, hook in list(self._forward_hooks.items()):
            r = hook(self, args, kwargs, result) if hid in kw_ids else hook(self, args, result)
            if r is not None:
                result = r
        if bw is not None:
            result = bw.setup_output_hook(result)
        return result

    # -- repr ------------------------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The text inside this module's parentheses in its repr (override in layers)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        s = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                s += extra_lines[0]
            else:
                s += "\n  " + "\n  ".join(lines) + "\n"
        return s + ")"

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_hooks_with_kwargs", set())
        self.__dict__.setdefault("_backward_hooks", OrderedDict())
        self.__dict__.setdefault("_backward_pre_hooks", OrderedDict())
        self.__dict__.setdefault("_is_full_backward_hook", None)
