"""CyclicLR and CosineAnnealingWarmRestarts (see plugtorch.optim.lr_scheduler)."""
import math
import types

from .lr_scheduler import LRScheduler, _check_optimizer, _per_group

__all__ = ["CyclicLR", "CosineAnnealingWarmRestarts"]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing from the initial lr to `eta_min` over :math:`T_i` epochs, then a
    restart; each period is `T_mult` times the previous (:math:`T_0` first):

    .. math::
        \eta = \eta_{min} + (\eta_0 - \eta_{min})(1 + \cos(\pi T_{cur} / T_i)) / 2

    `step` may be given a (fractional) epoch, e.g. ``epoch + i / iters_per_epoch`` once
    per batch; :math:`T_{cur}` and :math:`T_i` are then recomputed from it.

    Args:
        optimizer (Optimizer): wrapped optimizer.
        T_0 (int): the length of the first period (a positive int).
        T_mult (int): the growth factor of the periods (an int >= 1). Default: 1.
        eta_min (float): the minimum learning rate. Default: 0.
        last_epoch (int): the index of the last epoch. Default: -1.

    Example:
        >>> import plugtorch
        >>> opt = plugtorch.optim.SGD([plugtorch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = plugtorch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2)
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(round(sched.get_last_lr()[0], 6)); opt.step(); sched.step()
        >>> lrs
        [1.0, 0.5, 1.0, 0.5]
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        if T_0 <= 0 or not isinstance(T_0, int):
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if T_mult < 1 or not isinstance(T_mult, int):
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(f"Expected float or int eta_min, but got {eta_min} of type "
                             f"{type(eta_min)}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.eta_min + (base - self.eta_min)
                * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2 for base in self.base_lrs]

    def step(self, epoch=None):
        """Advance by one epoch, or go to `epoch` (an int or a fractional epoch).

        Args:
            epoch (float, optional): the epoch to go to.
        """
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:          # restart
                self.T_cur -= self.T_i
                self.T_i *= self.T_mult
        elif epoch < 0:
            raise ValueError(f"Expected non-negative epoch, but got {epoch}")
        elif epoch < self.T_0:
            self.T_i, self.T_cur = self.T_0, epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:
            # the periods before restart n sum to T_0 (T_mult^n - 1) / (T_mult - 1)
            n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult ** n
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()


class CyclicLR(LRScheduler):
    """Cycle the learning rate between `base_lr` and `max_lr` (cyclical learning rates),
    stepped once per batch; momentum (or Adam's beta1) cycles the opposite way.

    A cycle rises for `step_size_up` steps and falls for `step_size_down`. The amplitude
    is scaled by ``scale_fn``: 1 (``"triangular"``), halved each cycle
    (``"triangular2"``), ``gamma ** iteration`` (``"exp_range"``), or a custom function
    of the cycle number (``scale_mode="cycle"``) or of the iteration (``"iterations"``).

    Args:
        optimizer (Optimizer): wrapped optimizer.
        base_lr (float or list): the lowest learning rate, per group (it replaces the
            optimizer's lr).
        max_lr (float or list): the highest learning rate, per group.
        step_size_up (int): steps of the rising half. Default: 2000.
        step_size_down (int, optional): steps of the falling half. Default: step_size_up.
        mode (str): ``"triangular"``, ``"triangular2"`` or ``"exp_range"``; ignored when
            `scale_fn` is given. Default: ``"triangular"``.
        gamma (float): the base of ``"exp_range"``. Default: 1.
        scale_fn (callable, optional): a custom amplitude scale.
        scale_mode (str): ``"cycle"`` or ``"iterations"``: what `scale_fn` is given.
        cycle_momentum (bool): cycle ``momentum`` (or ``betas[0]``) between
            `max_momentum` and `base_momentum`. Default: True.
        base_momentum (float or list): the lowest momentum. Default: 0.8.
        max_momentum (float or list): the highest momentum. Default: 0.9.
        last_epoch (int): the index of the last batch. Default: -1.

    Example:
        >>> import plugtorch
        >>> opt = plugtorch.optim.SGD([plugtorch.zeros(1, requires_grad=True)], lr=0.1,
        ...                           momentum=0.9)
        >>> sched = plugtorch.optim.lr_scheduler.CyclicLR(opt, 0.1, 0.5, step_size_up=2)
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(round(sched.get_last_lr()[0], 6)); opt.step(); sched.step()
        >>> lrs
        [0.1, 0.3, 0.5, 0.3, 0.1]
    """

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle",
                 cycle_momentum=True, base_momentum=0.8, max_momentum=0.9, last_epoch=-1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        step_size_up = float(step_size_up)
        step_size_down = float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError("mode is invalid and scale_fn is None")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with "
                                 "`cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for hi, lo, group in zip(self.max_momentums, self.base_momentums,
                                         optimizer.param_groups):
                    self._set_momentum(group, hi)
                    group["max_momentum"], group["base_momentum"] = hi, lo
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self):
        # the built-in modes fix what the scale is a function of
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x):
        """The amplitude scale at cycle (or iteration) `x`."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle     # position in the cycle
        if x <= self.step_ratio:
            rise = x / self.step_ratio
        else:
            rise = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [lo + (hi - lo) * rise * scale for lo, hi in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, lo, hi in zip(self.optimizer.param_groups, self.base_momentums,
                                     self.max_momentums):
                self._set_momentum(group, hi - (hi - lo) * rise * scale)
        return lrs

    def state_dict(self):
        """The state; a custom scale function is saved by its __dict__ (None for a plain
        function)."""
        state = super().state_dict()
        fn = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = None if fn is None or isinstance(fn, types.FunctionType) \
            else fn.__dict__.copy()
        return state

    def load_state_dict(self, state_dict):
        """Restore a state returned by `state_dict` (a custom scale function stays)."""
        state_dict = dict(state_dict)
        fn_state = state_dict.pop("_scale_fn_custom")
        super().load_state_dict(state_dict)
        if fn_state is not None:
            self._scale_fn_custom.__dict__.update(fn_state)
        self._init_scale_fn()
