"""Ops along a dim: cumprod, cummax/cummin, diff, repeat_interleave; and is_nonzero.

All are decompositions onto existing primitives; none needs a kernel of its own.

NOTE [scan by doubling]
cumprod, cummax and cummin are inclusive scans. They run as log2(n) rounds of an
associative combine (a Hillis-Steele scan): after the round with shift s, entry i holds
the combination of entries i-2s+1 .. i. Each round is one elementwise op on two narrowed
views and a `cat`, so every backend runs them with its `mul`/`where`/`copy` kernels.
Integer multiplication wraps modulo 2**64 and stays associative, so integer cumprod is
exact; floating-point products are merely grouped differently from a sequential loop.
cumprod's derivative is a scan as well (of affine maps), see `_cumprod_bw`.

repeat_interleave with tensor repeats reads the output size (repeats.sum()) back to the
host unless output_size is given; bincount and unique live in `counting`.
"""
from collections import namedtuple

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ..autograd.grad_mode import STATE, no_grad
from . import _core as C
from ._decl import declare, Sample
from . import samples as S

__all__ = ["cumprod", "cummax", "cummin", "diff", "repeat_interleave", "is_nonzero"]

cummax_result = namedtuple("cummax", ["values", "indices"])
cummin_result = namedtuple("cummin", ["values", "indices"])


def _check_tensor(op, x, arg="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(x).__name__}")


def _one_dim(op, x, dim):
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__}")
    return C.wrap_dims(op, dim, len(x._shape))[0]


def _scan(parts, d, combine):
    """Inclusive scan of the tensors `parts` along d; see NOTE [scan by doubling]."""
    from .shape_ops import cat
    n = parts[0]._shape[d]
    s = 1
    while s < n:
        early = [p.narrow(d, 0, n - s) for p in parts]
        late = [p.narrow(d, s, n - s) for p in parts]
        parts = [cat([p.narrow(d, 0, s), q], d) for p, q in zip(parts, combine(early, late))]
        s *= 2
    return parts


# ----------------------------------------------------------------------------- cumprod

def _cumprod_bw(n, g):
    from .shape_ops import cat
    (d,) = n.params
    (x,) = n.inputs
    m = x._shape[d] if x._shape else 1
    if m <= 1:
        return (g,)
    # d out_i / d x_k = E_k * prod_{k<j<=i} x_j for k <= i, with E_k = prod_{j<k} x_j, so
    # grad_k = E_k * S_k where S_k = g_k + x_{k+1} * S_{k+1}: a reverse linear recurrence,
    # run as a scan of affine maps (s -> a + c*s compose associatively). No division, so
    # zeros need no special case; written with frontend ops (cumprod included), so double
    # backward is exact too.
    one = x.new_ones(tuple(1 if i == d else k for i, k in enumerate(x._shape)))
    excl = cat([one, cumprod(x.narrow(d, 0, m - 1), d)], d)
    coef = cat([x.narrow(d, 1, m - 1), one], d).flip(d)
    s, _ = _scan([g.flip(d), coef], d, lambda e, l: [l[0] + l[1] * e[0], l[1] * e[1]])
    return (excl * s.flip(d),)


def cumprod(input, dim, *, dtype=None):
    """Cumulative products along `dim`; integers and bools multiply as int64.

    The gradient is exact also where the input holds zeros.

    Args:
        input (Tensor): the input.
        dim (int): the dim to accumulate along.
        dtype (dtype, optional): cast the input to this dtype first.

    Example:
        >>> plugtorch.tensor([1, 2, 3, 4]).cumprod(0)
        tensor([ 1,  2,  6, 24])
    """
    _check_tensor("cumprod", input)
    d = _one_dim("cumprod", input, dim)
    odt = D.to_dtype(dtype) if dtype is not None else (
        D.int64 if input._dtype.kind < 2 else input._dtype)
    x = input if input._dtype is odt else input.to(odt)
    if not x._shape:
        out = x.detach().clone()
    else:
        with no_grad():
            (out,) = _scan([x.detach().contiguous()], d, lambda e, l: [e[0] * l[0]])
        if out._storage is x._storage:      # a size-1 dim: nothing was combined
            out = out.clone()
    if STATE.enabled and x._rg:
        C.record(_cumprod_bw, "CumprodBackward0", (x,), out, params=(d,), saved=(x,))
    return out


