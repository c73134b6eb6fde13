"""The cuda backend end to end without a GPU: CuPy is faked (tests/_fake_cupy.py) with device
memory in host memory, and every kernel launch runs the launched program's OpenCL C text on
the OpenCL device over that memory, with the work-items the CUDA launch covers. So these
check, by the values computed, what the backend itself does on a GPU: the launchers over
the CuPy Runtime, argument packing, launch geometry, transfers, views for cuBLAS and DLPack,
deferred index checks, random numbers and devices. What they cannot check is CUDA's own
compilation and execution of the programs (test_cuda_runtime.py compiles them with NVRTC;
test_gpu_cuda.py runs them on a GPU)."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import debug
from plugtorch.backends import philox_uniform

import _fake_cupy

EXECUTOR = _fake_cupy.opencl_executor()
pytestmark = pytest.mark.skipif(EXECUTOR is None, reason="no OpenCL device to run kernels on")

DTYPES = [pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64, pt.float16, pt.float32,
          pt.float64]


@pytest.fixture
def fake(monkeypatch):
    fake, backend = _fake_cupy.install(monkeypatch, count=2, executor=EXECUTOR)
    fake.backend = backend
    return fake


def _values(dtype, n=24, seed=0):
    rng = np.random.default_rng(seed)
    if dtype is pt.bool:
        return rng.random(n) > 0.5
    if dtype.is_floating_point:
        return (rng.standard_normal(n) * 100).astype(dtype.np)
    info = np.iinfo(dtype.np)
    return rng.integers(info.min, info.max, n, dtype=dtype.np, endpoint=True)


# ----------------------------------------------------------------------------- arguments

def test_every_argument_kind_reaches_the_kernel_byte_for_byte(fake):
    from test_gpu_cuda import check_argument_bytes
    check_argument_bytes(fake.backend.runtimes[0])


# ----------------------------------------------------------------------------- storage

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_round_trip_and_strided_reads(fake, dtype):
    host = _values(dtype).reshape(4, 6)
    t = pt.from_numpy(host).to("cuda")
    assert t.device == pt.device("cuda:0") and t.dtype is dtype and t.is_cuda
    np.testing.assert_array_equal(t.cpu().numpy(), host)
    # strided views read back through the copy kernel
    np.testing.assert_array_equal(t.t().cpu().numpy(), host.T)
    np.testing.assert_array_equal(t[1:, ::2].cpu().numpy(), host[1:, ::2])
    np.testing.assert_array_equal(t[2].cpu().numpy(), host[2])
    assert pt.cuda.memory_allocated() >= host.nbytes
    assert pt.empty(0, 3, dtype=dtype, device="cuda").cpu().numpy().shape == (0, 3)


def test_fill_and_copy_follow_the_contract(fake):
    t = pt.zeros(4, 5, device="cuda")
    t[:, 1::2].fill_(2.5)
    ref = np.zeros((4, 5), np.float32)
    ref[:, 1::2] = 2.5
    np.testing.assert_array_equal(t.cpu().numpy(), ref)
    x = pt.tensor([-2.7, -0.5, 0.0, 0.5, 3.9], device="cuda")
    assert x.to(pt.int32).cpu().tolist() == [-2, 0, 0, 0, 3]     # truncation
    assert x.to(pt.bool).cpu().tolist() == [True, True, False, True, True]
    big = pt.full((3,), 2 ** 62 + 1, dtype=pt.int64, device="cuda")
    assert big.cpu().tolist() == [2 ** 62 + 1] * 3
    assert pt.arange(2, 11, 3, device="cuda").cpu().tolist() == [2, 5, 8]


# ----------------------------------------------------------------------------- ops

def test_elementwise_and_reductions_on_strided_operands(fake):
    a = np.random.default_rng(1).standard_normal((5, 7)).astype(np.float32)
    b = np.random.default_rng(2).standard_normal((7, 5)).astype(np.float32)
    x, y = pt.tensor(a, device="cuda"), pt.tensor(b, device="cuda")
    got = (x * y.t() + x.exp() - 2).cpu().numpy()
    ref = a.astype(np.float64) * b.T + np.exp(a.astype(np.float64)) - 2
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x[:, 1::2].sum(0).cpu().numpy(), a[:, 1::2].sum(0), rtol=1e-5)
    np.testing.assert_allclose(x.amax(1).cpu().numpy(), a.max(1))
    assert x.argmax(1).cpu().tolist() == a.argmax(1).tolist()
    np.testing.assert_allclose(x.cumsum(1).cpu().numpy(), a.cumsum(1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(pt.where(x > 0, x, y.t()).cpu().numpy(),
                                  np.where(a > 0, a, b.T))
    i = pt.tensor([[7, -3], [100, 5]], dtype=pt.int32, device="cuda")
    assert (i // 2).cpu().tolist() == [[3, -2], [50, 2]]
    assert (i % 3).cpu().tolist() == [[1, 0], [1, 2]]


def test_sort_nonzero_gather_scatter(fake):
    a = np.array([[3.0, np.nan, -1.0, 2.0], [0.0, 5.0, 5.0, -7.0]], np.float32)
    x = pt.tensor(a, device="cuda")
    v, idx = x.sort(1, stable=True)
    np.testing.assert_array_equal(v.cpu().numpy(), np.sort(a, 1))
    assert idx.cpu().tolist() == np.argsort(a, 1, kind="stable").tolist()
    assert x.nonzero().cpu().tolist() == np.argwhere(a != 0).tolist()
    index = pt.tensor([[3, 0], [1, 1]], device="cuda")
    np.testing.assert_array_equal(x.gather(1, index).cpu().numpy(),
                                  np.take_along_axis(a, np.array([[3, 0], [1, 1]]), 1))
    out = pt.zeros(2, 4, device="cuda").scatter_add(1, index, pt.ones(2, 2, device="cuda"))
    assert out.cpu().tolist() == [[1, 0, 0, 1], [0, 2, 0, 0]]


def test_float_matmul_goes_to_cublas_with_views_of_the_operands(fake):
    a = np.random.default_rng(3).standard_normal((3, 6, 4))
    b = np.random.default_rng(4).standard_normal((5, 6))
    x = pt.tensor(a, dtype=pt.float64, device="cuda")
    w = pt.tensor(b, dtype=pt.float64, device="cuda")
    fake.calls.clear()
    got = x[1:, 1:].transpose(1, 2) @ w[1:, 1:].t()        # offsets, transposes, broadcast
    assert ("matmul", 0) in fake.calls and ("using_allocator", 0) in fake.calls
    np.testing.assert_allclose(got.cpu().numpy(),
                               a[1:, 1:].transpose(0, 2, 1) @ b[1:, 1:].T, rtol=1e-12)
    assert (pt.ones(2, 0, device="cuda") @ pt.ones(0, 3, device="cuda")).cpu().tolist() == \
        [[0.0] * 3] * 2


def test_integer_matmul_stays_exact_in_the_library_kernel(fake):
    a = np.array([[2 ** 30, 3], [-5, 2 ** 31 - 1]], np.int32)
    fake.calls.clear()
    got = (pt.tensor(a, device="cuda") @ pt.tensor(a, device="cuda")).cpu().numpy()
    assert ("matmul", 0) not in fake.calls
    ref = (a.astype(np.int64) @ a.astype(np.int64)).astype(np.int32)     # wraps as C
    np.testing.assert_array_equal(got, ref)


def test_matmul_without_cublas_says_so_once_and_uses_the_library_kernel(monkeypatch):
    _fake_cupy.install(monkeypatch, count=1, executor=EXECUTOR,
                       matmul_error="CuPy failed to load libcublas.so.12: OSError: not found")
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    x = pt.tensor(a, device="cuda")
    with pytest.warns(RuntimeWarning, match=r"cuBLAS is not usable .*libcublas.so.12.*"
                                            r"\(pip install nvidia-cublas-cu12\)"):
        np.testing.assert_array_equal((x @ x.t()).cpu().numpy(), a @ a.T)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal((x.t() @ x).cpu().numpy(), a.T @ a)


def test_uniform_is_the_cpu_philox_stream(fake):
    """The same seed gives the same numbers as on cpu, bit for bit, into a strided view."""
    pt.manual_seed(1234)
    t = pt.zeros(6, 8, device="cuda")
    t[:, ::2].uniform_()
    got = t[:, ::2].cpu().numpy()
    pt.manual_seed(1234)
    ref = pt.zeros(6, 8)
    ref[:, ::2].uniform_()
    np.testing.assert_array_equal(got, ref[:, ::2].numpy())
    np.testing.assert_array_equal(got.reshape(-1), philox_uniform(24, 1234, 0, np.float32))
    pt.manual_seed(7)
    g = pt.randn(1000, dtype=pt.float64, device="cuda").cpu().numpy()
    pt.manual_seed(7)
    np.testing.assert_allclose(g, pt.randn(1000, dtype=pt.float64).numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- checks

def test_index_out_of_range_raises_at_the_next_host_read(fake):
    """NOTE [deferred index checks]: an index computed on the device is checked on the
    device; the op returns, the next host read raises cpu's error."""
    x = pt.arange(10.0, device="cuda")
    idx = pt.arange(4, device="cuda") * 4             # 0 4 8 12: range unknown to the host
    y = x[idx]                                          # no error yet
    assert pt._deferred.pending() >= 1
    with pytest.raises(IndexError) as info:
        y.cpu()
    with pytest.raises(IndexError) as cpu_info:
        pt.arange(10.0)[pt.arange(4) * 4]
    assert str(info.value) == str(cpu_info.value)
    assert pt._deferred.pending() == 0
    assert x[idx.clamp(0, 9)].cpu().tolist() == [0.0, 4.0, 8.0, 9.0]


