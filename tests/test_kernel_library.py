"""The shared kernel library (backends/kernels/plugtorch_kernels): it stays free of device
APIs, its registry is the whole program list the OpenCL launchers build, and every
registered program compiles as CUDA through cuda_compat.h (NOTE [CUDA translation check] in
plugtorch_kernels/check.py) with nvcc and with NVRTC. The compile checks need nvcc or
CuPy's NVRTC binding, not a GPU nor an OpenCL device.
"""
import ast
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import plugtorch as pt
from plugtorch_kernels import check, registry
from plugtorch_kernels.args import arg_types, kernel_names
from plugtorch_kernels.runtime import KernelBuildError, Runtime
from plugtorch_kernels.tuning import BMM_CANDIDATES, LOCAL_SIZE

NVCC = check.nvcc_path()
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")
NVRTC = check.nvrtc()
needs_nvrtc = pytest.mark.skipif(
    NVRTC is None or not check.nvrtc_include_dirs(),
    reason="CuPy's NVRTC binding (cupy_backends.cuda.libs.nvrtc) or cuda_fp16.h is missing: "
           "pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12 nvidia-cuda-runtime-cu12")
LAUNCHERS = os.path.join(os.path.dirname(__file__), "..", "backends", "kernels",
                         "plugtorch_kernels", "launch")


