"""Automatic differentiation: the graph, backward, grad, Function, gradcheck."""
from .grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode,
                        is_grad_enabled, is_inference_mode_enabled)
from .graph import Node
from .engine import backward, grad
from .function import Function, Variable
from .gradcheck import gradcheck, gradgradcheck
from . import _methods  # noqa: F401  (Tensor.backward, register_hook, …)
from . import functional  # noqa: F401  (jacobian, hessian, vjp, …)

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "backward", "grad", "Function", "Variable", "gradcheck", "gradgradcheck", "Node"]
