"""The OpenCL kernel sources compile as CUDA through cuda_compat.h (see NOTE [CUDA
translation check] in plugtorch_opencl/cuda_check.py). Needs nvcc, not a GPU nor an
OpenCL device: the sources are generated from the templates alone.
"""
import os
import re
import subprocess

import pytest

from plugtorch import _dtype as D

cuda_check = pytest.importorskip("plugtorch_opencl.cuda_check")

NVCC = cuda_check.nvcc_path()
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")


def test_programs_cover_every_template():
    """The generated set is the backend's whole program list, not a sample."""
    names = [n for n, _ in cuda_check.programs()]
    assert len(names) == len(set(names))
    kinds = {n.split()[0] for n in names}
    assert kinds == {"unary", "binary", "where", "copy", "fill", "arange", "reduce", "argmax",
                     "argmin", "cumsum", "bmm", "tcopy", "gather", "scatter", "sort",
                     "nonzero", "uniform"}
    assert "bmm float32 vec6x16" in names
    assert "copy float64->bool" in names and "copy bool->float64" in names
    # every elementwise program holds both the contiguous and the strided kernel
    src = dict(cuda_check.programs())["binary add int64 ts"]
    assert "void k_c(" in src and "void k_s(" in src


def test_translation_unit_isolates_programs():
    progs = [("a", "#define T float\nKERNEL void k(GLOBAL T* p) { p[0] = 1; }\n"),
             ("b", "#define T int\nKERNEL void k(GLOBAL T* p) { p[0] = 2; }\n")]
    tu = cuda_check.translation_unit(progs, prefix="q")
    assert tu.startswith('#include "cuda_compat.h"')
    assert "KERNEL void q0_k(" in tu and "KERNEL void q1_k(" in tu
    assert tu.count("#undef T\n") == 2
    assert '#line 1 "b"' in tu
    # the macro layer itself is never undefined between programs
    assert "#undef KERNEL" not in tu


@needs_nvcc
def test_all_kernel_sources_compile_with_nvcc(tmp_path):
    failures = cuda_check.check(units=2 * max(1, min(os.cpu_count() or 1, 4)),
                                keep=str(tmp_path))
    msg = "\n\n".join(f"translation unit {u}: failing programs {names}\n{log[-6000:]}"
                      for u, names, log in failures)
    assert not failures, msg


@needs_nvcc
def test_half_programs_compile_with_nvcc(tmp_path):
    """float16 buffers go through the header's vload_half / vstore_half_rte twins."""
    failures = cuda_check.check(dtypes=(D.float16,), units=1, keep=str(tmp_path))
    assert not failures, "\n".join(f"{names}\n{log[-6000:]}" for _, names, log in failures)


@needs_nvcc
def test_single_program_keeps_c_linkage(tmp_path):
    """A CUDA backend compiles one program per module and finds kernels by their plain
    OpenCL name: the PTX must export `count`, `scan` and `write` unmangled."""
    src = dict(cuda_check.programs([D.int32]))["nonzero int32"]
    cu = tmp_path / "nonzero.cu"
    cu.write_text('#include "cuda_compat.h"\n' + src)
    ptx = tmp_path / "nonzero.ptx"
    r = subprocess.run([NVCC, "-ptx", f"-arch={cuda_check.arch(NVCC)}", "-x", "cu", "-I",
                        os.path.dirname(cuda_check.HEADER), "-o", str(ptx), str(cu)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    entries = set(re.findall(r"\.entry\s+(\w+)\s*\(", ptx.read_text()))
    assert entries == {"count", "scan", "write"}


@needs_nvcc
def test_a_broken_kernel_is_reported_by_name(tmp_path):
    """The check names the failing program (the #line tag), not just the unit."""
    bad = [("bad kernel", "KERNEL void k(GLOBAL float* p) { p[0] = undefined_thing; }\n")]
    tu = cuda_check.translation_unit(bad)
    cu = tmp_path / "bad.cu"
    cu.write_text(tu)
    r = subprocess.run([NVCC, "-ptx", f"-arch={cuda_check.arch(NVCC)}", "-x", "cu", "-I",
                        os.path.dirname(cuda_check.HEADER), "-o", os.devnull, str(cu)],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert cuda_check._failed(r.stdout + r.stderr) == ["bad kernel"]


def test_header_defines_the_whole_macro_layer():
    """Every macro the OpenCL side defines under __OPENCL_VERSION__ has a CUDA twin."""
    from plugtorch_opencl import cl_source, matmul
    opencl_only = re.compile(r"#ifdef __OPENCL_VERSION__(.*?)#endif", re.S)
    names = set()
    for text in (cl_source.HEADER, matmul._VEC_HEADER):
        for block in opencl_only.findall(text):
            names |= set(re.findall(r"#define\s+(\w+)", block))
    assert {"KERNEL", "GLOBAL", "LOCAL", "GID", "BARRIER", "VEC8"} <= names
    with open(cuda_check.HEADER) as f:
        defined = set(re.findall(r"#define\s+(\w+)", f.read()))
    assert names <= defined, sorted(names - defined)


@needs_nvcc
def test_header_builtins_compile(tmp_path):
    """The OpenCL built-ins the header maps but no template uses yet still compile."""
    src = r"""
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
}
"""
    cu = tmp_path / "builtins.cu"
    cu.write_text('#include "cuda_compat.h"\n' + src)
    r = subprocess.run([NVCC, "-ptx", f"-arch={cuda_check.arch(NVCC)}", "-x", "cu", "-I",
                        os.path.dirname(cuda_check.HEADER), "-o", os.devnull, str(cu)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