def test_library_imports_no_device_api():
    """With pyopencl and CuPy unimportable, the whole library imports and generates."""
    code = ("import sys\n"
            "for m in ('pyopencl', 'cupy', 'cupy_backends', 'cupy_backends.cuda.libs'):\n"
            "    sys.modules[m] = None\n"
            "import plugtorch_kernels, pkgutil, importlib\n"
            "for m in pkgutil.iter_modules(plugtorch_kernels.__path__):\n"
            "    importlib.import_module('plugtorch_kernels.' + m.name)\n"
            "from plugtorch_kernels import registry, check\n"
            "assert check.nvrtc() is None\n"
            "print(len(registry.programs()))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == len(registry.keys())


def test_library_ships_the_translation_header():
    assert os.path.isfile(check.HEADER)
    with open(os.path.join(os.path.dirname(__file__), "..", "pyproject.toml")) as f:
        toml = f.read()
    assert 'plugtorch_kernels = ["*.h"]' in toml and '"backends/kernels"' in toml


# ----------------------------------------------------------------------------- registry

def test_registry_covers_every_template_and_dtype():
    names = [n for n, _ in registry.programs()]
    assert len(names) == len(set(names)) == len(registry.keys())
    assert {n.split()[0] for n in names} == {
        "unary", "binary", "where", "copy", "fill", "arange", "reduce", "arg", "cumsum",
        "softmax", "bmm", "tcopy", "gather", "scatter", "sort", "nonzero", "uniform"}
    # every matmul variant the tuner may choose (tuning.BMM_CANDIDATES) is registered
    assert {f"bmm float32 float32 {v}" for v in BMM_CANDIDATES[pt.float32]} <= set(names)
    assert "bmm float64 float64 s8x8" in names and "bmm float64 float64 v6x16w8" not in names
    assert "copy float64 bool" in names and "copy bool float64" in names
    # both passes of a split float16 sum (accumulating in float32)
    assert {"reduce sum float16 float32", "reduce sum float32 float16"} <= set(names)
    for dt in registry.DTYPES:
        assert f"fill {dt.name}" in names and f"sort {dt.name} True" in names


def test_registered_kernels_match_their_sources_and_signatures():
    """Every source defines exactly the registered kernels, and every argument of each has
    a type the runtimes can declare."""
    for key in registry.keys():
        src = registry.source(key)
        entry = registry.lookup(key)
        assert sorted(kernel_names(src)) == sorted(entry.kernels), registry.name(key)
        types = arg_types(src)
        assert set(types) == set(entry.kernels), registry.name(key)
    src = registry.source(("binary", "add", pt.int64, pt.int64, "ts"))
    assert "void k_c(" in src and "void k_s(" in src
    # out, its offset, a and its offset, the scalar b, the element count, the chunk
    assert arg_types(src)["k_c"] == [None, np.dtype(np.int64), None, np.dtype(np.int64),
                                      np.dtype(np.int64), np.dtype(np.int64),
                                      np.dtype(np.int64)]


def test_unregistered_program_is_refused():
    with pytest.raises(registry.UnregisteredProgram, match="binary add float32 float32 ss"):
        registry.lookup(("binary", "add", pt.float32, pt.float32, "ss"))
    with pytest.raises(registry.UnregisteredProgram, match="no registered kernel program"):
        registry.lookup(("conv", pt.float32))


def _launcher_lookups():
    """(module, first element) of every tuple key a launcher passes to
    rt.program(...) or assigns to `key`, and every call of rt.kernels(...)."""
    keys, raw = [], []
    for fn in sorted(os.listdir(LAUNCHERS)):
        if not fn.endswith(".py"):
            continue
        with open(os.path.join(LAUNCHERS, fn)) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "kernels" and getattr(node.func.value, "id", "") == "rt":
                    raw.append(fn)
                if node.func.attr == "program" and node.args:
                    keys.append((fn, _family(node.args[0])))
            if (isinstance(node, ast.Assign)
                    and [getattr(t, "id", "") for t in node.targets] == ["key"]):
                keys.append((fn, _family(node.value)))
    return [k for k in keys if k[1]], raw


def _family(node):
    """The program name a key expression starts with, or None (a plan key, a variable)."""
    if isinstance(node, ast.Tuple) and node.elts and isinstance(node.elts[0], ast.Constant):
        return node.elts[0].value
    return None


def test_launchers_look_programs_up_only_in_the_registry():
    keys, raw = _launcher_lookups()
    assert not raw, f"launchers building unregistered sources: {raw}"
    families = {k for _, k in keys}
    # every lookup names a registered program, and every registered program has a launcher
    assert families == set(registry.PROGRAMS), sorted(families ^ set(registry.PROGRAMS))


# ----------------------------------------------------------------------------- the protocol

class _FakeRuntime(Runtime):
    """The protocol in plain Python: programs are their sources, kernels (name, types)."""
    name, device_name = "fake", "fake device"

    def __init__(self):
        super().__init__()
        self.launches = []

    def allocate(self, nbytes):
        return bytearray(max(nbytes, 1))

    def upload(self, array):
        return bytearray(array.tobytes())

    def download(self, buf, offset_bytes, out):
        out.view(np.uint8).reshape(-1)[:] = np.frombuffer(buf, np.uint8)[
            offset_bytes:offset_bytes + out.nbytes]
        return out

    def build(self, source, options):
        if "undeclared_thing" in source:
            raise KernelBuildError("error: use of undeclared identifier 'undeclared_thing'")
        return source

    def kernel(self, program, name, types):
        return (name, tuple(types))

    def launch(self, kernel, global_size, local_size, *args):
        self.launches.append((kernel[0], global_size, local_size, args))

    def synchronize(self):
        pass


def test_runtime_builds_each_registered_program_once():
    rt = _FakeRuntime()
    key = ("fill", pt.int32)
    ks = rt.program(key)
    assert set(ks) == {"k_c", "k_s"}
    # out, its offset, the fill value (the dtype's C type), the element count, the chunk
    assert ks["k_c"][1] == (None, np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.int64),
                            np.dtype(np.int64))
    assert rt.program(key) is ks and rt.builds == 1
    with pytest.raises(registry.UnregisteredProgram):
        rt.program(("fill", "no such dtype"))
    rt.launch_n(ks["k_c"], 65, "buf")
    rt.launch_n(ks["k_c"], 0, "buf")
    assert rt.launches == [("k_c", (2 * LOCAL_SIZE,), (LOCAL_SIZE,), ("buf",))]
    a = np.arange(5, dtype=np.int16)
    assert (rt.download(rt.upload(a), 2, np.empty(3, np.int16)) == a[1:4]).all()


