"""Loss functions: l1, mse, smooth_l1, huber, cross_entropy, nll, binary_cross_entropy (with
and without logits) and kl_div, written with plugtorch ops so every backend runs them.

NOTE [asynchronous class-index losses]
nll_loss and cross_entropy read no value back to the host, so a training step on a device
stays asynchronous. Picking the log-probability of each target class is one `gather`
primitive (`_pick`), not the public `gather`, whose range check reads the index values.
The target is clamped into [0, C) on the device before the kernel runs, so no kernel reads
out of bounds; a target that is neither in range nor `ignore_index` raises PyTorch's
IndexError ("Target 7 is out of bounds.") -- at once on the host, and on a device at the next
host read, as the deferred index checks do (its loss is NaN until then).
binary_cross_entropy likewise does not check that its input lies in [0, 1].
"""
import math
import warnings

from ... import _capture
from ... import _dtype as D
from ..._tensor import Tensor, _wrap, empty_like_meta, host_array, numel_of
from ...autograd.grad_mode import STATE, no_grad
from ...ops import _core as C
from ...ops.composite import log_softmax
from ...ops.creation import ones_like
from ...ops.ternary import where

__all__ = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]

_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
               "uint8": "Byte", "bool": "Bool", "float16": "Half", "float32": "Float",
               "float64": "Double"}


# ----------------------------------------------------------------------------- reductions

