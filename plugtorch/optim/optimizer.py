"""Optimizer: the base class of every optimizer (parameter groups, state, state_dict).

NOTE [optimizer updates stay on the device]
An optimizer step is a handful of in-place elementwise ops per parameter (`p.add_`,
`buf.mul_`, ...) on the parameter's own device; every state tensor (momentum buffers,
moment estimates) is created with `p.new_zeros` so it lives there too. Hyper-parameters are
Python floats, so no step reads a tensor value back to the host and a step on an
asynchronous device (OpenCL, CUDA) only enqueues kernels.

The one counter a step needs on the host, `state["step"]`, is a 0-d float32 tensor that is
kept on the CPU whatever the parameter's device (as PyTorch does unless capturable/fused):
reading it is a read of host memory, not a device synchronisation, and bias corrections
such as ``1 - beta1 ** step`` become Python floats. The few other scalars a rule carries
from step to step (NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``) are kept the same way;
an optimizer lists them in ``_host_state``. LBFGS is the exception: like PyTorch's, it reads
dot products and norms back to decide its line search and stopping.
"""
import copy
import functools
from collections import defaultdict
from itertools import chain

from .._tensor import Tensor
from ..autograd.grad_mode import enable_grad, no_grad

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a default that every parameter group must give (``lr=required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _wrap_step(step):
    # Schedulers ask whether optimizer.step() ran before their first step (PyTorch warns
    # otherwise); every subclass's step records that here, see Optimizer.__init_subclass__.
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        self._opt_called = True
        return step(self, *args, **kwargs)
    wrapper._records_call = True
    return wrapper


class Optimizer:
    """Base class for optimizers.

    Holds the parameter groups (``param_groups``: a list of dicts, each with ``"params"`` and
    its hyper-parameters, missing ones filled from ``defaults``) and the per-parameter
    ``state`` (a dict from parameter tensor to a dict of tensors and numbers).
    Subclasses implement `step`.

    Args:
        params (iterable): tensors to optimize, or dicts defining parameter groups
            (``{"params": [...], "lr": 0.1}``).
        defaults (dict): the default hyper-parameters of a group.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.ones(3, requires_grad=True)
        >>> b = plugtorch.zeros(1, requires_grad=True)
        >>> opt = plugtorch.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
        >>> (w.sum() + 2 * b.sum()).backward()
        >>> opt.step()
        >>> w, b
        (tensor([0.9000, 0.9000, 0.9000], requires_grad=True), tensor([-1.], requires_grad=True))
    """

    # state entries kept as 0-d float32 CPU tensors whatever the parameter's device (see
    # NOTE [optimizer updates stay on the device]); load_state_dict places them back there
    _host_state = ("step",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_records_call", False):
            cls.step = _wrap_step(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"

    # ------------------------------------------------------------------------- groups

    def add_param_group(self, param_group):
        """Add a parameter group (a dict with ``"params"`` and optional hyper-parameters).

        Useful when fine-tuning: layers unfrozen later join the optimization with their own
        learning rate. Hyper-parameters the group does not give come from ``defaults``.

        Args:
            param_group (dict): ``{"params": tensors, **options}``.

        Example:
            >>> import plugtorch
            >>> opt = plugtorch.optim.SGD([plugtorch.zeros(2, requires_grad=True)], lr=0.1)
            >>> opt.add_param_group({"params": plugtorch.zeros(3, requires_grad=True),
            ...                      "lr": 0.01})
            >>> [g["lr"] for g in opt.param_groups]
            [0.1, 0.01]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some "
                                 "param names are missing")
            param_group["param_names"] = names
        param_group["params"] = params
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        taken = set()
        for group in self.param_groups:
            taken.update(id(p) for p in group["params"])
            if ("param_names" in group) != ("param_names" in param_group):
                kind = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {kind} to the optimizer")
        if not taken.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------------- steps

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of every optimized tensor.

        Args:
            set_to_none (bool): set ``.grad`` to None (default) instead of filling it with
                zeros. Optimizers skip parameters whose grad is None, but do step those
                with a zero gradient (momentum and weight decay still act).
        """
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g.zero_()

    @_wrap_step
    def step(self, closure=None):
        """Perform one optimization step.

        Args:
            closure (callable, optional): re-evaluates the model and returns the loss;
                it runs with gradients enabled.

        Returns the closure's loss (None without one). Each parameter group's parameters
        that have a gradient are updated by the subclass's `_update` (a subclass whose step
        works differently, as LBFGS, overrides `step` itself).
        """
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                params, states = self._params_with_state(group)
                self._update(group, params, states)
        return loss

    def _update(self, group, params, states):
        """Update `params` (those of `group` with a gradient) given their state dicts."""
        raise NotImplementedError

    def _closure_loss(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _params_with_state(self, group):
        """The parameters of `group` that have a gradient, and their state dicts; a state
        still empty (the parameter never stepped) is first filled by `_init_state`."""
        params = [p for p in group["params"] if p.grad is not None]
        states = [self.state[p] if len(self.state[p]) else self._init_state(p, group)
                  for p in params]
        return params, states

    def _init_state(self, p, group):
        """Fill and return the state dict of parameter `p` (optimizers that keep state)."""
        raise NotImplementedError

    # ------------------------------------------------------------------------- state dict

    def state_dict(self):
        """The optimizer's state in PyTorch's format.

        Returns a dict with ``"state"`` (parameter index -> that parameter's state dict; the
        tensors are references, not copies) and ``"param_groups"`` (one dict of
        hyper-parameters per group, its ``"params"`` a list of indices). Indices number the
        parameters in the order of the groups.

        Example:
            >>> import plugtorch
            >>> w = plugtorch.ones(2, requires_grad=True)
            >>> opt = plugtorch.optim.SGD([w], lr=0.1, momentum=0.9)
            >>> w.sum().backward(); opt.step()
            >>> sd = opt.state_dict()
            >>> list(sd["state"][0]), sd["param_groups"][0]["params"]
            (['momentum_buffer'], [0])
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v
                 for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a state produced by `state_dict` (of this or an identically built optimizer).

        Hyper-parameters come from the saved groups; state tensors are copied onto each
        parameter's device (floating-point ones also to its dtype), except ``"step"``,
        and the other host-side counters of `_host_state`, which stay 0-d float32 CPU
        tensors (see NOTE [optimizer updates stay on the device]).
        Unlike PyTorch, the loaded tensors are copies: the optimizer never aliases the
        state of the optimizer that produced `state_dict`.

        Args:
            state_dict (dict): as returned by `state_dict`.
        """
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, s in zip(self.param_groups, saved_groups):
            if len(g["params"]) != len(s["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in self.param_groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                p = id_map[k]
                state[p] = {key: _cast_state(p, key, val, self._host_state)
                            for key, val in v.items()}
            else:
                state[k] = v
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.__setstate__({"state": state, "param_groups": saved_groups})


def _check_adam_like(lr, betas, eps, weight_decay):
    """PyTorch's argument checks of the Adam family (one ValueError per bad argument)."""
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def _decayed_grad(p, g, state, *, lr, weight_decay, maximize, decoupled_weight_decay=False,
                  host_step=True):
    """Advance the step count and return (step, the gradient an update uses): negated when
    maximizing, plus weight_decay * p (L2), or with p itself decayed in place instead when
    the decay is decoupled (AdamW-style). The step is a Python float, or with
    host_step=False the count tensor itself (capturable optimizers: no host read)."""
    if maximize:
        g = -g
    step = _next_step(state) if host_step else state["step"].add_(1)
    if weight_decay != 0:
        if decoupled_weight_decay:
            p.mul_(1 - lr * weight_decay)
        else:
            g = g.add(p, alpha=weight_decay)
    return step, g


def _adam_moments(g, state, beta1, beta2):
    """Update Adam's running moments in place: exp_avg toward g, exp_avg_sq toward g*g."""
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    _lerp_(exp_avg, g, 1 - beta1)
    _addcmul_(exp_avg_sq.mul_(beta2), g, g, 1 - beta2)
    return exp_avg, exp_avg_sq


def _cast_state(param, key, value, host_keys=("step",)):
    """A copy of one saved state value, placed the way the optimizer expects it."""
    if isinstance(value, Tensor):
        if key in host_keys:
            return value.detach().to(device="cpu", dtype=_float32()).clone()
        if value.is_floating_point() and param.is_floating_point():
            return value.detach().to(device=param.device, dtype=param.dtype).clone()
        return value.detach().to(device=param.device).clone()
    if isinstance(value, dict):
        return {k: _cast_state(param, k, v, host_keys) for k, v in value.items()}
    if isinstance(value, (list, tuple)):      # e.g. the history of LBFGS
        return type(value)(_cast_state(param, key, v, host_keys) for v in value)
    if key in host_keys and isinstance(value, (int, float)):
        return _cpu_step(float(value))
    return copy.deepcopy(value)


def _typename(x):
    return "plugtorch.Tensor" if isinstance(x, Tensor) else type(x).__name__


def _float32():
    from .. import _dtype
    return _dtype.float32


# ----------------------------------------------------------------------------- helpers
# The fused ops PyTorch's update rules are written with (addcmul_, addcdiv_, lerp_), as
# compositions of in-place elementwise ops: one temporary, then one in-place write into
# `self`, so the version counter and every view of `self` see the update.

def _addcmul_(self, t1, t2, value=1.0):
    """self += value * t1 * t2, in place."""
    tmp = t1 * t2
    if value != 1:
        tmp.mul_(value)
    return self.add_(tmp)


def _addcdiv_(self, t1, t2, value=1.0):
    """self += value * t1 / t2, in place."""
    tmp = t1 / t2
    if value != 1:
        tmp.mul_(value)
    return self.add_(tmp)


def _lerp_(self, end, weight):
    """self += weight * (end - self), in place (linear interpolation towards `end`)."""
    tmp = end - self
    tmp.mul_(weight)
    return self.add_(tmp)


def _cpu_step(value=0.0):
    """A new step counter: a 0-d float32 CPU tensor (see NOTE [optimizer updates ...])."""
    from ..ops.creation import tensor
    return tensor(value, dtype=_float32(), device="cpu")


def _next_step(state):
    """Increment state["step"] and return its new value as a Python float (a host read of
    a CPU tensor; never a device synchronisation)."""
    step_t = state["step"]
    step_t.add_(1)
    return step_t.item()


def _check_compat(name, differentiable):
    # differentiable=True means "record the update for autograd": not implemented here
    if differentiable:
        raise NotImplementedError(f"{name}: differentiable=True is not supported by plugtorch")
