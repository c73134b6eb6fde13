"""The registry of every kernel program: what the launchers build and the checks compile.

A program is registered once with its generator (parameters -> OpenCL C source, see NOTE
[portable kernel sources] in cl_source.py), the kernels it defines, and the parameters it
is built for, given the dtypes a device holds (`variants`). A launcher asks a Runtime for
`program(key)` with key = (program name, *parameters); the Runtime refuses a key this
registry does not list, and check.py compiles every listed key as CUDA, so the programs a
backend can build are exactly the ones the compile checks cover. The argument signature of
each kernel is read from its generated source (args.arg_types).

Example:
    >>> import plugtorch
    >>> from plugtorch_kernels import registry
    >>> key = ("binary", "add", plugtorch.float32, plugtorch.float32, "tt")
    >>> registry.lookup(key).kernels
    ('k_c', 'k_s')
    >>> "KERNEL void k_s(" in registry.source(key)
    True
"""
from dataclasses import dataclass
from typing import Callable, Tuple

import plugtorch
from plugtorch.backends import UNARY, BINARY

from . import elementwise, indexing, matmul, ops_table, reductions, softmax, sorting
from .cl_source import VTYPE

#: every dtype a device may hold (float64 only where the device computes in double)
DTYPES = (plugtorch.bool, plugtorch.uint8, plugtorch.int8, plugtorch.int16, plugtorch.int32,
          plugtorch.int64, plugtorch.float16, plugtorch.float32, plugtorch.float64)


class UnregisteredProgram(LookupError):
    """A launcher asked for a program (or parameters) the registry does not list."""


@dataclass(frozen=True)
class Program:
    """One registered program family.

    Attributes:
        name: the first element of its keys.
        source: parameters -> OpenCL C source.
        kernels: the kernels every source defines.
        variants: dtypes -> iterable of the parameter tuples it is built for.
        what: parameters -> the op and dtype, for build errors.
    """
    name: str
    source: Callable[..., str]
    kernels: Tuple[str, ...]
    variants: Callable
    what: Callable[..., str]


PROGRAMS = {}


def register(name, source, kernels, variants, what):
    if name in PROGRAMS:
        raise ValueError(f"registry: program {name!r} is registered twice")
    PROGRAMS[name] = Program(name, source, tuple(kernels), variants, what)


# ----------------------------------------------------------------------------- elementwise
# unary/binary primitives whose C expression calls a floating-point built-in for every
# dtype: the frontend promotes integer inputs to float before they reach the kernel
_FLOAT_UNARY = {"exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh",
                "sigmoid", "erf", "reciprocal"}
