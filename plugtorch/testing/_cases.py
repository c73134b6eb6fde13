"""Conformance cases generated from the op declarations (`plugtorch.ops.OPS`).

A case is one (op, dtype) cell of the conformance matrix. Its samples come from the op's
declaration; each sample is run on the backend under test as contiguous tensors, as
non-contiguous views and as broadcast (stride-0) views, and compared with the op's numpy
reference computed in float64 on the same values, and with the CPU backend's result dtype
and shape (the CPU backend is the dtype oracle). Gradients are checked separately, in
float64, against central finite differences. Placeholders in a sample (`DEVICE`, `seeded`)
are filled in per run: factories create on the device under test, random ops draw from a
fresh generator there.
"""
import zlib

import numpy as np

import plugtorch
from .. import _dtype as D
from .._tensor import Tensor, contiguous_strides
from ..ops._decl import OMIT, Placeholder
from ._compare import mismatch, to_host, tolerances

FD_EPS = 1e-6
GRAD_ATOL, GRAD_RTOL = 1e-5, 1e-4
_VARIANTS = ("contiguous", "noncontiguous", "broadcast")


class OpCase:
    """One (op, dtype) pair; `samples()` builds its declared samples reproducibly."""
    __slots__ = ("op", "dtype")

    def __init__(self, op, dtype):
        self.op, self.dtype = op, dtype

    def __repr__(self):
        return f"{self.op.name}-{self.dtype.name}"

    def samples(self):
        if self.op.samples is None:
            return []
        # a fixed seed per cell: every backend (and every rerun) sees the same values
        rng = np.random.default_rng(zlib.crc32(repr(self).encode()))
        return list(self.op.samples(self.dtype, rng))


def op_cases():
    """Every declared (op, dtype), sorted by op name: the rows and columns of the matrix."""
    from ..ops import OPS
    return [OpCase(op, dt) for name, op in sorted(OPS.items()) for dt in op.dtypes]


def broadcast_cases():
    """The cases with at least one sample that has a broadcastable (stride-0) form."""
    return [c for c in op_cases()
            if any(broadcast_sample(c.op, s) is not None for s in c.samples())]


def grad_cases():
    """The float64 case of every differentiable op."""
    return [c for c in op_cases() if c.op.grad and c.dtype is D.float64]


# ----------------------------------------------------------------------------- inputs

def map_arrays(obj, fn):
    """Apply fn to every numpy array in obj, looking into lists and tuples. A numpy scalar
    (what `rng.random(()) < 0.5` gives) counts as a 0-d array."""
    if isinstance(obj, (np.ndarray, np.generic)):
        return fn(np.asarray(obj))
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(map_arrays(o, fn) for o in obj)
    return obj


def _contiguous(a):
    # not np.ascontiguousarray: it turns a 0-d array into a 1-d one
    return np.array(a, order="C", copy=True)


def upcast(a):
    """What the reference sees: floating arrays in float64, int/bool arrays unchanged."""
    a = _contiguous(a)
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def tensor_maker(device, noncontiguous=False):
    """A function turning a numpy array into a tensor on `device`.

    A numpy array with a stride-0 axis becomes an `expand`ed view; with `noncontiguous`,
    other arrays become strided views into a buffer twice as large (every other element,
    the gaps filled with garbage that would show if a kernel ignored the strides).
    """
    def make(a):
        if a.ndim and a.size > 1 and 0 in a.strides:
            base = a[tuple(slice(0, 1) if s == 0 else slice(None) for s in a.strides)]
            return plugtorch.tensor(_contiguous(base), device=device).expand(a.shape)
        if not noncontiguous or a.ndim == 0 or a.size < 2:
            return plugtorch.tensor(_contiguous(a), device=device)
        big = np.empty(2 * a.size + 1, a.dtype)
        big[...] = np.nan if a.dtype.kind == "f" else (a.dtype.kind != "b") * 77
        big[1::2] = a.ravel()
        t = plugtorch.tensor(big, device=device)
        v = t.as_strided(a.shape, tuple(2 * s for s in contiguous_strides(a.shape)), 1)
        assert not v.is_contiguous()
        return v
    return make


