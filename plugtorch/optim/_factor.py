"""ConstantLR, LinearLR and PolynomialLR: the lr times a factor that changes with the epoch
(see plugtorch.optim.lr_scheduler)."""
from .lr_scheduler import LRScheduler

__all__ = ["ConstantLR", "LinearLR", "PolynomialLR"]


class ConstantLR(LRScheduler):
    """Multiply the learning rate by `factor` for the first `total_iters` epochs.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        factor (float): the factor, in [0, 1]. Default: 1/3.
        total_iters (int): number of epochs at the reduced rate. Default: 5.
        last_epoch (int): the index of the last epoch. Default: -1.

    Example:
        >>> import plugtorch
        >>> opt = plugtorch.optim.SGD([plugtorch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = plugtorch.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2)
        >>> lrs = []
        >>> for _ in range(3):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [0.5, 0.5, 1.0]
    """

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        if factor > 1.0 or factor < 0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        # recursive (as PyTorch): scale down at epoch 0, back up at total_iters
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [lr * (1.0 / self.factor) for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Change the learning rate linearly from ``start_factor`` to ``end_factor`` times its
    initial value over `total_iters` epochs (a warm-up when start < end), then keep it.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        start_factor (float): the factor at epoch 0, in (0, 1]. Default: 1/3.
        end_factor (float): the factor from epoch `total_iters` on, in [0, 1].
            Default: 1.
        total_iters (int): number of epochs of the ramp. Default: 5.
        last_epoch (int): the index of the last epoch. Default: -1.

    Example:
        >>> import plugtorch
        >>> opt = plugtorch.optim.SGD([plugtorch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = plugtorch.optim.lr_scheduler.LinearLR(opt, 0.5, 1.0, total_iters=2)
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 "
                             "and less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        # recursive: the ratio of the factors of this epoch and the previous one
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor
                               + (self.last_epoch - 1) * delta)
        return [lr * ratio for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base * (self.start_factor + (self.end_factor - self.start_factor)
                        * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay the learning rate as ``(1 - epoch / total_iters) ** power``, reaching 0 at
    `total_iters` and staying there.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        total_iters (int): number of epochs of the decay. Default: 5.
        power (float): the power of the polynomial. Default: 1.
        last_epoch (int): the index of the last epoch. Default: -1.

    Example:
        >>> import plugtorch
        >>> opt = plugtorch.optim.SGD([plugtorch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = plugtorch.optim.lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0)
        >>> opt.step(); sched.step(); sched.get_last_lr()
        [0.5625]
    """

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        t, n = self.last_epoch, self.total_iters
        factor = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** self.power
        return [lr * factor for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters)
                ** self.power for base in self.base_lrs]