# ----------------------------------------------------------------------------- cummax/min

def _cumext_bw(n, g):
    d, indices, shape = n.params
    if not g._shape:
        return (g,)
    return (g.new_zeros(shape).scatter_add(d, indices, g),)


def _cumext(op, x, dim, larger, result):
    from .creation import arange
    from .ternary import where
    _check_tensor(op, x)
    d = _one_dim(op, x, dim)
    if not x._shape:
        values, indices = x.detach().clone(), x.new_zeros((), dtype=D.int64)
    else:
        n = x._shape[d]
        with no_grad():
            idx = arange(n, device=x.device).reshape(
                tuple(n if i == d else 1 for i in range(len(x._shape))))
            idx = idx.expand(x._shape).contiguous()

            def combine(early, late):
                (ev, ei), (lv, li) = early, late
                # the later entry wins ties; NaN beats every number (and a later NaN wins)
                take = (lv >= ev) if larger else (lv <= ev)
                if x._dtype.kind == 2:
                    take = take | lv.isnan()
                return [where(take, lv, ev), where(take, li, ei)]

            values, indices = _scan([x.detach().contiguous(), idx], d, combine)
            if values._storage is x._storage:
                values = values.clone()
    if STATE.enabled and x._rg:
        name = "CummaxBackward0" if larger else "CumminBackward0"
        C.record(_cumext_bw, name, (x,), values, params=(d, indices, x._shape))
    return result(values, indices)


def cummax(input, dim):
    """Running maximum along `dim` and the index where it was found (the last of equal
    values; NaN propagates).

    Example:
        >>> plugtorch.tensor([1, 3, 2, 5]).cummax(0).values
        tensor([1, 3, 3, 5])
    """
    return _cumext("cummax", input, dim, True, cummax_result)


def cummin(input, dim):
    """Running minimum along `dim` and its index; see cummax.

    Example:
        >>> plugtorch.tensor([3, 1, 2, 0]).cummin(0).indices
        tensor([0, 1, 1, 3])
    """
    return _cumext("cummin", input, dim, False, cummin_result)


# ----------------------------------------------------------------------------- diff

