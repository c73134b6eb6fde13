"""PyTorch's `out=` argument, for every op that takes it, in one place.

NOTE [out=]
`plugtorch.add(a, b, out=t)` computes `add(a, b)` as usual, then writes it into `t` and
returns `t` itself (`_core.write_out`), by PyTorch's rules:

- out is a Tensor (a tuple of them for ops returning several, e.g. `max(x, 0)`, `sort`) on
  the result's device;
- its dtype is one the result can be cast to (a float result into an int out is an error),
  or exactly the result's for the ops in `EXACT` and for every tuple out;
- an out of another shape is resized, with PyTorch's deprecation warning unless it had no
  elements (a factory's out is resized silently); writes then go to out's (possibly new)
  storage, seen by every tensor sharing it;
- with grad mode on, no argument (out included) may require grad: such functions do not
  support autograd;
- a factory (`zeros`, `arange`, `rand`, ...) takes its dtype and device from out when they
  are not given, and refuses a dtype that differs from out's; cumsum and cumprod compute in
  out's dtype.

The op functions themselves know nothing of out=: `install()` replaces each listed public
function by a wrapper that adds the keyword, after the Tensor methods were bound, so
`x.add(y)` has no out=, as in PyTorch.
"""
import functools
import inspect

from .. import _dtype as D
from .._tensor import Tensor
from ..autograd.grad_mode import STATE
from ._core import write_out

#: ops whose out may have any dtype the result can be cast to
CASTABLE = frozenset("""
    acos asin atan cos cosh exp exp2 expm1 log log10 log1p log2 reciprocal rsqrt sigmoid sin
    sinh sqrt square tan tanh erf erfc erfinv digamma lgamma i0 sinc logit logical_not
    add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow
    maximum minimum atan2 eq ne lt le gt ge greater less greater_equal less_equal not_equal
    logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor xlogy lerp
    outer ger sum mean prod logsumexp std var max min
    cat concat concatenate stack hstack vstack diff bernoulli
""".split())

#: ops whose out must have exactly the result's dtype (tuple outs always must)
EXACT = frozenset("""
    abs absolute ceil floor fix neg negative round sign trunc nan_to_num bitwise_not
    clamp clip where tril triu all any
    mm bmm matmul addmm baddbmm dot mv inner cross diag
    index_select gather take masked_select nonzero scatter scatter_add index_add multinomial
    argmax argmin amax amin aminmax cummax cummin sort topk norm
""".split())

#: factories: dtype and device default to out's
FACTORIES = frozenset("zeros ones full empty arange linspace logspace eye rand randn randint "
                      "randperm normal".split())

#: ops that compute in out's dtype when no dtype is given (a float cumsum into an int out
#: casts the input first, as PyTorch)
OUT_DTYPE = frozenset("cumsum cumprod".split())

ALL = CASTABLE | EXACT | FACTORIES | OUT_DTYPE


def _requires_grad(args):
    for a in args:
        if isinstance(a, Tensor):
            if a._rg:
                return True
        elif isinstance(a, (tuple, list)) and _requires_grad(a):
            return True
    return False


def with_out(fn, name, exact=False, factory=False, out_dtype=False):
    """`fn` with a keyword-only `out=None` argument (NOTE [out=])."""
    @functools.wraps(fn)
    def op(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if STATE.enabled and (_requires_grad(args) or _requires_grad(kwargs.values()) or
                              _requires_grad(out if isinstance(out, (tuple, list)) else (out,))):
            raise RuntimeError(f"{name}(): functions with out=... arguments don't support "
                               f"automatic differentiation, but one of the arguments requires "
                               f"grad.")
        if (factory or out_dtype) and isinstance(out, Tensor):
            dt = kwargs.get("dtype")
            if dt is None:
                kwargs["dtype"] = out._dtype
            elif D.to_dtype(dt) is not out._dtype:
                raise RuntimeError(f"{name}: dtype {D.scalar_name(D.to_dtype(dt))} does not "
                                   f"match dtype of out parameter "
                                   f"({D.scalar_name(out._dtype)})")
            if factory and kwargs.get("device") is None:
                kwargs["device"] = out.device
        return write_out(name, out, fn(*args, **kwargs), exact, warn=not factory)

    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    params.append(inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None))
    params += [p for p in sig.parameters.values() if p.kind is p.VAR_KEYWORD]
    op.__signature__ = sig.replace(parameters=params)
    op.__wrapped__ = fn
    return op


def install(modules, ops, aliases):
    """Give every listed public function its out= form: in its module (and under each other
    name it has there, e.g. `clip`, `concat`), in its declaration and its aliases'."""
    done = {}
    for module in modules:
        for name in module.__all__:
            if name not in ALL:
                continue
            fn = getattr(module, name)
            if fn not in done:
                done[fn] = with_out(fn, name, exact=name in EXACT, factory=name in FACTORIES,
                                    out_dtype=name in OUT_DTYPE)
    for module in modules:
        for name in module.__all__:
            fn = getattr(module, name)
            if fn in done:
                setattr(module, name, done[fn])
    for table in (ops, aliases):
        for entry in table.values():
            if entry.fn in done:
                entry.fn = done[entry.fn]
    missing = ALL - {n for m in modules for n in m.__all__}
    assert not missing, f"out= listed for ops that do not exist: {sorted(missing)}"
