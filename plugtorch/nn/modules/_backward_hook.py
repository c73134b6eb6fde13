"""Module backward hooks (register_full_backward_hook / register_full_backward_pre_hook).

NOTE [module backward hooks]
A module is not a node of the autograd graph, so its backward hooks need two markers in the
graph: when the module runs, the tensor inputs that require grad go through an identity
Function (BackwardHookFunction) before forward sees them, and the tensor outputs that
require grad go through another one after forward. In backward, the gradients reach the
output marker first: its node pre-hook packs them as grad_output (None for outputs that
are not tensors or need no grad), runs the backward pre-hooks (which may replace them) and
keeps them. They then flow through the module's own ops to the input marker, whose node
hook packs grad_input the same way and calls hook(module, grad_input, grad_output); a
returned tuple replaces the gradients sent on to the inputs. A tensor input that needs no
grad gets zeros in grad_input (as PyTorch, whose marker materializes its gradient). When no
input requires grad, the hooks are called from the output marker with grad_input all None,
with PyTorch's warning.
Everything is ordinary graph machinery, so it runs on every backend and costs nothing
when no hook is registered.
"""
import warnings

from ..._tensor import Tensor
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled
from ...ops.creation import zeros

__all__ = []


class BackwardHookFunction(Function):
    """Identity on tensors; its node is where the module's hooks attach."""

    @staticmethod
    def forward(ctx, *args):
        return args

    @staticmethod
    def backward(ctx, *grads):
        return grads


def _pack(indices, values, size):
    res = [None] * size
    for i, v in zip(indices, values):
        res[i] = v
    return tuple(res)


def _through_marker(values, register):
    """Route the tensors of `values` that require grad through a BackwardHookFunction and
    call register(its node); returns (new values, their positions) or (values, None)."""
    idx = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
    if not idx or not is_grad_enabled():
        return values, None
    marked = BackwardHookFunction.apply(*[values[i] for i in idx])
    register(marked[0].grad_fn)
    out = list(values)
    for i, v in zip(idx, marked):
        out[i] = v
    return tuple(out), idx


class BackwardHook:
    """The hooks of one module call (see NOTE [module backward hooks])."""

    def __init__(self, module, hooks, pre_hooks):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs = None
        self.n_inputs = self.n_outputs = 0
        self.input_idx = self.output_idx = None

    def setup_input_hook(self, args):
        self.n_inputs = len(args)
        # only the metadata: the hook must not keep the inputs alive
        self.zero_meta = {i: (a.shape, a.dtype, a.device) for i, a in enumerate(args)
                          if isinstance(a, Tensor) and not a.requires_grad}
        args, self.input_idx = _through_marker(args, lambda n: n.register_hook(self._on_input))
        return args

    def setup_output_hook(self, result):
        if not isinstance(result, (Tensor, tuple)):
            warnings.warn(f"For backward hooks to be called, module output should be a Tensor "
                          f"or a tuple of Tensors but received {type(result)}")
            return result
        single = isinstance(result, Tensor)
        outs = (result,) if single else result
        self.n_outputs = len(outs)
        outs, self.output_idx = _through_marker(
            outs, lambda n: n.register_prehook(self._on_output))
        return outs[0] if single else outs

    def _on_output(self, grads):
        self.grad_outputs = _pack(self.output_idx, grads, self.n_outputs)
        for hook in self.pre_hooks:
            new = hook(self.module, self.grad_outputs)
            if new is None:
                continue
            new = tuple(new) if isinstance(new, (tuple, list)) else (new,)
            if len(new) != self.n_outputs:
                raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                   f"grad_output, got {len(new)}, but expected "
                                   f"{self.n_outputs}")
            self.grad_outputs = new
        local = self.grad_outputs
        if self.input_idx is None:
            # nothing upstream will reach an input marker: call the hooks now
            if self.hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with "
                              "respect to module outputs since no inputs require gradients. "
                              "See the documentation of Module.register_full_backward_hook "
                              "for more details.")
            none = (None,) * self.n_inputs
            for hook in self.hooks:
                res = hook(self.module, none, local)
                if res is not None and not (isinstance(res, tuple) and
                                            all(r is None for r in res)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return tuple(local[i] for i in self.output_idx)

    def _on_input(self, grad_inputs, _):
        if self.grad_outputs is None:
            # the gradient reached the inputs without passing through the outputs
            return None
        res = list(_pack(self.input_idx, grad_inputs, self.n_inputs))
        for i, (shape, dtype, device) in self.zero_meta.items():
            res[i] = zeros(shape, dtype=dtype, device=device)
        res = tuple(res)
        for hook in self.hooks:
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            if len(out) != len(res):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(out)}, but expected {len(res)}")
            res = out
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_idx)