def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along `dim` (logical xor for bools).

    Args:
        input (Tensor): at least 1-d.
        n (int): how many times to difference; the result is empty along dim once n
            reaches its size.
        dim (int): the dim. Default: the last.
        prepend, append (Tensor, optional): concatenated along dim before differencing;
            same number of dims as input.

    Example:
        >>> plugtorch.diff(plugtorch.tensor([1, 4, 9, 16]))
        tensor([3, 5, 7])
    """
    from .shape_ops import cat
    _check_tensor("diff", input)
    if not input._shape:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"diff(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _one_dim("diff", input, dim)
    parts = [input]
    for name, t in (("prepend", prepend), ("append", append)):
        if t is None:
            continue
        _check_tensor("diff", t, name)
        if len(t._shape) != len(input._shape):
            raise RuntimeError("diff expects prepend or append to be the same dimension as "
                               "input")
        parts.insert(0 if name == "prepend" else len(parts), t)
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(min(n, x._shape[d])):
        m = x._shape[d] - 1
        hi, lo = x.narrow(d, 1, m), x.narrow(d, 0, m)
        x = hi.logical_xor(lo) if x._dtype is D.bool else hi - lo
    return x


# ----------------------------------------------------------------------------- repeat_interleave

def _repeat_index(op, repeats, total):
    """Index i repeated repeats[i] times (int64): a scatter of ones at the cumulative ends,
    then a cumsum. `total` is repeats.sum(), already checked."""
    from .creation import zeros
    ends = repeats.to(D.int64).cumsum(0)
    marks = zeros(total + 1, dtype=D.int64, device=repeats.device)
    marks = marks.scatter_add(0, ends, ends.new_ones(ends._shape))
    return marks.cumsum(0).narrow(0, 0, total)


def _check_repeats(op, repeats):
    if repeats._dtype not in (D.int32, D.int64):
        raise TypeError(f"{op}: repeats must be an int32 or int64 tensor, got "
                        f"{repeats._dtype.name}")
    if len(repeats._shape) > 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    # a data-dependent check, read on the host (as PyTorch does)
    if repeats.numel() and bool((repeats < 0).any().item()):
        raise RuntimeError("repeats can not be negative")


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each entry along `dim` (of the flattened input when dim is None).

    `repeats` is an int or a 0-d/1-d integer tensor (one count per entry, or one for all).
    `repeat_interleave(counts)` with a 1-d integer tensor alone gives
    `[0]*counts[0] + [1]*counts[1] + ...`. With tensor repeats the output size
    (repeats.sum()) is read to the host; an output_size given is checked against it.

    Example:
        >>> plugtorch.tensor([[1, 2], [3, 4]]).repeat_interleave(2, dim=0).tolist()
        [[1, 2], [1, 2], [3, 4], [3, 4]]
    """
    _check_tensor("repeat_interleave", input)
    op = "repeat_interleave"
    if repeats is None:       # repeat_interleave(counts)
        if len(input._shape) != 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        _check_repeats(op, input)
        total = int(input.sum().item())
        if output_size is not None and output_size != total:
            raise RuntimeError("allocated size does not match required size")
        return _repeat_index(op, input, total).to(input._dtype)
    if dim is not None and not input._shape:
        raise IndexError(f"{op}: a 0-d input has no dim {dim} to repeat along (as in PyTorch, "
                         f"only dim=None, which flattens it)")
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else _one_dim(op, x, dim)
    size = x._shape[d]
    if isinstance(repeats, Tensor):
        C.check_devices(op, x, repeats)
        _check_repeats(op, repeats)
        if repeats.numel() == 1:
            repeats = repeats.reshape(1).expand((size,))
        elif repeats._shape[0] != size:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {repeats._shape[0]} and input.size({d}) = "
                               f"{size}")
        total = int(repeats.sum().item()) if size else 0
        if output_size is not None and output_size != total:
            raise RuntimeError("allocated size does not match required size")
        return x.index_select(d, _repeat_index(op, repeats, total))
    if not isinstance(repeats, int) or isinstance(repeats, bool):
        raise TypeError(f"repeat_interleave(): argument 'repeats' must be int or Tensor, not "
                        f"{type(repeats).__name__}")
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    if output_size is not None and output_size != size * repeats:
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected "
                           f"{size * repeats} but got {output_size}")
    # (.., n, ..) -> (.., n, r, ..) broadcast -> (.., n*r, ..)
    shape = x._shape
    wide = shape[:d + 1] + (repeats,) + shape[d + 1:]
    out = x.unsqueeze(d + 1).expand(wide).reshape(shape[:d] + (size * repeats,) + shape[d + 1:])
    return out.contiguous()


def is_nonzero(input):
    """Whether a one-element tensor is nonzero, as a Python bool (NaN counts as nonzero).

    Example:
        >>> plugtorch.is_nonzero(plugtorch.tensor([2.0]))
        True
    """
    _check_tensor("is_nonzero", input)
    k = input.numel()
    if k == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if k > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.item() != 0)




# ----------------------------------------------------------------------------- declarations

def _a(shape, dtype, rng, domain=None):
    return np.asarray(S.array(shape, dtype, rng, domain))


def _ties(shape, dtype, rng):
    """Few distinct values, so that running extremes meet equal values."""
    if dtype is D.bool:
        return rng.random(shape) < 0.5
    return rng.integers(0, 4, size=shape).astype(dtype.np)


def _ref_cumprod(x, dim, dtype=None):
    acc = np.int64 if x.dtype.kind in "biu" else x.dtype
    return np.cumprod(x, axis=dim, dtype=acc) if x.ndim else x.astype(acc)


