"""The PyTorch oracle: every declared op, run on the same samples by plugtorch and by PyTorch.

The conformance suite compares values with a float64 numpy reference and dtypes/shapes with
the CPU backend. Neither can tell whether the CPU backend follows PyTorch's *rules* (type
promotion, result shapes, which inputs are errors); this layer can, where PyTorch is
installed. For every op in `plugtorch.ops.OPS` whose name PyTorch also has (`torch.<name>`,
else `Tensor.<name>`, else `torch.nn.functional.<name>`), a sample is run by both and:

- the outcome must agree: if PyTorch raises, plugtorch must raise (the same exception type)
  and if PyTorch returns, plugtorch must return;
- result dtype and shape must be EXACTLY PyTorch's, output by output;
- values must agree within twice the dtype's tolerance (each side is within one tolerance
  of the exact value, see `plugtorch.testing._compare.tolerances`);
- for float64 samples with gradient positions, the gradients of (out * w).sum() must agree.

Every difference found is a problem `(kind, message)`; kinds are "outcome", "error-type",
"count", "dtype", "shape", "values" and "grad". A problem is accepted only when the
`KNOWN` table below lists it (op -> kinds, reason, scope): differences are written
down, never skipped silently. Nothing here is imported by plugtorch itself; only the test
module `plugtorch.testing.suite.test_torch_oracle` uses it, after importing torch.
"""
import warnings

import numpy as np
import torch

import plugtorch
from .. import _dtype as D
from .._tensor import Tensor
from ..ops._decl import DEVICE, seeded
from ._cases import _grad_arrays, inputs, leaves, map_arrays
from ._compare import mismatch, to_host, tolerances

# Gradients are float64 on both sides but reached by different formulas (e.g. softmax's
# backward written with frontend ops); they agree to ~1e-13 in practice.
GRAD_ATOL, GRAD_RTOL = 1e-10, 1e-8


class Known:
    """A documented difference from PyTorch.

    Args:
        kinds: the problem kinds it produces ("values", "outcome", ...).
        reason: why plugtorch differs (shown as the xfail reason).
        dtypes: the input dtype names it applies to; None: every dtype.
        match: a text every problem it covers contains (None: any problem of `kinds`), so
            that an entry covers one sample's difference and nothing else.
    """
    __slots__ = ("kinds", "reason", "dtypes", "match")

    def __init__(self, kinds, reason, dtypes=None, match=None):
        self.kinds, self.reason, self.dtypes, self.match = frozenset(kinds), reason, dtypes, match

    def applies(self, dtype):
        return self.dtypes is None or dtype.name in self.dtypes

    def covers(self, kind, message):
        return kind in self.kinds and (self.match is None or self.match in message)


_RNG = ("plugtorch draws from its own counter-based generator (Philox, identical on every "
        "backend) with a per-sample seed; PyTorch's CPU generator (mt19937) gives other "
        "numbers for the same seed. dtype and shape are still compared.")
_TRIAGE = "a deliberate extension: "

_UNTRIAGED = ("not triaged: plugtorch computes these inputs with frontend ops, torch has no "
              "kernel for them (it raises); the dtypes are not declared")
_INTEGER_INPUTS = {
    **dict.fromkeys(("adaptive_max_pool1d", "adaptive_max_pool2d", "binary_cross_entropy",
                     "binary_cross_entropy_with_logits", "fold", "huber_loss", "logsigmoid",
                     "max_pool1d", "nll_loss", "smooth_l1_loss", "unfold"), ("int64",)),
    **dict.fromkeys(("celu", "elu", "gelu", "glu", "hardsigmoid", "hardswish", "interpolate",
                     "leaky_relu", "mish", "prelu", "selu", "silu", "softplus",
                     "upsample_nearest"), ("bool", "int64")),
    **dict.fromkeys(("hardtanh", "pad", "relu6", "threshold"), ("bool",)),
    "kl_div": ("int64",),
}