_FLOAT_BINARY = {"atan2"}
_INT_UNARY = {"bitwise_not"}
_INT_BINARY = {"bitwise_and", "bitwise_or", "bitwise_xor"}
_BOOL_UNARY = {"logical_not", "isnan", "isinf", "isfinite"}
_BOOL_BINARY = {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"}


def _fits(name, dt, floats_only, ints_only):
    f = dt.kind == 2
    return not ((name in floats_only and not f) or (name in ints_only and f))


def _unary_source(name, dt, odt):
    expr, edt = ops_table.unary_expr(name, dt)
    return elementwise.source(expr, edt, odt, (dt,), "t", dt)


def _binary_source(name, dt, odt, kinds):
    expr, edt, helpers = ops_table.binary_expr(name, dt, VTYPE[dt])
    return elementwise.source(expr, edt, odt, (dt, dt), kinds, dt, helpers)


register("unary", _unary_source, ("k_c", "k_s"),
         lambda dts: [(n, dt, plugtorch.bool if n in _BOOL_UNARY else dt)
                      for dt in dts for n in UNARY if _fits(n, dt, _FLOAT_UNARY, _INT_UNARY)],
         lambda name, dt, odt: f"{name} ({dt.name})")
# operand kinds: tensor (t) or scalar (s); the frontend never passes two scalars
register("binary", _binary_source, ("k_c", "k_s"),
         lambda dts: [(n, dt, plugtorch.bool if n in _BOOL_BINARY else dt, kinds)
                      for dt in dts for n in BINARY
                      if _fits(n, dt, _FLOAT_BINARY, _INT_BINARY)
                      for kinds in ("tt", "ts", "st")],
         lambda name, dt, odt, kinds: f"{name} ({dt.name})")
register("where",
         lambda dt, kinds: elementwise.source("(x0 ? x1 : x2)", dt, dt, (plugtorch.bool, dt, dt),
                                              kinds, dt),
         ("k_c", "k_s"),
         lambda dts: [(dt, k) for dt in dts for k in ("ttt", "tts", "tst", "tss")],
         lambda dt, kinds: f"where ({dt.name})")
register("copy", lambda sdt, odt: elementwise.source("x0", sdt, odt, (sdt,), "t", sdt),
         ("k_c", "k_s"), lambda dts: [(s, d) for s in dts for d in dts],
         lambda sdt, odt: f"copy ({sdt.name} to {odt.name})")
register("fill", lambda odt: elementwise.source("x0", odt, odt, (odt,), "s", odt),
         ("k_c", "k_s"), lambda dts: [(dt,) for dt in dts], lambda odt: f"fill ({odt.name})")
# floats count in double, or in float on a device without fp64
register("arange", elementwise.arange_source, ("arange",),
         lambda dts: [(dt, acc) for dt in dts
                      for acc in ((plugtorch.float64, plugtorch.float32) if dt.kind == 2
                                  else (plugtorch.int64,))],
         lambda odt, acc: f"arange ({odt.name})")


# ----------------------------------------------------------------------------- reductions

def _sum_outputs(dt, dts):
    """Output dtypes of a sum-like reduction of dt: its own, and any integer or bool one
    (`dtype=`; a float `dtype=` casts the input first)."""
    return [dt] + [d for d in dts if d.kind < 2 and d is not dt]


def _reduce_variants(dts):
    first = []
    for xdt in dts:
        for op in ("sum", "prod"):
            first += [(op, xdt, odt) for odt in _sum_outputs(xdt, dts)]
        first += [(op, xdt, xdt) for op in ("amax", "amin")]
        odt = xdt if xdt is plugtorch.uint8 else plugtorch.bool     # uint8 keeps its dtype
        first += [(op, xdt, odt) for op in ("any", "all")]
    out = dict.fromkeys(first)
    for op, xdt, odt in first:       # the two passes of a split reduction, through acc
        acc = reductions.spec(op, xdt, odt)[0]
        out.update(dict.fromkeys([(op, xdt, acc), (op, acc, odt)]))
    return [k for k in out if k[1] in dts and k[2] in dts]


register("reduce", reductions.red_source, ("red", "redcol"), _reduce_variants,
         lambda op, xdt, odt: f"{op} ({xdt.name})")
register("arg", reductions.arg_source, ("arg",),
         lambda dts: [(op, dt) for op in ("argmax", "argmin") for dt in dts],
         lambda op, xdt: f"{op} ({xdt.name})")
register("cumsum", reductions.cumsum_source, ("cumsum",),
         lambda dts: [(dt, odt) for dt in dts for odt in _sum_outputs(dt, dts)],
         lambda xdt, odt: f"cumsum ({xdt.name})")
register("softmax", softmax.softmax_source, ("softmax",),
         lambda dts: [(dt, log) for dt in dts if dt.kind == 2 for log in (False, True)],
         lambda dt, log: f"{'log_softmax' if log else 'softmax'} ({dt.name})")


# ----------------------------------------------------------------------------- matmul, index

# every kernel variant the matmul tuner may choose is a registered program
register("bmm", matmul.bmm_source, ("bmm",),
         lambda dts: [(dt, dt, v) for dt in dts for v in matmul.candidates(dt)],
         lambda dt, odt, variant: f"bmm ({dt.name}, {variant})")
register("tcopy", matmul.tcopy_source, ("tcopy",), lambda dts: [(dt,) for dt in dts],
         lambda dt: f"copy ({dt.name})")
register("gather", indexing.gather_source, ("gather",), lambda dts: [(dt,) for dt in dts],
         lambda dt: f"gather ({dt.name})")
register("scatter", indexing.scatter_source, ("scatter",),
         lambda dts: [(dt, r, t) for dt in dts for r in (None, "sum", "prod")
                      for t in (True, False)],
         lambda dt, reduce, is_t: f"scatter ({dt.name})")
register("uniform", indexing.uniform_source, ("uniform",),
         lambda dts: [(dt,) for dt in dts if dt.kind == 2], lambda dt: f"uniform ({dt.name})")
register("sort", sorting.sort_source, ("sort",),
         lambda dts: [(dt, d) for dt in dts for d in (False, True)],
         lambda dt, descending: f"sort ({dt.name})")
register("nonzero", sorting.nonzero_source, ("count", "scan", "write"),
         lambda dts: [(dt,) for dt in dts], lambda dt: f"nonzero ({dt.name})")


# ----------------------------------------------------------------------------- queries

def keys(dtypes=DTYPES):
    """Every registered key for `dtypes`, in registration order."""
    return [(p.name, *params) for p in PROGRAMS.values() for params in p.variants(dtypes)]


_KNOWN = []


def lookup(key):
    """The Program of `key`; UnregisteredProgram when the registry does not list it."""
    if not _KNOWN:
        _KNOWN.append(frozenset(keys()))
    entry = PROGRAMS.get(key[0])
    if entry is None or key not in _KNOWN[0]:
        raise UnregisteredProgram(f"no registered kernel program {name(key)!r}: list it in "
                                  f"plugtorch_kernels/registry.py")
    return entry


def source(key):
    """The OpenCL C source of registered `key`."""
    return lookup(key).source(*key[1:])


def name(key):
    """A readable, unique name of a key: "binary add float32 float32 tt"."""
    return " ".join(p.name if isinstance(p, plugtorch.dtype) else str(p) for p in key)


def programs(dtypes=DTYPES):
    """[(name, OpenCL source)] of every registered program for `dtypes`."""
    return [(name(k), PROGRAMS[k[0]].source(*k[1:])) for k in keys(dtypes)]
