"""Compile every registered program as CUDA, through cuda_compat.h: nvcc and NVRTC.

NOTE [CUDA translation check]
A CUDA backend compiles the very sources the OpenCL backend builds, after prepending
cuda_compat.h (NOTE [portable kernel sources] in cl_source.py). The checks take every key
of registry.py (`registry.programs()`), so a program a launcher can build is a program
checked here; no GPU and no OpenCL device are needed.

- `check()` packs the programs into a few translation units and runs `nvcc -ptx` on each,
  in parallel. Within a unit each program sits in its own namespace, its kernels get a
  unique prefix (they keep their extern "C" linkage) and its own `#define`s are undone
  after it; a `#line` directive names the program, so an error points at "<program>"(line).
- `nvrtc_check()` compiles the same units with NVRTC, the compiler a CUDA backend uses at
  run time, through CuPy's low-level binding (`cupy_backends.cuda.libs.nvrtc`, which needs
  neither a GPU nor a driver), for a given virtual architecture.

Example:
    >>> from plugtorch_kernels import check
    >>> check.check()                           # doctest: +SKIP
    []
"""
import os
import re
import shutil
import subprocess
import tempfile

from . import registry

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cuda_compat.h")

#: the dtypes the checks cover by default: every dtype a device may hold
DTYPES = registry.DTYPES

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


# ----------------------------------------------------------------------------- nvcc

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
    """Compile every registered program for `dtypes` with nvcc; returns [(unit, failing
    programs, log)], empty when all compile.

    Args:
        dtypes: the dtypes to generate programs for.
        units: number of translation units (default: 2 per CPU); they compile in parallel.
        nvcc: path of nvcc (default: `nvcc_path()`).
        keep: a directory to leave the .cu files in (default: a temporary one).
    """
    nvcc = nvcc or nvcc_path()
    if nvcc is None:
        raise RuntimeError("check: nvcc not found")
    progs = registry.programs(dtypes)
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


# ----------------------------------------------------------------------------- NVRTC

def nvrtc():
    """CuPy's low-level NVRTC binding, or None when CuPy or the NVRTC library is missing."""
    try:
        from cupy_backends.cuda.libs import nvrtc as binding
        binding.getVersion()
    except Exception:       # not installed, or libnvrtc not found
        return None
    return binding


def nvrtc_archs(binding=None):
    """The virtual architectures this NVRTC compiles for, oldest first ("compute_50", ...)."""
    binding = binding or nvrtc()
    src = 'extern "C" __global__ void k(int* p) { p[0] = 1; }'
    ok = []
    for n in (30, 32, 35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90, 100,
              101, 103, 110, 120, 121):
        try:
            _nvrtc_compile(binding, src, "probe", f"compute_{n}")
            ok.append(f"compute_{n}")
        except RuntimeError:
            pass
    return ok


def nvrtc_include_dirs():
    """Directories holding cuda_fp16.h for NVRTC: the NVIDIA wheels' and the toolkit's."""
    dirs = []
    try:
        import nvidia.cuda_runtime
        for root in nvidia.cuda_runtime.__path__:
            dirs.append(os.path.join(root, "include"))
    except ImportError:
        pass
    try:
        import nvidia.cuda_nvrtc
        for root in nvidia.cuda_nvrtc.__path__:
            dirs.append(os.path.join(root, "include"))
    except ImportError:
        pass
    nvcc = nvcc_path()
    if nvcc:
        dirs.append(os.path.join(os.path.dirname(os.path.dirname(nvcc)), "include"))
    dirs.append("/usr/local/cuda/include")
    return [d for d in dirs if os.path.exists(os.path.join(d, "cuda_fp16.h"))]


def _nvrtc_compile(binding, source, name, arch, includes=()):
    """PTX of `source` for virtual architecture `arch`; RuntimeError with the log."""
    prog = binding.createProgram(source, name, [], [])
    try:
        opts = [f"--gpu-architecture={arch}", "-default-device", "-std=c++17"]
        opts += [f"-I{d}" for d in includes]
        try:
            binding.compileProgram(prog, opts)
        except Exception as e:
            raise RuntimeError(f"{e}\n{binding.getProgramLog(prog)}") from None
        return binding.getPTX(prog)
    finally:
        binding.destroyProgram(prog)


def nvrtc_check(arch, dtypes=DTYPES, units=16, binding=None, programs=None):
    """Compile every registered program for `dtypes` (or `programs`, [(name, source)]) with
    NVRTC for virtual architecture `arch` (e.g. "compute_50"), in `units` translation units
    as `check` does; returns [(failing programs, log)] per failing unit."""
    binding = binding or nvrtc()
    if binding is None:
        raise RuntimeError("check: CuPy's NVRTC binding is not available")
    progs = registry.programs(dtypes) if programs is None else programs
    includes = [os.path.dirname(HEADER)] + nvrtc_include_dirs()
    failures = []
    for u in range(units):
        group = progs[u::units]
        if not group:
            continue
        try:
            _nvrtc_compile(binding, translation_unit(group, prefix=f"u{u}p"), f"unit{u}.cu",
                           arch, includes)
        except RuntimeError as e:
            failures.append((_failed(str(e)) or ["?"], str(e)))
    return failures