def test_runtime_reports_build_errors_and_kernel_mismatches():
    rt = _FakeRuntime()
    with pytest.raises(KernelBuildError, match=r"(?s)fake: building the kernel for myop "
                                               r"\(float32\) failed on fake device.*undecl"):
        rt.kernels(("bad", 1), lambda: "KERNEL void k(GLOBAL float* x) "
                                       "{ x[0] = undeclared_thing; }", "myop (float32)")
    with pytest.raises(KernelBuildError, match=r"defines kernels \['k'\], the registry "
                                               r"lists \['h', 'k'\]"):
        rt.kernels(("two", 1), lambda: "KERNEL void k(GLOBAL float* x) {}", "two",
                   names=("k", "h"))
    with pytest.raises(KernelBuildError, match="signature of kernel k of vec"):
        rt.kernels(("vec", 1), lambda: "KERNEL void k(GLOBAL float* x, float4 v) {}", "vec")


def test_opencl_builds_only_registered_programs():
    """A spread of ops over every dtype on the OpenCL device builds only registry keys."""
    be = pt.backends.get("opencl")
    if not be.availability()[0]:
        pytest.skip(f"opencl unavailable: {be.availability()[1]}")
    for dt in sorted(be.dtypes, key=lambda d: d.name):
        x = pt.arange(12, device="opencl").reshape(3, 4).to(dt)
        y = (x + x, x * 2, x.t().contiguous(), x.sum(1), x.cumsum(0), x.sort(1)[0],
             x.nonzero(), pt.where(x > 1, x, x), x.gather(1, pt.zeros(3, 2, dtype=pt.int64,
                                                                          device="opencl")),
             x.amax(0), x.any())
        if dt is not pt.bool:
            y += (x @ x.t(), x.argmin(1))
        if dt.kind == 2:
            y += (pt.rand(4, dtype=dt, device="opencl"), x.exp())
        for t in y:
            t.cpu()
    rt = be.runtimes[0]
    built = [k for k in rt.programs if k[0] in registry.PROGRAMS]
    assert len(built) > 50
    unlisted = [registry.name(k) for k in built if k not in set(registry.keys())]
    assert not unlisted


# ----------------------------------------------------------------------------- nvcc

@needs_nvcc
def test_all_registered_programs_compile_with_nvcc(tmp_path):
    failures = check.check(units=2 * max(1, min(os.cpu_count() or 1, 4)), keep=str(tmp_path))
    msg = "\n\n".join(f"translation unit {u}: failing programs {names}\n{log[-6000:]}"
                      for u, names, log in failures)
    assert not failures, msg


def _nvcc_ptx(tmp_path, text, out=None):
    cu = tmp_path / "k.cu"
    cu.write_text(text)
    return subprocess.run([NVCC, "-ptx", f"-arch={check.arch(NVCC)}", "-x", "cu", "-I",
                           os.path.dirname(check.HEADER), "-o", str(out or os.devnull),
                           str(cu)], capture_output=True, text=True)


def test_translation_unit_isolates_programs():
    progs = [("a", "#define T float\nKERNEL void k(GLOBAL T* p) { p[0] = 1; }\n"),
             ("b", "#define T int\nKERNEL void k(GLOBAL T* p) { p[0] = 2; }\n")]
    tu = check.translation_unit(progs, prefix="q")
    assert tu.startswith('#include "cuda_compat.h"')
    assert "KERNEL void q0_k(" in tu and "KERNEL void q1_k(" in tu
    assert tu.count("#undef T\n") == 2
    assert '#line 1 "b"' in tu
    # the macro layer itself is never undefined between programs
    assert "#undef KERNEL" not in tu


@needs_nvcc
def test_single_program_keeps_c_linkage(tmp_path):
    """A CUDA backend compiles one program per module and finds kernels by their plain
    OpenCL name: the PTX must export `count`, `scan` and `write` unmangled."""
    src = registry.source(("nonzero", pt.int32))
    ptx = tmp_path / "nonzero.ptx"
    r = _nvcc_ptx(tmp_path, '#include "cuda_compat.h"\n' + src, ptx)
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(re.findall(r"\.entry\s+(\w+)\s*\(", ptx.read_text())) == {"count", "scan",
                                                                       "write"}