# op name -> the known differences from PyTorch (a Known or a tuple of them). Anything not
# listed here must match. An entry that stops occurring fails the test (remove it then).
KNOWN = {
    # -- deliberate
    # random ops: same distributions, different streams
    "rand_like": Known({"values"}, _RNG),
    "bernoulli": Known({"values"}, _RNG),
    "normal": Known({"values"}, _RNG),
    **{name: Known({"values"}, _RNG) for name in ("rand", "randn", "randn_like", "randint",
                                                  "randint_like", "randperm", "multinomial")},
    # PyTorch documents "the backward pass is implemented only for src.shape == index.shape"
    # and raises for a larger src; plugtorch's gradient there is checked by finite
    # differences in test_ops
    "scatter": Known({"grad"}, "torch has no backward for src larger than index",
                     match="returned an invalid gradient"),
    "scatter_add": Known({"grad"}, "torch has no backward for src larger than index",
                         match="returned an invalid gradient"),
    # torch's float64 hardsigmoid backward multiplies by the float32 constant 1.0f / 6.0f
    "hardsigmoid": Known({"grad"}, "torch's float64 hardsigmoid gradient is 1/6 rounded to "
                         "float32 (3e-8 relative off); plugtorch's is exact"),
    # -- not deliberate
    # a gap (the conformance suite xfails the same sample)
    "scatter_reduce": Known({"grad"}, "plugtorch has no derivative of "
                            "scatter_reduce(reduce='prod') yet", match="'prod'"),

    # -- plugtorch accepts inputs PyTorch rejects (deliberate extensions)
    **{name: Known({"outcome"}, _TRIAGE + f"torch.{name} takes no Python number as `other` "
                   "(TypeError), plugtorch accepts one", match="must be Tensor, not")
       for name in ("atan2", "maximum", "minimum", "logical_and", "logical_or", "logical_xor")},
    **{name: Known({"outcome"}, _TRIAGE + f"torch.{name} takes the sizes as one sequence, "
                   f"plugtorch also as separate ints (as Tensor.{name})",
                   match="positional arguments but")
       for name in ("reshape", "permute", "expand_copy")},
    "full": Known({"outcome"}, _TRIAGE + "torch.full takes the size as a sequence, plugtorch "
                  "also as one int", match="must be tuple of ints, not int"),
    "prod": Known({"outcome"}, _TRIAGE + "torch.prod takes one int dim, plugtorch also a tuple",
                  match="prod() received an invalid combination"),
    "topk": Known({"outcome"}, _TRIAGE + "torch.topk rejects bool on CPU (RuntimeError), "
                  "plugtorch (bool not declared) returns a result", dtypes=("bool",),
                  match="topk does not support bool"),
}


def _also(name, entry):
    entries = KNOWN.get(name, ())
    KNOWN[name] = (entries if isinstance(entries, tuple) else (entries,)) + (entry,)


# not triaged yet: nn.functional's composite functions compute integer / bool inputs (none
# declared) that torch has no kernel for
for _name, _dtypes in _INTEGER_INPUTS.items():
    _also(_name, Known({"outcome"}, _UNTRIAGED, dtypes=_dtypes, match="| ours returned"))
# bugs outside the declared dtypes: an int64 input gives a float32 result
for _name in ("hardtanh", "relu6", "threshold"):
    _also(_name, Known({"dtype", "values"}, "int64 input gives a float32 result (torch keeps "
                       "int64, its bounds/value cast to int64): the float bounds promote",
                       dtypes=("int64",)))
del _name, _dtypes

# singular vectors and eigenvectors are unique only up to sign; plugtorch's host kernels
# (numpy's LAPACK) and PyTorch's pick different signs, so the vectors and the gradients of
# (out * w).sum(), which depend on the signs, differ (tests/test_linalg_full.py compares
# sign-invariant functions of them with PyTorch)
_SIGNS = "singular vectors / eigenvectors are unique up to sign; numpy and PyTorch pick others"
for _name in ("linalg.svd", "svd"):
    _also(_name, Known({"values", "grad"}, _SIGNS))
_also("linalg.eigh", Known({"values"}, _SIGNS))
_also("linalg.lstsq", Known({"grad"}, "torch's empty residuals tensor requires grad; "
                            "plugtorch's empty outputs do not", match="outputs requiring grad"))
del _name

# PyTorch raises NotImplementedError (a RuntimeError subclass) when it has no kernel for a
# dtype ("abs_cpu" not implemented for 'Bool'); plugtorch checks dtypes in the frontend and,
# by the project's error rules, raises TypeError for a bad dtype (or RuntimeError). torch
# exception type -> the plugtorch types that count as the same error.
ERROR_TYPES = {NotImplementedError: (NotImplementedError, RuntimeError, TypeError)}