def legacy_reduction(size_average, reduce, emit_warning=True):
    """The reduction string for the deprecated size_average / reduce arguments."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "none" if not reduce else ("mean" if size_average else "sum")
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{ret}' instead.", UserWarning, stacklevel=3)
    return ret


def _reduction(reduction, size_average=None, reduce=None, allowed=("none", "mean", "sum")):
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _apply(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _check_tensors(name, *tensors):
    for t in tensors:
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensor arguments, got {type(t).__name__}")


def _warn_size(name, input, target):
    if input._shape != target._shape:
        warnings.warn(f"{name}: Using a target size ({target.shape}) that is different to the "
                      f"input size ({input.shape}). This will likely lead to incorrect results "
                      f"due to broadcasting. Please ensure they have the same size.",
                      UserWarning, stacklevel=3)


# ----------------------------------------------------------------------------- regression

def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean absolute error |input - target| (input and target broadcast, with a warning).

    Args:
        input, target: tensors of the same shape.
        reduction: 'none' | 'mean' | 'sum'.

    Example:
        >>> import plugtorch
        >>> import plugtorch.nn.functional as F
        >>> F.l1_loss(plugtorch.tensor([1., 2.]), plugtorch.tensor([0., 4.]))
        tensor(1.5000)
    """
    _check_tensors("l1_loss", input, target)
    reduction = _reduction(reduction, size_average, reduce)
    _warn_size("l1_loss", input, target)
    return _apply((input - target).abs(), reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error (input - target)^2, optionally times `weight` (broadcast).

    Example:
        >>> import plugtorch
        >>> import plugtorch.nn.functional as F
        >>> F.mse_loss(plugtorch.tensor([1., 2.]), plugtorch.tensor([0., 4.]))
        tensor(2.5000)
    """
    _check_tensors("mse_loss", input, target, weight)
    reduction = _reduction(reduction, size_average, reduce)
    _warn_size("mse_loss", input, target)
    d = input - target
    loss = d * d
    return _apply(loss if weight is None else loss * weight, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta=0
    is the L1 loss.

    Example:
        >>> import plugtorch
        >>> import plugtorch.nn.functional as F
        >>> F.smooth_l1_loss(plugtorch.tensor([0.5, 3.]), plugtorch.tensor([0., 0.]))
        tensor(1.3125)
    """
    _check_tensors("smooth_l1_loss", input, target)
    reduction = _reduction(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_size("smooth_l1_loss", input, target)
    d = input - target
    a = d.abs()
    if beta == 0:
        return _apply(a, reduction)
    return _apply(where(a < beta, (0.5 / beta) * d * d, a - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target).

    Example:
        >>> import plugtorch
        >>> import plugtorch.nn.functional as F
        >>> F.huber_loss(plugtorch.tensor([0.5, 3.]), plugtorch.tensor([0., 0.]), delta=2.)
        tensor(2.0625)
    """
    _check_tensors("huber_loss", input, target, weight)
    reduction = _reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _warn_size("huber_loss", input, target)
    d = input - target
    a = d.abs()
    loss = where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _apply(loss if weight is None else loss * weight, reduction)


# ----------------------------------------------------------------------------- class indices

def _pick(x, d, idx, target=None):
    """x gathered along d at int64 idx (same shape as x but size 1 at d), whose values the
    caller keeps in range: the gather primitive without the host-side range check (see
    NOTE [asynchronous class-index losses]). `target`: the user's targets idx was made
    from, saved with it."""
    out = empty_like_meta(x, shape=idx._shape)
    if numel_of(idx._shape):
        C.run("gather", out, x, d, idx)
    if C.needs_grad(x):
        shape = x._shape
        # idx (and target) saved (n.inputs): changed in place before backward, they raise
        # (as PyTorch)
        C.record(lambda n, g: (_spread(g, d, n.inputs[0], shape),), "GatherBackward0", (x,),
                 out, saved=(idx,) if target is None else (idx, target))
    return out


def _spread(g, d, idx, shape):
    """The adjoint of _pick: zeros of `shape` with g added at idx along d."""
    out = g.new_zeros(shape)
    if numel_of(idx._shape):
        C.run("scatter", out, d, idx, g, "sum")
    if C.needs_grad(g):
        C.record(lambda n, gg: (_pick(gg, d, idx),), "ScatterAddBackward0", (g,), out)
    return out


def _check_nll(input, target, weight):
    """PyTorch's shape and dtype checks for class-index targets; returns the class dim."""
    nd = len(input._shape)
    if nd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {nd})")
    ts = target._shape
    if nd == 1:
        if len(ts) > 1 or numel_of(ts) != 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif not ts or ts[0] != input._shape[0]:
        raise ValueError(f"Expected input batch_size ({input._shape[0]}) to match target "
                         f"batch_size ({ts[0] if ts else 0}).")
    elif nd == 2 and len(ts) != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif nd == 4 and len(ts) != 3:
        raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got "
                           f"targets of dimension: {len(ts)}")
    elif nd == 4 and ts[1:] != input._shape[2:]:
        raise RuntimeError(f"size mismatch (got input: {list(input._shape)} , target: "
                           f"{list(ts)}")
    elif nd > 2 and ts[1:] != input._shape[2:]:
        raise RuntimeError(f"Expected target size {[ts[0]] + list(input._shape[2:])}, got "
                           f"{list(ts)}")
    if target._dtype not in (D.int64, D.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_TYPE_NAMES.get(target._dtype.name, target._dtype.name)}")
    cdim = 0 if nd == 1 else 1
    nc = input._shape[cdim]
    if weight is not None and (len(weight._shape) != 1 or weight._shape[0] != nc):
        raise RuntimeError(f"weight tensor should be defined either for all {nc} classes or "
                           f"no classes but got weight tensor of shape: {list(weight._shape)}")
    C.check_devices("nll_loss", input, target, weight)
    return cdim


def _nll_parts(input, target, weight, ignore_index, cdim):
    """(per-element loss, per-element weight with ignored targets at 0 or None, ignored mask).
    Reads nothing back to the host (NOTE [asynchronous class-index losses])."""
    nc = input._shape[cdim]
    with no_grad():
        t = target.long() if target._dtype is not D.int64 else target
        t = t.reshape(()) if len(input._shape) == 1 else t
        ignored = t == ignore_index
        valid = (t >= 0) & (t < nc)
        _check_targets(t, valid | ignored)
        safe = where(valid, t, 0)
    loss = -_pick(input, cdim, safe.unsqueeze(cdim), target).squeeze(cdim)
    w = None
    if weight is not None:
        w = _pick(weight, 0, safe.reshape(-1)).reshape(safe._shape)
        w = where(ignored, 0.0, w)
        loss = loss * w
    loss = where(ignored, 0.0, loss)
    # out-of-range targets poison their loss instead of raising (no host read)
    loss = where(valid | ignored, loss, math.nan)
    return loss, w, ignored


def _nll_all_kept(input, target, weight, ignore_index, reduction, cdim):
    """The reduced loss when every target is known to be a class other than ignore_index
    (a training batch): -input at the targets, summed or averaged, with no masks and no
    range check left to do. Known: targets in host memory are read; on a device, the range
    the host remembers from the targets' upload (NOTE [deferred index checks]) must lie in
    [0, C) and leave ignore_index out, else nothing is read and this returns None. None
    also when not applicable; _nll_parts then does the general case (its result is the same
    here: nothing is ignored, so its mean divides by the number of targets)."""
    if weight is not None or not _all_kept(input, target, ignore_index, cdim):
        return None
    count = numel_of(target._shape)
    idx = target.unsqueeze(cdim)
    if reduction == "none":
        return -_pick(input, cdim, idx).squeeze(cdim)
    # one node for pick, sum, mean and sign, with the general path's arithmetic:
    # -(sum / n) forward, and -(g / n) scattered to the targets backward
    count = count if reduction == "mean" else None
    with no_grad():
        total = _pick(input, cdim, idx).sum()
        out = -(total if count is None else total / count)
    if C.needs_grad(input):
        shape = input._shape
        C.record(lambda n, g: (_spread(-(g if count is None else g / count)
                                       .reshape((1,) * len(idx._shape)).expand(idx._shape),
                                       cdim, n.inputs[0], shape),),
                 "NllLossBackward0", (input,), out, saved=(idx,))
    return out


def _all_kept(input, target, ignore_index, cdim):
    """Whether every target is known to be a class other than ignore_index, without a read
    a device would have to wait for: targets in host memory are read; on a device, the range
    the host remembers from the targets' upload (NOTE [deferred index checks]) must lie in
    [0, C) and leave ignore_index out. False also when there are no targets, for indices
    other than int64, non-float inputs (1-d inputs: a single target) and during capture."""
    if len(input._shape) < 2 or target._dtype is not D.int64 or \
            not input._dtype.is_floating_point or _capture.ACTIVE is not None or \
            not numel_of(target._shape):
        return False
    nc = input._shape[cdim]
    st = target._storage
    if st.backend.host_memory:
        tn = host_array(target)
        lo, hi = int(tn.min()), int(tn.max())
        if lo <= ignore_index <= hi and (tn == ignore_index).any():
            return False
    else:
        known = st.range
        if known is None or known[0] != st.version or known[1] <= ignore_index <= known[2]:
            return False
        lo, hi = known[1], known[2]
    return 0 <= lo and hi < nc


def _cross_entropy_kept(input, target, ignore_index, reduction, cdim):
    """NOTE [fused cross entropy]
    cross_entropy with class indices, no weight and no smoothing, when every target is known
    to be a kept class (_all_kept; a training batch): log_softmax, the pick at the targets
    and the sum or mean run under one node (NllLossBackward0; PyTorch's graph has a
    LogSoftmaxBackward0 behind it), and the gradient is made directly as
    exp(log_softmax(x)) * (g / N) with -(g / N) added at the targets -- the two-node chain's
    arithmetic, bit for bit, in five kernels (two 0-d scales, exp, a broadcast multiply, a
    scatter-add) instead of twice as many ops. With create_graph the gradient is built from
    differentiable ops on logp instead, whose own node leads to the input, so higher orders
    hold. Neither keeps the input alive. None when not applicable."""
    if reduction == "none" or not _all_kept(input, target, ignore_index, cdim):
        return None
    count = numel_of(target._shape) if reduction == "mean" else None
    idx = target.unsqueeze(cdim)
    # logp keeps its own LogSoftmaxBackward0 node (on its saved output, as PyTorch's), which
    # only a create_graph backward reaches; the loss node's edge goes straight to input
    logp = log_softmax(input, cdim)
    with no_grad():
        out = _pick(logp, cdim, idx).sum()
    # -(total / N) or -total, in place on the fresh sum (negation is exact: one kernel)
    C.run("div" if count else "mul", out, out, C.scalar_for(-(count or 1), out._dtype))
    if C.needs_grad(input):
        C.record(lambda n, g: (_cross_entropy_grad(n, g, cdim, idx, count),),
                 "NllLossBackward0", (input,), out, saved=(logp, target))
    return out


def _cross_entropy_grad(n, g, cdim, idx, count):
    logp = n.inputs[0]            # (n.inputs checks that neither it nor target was changed)
    if STATE.enabled:
        # create_graph: differentiable in g, and in the input through logp's own node
        onehot = _spread(ones_like(idx, dtype=logp._dtype), cdim, idx, logp._shape)
        return (logp.exp() - onehot) * (g if count is None else g / count)
    # the two-node chain's arithmetic exactly: exp(logp) * s everywhere, then -s added at
    # the targets (s = g / N, or g for a sum)
    scale, minus = empty_like_meta(g), empty_like_meta(g)
    C.run("div" if count else "mul", scale, g, C.scalar_for(count or 1, g._dtype))
    C.run("div" if count else "mul", minus, g, C.scalar_for(-(count or 1), g._dtype))
    r = empty_like_meta(logp)
    C.run("exp", r, logp)
    C.run("mul", r, r, _wrap(scale._storage, r._shape, (0,) * len(r._shape), 0))
    C.run("scatter", r, cdim, idx, _wrap(minus._storage, idx._shape, (0,) * len(idx._shape),
                                         0), "sum")
    return r


def _check_targets(t, ok):
    """IndexError for the first target that is neither a class nor ignore_index, as PyTorch:
    at once on the host, at the next host read on a device (the loss is NaN meanwhile)."""
    if not numel_of(t._shape):
        return
    if t._storage.backend.host_memory and _capture.ACTIVE is None:
        okn = host_array(ok)      # not .numpy(): any backend may keep host memory
        if not okn.all():
            bad = host_array(t)[~okn].reshape(-1)[0]
            raise IndexError(f"Target {int(bad)} is out of bounds.")
        return
    bad = (~ok).reshape(-1)
    first = bad.to(D.uint8).argmax().reshape(1)          # the first bad target, or 0
    flag = bad.any().reshape(1).to(D.int64)

    def check(v):
        if v[0]:
            raise IndexError(f"Target {int(v[1])} is out of bounds.")
    from ...ops.shape_ops import cat
    C.check_values(cat([flag, _pick(t.reshape(-1), 0, first)]), check)


def _nll_reduce(loss, w, ignored, reduction):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    # mean: divide by the summed weight of the targets that are not ignored
    denom = w.sum() if w is not None else (~ignored).sum().to(loss._dtype)
    return total / denom


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log likelihood: -weight[t] * input[n, t] for class indices t.

    Args:
        input: log-probabilities (C), (N, C) or (N, C, d1, ...).
        target: int64 (or uint8) class indices (), (N) or (N, d1, ...).
        weight: optional (C,) tensor of per-class weights.
        ignore_index: targets with this value contribute 0 and are left out of the mean.
        reduction: 'none' | 'mean' (divided by the summed weight of the kept targets) | 'sum'.

    An out-of-range target raises IndexError (NOTE [asynchronous class-index losses]).

    Example:
        >>> import plugtorch
        >>> import plugtorch.nn.functional as F
        >>> logp = plugtorch.tensor([[-0.5, -1.0], [-2.0, -0.1]])
        >>> F.nll_loss(logp, plugtorch.tensor([0, 1]))
        tensor(0.3000)
    """
    _check_tensors("nll_loss", input, target, weight)
    reduction = _reduction(reduction, size_average, reduce)
    cdim = _check_nll(input, target, weight)
    fast = _nll_all_kept(input, target, weight, ignore_index, reduction, cdim)
    if fast is not None:
        return fast
    return _nll_reduce(*_nll_parts(input, target, weight, ignore_index, cdim), reduction)


def _class_view(weight, ndim, cdim):
    return weight.reshape(tuple(-1 if k == cdim else 1 for k in range(ndim)))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Cross entropy between the logits `input` and class indices or class probabilities.

    Args:
        input: unnormalised logits (C), (N, C) or (N, C, d1, ...).
        target: class indices (int64), shaped like input without the class dim, or class
            probabilities (floating point), shaped like input.
        weight: optional (C,) tensor of per-class weights.
        ignore_index: a class-index target that contributes nothing (indices only).
        reduction: 'none' | 'mean' | 'sum'. With indices, 'mean' divides by the summed
            weight of the kept targets; with probabilities, by the number of elements N*d1...
        label_smoothing: in [0, 1]; the target becomes (1 - s) * target + s / C.

    Computed as log_softmax then a gather of the target classes; reads nothing back to the
    host (NOTE [asynchronous class-index losses]).

    Example:
        >>> import plugtorch
        >>> import plugtorch.nn.functional as F
        >>> F.cross_entropy(plugtorch.tensor([[2.0, 0.0], [0.0, 2.0]]), plugtorch.tensor([0, 0]))
        tensor(1.1269)
    """
    _check_tensors("cross_entropy", input, target, weight)
    reduction = _reduction(reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    nd = len(input._shape)
    if nd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {nd})")
    cdim = 0 if nd == 1 else 1
    nc = input._shape[cdim]
    if input._shape == target._shape:
        return _cross_entropy_probs(input, target, weight, ignore_index, reduction,
                                    label_smoothing, cdim)
    _check_nll(input, target, weight)
    if label_smoothing == 0 and weight is None:
        fast = _cross_entropy_kept(input, target, ignore_index, reduction, cdim)
        if fast is not None:
            return fast
    logp = log_softmax(input, cdim)
    if label_smoothing == 0:
        fast = _nll_all_kept(logp, target, weight, ignore_index, reduction, cdim)
        if fast is not None:
            return fast
    loss, w, ignored = _nll_parts(logp, target, weight, ignore_index, cdim)
    nll = _nll_reduce(loss, w, ignored, reduction)
    if label_smoothing == 0:
        return nll
    # the smoothing term: every class gets label_smoothing / C of the target mass
    wl = logp if weight is None else logp * _class_view(weight, nd, cdim)
    smooth = where(ignored, 0.0, -wl.sum(cdim))
    if reduction == "mean":
        denom = w.sum() if w is not None else (~ignored).sum().to(smooth._dtype)
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1.0 - label_smoothing) * nll + smooth * (label_smoothing / nc)