@needs_nvcc
def test_a_broken_kernel_is_reported_by_name(tmp_path):
    """The check names the failing program (the #line tag), not just the unit."""
    bad = [("bad kernel", "KERNEL void k(GLOBAL float* p) { p[0] = undefined_thing; }\n")]
    r = _nvcc_ptx(tmp_path, check.translation_unit(bad))
    assert r.returncode != 0
    assert check._failed(r.stdout + r.stderr) == ["bad kernel"]


def test_header_defines_the_whole_macro_layer():
    """Every macro the OpenCL side defines under __OPENCL_VERSION__ has a CUDA twin."""
    from plugtorch_kernels import cl_source, matmul
    opencl_only = re.compile(r"#ifdef __OPENCL_VERSION__(.*?)#endif", re.S)
    names = set()
    for text in (cl_source.HEADER, matmul._VEC_HEADER):
        for block in opencl_only.findall(text):
            names |= set(re.findall(r"#define\s+(\w+)", block))
    assert {"KERNEL", "GLOBAL", "LOCAL", "GID", "BARRIER", "VEC8", "VEC16"} <= names
    with open(check.HEADER) as f:
        defined = set(re.findall(r"#define\s+(\w+)", f.read()))
    assert names <= defined, sorted(names - defined)


_BUILTINS = r"""
KERNEL void k(GLOBAL float* f, GLOBAL int* i, GLOBAL uint* u, GLOBAL long* l, long n) {
    long g = GID(0);
    LOCAL float tile[64];
    tile[LID(0)] = f[g];
    BARRIER();
    f[g] = clamp(tile[LID(0)], 0.0f, 1.0f) + mad(f[g], 2.0f, 1.0f) + select(1.0f, 2.0f, g > 0)
         + native_exp(f[g]) + fmin(f[g], 1.0f) + convert_float(i[g]) + as_float(u[g]);
    i[g] = mul_hi(i[g], 7) + convert_int(f[g]) + as_int(f[g]);
    l[g] = mul_hi(l[g], (long)3) + (long)get_global_id(0) + (long)get_local_size(0);
    atomic_add(i, 1);
    atomic_cmpxchg(u, 0u, 1u);
    VEC8(float) v = VLOAD8(0, f);
    v += (VEC8(float))2.0f * v - v / v;
    VSTORE8(v, 1, f);
    VEC16(float) w = VLOAD16(1, f);
    w += (VEC16(float))2.0f * w - w / w;
    VSTORE16(w, 2, f);
}
"""


@needs_nvcc
def test_header_builtins_compile(tmp_path):
    """The OpenCL built-ins the header maps but no template uses yet still compile."""
    r = _nvcc_ptx(tmp_path, '#include "cuda_compat.h"\n' + _BUILTINS)
    assert r.returncode == 0, r.stdout + r.stderr


# ----------------------------------------------------------------------------- NVRTC

def _archs():
    archs = check.nvrtc_archs(NVRTC) if NVRTC else []
    return [archs[0], archs[-1]] if archs else []


@needs_nvrtc
@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_all_registered_programs_compile_with_nvrtc(which):
    archs = _archs()
    assert archs, "NVRTC compiles for no architecture"
    arch = archs[0] if which == "oldest" else archs[-1]
    failures = check.nvrtc_check(arch)
    assert not failures, "\n\n".join(f"{arch}: {name}\n{log[-4000:]}"
                                     for name, log in failures[:5])


@needs_nvrtc
def test_nvrtc_reports_a_broken_kernel_by_name():
    bad = [("bad kernel", "KERNEL void k(GLOBAL float* p) { p[0] = undefined_thing; }\n")]
    failures = check.nvrtc_check(_archs()[0], programs=bad)
    assert [names for names, _ in failures] == [["bad kernel"]]
