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
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "lr_scheduler"]