def _cumprod_samples(dtype, rng):
    with_zero = _a((3, 5), dtype, rng, "small")
    with_zero[0, 1] = with_zero[1, 0] = with_zero[1, 3] = with_zero[2, 4] = 0
    return [Sample(_a((5,), dtype, rng, "small"), 0, grad=(0,)),
            Sample(_a((2, 3, 4), dtype, rng, "small"), -2, grad=(0,)),
            Sample(with_zero, 1, grad=(0,), name="zeros"),
            Sample(_a((), dtype, rng), 0, grad=(0,)),
            Sample(_a((0, 3), dtype, rng), 0, grad=(0,))]


def _ref_cumext(larger):
    def ref(x, dim):
        if x.ndim == 0:
            return x.copy(), np.zeros((), np.int64)
        v = np.moveaxis(x, dim, -1)
        vals, idx = np.empty_like(v), np.zeros(v.shape, np.int64)
        cur_v, cur_i = v[..., :1][..., 0], np.zeros(v.shape[:-1], np.int64)
        for j in range(v.shape[-1]):
            new = v[..., j]
            take = ((new >= cur_v) if larger else (new <= cur_v)) | (new != new)
            cur_v, cur_i = np.where(take, new, cur_v), np.where(take, j, cur_i)
            vals[..., j], idx[..., j] = cur_v, cur_i
        return np.moveaxis(vals, -1, dim), np.moveaxis(idx, -1, dim)
    return ref


def _cumext_samples(dtype, rng):
    return [Sample(_a((6,), dtype, rng), 0, grad=(0,)),
            Sample(_ties((3, 5), dtype, rng), 1, name="ties"),
            Sample(_a((2, 3, 4), dtype, rng), 1, grad=(0,)),
            Sample(_a((), dtype, rng), 0, grad=(0,)),
            Sample(_a((0, 3), dtype, rng), 1)]


def _diff_samples(dtype, rng):
    return [Sample(_a((5,), dtype, rng), grad=(0,)),
            Sample(_a((3, 4), dtype, rng), 2, 0, grad=(0,)),
            Sample(_a((2, 4), dtype, rng), 1, -1, _a((2, 1), dtype, rng), _a((2, 2), dtype, rng),
                   grad=(0, 3, 4)),
            Sample(_a((3, 2), dtype, rng), 5, 0, grad=(0,)),
            Sample(_a((4,), dtype, rng), 0, grad=(0,))]


def _ref_repeat_interleave(x, repeats=None, dim=None, output_size=None):
    return np.repeat(x, repeats, axis=dim)


def _repeat_samples(dtype, rng):
    x = _a((2, 3), dtype, rng)
    return [Sample(x, 2, grad=(0,)),
            Sample(x, 3, dim=1, grad=(0,)),
            Sample(x, np.array([1, 0, 2]), dim=-1, grad=(0,)),
            Sample(x, np.array([2]), dim=0, output_size=4, grad=(0,)),
            Sample(x, np.array([1, 2, 0, 0, 3, 1], np.int32), grad=(0,)),
            Sample(_a((), dtype, rng), 3, grad=(0,))]


declare("cumprod", cumprod, ref=_ref_cumprod, samples=_cumprod_samples, dtypes=D.ALL)
declare("cummax", cummax, ref=_ref_cumext(True), samples=_cumext_samples, dtypes=D.ALL)
declare("cummin", cummin, ref=_ref_cumext(False), samples=_cumext_samples, dtypes=D.ALL)
declare("diff", diff, ref=lambda x, n=1, dim=-1, prepend=None, append=None: np.diff(
    x, n, dim, **({"prepend": prepend} if prepend is not None else {}),
    **({"append": append} if append is not None else {})), samples=_diff_samples, dtypes=D.ALL)
declare("repeat_interleave", repeat_interleave, ref=_ref_repeat_interleave,
        samples=_repeat_samples, dtypes=D.ALL)