def _cross_entropy_probs(input, target, weight, ignore_index, reduction, smoothing, cdim):
    if target._dtype.kind != 2:
        raise RuntimeError(f"Expected floating point type for target with class "
                           f"probabilities, got "
                           f"{_TYPE_NAMES.get(target._dtype.name, target._dtype.name)}")
    if ignore_index != -100:
        raise RuntimeError("ignore_index is not supported for floating point target")
    nd, nc = len(input._shape), input._shape[cdim]
    if weight is not None and (len(weight._shape) != 1 or weight._shape[0] != nc):
        raise RuntimeError(f"weight tensor should be defined either for all {nc} classes or "
                           f"no classes but got weight tensor of shape: {list(weight._shape)}")
    if smoothing > 0:
        target = target * (1.0 - smoothing) + smoothing / nc
    prod = log_softmax(input, cdim) * target
    if weight is not None:
        prod = prod * _class_view(weight, nd, cdim)
    loss = -prod.sum(cdim)
    if reduction == "mean":
        # divided by the number of positions N*d1*..., not by the summed weight
        return loss.sum() / float(numel_of(input._shape) // nc if nc else 0)
    return _apply(loss, reduction)


# ----------------------------------------------------------------------------- binary

def _bce_bw(n, g):
    x, y = n.inputs
    gx = gy = None
    if n.edges[0] is not None:
        # PyTorch's form: finite where the input is exactly 0 or 1
        gx = g * (x - y) / (x * (1.0 - x)).clamp(min=1e-12)
    if n.edges[1] is not None:
        gy = g * ((-x).log1p().clamp(min=-100.0) - x.log().clamp(min=-100.0))
    return gx, gy


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-weight * (t log x + (1 - t) log(1 - x)) for probabilities x, each log clamped at
    -100 so x = 0 or 1 gives a finite loss and gradient.

    Args:
        input: probabilities in [0, 1] (not checked, see NOTE [asynchronous class-index
            losses]).
        target: same shape as input, values in [0, 1].
        weight: optional tensor broadcast to input's shape.
        reduction: 'none' | 'mean' | 'sum'.

    Example:
        >>> import plugtorch
        >>> import plugtorch.nn.functional as F
        >>> F.binary_cross_entropy(plugtorch.tensor([0.5, 1.0]), plugtorch.tensor([1., 1.]))
        tensor(0.3466)
    """
    _check_tensors("binary_cross_entropy", input, target, weight)
    reduction = _reduction(reduction, size_average, reduce)
    if target._shape != input._shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         f"size.")
    if weight is not None and C.broadcast_shapes("binary_cross_entropy", weight._shape,
                                                 input._shape) != input._shape:
        raise RuntimeError(f"binary_cross_entropy: weight of shape {list(weight._shape)} cannot "
                           f"be broadcast to the input's shape {list(input._shape)}")
    C.check_devices("binary_cross_entropy", input, target, weight)
    with no_grad():
        loss = ((target - 1.0) * (-input).log1p().clamp(min=-100.0)
                - target * input.log().clamp(min=-100.0))
    if C.needs_grad(input, target):
        C.record(_bce_bw, "BinaryCrossEntropyBackward0", (input, target), loss,
                 saved=(input, target))
    return _apply(loss if weight is None else loss * weight, reduction)


def _softplus_neg(x):
    """log(1 + exp(-x)) without overflow, with the right derivative at 0 too: each branch of
    `where` is smooth (relu/abs would give a wrong subgradient where x == 0)."""
    pos = x >= 0
    return where(pos, 0.0, -x) + where(pos, -x, x).exp().log1p()


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross entropy in one stable formula:
    (1 - t) x + (1 + (pos_weight - 1) t) log(1 + exp(-x)), times weight.

    Args:
        input: logits. target: same shape, values in [0, 1].
        weight: optional tensor broadcast to input's shape.
        pos_weight: optional weight of the positive term, broadcast along the last dim
            (one per class).
        reduction: 'none' | 'mean' | 'sum'.

    Example:
        >>> import plugtorch
        >>> import plugtorch.nn.functional as F
        >>> F.binary_cross_entropy_with_logits(plugtorch.tensor([0., 2.]),
        ...                                    plugtorch.tensor([1., 0.]))
        tensor(1.4100)
    """
    _check_tensors("binary_cross_entropy_with_logits", input, target, weight, pos_weight)
    reduction = _reduction(reduction, size_average, reduce)
    if target._shape != input._shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    sp = _softplus_neg(input)
    if pos_weight is None:
        loss = (1.0 - target) * input + sp
    else:
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * sp
    return _apply(loss if weight is None else loss * weight, reduction)


# ----------------------------------------------------------------------------- divergence

def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence target * (log target - input) for log-probabilities input.

    Args:
        input: log-probabilities.
        target: probabilities, or log-probabilities when log_target=True.
        reduction: 'none' | 'batchmean' (sum / input.size(0), the true KL divergence) |
            'sum' | 'mean' (over every element; warns, as PyTorch).

    Example:
        >>> import plugtorch
        >>> import plugtorch.nn.functional as F
        >>> p = plugtorch.tensor([[0.5, 0.5]])
        >>> F.kl_div(plugtorch.tensor([[0.25, 0.75]]).log(), p, reduction="batchmean")
        tensor(0.1438)
    """
    _check_tensors("kl_div", input, target)
    reduction = _reduction(reduction, size_average, reduce,
                           allowed=("none", "mean", "sum", "batchmean"))
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # target * log(target) is 0 where target is 0 (its limit), with a finite gradient
        zero = target == 0
        loss = target * where(zero, 1.0, target).log() - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input._shape[0] if input._shape else total
    return _apply(loss, reduction)
