"""OneCycleLR (see plugtorch.optim.lr_scheduler)."""
import math

from .lr_scheduler import LRScheduler, _check_optimizer, _per_group

__all__ = ["OneCycleLR"]


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm the learning rate up to `max_lr`, then anneal it far below
    the start, while momentum (or Adam's beta1) moves the opposite way. Stepped once per
    batch.

    With ``three_phase=False`` the lr goes ``max_lr / div_factor`` -> ``max_lr`` over the
    first ``pct_start`` of the steps, then down to ``initial_lr / final_div_factor``. With
    ``three_phase=True`` it goes up, back down to the initial lr symmetrically, then down to
    the minimum.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        max_lr (float or list): the peak learning rate, per group.
        total_steps (int, optional): the number of steps of the cycle; or give both
            `epochs` and `steps_per_epoch`.
        epochs (int, optional): number of epochs.
        steps_per_epoch (int, optional): number of steps per epoch.
        pct_start (float): fraction of the cycle spent warming up. Default: 0.3.
        anneal_strategy (str): ``"cos"`` (default) or ``"linear"``.
        cycle_momentum (bool): cycle ``momentum`` (or ``betas[0]`` for Adam-like
            optimizers) between `max_momentum` and `base_momentum`. Default: True.
        base_momentum (float or list): the lowest momentum. Default: 0.85.
        max_momentum (float or list): the highest momentum. Default: 0.95.
        div_factor (float): initial lr = max_lr / div_factor. Default: 25.
        final_div_factor (float): min lr = initial lr / final_div_factor. Default: 1e4.
        three_phase (bool): use the three-phase schedule. Default: False.
        last_epoch (int): the index of the last batch. Default: -1.

    Example:
        >>> import plugtorch
        >>> opt = plugtorch.optim.SGD([plugtorch.zeros(1, requires_grad=True)], lr=0.1,
        ...                           momentum=0.9)
        >>> sched = plugtorch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
        >>> lrs = []
        >>> for _ in range(10):
        ...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> round(lrs[0], 6), round(max(lrs), 6), round(lrs[-1], 6)
        (0.04, 1.0, 4e-06)
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True,
                 base_momentum=0.85, max_momentum=0.95, div_factor=25.0,
                 final_div_factor=1e4, three_phase=False, last_epoch=-1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError("Expected positive integer steps_per_epoch, but got "
                                 f"{steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND "
                             "steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._anneal_func_type = anneal_strategy
        n = self.total_steps
        # each phase: (last step of the phase, lr from, lr to, momentum from, momentum to)
        if three_phase:
            self._schedule_phases = [
                (float(pct_start * n) - 1, "initial_lr", "max_lr", "max_momentum",
                 "base_momentum"),
                (float(2 * pct_start * n) - 2, "max_lr", "initial_lr", "base_momentum",
                 "max_momentum"),
                (n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._schedule_phases = [
                (float(pct_start * n) - 1, "initial_lr", "max_lr", "max_momentum",
                 "base_momentum"),
                (n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]

        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with "
                                 "`cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            tops = _per_group("max_momentum", optimizer, max_momentum)
            bottoms = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, top, bottom in zip(optimizer.param_groups, tops, bottoms):
                    self._set_momentum(group, top)
                    group["max_momentum"] = top
                    group["base_momentum"] = bottom
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total "
                             f"steps is {self.total_steps}")
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(self._schedule_phases):
                if step <= end or i == last:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[lr0], group[lr1], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[m0], group[m1], pct))
                    break
                start = end
        return lrs