def known(name, dtype):
    """The KNOWN entries for op `name` that apply to `dtype`."""
    entries = KNOWN.get(name, ())
    entries = entries if isinstance(entries, tuple) else (entries,)
    return [k for k in entries if k.applies(dtype)]


# How PyTorch is called where the op's declared signature differs from torch.<name>'s.
# Each entry takes the sample's args/kwargs (arrays already torch tensors).
CALLS = {}


def torch_callable(name, functional=False):
    """The PyTorch function for op `name`, or None when PyTorch has none by that name.
    `functional`: the op is plugtorch.nn.functional's, so torch.nn.functional's is first."""
    if name in CALLS:
        return CALLS[name]
    if functional and callable(getattr(torch.nn.functional, name, None)):
        return getattr(torch.nn.functional, name)
    fn = torch
    for part in name.split("."):      # a dotted name, e.g. "nn.functional.relu"
        fn = getattr(fn, part, None)
    if callable(fn):
        return fn
    method = getattr(torch.Tensor, name, None)
    if callable(method):
        return lambda self, *args, **kw: getattr(self, name)(*args, **kw)
    fn = getattr(torch.nn.functional, name, None)
    return fn if callable(fn) else None


# ----------------------------------------------------------------------------- running

def _to_torch_value(obj):
    if isinstance(obj, D.dtype):
        return getattr(torch, obj.name)
    if obj is DEVICE:
        return "cpu"
    if isinstance(obj, seeded):
        return torch.Generator().manual_seed(obj.seed)
    return obj


def _mark_leaves(args, requires_grad):
    """Make args[p] (or args[p][j]) require grad for each (p, j) pair; return them."""
    leaves_ = []
    for p, j in requires_grad:
        t = args[p] if j is None else args[p][j]
        t.requires_grad_(True)
        leaves_.append(t)
    return leaves_


def _torch_args(sample, requires_grad=()):
    """The sample's args and kwargs for PyTorch: arrays become CPU tensors of the same dtype
    (copies); (position, index) pairs in `requires_grad` become leaves requiring grad."""
    def convert(a):
        return torch.from_numpy(np.array(a, order="C", copy=True))

    args = [_to_torch_value(map_arrays(a, convert)) for a in sample.args]
    kwargs = {k: _to_torch_value(map_arrays(v, convert)) for k, v in sample.kwargs.items()}
    return args, kwargs, _mark_leaves(args, requires_grad)


def _our_args(sample, device, requires_grad=()):
    def convert(a):
        return plugtorch.tensor(np.array(a, order="C", copy=True), device=device)

    args, kwargs = inputs(sample, convert, device)
    return args, kwargs, _mark_leaves(args, requires_grad)


