"""plugtorch.optim: optimizers and learning-rate schedulers, with PyTorch's update rules.

Every update is a few in-place elementwise ops on the parameter's device; see
NOTE [optimizer updates stay on the device] in `plugtorch.optim.optimizer`.

Example:
    >>> import plugtorch
    >>> w = plugtorch.tensor([3.0], requires_grad=True)
    >>> opt = plugtorch.optim.SGD([w], lr=0.25)
    >>> for _ in range(3):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> w
    tensor([0.3750], requires_grad=True)
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adamax", "NAdam",
           "RAdam", "ASGD", "Rprop", "SparseAdam", "LBFGS", "lr_scheduler"]
