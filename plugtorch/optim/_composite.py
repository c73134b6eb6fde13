"""SequentialLR and ChainedScheduler (see plugtorch.optim.lr_scheduler)."""
from bisect import bisect_right

from ._plateau import ReduceLROnPlateau
from .lr_scheduler import LRScheduler

__all__ = ["SequentialLR", "ChainedScheduler"]


def _check_schedulers(owner, optimizer, schedulers, what):
    if len(schedulers) < 1:
        raise ValueError(f"{owner} expects at least one scheduler{what}, but got no scheduler.")
    for i, sched in enumerate(schedulers):
        if not hasattr(sched, "optimizer"):
            raise TypeError(f"{owner} at index {i} should have `optimizer` as its attribute.")
        if isinstance(sched, ReduceLROnPlateau):
            raise ValueError(f"{owner} does not support `ReduceLROnPlateau` scheduler as it "
                             "requires additional kwargs to be specified when calling `step`, "
                             f"but got one at index {i} in the given schedulers sequence.")
        if optimizer is not sched.optimizer:
            raise ValueError(f"{owner} expects all schedulers to belong to the same optimizer, "
                             f"but got scheduler {type(sched).__name__} at index {i} has "
                             f"{sched.optimizer}, which is different from "
                             f"{type(optimizer).__name__}.")


class _Composite(LRScheduler):
    """A scheduler made of schedulers: their states are saved with its own."""

    def state_dict(self):
        """The state, with each inner scheduler's state under ``"_schedulers"``."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        """Restore a state returned by `state_dict`, the inner schedulers' too."""
        state_dict = dict(state_dict)
        inner = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        for sched, s in zip(self._schedulers, inner):
            sched.load_state_dict(s)


def _undo_initial_steps(sched):
    # each scheduler stepped once when it was created; SequentialLR restarts them
    if hasattr(sched, "_schedulers"):
        for inner in sched._schedulers:
            _undo_initial_steps(inner)
    elif hasattr(sched, "last_epoch"):
        sched.last_epoch -= 1


class SequentialLR(_Composite):
    """Run schedulers one after another: ``schedulers[i]`` from epoch ``milestones[i-1]``
    on, each (re)started from the group's initial learning rate at its milestone.

    Args:
        optimizer (Optimizer): wrapped optimizer (the one every scheduler wraps).
        schedulers (list): the schedulers, in order.
        milestones (list of int): the epochs at which the next scheduler takes over (one
            fewer than the schedulers).
        last_epoch (int): the index of the last epoch. Default: -1.

    Example:
        >>> import plugtorch
        >>> from plugtorch.optim import lr_scheduler as S
        >>> opt = plugtorch.optim.SGD([plugtorch.zeros(1, requires_grad=True)], lr=1.0)
        >>> warm = S.LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> decay = S.ExponentialLR(opt, gamma=0.5)
        >>> sched = S.SequentialLR(opt, [warm, decay], milestones=[2])
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> lrs
        [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        _check_schedulers(type(self).__name__, optimizer, schedulers, "")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("Sequential Schedulers expects number of schedulers provided to be "
                             "one more than the number of milestone points, but got number of "
                             f"schedulers {len(schedulers)} and the number of milestones to be "
                             f"equal to {len(milestones)}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        _undo_initial_steps(self)
        first = schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self):
        """Advance by one epoch: the scheduler of this epoch steps, or starts afresh."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()


class ChainedScheduler(_Composite):
    """Step several schedulers together each epoch, so their effects multiply (each
    scheduler scales the lr the previous one wrote).

    Args:
        schedulers (list): the schedulers to step, in order.
        optimizer (Optimizer, optional): their optimizer. Default: that of the first.

    Example:
        >>> import plugtorch
        >>> from plugtorch.optim import lr_scheduler as S
        >>> opt = plugtorch.optim.SGD([plugtorch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=2),
        ...                             S.ExponentialLR(opt, gamma=0.9)])
        >>> lrs = []
        >>> for _ in range(3):
        ...     lrs.append(round(sched.get_last_lr()[0], 6)); opt.step(); sched.step()
        >>> lrs
        [0.5, 0.45, 0.81]
    """

    def __init__(self, schedulers, optimizer=None):
        if optimizer is None and schedulers:
            optimizer = schedulers[0].optimizer
        _check_schedulers(type(self).__name__, optimizer, schedulers, " to be chained")
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = [g["lr"] for g in schedulers[-1].optimizer.param_groups]

    def step(self):
        """Step every scheduler, in order."""
        for sched in self._schedulers:
            sched.step()
        self._last_lr = [g["lr"] for g in self._schedulers[-1].optimizer.param_groups]