def broadcast_sample(op, sample):
    """The sample with its array args made constant along one axis (numpy stride-0 views),
    or None when no arg allows it.

    The first axis of size > 1 is broadcast. For ops other than primitives only
    floating-point arrays are, and never a square matrix, so that structured inputs (index
    lists, matrices that must be invertible) keep their meaning; a batch of matrices is
    broadcast along its batch axis.
    """
    changed = [False]

    def bcast(a):
        if a.ndim == 0 or a.size < 2:
            return a
        if op.primitive is None and (a.dtype.kind != "f" or (
                a.ndim == 2 and a.shape[0] == a.shape[1])):
            return a
        axis = next((i for i, n in enumerate(a.shape) if n > 1), None)
        if axis is None:
            return a
        changed[0] = True
        return np.broadcast_to(np.take(a, [0], axis=axis), a.shape)

    first = sample.args[:1]
    if op.name.endswith("_"):   # an in-place op's target must stay writable
        rest = map_arrays(sample.args[1:], bcast)
    else:
        first, rest = map_arrays(first, bcast), map_arrays(sample.args[1:], bcast)
    kwargs = {k: map_arrays(v, bcast) for k, v in sample.kwargs.items()}
    if not changed[0]:
        return None
    out = type(sample).__new__(type(sample))
    out.args, out.kwargs = tuple(first) + tuple(rest), kwargs
    out.grad_args, out.name = sample.grad_args, (sample.name or "sample") + "/broadcast"
    return out


def inputs(sample, make, device, args=None):
    """The sample's (args, kwargs) for a call on `device`: arrays turned into tensors by
    `make`, placeholders (DEVICE, seeded) filled in for `device`. `args` replaces the
    sample's positional args (e.g. with a perturbed copy)."""
    def fill(v):
        v = map_arrays(v, make)
        return v.on(device) if isinstance(v, Placeholder) else v
    return ([fill(a) for a in (sample.args if args is None else args)],
            {k: fill(v) for k, v in sample.kwargs.items()})


def run(op, sample, make, device):
    """Call op.fn on the sample on `device`, its arrays turned into tensors by `make`."""
    args, kwargs = inputs(sample, make, device)
    return op.fn(*args, **kwargs)


def _as_float64(a):
    a = upcast(a)
    return a.astype(np.float64) if a.dtype.kind in "biu" else a


def reference(op, sample):
    """op.ref on the sample's arrays, floats in float64, ints and bools unchanged.

    numpy computes e.g. np.exp(int8 array) in float16 and rejects np.negative(bool array);
    when the reference rejects int/bool arrays or returns a float result less precise than
    float64, it is evaluated again with every array in float64 (ints convert exactly).
    """
    def fill(v):
        return v.for_reference() if isinstance(v, Placeholder) else v

    def call(convert):
        args = [fill(a) for a in map_arrays(sample.args, convert)]
        kwargs = {k: fill(map_arrays(v, convert)) for k, v in sample.kwargs.items()}
        kwargs = {k: v for k, v in kwargs.items() if v is not OMIT}
        with np.errstate(all="ignore"):
            return op.ref(*args, **kwargs)
    try:
        out = call(upcast)
    except TypeError:
        return call(_as_float64)
    if any(np.asarray(r).dtype.kind == "f" and np.asarray(r).dtype != np.float64
           for r in leaves(out)):
        return call(_as_float64)
    return out


def leaves(result):
    """The tensors (or values) of a result, flattening tuples, named tuples and lists."""
    if isinstance(result, (tuple, list)):
        return [x for r in result for x in leaves(r)]
    return [result]


# ----------------------------------------------------------------------------- checks

def check_forward(case, device, variant):
    """Run every sample of `case` on `device` as `variant`; return the failure messages
    (empty when all pass) and whether any sample was eligible for the variant."""
    op, failures, ran = case.op, [], False
    make = tensor_maker(device, noncontiguous=variant == "noncontiguous")
    for i, sample in enumerate(case.samples()):
        if variant == "broadcast":
            sample = broadcast_sample(op, sample)
            if sample is None:
                continue
        ran = True
        where = f"{op.name} {case.dtype.name} on {device}, {variant} sample {i} {sample!r}"
        try:
            got = leaves(run(op, sample, make, device))
        except Exception as e:
            failures.append(f"{where}: raised {type(e).__name__}: {e}")
            continue
        problem = _check_devices(got, device)
        if problem is None and device != "cpu":
            problem = _check_oracle(got, leaves(run(op, sample, tensor_maker("cpu"), "cpu")))
        if problem is None:
            try:
                expected = (leaves(reference(op, sample)) if op.ref is not None else
                            [to_host(t) for t in leaves(run(op, sample, tensor_maker("cpu"),
                                                            "cpu"))])
            except Exception as e:
                failures.append(f"{where}: the reference raised {type(e).__name__}: {e}")
                continue
            problem = _check_values(op, got, expected)
        if problem is not None:
            failures.append(f"{where}: {problem}")
    return failures, ran


