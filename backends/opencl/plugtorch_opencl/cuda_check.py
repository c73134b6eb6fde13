"""Check that the OpenCL kernel sources also compile as CUDA, through cuda_compat.h.

NOTE [CUDA translation check]
A CUDA backend will compile the very sources this backend builds, after prepending
cuda_compat.h (see NOTE [portable kernel sources] in cl_source.py). `programs()` generates
every program the backend can build, for a set of dtypes, without an OpenCL device (the
source generators in the kernel modules depend only on dtypes and flags). `check()` packs
them into a few translation units and runs `nvcc -ptx` on each, in parallel; no GPU is
needed. Within a unit each program sits in its own namespace, its kernels get a unique
prefix (they keep their extern "C" linkage) and its own `#define`s are undone after it;
a `#line` directive names the program, so an nvcc error points at "<program>"(line).

Example:
    >>> from plugtorch_opencl import cuda_check
    >>> failures = cuda_check.check()           # doctest: +SKIP
    >>> failures                                # doctest: +SKIP
    []
"""
import os
import re
import shutil
import subprocess
import tempfile

import plugtorch
from plugtorch.backends import UNARY, BINARY

from .cl_source import VTYPE
from . import elementwise, matmul, ops_table, reductions, indexing, sorting

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cuda_compat.h")

#: the dtypes the check covers by default
DTYPES = (plugtorch.float32, plugtorch.float64, plugtorch.int64, plugtorch.int32, plugtorch.uint8,
          plugtorch.bool)

# unary/binary primitives whose C expression calls a floating-point built-in for every
# dtype: the frontend promotes integer inputs to float before they reach the kernel
_FLOAT_UNARY = {"exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh",
                "sigmoid", "erf", "reciprocal"}
_FLOAT_BINARY = {"atan2"}
_INT_UNARY = {"bitwise_not"}
_INT_BINARY = {"bitwise_and", "bitwise_or", "bitwise_xor"}


def _unary_out(name, dt):
    return plugtorch.bool if name in ("logical_not", "isnan", "isinf", "isfinite") else dt


def _sum_out(dt):
    return plugtorch.int64 if dt.kind < 2 else dt


def programs(dtypes=DTYPES):
    """[(name, OpenCL source)] of every program the backend builds for `dtypes`.

    Covers each template with every operand kind (tensor/scalar, which selects the
    contiguous `k_c` and strided `k_s` kernels of one program), casts between all pairs,
    both passes of the reductions, the scalar and 6x16 vector matmul, gather/scatter,
    sort, nonzero and the Philox generator.
    """
    out = []
    floats = [d for d in dtypes if d.kind == 2]
    for dt in dtypes:
        f = dt.kind == 2
        c = VTYPE[dt]
        n = dt.name
        for name in UNARY:
            if (name in _FLOAT_UNARY and not f) or (name in _INT_UNARY and f):
                continue
            expr, edt = ops_table.unary_expr(name, dt)
            out.append((f"unary {name} {n}",
                        elementwise.source(expr, edt, _unary_out(name, dt), (dt,), "t", dt)))
        for name in BINARY:
            if (name in _FLOAT_BINARY and not f) or (name in _INT_BINARY and f):
                continue
            expr, edt, helpers = ops_table.binary_expr(name, dt, c)
            odt = plugtorch.bool if name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and",
                                             "logical_or", "logical_xor") else dt
            for kinds in ("tt", "ts", "st"):
                out.append((f"binary {name} {n} {kinds}",
                            elementwise.source(expr, edt, odt, (dt, dt), kinds, dt, helpers)))
        for kinds in ("ttt", "tts", "tst", "tss"):
            out.append((f"where {n} {kinds}", elementwise.source(
                "(x0 ? x1 : x2)", dt, dt, (plugtorch.bool, dt, dt), kinds, dt)))
        for sdt in dtypes:
            out.append((f"copy {sdt.name}->{n}", elementwise.source("x0", sdt, dt, (sdt,), "t",
                                                                     sdt)))
        out.append((f"fill {n}", elementwise.source("x0", dt, dt, (dt,), "s", dt)))
        # floats count in double, or in float on a device without fp64
        for acc in ((plugtorch.float64, plugtorch.float32) if f else (plugtorch.int64,)):
            out.append((f"arange {n} ({acc.name})", elementwise.arange_source(dt, acc)))
        for op in ("sum", "prod"):
            out.append((f"reduce {op} {n}", reductions.red_source(op, dt, _sum_out(dt))))
        for op in ("amax", "amin", "any", "all"):
            odt = plugtorch.bool if op in ("any", "all") else dt
            out.append((f"reduce {op} {n}", reductions.red_source(op, dt, odt)))
            if op in ("any", "all") and dt is plugtorch.uint8:     # uint8 input keeps its dtype
                out.append((f"reduce {op} {n}->uint8", reductions.red_source(op, dt, dt)))
        for op in ("argmax", "argmin"):
            out.append((f"{op} {n}", reductions.arg_source(op, dt)))
        out.append((f"cumsum {n}", reductions.cumsum_source(dt, _sum_out(dt))))
        out.append((f"bmm {n}", matmul._source(dt, dt, False)))
        out.append((f"tcopy {n}", matmul.tcopy_source(dt)))
        out.append((f"gather {n}", indexing.gather_source(dt)))
        for reduce in (None, "sum", "prod"):
            for is_t in (True, False):
                out.append((f"scatter {reduce} {n} {'tensor' if is_t else 'scalar'}",
                            indexing.scatter_source(dt, reduce, is_t)))
        for desc in (False, True):
            out.append((f"sort {n} {'desc' if desc else 'asc'}", sorting.sort_source(dt, desc)))
        out.append((f"nonzero {n}", sorting.nonzero_source(dt)))
    for dt in floats:
        out.append((f"uniform {dt.name}", indexing.uniform_source(dt)))
    if plugtorch.float32 in dtypes:
        out.append(("bmm float32 vec6x16",
                    matmul._source(plugtorch.float32, plugtorch.float32, True)))
    return out