def test_integer_division_by_zero_raises_at_the_next_host_read(fake):
    a = pt.tensor([4, 5], device="cuda")
    q = a // (a - 4)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        q.cpu()


def test_a_training_step_runs_without_fallback_or_transfer(fake):
    pt.manual_seed(0)
    model = pt.nn.Sequential(pt.nn.Linear(8, 16), pt.nn.ReLU(), pt.nn.Linear(16, 3)).cuda()
    assert all(p.is_cuda for p in model.parameters())
    opt = pt.optim.SGD(model.parameters(), lr=0.1)
    x = pt.randn(32, 8, device="cuda")
    y = pt.randint(0, 3, (32,), device="cuda")
    debug.reset_counters()
    with debug.strict():
        for _ in range(2):
            loss = pt.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert debug.transfers("cuda") == 0 and debug.fallbacks("cuda") == {}
    assert np.isfinite(loss.item())


def test_second_device(fake):
    x = pt.tensor([1.0, 2.0, 3.0], device="cuda:1")
    y = (x * x).sum()
    assert y.device == pt.device("cuda:1") and y.item() == 14.0
    assert {l.device for l in fake.launches} == {1}
    assert x.cuda(0).device == pt.device("cuda:0")


# ----------------------------------------------------------------------------- DLPack