def _check_devices(got, device):
    for k, t in enumerate(got):
        if isinstance(t, Tensor) and t.device.type != device:
            return f"output {k} is on {t.device}, expected device type {device!r}"
    return None


def _check_oracle(got, cpu):
    """dtype and shape must be what the CPU backend gives."""
    if len(got) != len(cpu):
        return f"returned {len(got)} outputs, the cpu backend {len(cpu)}"
    for k, (g, c) in enumerate(zip(got, cpu)):
        gd, cd = getattr(g, "dtype", type(g)), getattr(c, "dtype", type(c))
        if gd != cd:
            return f"output {k} has dtype {gd}, the cpu backend gives {cd}"
        if getattr(g, "shape", None) != getattr(c, "shape", None):
            return f"output {k} has shape {tuple(g.shape)}, the cpu backend gives {tuple(c.shape)}"
    return None


def _check_values(op, got, expected):
    if len(got) != len(expected):
        return f"returned {len(got)} outputs, the reference {len(expected)}"
    for k, (g, e) in enumerate(zip(got, expected)):
        a = to_host(g)
        atol, rtol = tolerances(a.dtype, op.atol, op.rtol)
        if not op.values:       # e.g. empty: only the shape is defined
            a, e = np.zeros(a.shape), np.zeros(np.shape(e))
        problem = mismatch(a, np.asarray(e), atol, rtol)
        if problem is not None:
            return f"output {k} ({a.dtype}): {problem}"
    return None


# ----------------------------------------------------------------------------- gradients

def _grad_arrays(sample):
    """(position, index in a list arg or None, array) for each float64 array to check."""
    out = []
    for p in sample.grad_args or ():
        a = sample.args[p]
        items = [(None, np.asarray(a))] if isinstance(a, (np.ndarray, np.generic)) else \
            list(enumerate(a))
        out += [(p, j, x) for j, x in items if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
    return out


def _with(sample_args, p, j, arr):
    args = list(sample_args)
    if j is None:
        args[p] = arr
    else:
        seq = list(args[p])
        seq[j] = arr
        args[p] = type(args[p])(seq)
    return args


def check_gradient(op, sample, device, rng):
    """Backward of (out * fixed random weights).sum() on `device` vs central finite
    differences of the same function (eps 1e-6), every input listed in sample.grad.
    Returns a failure message or None."""
    targets = _grad_arrays(sample)
    if not targets:
        return None
    make = tensor_maker(device)
    args, kwargs = inputs(sample, make, device)
    leaves_ = []
    for p, j, _ in targets:
        t = args[p] if j is None else args[p][j]
        t.requires_grad_(True)
        leaves_.append(t)
    outs = leaves(op.fn(*args, **kwargs))
    picked = [k for k, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
    if not picked:
        return "no output requires grad although the op is declared differentiable"
    weights = [rng.standard_normal(outs[k].shape) for k in picked]
    loss = None
    for k, w in zip(picked, weights):
        term = (outs[k] * plugtorch.tensor(w, dtype=outs[k].dtype, device=device)).sum()
        loss = term if loss is None else loss + term
    loss.backward()

    def f(new_args):
        with plugtorch.no_grad(), np.errstate(all="ignore"):
            a, kw = inputs(sample, make, device, new_args)
            o = leaves(op.fn(*a, **kw))
        return sum(float(np.sum(to_host(o[k]).astype(np.float64) * w))
                   for k, w in zip(picked, weights))

    for (p, j, arr), t in zip(targets, leaves_):
        if t.grad is not None and (t.grad.shape != t.shape or t.grad.device != t.device):
            return (f"grad of input {p} has shape {tuple(t.grad.shape)} on {t.grad.device}, "
                    f"expected {tuple(t.shape)} on {t.device}")
        analytic = np.zeros(arr.shape) if t.grad is None else to_host(t.grad)
        numeric = np.zeros(arr.shape)
        for i in range(arr.size):
            plus, minus = arr.copy(), arr.copy()
            plus.flat[i] += FD_EPS
            minus.flat[i] -= FD_EPS
            numeric.flat[i] = (f(_with(sample.args, p, j, plus)) -
                               f(_with(sample.args, p, j, minus))) / (2 * FD_EPS)
        problem = mismatch(analytic, numeric, GRAD_ATOL, GRAD_RTOL)
        if problem is not None:
            label = f"input {p}" + (f"[{j}]" if j is not None else "")
            return f"gradient of {label} (analytic vs finite differences): {problem}"
    return None