def _outcome(fn, *args, **kwargs):
    """(result leaves, None) or (None, exception)."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # e.g. torch.cross without dim is deprecated; the sample tests that very form
            warnings.simplefilter("ignore")
            return leaves(fn(*args, **kwargs)), None
    except Exception as e:          # noqa: BLE001 - any exception is an outcome to compare
        return None, e


# ----------------------------------------------------------------------------- comparing

def _dtype_name(x):
    if isinstance(x, torch.Tensor):
        return str(x.dtype).replace("torch.", "")
    if isinstance(x, Tensor):
        return x.dtype.name
    return type(x).__name__


def _host(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy().copy()
    return to_host(x)


def compare_results(op, ours, theirs):
    """Problems (kind, message) between plugtorch's and PyTorch's result leaves."""
    if len(ours) != len(theirs):
        return [("count", f"{len(ours)} outputs, torch gives {len(theirs)}")]
    problems = []
    for k, (o, t) in enumerate(zip(ours, theirs)):
        od, td = _dtype_name(o), _dtype_name(t)
        if od != td:
            problems.append(("dtype", f"output {k}: dtype ours={od} | torch={td}"))
        oshape, tshape = tuple(getattr(o, "shape", ())), tuple(getattr(t, "shape", ()))
        if oshape != tshape:
            problems.append(("shape", f"output {k}: shape ours={oshape} | torch={tshape}"))
            continue
        if not op.values:       # e.g. empty: only shape and dtype are defined
            continue
        a, b = _host(o), _host(t)
        atol, rtol = tolerances(a.dtype, op.atol, op.rtol)
        problem = mismatch(a, b.astype(a.dtype) if od != td else b, 2 * atol, 2 * rtol)
        if problem is not None:
            problems.append(("values", f"output {k} ({od}): ours vs torch: {problem}"))
    return problems


def _compare_outcomes(ours, our_err, theirs, their_err):
    if their_err is not None and our_err is None:
        return [("outcome", f"torch raised {type(their_err).__name__}: {_first_line(their_err)}"
                            f" | ours returned")]
    if their_err is None and our_err is not None:
        return [("outcome", f"ours raised {type(our_err).__name__}: {_first_line(our_err)}"
                            f" | torch returned")]
    if their_err is not None and not _same_error_type(our_err, their_err):
        return [("error-type", f"ours raised {type(our_err).__name__}: {_first_line(our_err)}"
                               f" | torch raised {type(their_err).__name__}: "
                               f"{_first_line(their_err)}")]
    return []


def _same_error_type(ours, theirs):
    # torch raises its own subclasses too (torch.OutOfMemoryError...): compare with the
    # first builtin base of torch's exception
    builtin = next(c for c in type(theirs).__mro__ if c.__module__ == "builtins")
    return isinstance(ours, ERROR_TYPES.get(builtin, builtin))


def _first_line(e):
    text = str(e).strip().splitlines()
    return text[0][:160] if text else ""


def check_sample(op, sample, device, torch_fn):
    """Problems (kind, message) from running one sample forward on `device` and in torch."""
    args, kwargs, _ = _torch_args(sample)
    theirs, their_err = _outcome(torch_fn, *args, **kwargs)
    args, kwargs, _ = _our_args(sample, device)
    ours, our_err = _outcome(op.fn, *args, **kwargs)
    problems = _compare_outcomes(ours, our_err, theirs, their_err)
    if problems or our_err is not None:
        return problems
    return compare_results(op, ours, theirs)


def check_sample_gradient(op, sample, device, torch_fn, rng):
    """Problems from comparing the gradients of (out * w).sum() (float64, fixed random
    weights w per output) in plugtorch on `device` and in torch, for every input listed in
    sample.grad."""
    positions = [(p, j) for p, j, _ in _grad_arrays(sample)]
    if not positions:
        return []
    targs, tkw, tin = _torch_args(sample, positions)
    theirs, their_err = _outcome(torch_fn, *targs, **tkw)
    if their_err is not None:       # the forward test reports the different outcome
        return []
    oargs, okw, oin = _our_args(sample, device, positions)
    ours = leaves(op.fn(*oargs, **okw))
    t_picked = [k for k, t in enumerate(theirs) if isinstance(t, torch.Tensor) and t.requires_grad]
    o_picked = [k for k, o in enumerate(ours) if isinstance(o, Tensor) and o.requires_grad]
    if t_picked != o_picked:
        return [("grad", f"outputs requiring grad: ours={o_picked} | torch={t_picked}")]
    if not t_picked:
        return []
    weights = [rng.standard_normal(tuple(theirs[k].shape)) for k in t_picked]
    t_loss = sum((theirs[k] * torch.from_numpy(w)).sum() for k, w in zip(t_picked, weights))
    o_loss = None
    for k, w in zip(o_picked, weights):
        term = (ours[k] * plugtorch.tensor(w, dtype=ours[k].dtype, device=device)).sum()
        o_loss = term if o_loss is None else o_loss + term
    t_grads = torch.autograd.grad(t_loss, tin, allow_unused=True)
    o_loss.backward()
    problems = []
    for (p, j), og, tg, arr in zip(positions, [t.grad for t in oin], t_grads, oin):
        label = f"input {p}" + (f"[{j}]" if j is not None else "")
        a = np.zeros(tuple(arr.shape)) if og is None else to_host(og)
        b = np.zeros(tuple(arr.shape)) if tg is None else tg.numpy()
        problem = mismatch(a, b, GRAD_ATOL, GRAD_RTOL)
        if problem is not None:
            problems.append(("grad", f"gradient of {label}: ours vs torch: {problem}"))
    return problems