# ----------------------------------------------------------------------------- translation

_KERNEL = re.compile(r"\bKERNEL(\s+void\s+)(\w+)")
_DEFINE = re.compile(r"^\s*#\s*define\s+(\w+)", re.M)


def _compat_macros():
    with open(HEADER) as f:
        return set(_DEFINE.findall(f.read()))


def translation_unit(progs, prefix="p"):
    """One CUDA source holding `progs` ([(name, source)]) after `#include "cuda_compat.h"`."""
    keep = _compat_macros()
    parts = ['#include "cuda_compat.h"\n']
    for i, (name, src) in enumerate(progs):
        tag = f"{prefix}{i}"
        body = _KERNEL.sub(lambda m: f"KERNEL{m.group(1)}{tag}_{m.group(2)}", src)
        parts.append(f"namespace {tag} {{\n#line 1 \"{name}\"\n{body}\n}}\n")
        parts += [f"#undef {m}\n" for m in sorted(set(_DEFINE.findall(src)) - keep)]
    return "".join(parts)


def nvcc_path():
    """The nvcc on PATH (or /usr/local/cuda/bin), or None."""
    return shutil.which("nvcc") or shutil.which("nvcc", path="/usr/local/cuda/bin")


def arch(nvcc):
    """sm_70, or the oldest architecture this nvcc still supports when it dropped sm_70."""
    try:
        listed = subprocess.run([nvcc, "--list-gpu-arch"], capture_output=True, text=True,
                                timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError):
        listed = []
    nums = sorted(int(a.split("_")[1]) for a in listed if re.fullmatch(r"compute_\d+", a))
    if not nums or 70 in nums:
        return "sm_70"
    return f"sm_{nums[0]}"


def _failed(log):
    """Names of the programs an nvcc log reports errors in."""
    return sorted(set(re.findall(r'^(.+?)\(\d+\): (?:catastrophic )?error', log, re.M)))


def check(dtypes=DTYPES, units=None, nvcc=None, keep=None):
    """Compile every program for `dtypes` as CUDA; returns [(unit, failing programs, log)].

    Args:
        dtypes: the dtypes to generate programs for.
        units: number of translation units (default: 2 per CPU); they compile in parallel.
        nvcc: path of nvcc (default: `nvcc_path()`).
        keep: a directory to leave the .cu files in (default: a temporary one).

    Example:
        >>> check([plugtorch.float32])              # doctest: +SKIP
        []
    """
    nvcc = nvcc or nvcc_path()
    if nvcc is None:
        raise RuntimeError("cuda_check: nvcc not found")
    progs = programs(dtypes)
    units = units or 2 * (os.cpu_count() or 1)
    # interleave, so every unit gets a similar mix of small and large programs
    groups = [progs[i::units] for i in range(units) if progs[i::units]]
    sm = arch(nvcc)
    with tempfile.TemporaryDirectory() as tmp:
        where = keep or tmp
        procs = []
        for u, group in enumerate(groups):
            cu = os.path.join(where, f"unit{u}.cu")
            with open(cu, "w") as f:
                f.write(translation_unit(group, prefix=f"u{u}p"))
            cmd = [nvcc, "-ptx", f"-arch={sm}", "-x", "cu", "-I", os.path.dirname(HEADER),
                   "-o", os.path.join(where, f"unit{u}.ptx"), cu]
            procs.append((u, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, text=True)))
        failures = []
        for u, p in procs:
            log = p.communicate()[0]
            if p.returncode != 0:
                failures.append((u, _failed(log) or ["?"], log))
    return failures