def test_dlpack_export_shares_memory_and_passes_the_stream(fake):
    t = pt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device="cuda")
    assert t.__dlpack_device__() == (2, 0)
    fake.calls.clear()
    arr = fake.from_dlpack(t[:, 1:])
    assert ("__dlpack__", fake.cuda.Stream.null.ptr) in fake.calls
    assert arr.shape == (2, 2) and arr.strides == (12, 4)
    arr[0, 0] = 42.0
    assert t.cpu().tolist() == [[1.0, 42.0, 3.0], [4.0, 5.0, 6.0]]
    with pytest.raises(RuntimeError, match="require gradient"):
        t.requires_grad_().__dlpack__()


def test_dlpack_import_shares_memory_with_the_producers_geometry(fake):
    a = fake.empty((3, 4), np.float32)
    a[...] = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = pt.from_dlpack(a.T)
    assert t.device == pt.device("cuda:0") and t.shape == (4, 3) and t.stride() == (1, 4)
    np.testing.assert_array_equal(t.cpu().numpy(), np.arange(12.0).reshape(3, 4).T)
    t.add_(1)                                            # a kernel writes the producer's memory
    np.testing.assert_array_equal(a, np.arange(1.0, 13.0).reshape(3, 4))
    empty = pt.from_dlpack(fake.empty((0, 2), np.int16))
    assert empty.shape == (0, 2) and empty.dtype is pt.int16
    with pytest.raises(BufferError, match="can't convert numpy array of dtype complex64"):
        pt.from_dlpack(fake.empty(2, np.complex64))


# ----------------------------------------------------------------------------- the suite

def test_conformance_suite_runs_over_the_fake():
    """`pytest -p _fake_cupy` runs the conformance suite on the cuda backend over this fake
    (docs/cuda.md); a slice of it here, in a fresh process."""
    tests = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [tests] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p",
                        "_fake_cupy", "--pyargs", "plugtorch.testing.suite.test_ops",
                        "--backend", "cuda", "-k", "exp and float32"],
                       cwd=os.path.dirname(tests), env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert re.search(r"\b[1-9]\d* passed", r.stdout) and "failed" not in r.stdout
