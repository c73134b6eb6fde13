"""Loss modules: thin wrappers that keep the options and call nn.functional.

Class weights (`weight`, `pos_weight`) are buffers, as in PyTorch, so they follow
`module.to(device)` and appear in state_dict when set.
"""
from .. import functional as F
from ..functional._loss import legacy_reduction
from .module import Module

__all__ = ["L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "NLLLoss", "CrossEntropyLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = legacy_reduction(size_average, reduce)
        self.reduction = reduction

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """Mean absolute error |input - target|.

    Args:
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean'.

    Shape:
        input and target: any shape, the same; output: scalar, or input's shape for 'none'.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.L1Loss()(torch.tensor([1., 2.]), torch.tensor([0., 4.]))
        tensor(1.5000)
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (input - target)^2; see L1Loss for the arguments and shapes.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.MSELoss(reduction="sum")(torch.tensor([1., 2.]), torch.tensor([0., 4.]))
        tensor(5.)
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, with d = input - target.

    Args:
        reduction: 'none' | 'mean' | 'sum'.
        beta: where the loss turns from quadratic to linear; 0 gives L1Loss. Default: 1.0.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.SmoothL1Loss()(torch.tensor([0.5, 3.]), torch.tensor([0., 0.]))
        tensor(1.3125)
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), with d = input - target.

    Args:
        reduction: 'none' | 'mean' | 'sum'.
        delta: where the loss turns from quadratic to linear (> 0). Default: 1.0.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.HuberLoss(delta=2.)(torch.tensor([0.5, 3.]), torch.tensor([0., 0.]))
        tensor(2.0625)
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class NLLLoss(_WeightedLoss):
    """Negative log likelihood of class indices, for log-probabilities (e.g. LogSoftmax).

    Args:
        weight: optional (C,) per-class weights (a buffer).
        ignore_index: target value that contributes nothing. Default: -100.
        reduction: 'none' | 'mean' (divided by the summed weight of kept targets) | 'sum'.

    Shape:
        input: (C), (N, C) or (N, C, d1, ...); target: (), (N) or (N, d1, ...), int64;
        output: scalar, or target's shape for 'none'.

    Example:
        >>> import plugtorch as torch
        >>> logp = torch.tensor([[-0.5, -1.0], [-2.0, -0.1]])
        >>> torch.nn.NLLLoss()(logp, torch.tensor([0, 1]))
        tensor(0.3000)
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy between logits and class indices or class probabilities.

    Args:
        weight: optional (C,) per-class weights (a buffer).
        ignore_index: class-index target that contributes nothing. Default: -100.
        reduction: 'none' | 'mean' | 'sum'.
        label_smoothing: in [0, 1]; mixes the target with the uniform distribution.

    Shape:
        input: (C), (N, C) or (N, C, d1, ...) logits; target: class indices shaped like
        input without the class dim, or probabilities shaped like input; output: scalar, or
        (N, d1, ...) for 'none'.

    Example:
        >>> import plugtorch as torch
        >>> loss = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
        >>> loss(torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 1]))
        tensor(0.2269)
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight,
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities, each log clamped at -100.

    Args:
        weight: optional weights broadcast to the input's shape (a buffer).
        reduction: 'none' | 'mean' | 'sum'.

    Shape:
        input and target: the same shape; output: scalar, or input's shape for 'none'.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.BCELoss()(torch.tensor([0.5, 1.0]), torch.tensor([1., 1.]))
        tensor(0.3466)
    """

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross entropy in one numerically stable step.

    Args:
        weight: optional weights broadcast to the input's shape (a buffer).
        reduction: 'none' | 'mean' | 'sum'.
        pos_weight: optional weight of positive examples, one per class (last dim; a buffer).

    Example:
        >>> import plugtorch as torch
        >>> loss = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0, 1.0]))
        >>> loss(torch.tensor([0., 2.]), torch.tensor([1., 0.]))
        tensor(1.7566)
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence target * (log target - input) for log-probability input.

    Args:
        reduction: 'none' | 'batchmean' (the true KL divergence per batch) | 'sum' | 'mean'.
        log_target: the target is given as log-probabilities. Default: False.

    Example:
        >>> import plugtorch as torch
        >>> kl = torch.nn.KLDivLoss(reduction="batchmean")
        >>> kl(torch.tensor([[0.25, 0.75]]).log(), torch.tensor([[0.5, 0.5]]))
        tensor(0.1438)
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
