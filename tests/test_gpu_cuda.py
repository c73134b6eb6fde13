"""The cuda backend on a real GPU (skipped without one): what only CUDA itself can show —
the library's programs compiled by CuPy's NVRTC and run by the driver, the bytes CuPy
passes for each kind of kernel argument, cuBLAS, DLPack with CuPy (and PyTorch built with
CUDA), streams, memory and errors. The conformance suite (`pytest --backend cuda`, or
`plugtorch conformance cuda`) checks every op on top of this; backends/cuda/gpu_check.sh
runs both."""
import threading

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import debug
from plugtorch.backends import philox_uniform

pytestmark = pytest.mark.skipif(not pt.cuda.is_available(), reason="needs a CUDA device")

DTYPES = [pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64, pt.float16, pt.float32,
          pt.float64]


def _backend():
    return pt.backends.get("cuda")


def _values(dtype, n=24):
    rng = np.random.default_rng(0)
    if dtype is pt.bool:
        return rng.random(n) > 0.5
    if dtype.is_floating_point:
        return (rng.standard_normal(n) * 100).astype(dtype.np)
    info = np.iinfo(dtype.np)
    return rng.integers(info.min, info.max, n, dtype=dtype.np, endpoint=True)


# ----------------------------------------------------------------------------- arguments

_ECHO = r"""
KERNEL void echo(GLOBAL long* out, GLOBAL double* f, geo_t g, dims_t d, int nd, uint u,
                 char c, short h, uchar b, float x, double y, long n) {
    if (GID(0) != 0) return;
    out[0] = g.off;
    for (int k = 0; k < MAXD; ++k) { out[1 + k] = g.s[k]; out[9 + k] = d.n[k]; }
    out[17] = nd; out[18] = u; out[19] = c; out[20] = h; out[21] = b; out[22] = n;
    f[0] = x; f[1] = y;
}
"""


def check_argument_bytes(rt):
    """Launch a kernel on Runtime `rt` that writes back each argument it got: structs
    (geo_t, dims_t), every integer width with its sign, float and double (NOTE [cuda kernel
    arguments]); test_cuda_ops.py runs it over the fake CuPy too."""
    from plugtorch_kernels.args import dims_struct, geo_struct
    from plugtorch_kernels.cl_source import preamble
    ks = rt.kernels(("test", "echo"), lambda: preamble(pt.float64) + _ECHO, "echo (test)")
    out, f = rt.allocate(23 * 8), rt.allocate(16)
    strides = [-3, 2 ** 40, 7, 1, 0, 5, 6, -(2 ** 33)]
    rt.launch_n(ks["echo"], 1, out, f, geo_struct(11, strides), dims_struct([4, 5, 6]), 3,
                2 ** 32 - 2, -100, -30000, 250, 0.1, 0.1, 2 ** 50 + 3)
    longs = rt.download(out, 0, np.empty(23, np.int64))
    assert longs[0] == 11 and list(longs[1:9]) == strides
    assert list(longs[9:17]) == [4, 5, 6, 0, 0, 0, 0, 0]
    assert list(longs[17:]) == [3, 2 ** 32 - 2, -100, -30000, 250, 2 ** 50 + 3]
    doubles = rt.download(f, 0, np.empty(2, np.float64))
    assert doubles[0] == float(np.float32(0.1)) and doubles[1] == 0.1


def test_every_argument_kind_reaches_the_kernel_byte_for_byte():
    check_argument_bytes(_backend().runtimes[pt.cuda.current_device()])


# ----------------------------------------------------------------------------- storage, ops

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_round_trip_and_strided_reads(dtype):
    host = _values(dtype).reshape(4, 6)
    t = pt.from_numpy(host).to("cuda")
    assert t.device == pt.device("cuda", pt.cuda.current_device()) and t.is_cuda
    np.testing.assert_array_equal(t.cpu().numpy(), host)
    np.testing.assert_array_equal(t.t().cpu().numpy(), host.T)
    np.testing.assert_array_equal(t[1:, ::2].cpu().numpy(), host[1:, ::2])
    np.testing.assert_array_equal(t[2].cpu().numpy(), host[2])


def test_fill_copy_and_casts_follow_the_contract():
    t = pt.zeros(4, 5, device="cuda")
    t[:, 1::2].fill_(2.5)
    ref = np.zeros((4, 5), np.float32)
    ref[:, 1::2] = 2.5
    np.testing.assert_array_equal(t.cpu().numpy(), ref)
    x = pt.tensor([-2.7, -0.5, 0.0, 0.5, 3.9], device="cuda")
    assert x.to(pt.int32).cpu().tolist() == [-2, 0, 0, 0, 3]
    assert x.to(pt.bool).cpu().tolist() == [True, True, False, True, True]
    big = pt.full((3,), 2 ** 62 + 1, dtype=pt.int64, device="cuda")
    assert big.cpu().tolist() == [2 ** 62 + 1] * 3
    # float64 to float16 rounds once, to nearest even (65520 is half-way to inf)
    h = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520.0, -1e-8]
    with np.errstate(over="ignore"):
        ref = np.array(h).astype(np.float16)
    got = pt.tensor(h, dtype=pt.float64, device="cuda").half().cpu().numpy()
    np.testing.assert_array_equal(got, ref)


def test_ops_on_strided_operands_match_numpy():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((64, 33))
    b = rng.standard_normal((33, 64))
    x, y = pt.tensor(a, device="cuda"), pt.tensor(b, device="cuda")
    np.testing.assert_allclose((x * y.t() + x.exp() - 2).cpu().numpy(),
                               a * b.T + np.exp(a) - 2, rtol=1e-12)
    np.testing.assert_allclose(x[:, 1::2].sum(0).cpu().numpy(), a[:, 1::2].sum(0), rtol=1e-12)
    big = pt.tensor(rng.standard_normal(1 << 20), device="cuda")     # a two-pass reduction
    np.testing.assert_allclose(big.sum().item(), big.cpu().numpy().sum(), rtol=1e-9)
    v, i = x.sort(1, descending=True)
    np.testing.assert_array_equal(v.cpu().numpy(), -np.sort(-a, 1))
    assert (x > 0).nonzero().cpu().tolist() == np.argwhere(a > 0).tolist()
    q = pt.tensor([[7, -3], [100, 5]], dtype=pt.int64, device="cuda")
    assert (q // 2).cpu().tolist() == [[3, -2], [50, 2]]
    assert (q % -3).cpu().tolist() == [[-2, 0], [-2, -1]]


@pytest.mark.parametrize("dtype, rtol", [(pt.float16, 2e-3), (pt.float32, 1e-5),
                                         (pt.float64, 1e-12)], ids=str)
def test_cublas_matmul_on_views(dtype, rtol):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 40, 24))
    b = rng.standard_normal((30, 40))
    x = pt.tensor(a, dtype=dtype, device="cuda")
    w = pt.tensor(b, dtype=dtype, device="cuda")
    got = (x[1:, 1:].transpose(1, 2) @ w[1:, 1:].t()).cpu().numpy().astype(np.float64)
    xa, wb = a.astype(dtype.np).astype(np.float64), b.astype(dtype.np).astype(np.float64)
    ref = xa[1:, 1:].transpose(0, 2, 1) @ wb[1:, 1:].T
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * 10)


def test_integer_matmul_wraps_exactly():
    a = np.array([[2 ** 30, 3], [-5, 2 ** 31 - 1]], np.int32)
    got = (pt.tensor(a, device="cuda") @ pt.tensor(a, device="cuda")).cpu().numpy()
    np.testing.assert_array_equal(got, (a.astype(np.int64) @ a).astype(np.int32))


def test_uniform_is_the_cpu_philox_stream():
    pt.manual_seed(1234)
    t = pt.zeros(64, 48, device="cuda")
    t[:, ::2].uniform_()
    got = t[:, ::2].cpu().numpy().reshape(-1)
    np.testing.assert_array_equal(got, philox_uniform(got.size, 1234, 0, np.float32))
    pt.manual_seed(7)
    g = pt.randn(4096, dtype=pt.float64, device="cuda").cpu().numpy()
    pt.manual_seed(7)
    np.testing.assert_allclose(g, pt.randn(4096, dtype=pt.float64).numpy(), rtol=1e-12,
                               atol=1e-12)


# ----------------------------------------------------------------------------- checks, errors

def test_index_out_of_range_raises_at_the_next_host_read():
    x = pt.arange(10.0, device="cuda")
    y = x[pt.arange(4, device="cuda") * 4]
    with pytest.raises(IndexError, match="index 12 is out of bounds for dimension 0 with size 10"):
        y.cpu()


def test_training_chain_makes_no_transfer_and_no_fallback():
    pt.manual_seed(0)
    model = pt.nn.Sequential(pt.nn.Linear(32, 64), pt.nn.ReLU(), pt.nn.Linear(64, 4)).cuda()
    opt = pt.optim.Adam(model.parameters(), lr=1e-2)
    x = pt.randn(128, 32, device="cuda")
    y = pt.randint(0, 4, (128,), device="cuda")
    debug.reset_counters()
    with debug.strict():
        for _ in range(20):
            loss = pt.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert debug.transfers("cuda") == 0 and debug.fallbacks("cuda") == {}
    assert loss.item() < 1.0


def test_out_of_memory_is_reported_and_recovered_from():
    total = pt.cuda.get_device_properties().total_memory
    with pytest.raises(pt.cuda.OutOfMemoryError, match="out of memory: tried to allocate"):
        pt.empty(total, dtype=pt.float64, device="cuda")
    assert pt.ones(4, device="cuda").sum().item() == 4.0


def test_build_error_carries_the_nvrtc_log():
    from plugtorch_kernels.runtime import KernelBuildError
    rt = _backend().runtimes[pt.cuda.current_device()]
    with pytest.raises(KernelBuildError, match=r"(?s)building the kernel for broken \(test\) "
                                               r"failed on cuda:.*undefined_thing"):
        rt.kernels(("test", "broken"), lambda: "KERNEL void k(GLOBAL float* x) "
                                               "{ x[0] = undefined_thing; }", "broken (test)")


# ----------------------------------------------------------------------------- memory, streams

def test_memory_stats_follow_allocations():
    pt.cuda.synchronize()
    before = pt.cuda.memory_allocated()
    t = pt.empty(1 << 20, dtype=pt.float32, device="cuda")
    assert pt.cuda.memory_allocated() - before >= 4 << 20
    assert pt.cuda.max_memory_allocated() >= before + (4 << 20)
    assert pt.cuda.memory_reserved() >= pt.cuda.memory_allocated()
    del t
    assert pt.cuda.memory_allocated() == before
    pt.cuda.reset_peak_memory_stats()
    assert pt.cuda.max_memory_allocated() == before
    pt.cuda.empty_cache()
    assert pt.cuda.memory_reserved() >= pt.cuda.memory_allocated()


def test_streams_events_and_device_info():
    s = pt.cuda.Stream()
    start, end = pt.cuda.Event(enable_timing=True), pt.cuda.Event(enable_timing=True)
    with pt.cuda.stream(s):
        start.record()
        t = pt.ones(1 << 16, device="cuda")
        u = (t * 3).cumsum(0)
        end.record()
    end.synchronize()
    assert end.query() and s.query()
    assert start.elapsed_time(end) >= 0.0
    assert u[-1].item() == 3 * (1 << 16)
    p = pt.cuda.get_device_properties()
    assert p.total_memory > 0 and p.major >= 3 and p.multi_processor_count > 0
    assert pt.cuda.get_device_name() == p.name


def test_threads_share_the_device():
    results = {}

    def work(k):
        x = pt.full((1000,), float(k), device="cuda")
        results[k] = ((x * 2).sum().item())
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == {k: 2000.0 * k for k in range(4)}


@pytest.mark.skipif(pt.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_second_device():
    x = pt.tensor([1.0, 2.0, 3.0], device="cuda:1")
    assert (x * x).sum().item() == 14.0
    assert (x.cuda(0) + 1).cpu().tolist() == [2.0, 3.0, 4.0]


# ----------------------------------------------------------------------------- DLPack

def test_dlpack_with_cupy_shares_memory():
    import cupy
    t = pt.arange(6.0, device="cuda").reshape(2, 3)
    a = cupy.from_dlpack(t[:, 1:])
    a[0, 0] = 42.0
    assert t.cpu().tolist() == [[0.0, 42.0, 2.0], [3.0, 4.0, 5.0]]
    c = cupy.arange(12, dtype=cupy.float32).reshape(3, 4)
    u = pt.from_dlpack(c.T)
    assert u.shape == (4, 3) and u.stride() == (1, 4)
    u.add_(1)
    cupy.cuda.get_current_stream().synchronize()
    np.testing.assert_array_equal(c.get(), np.arange(1.0, 13.0).reshape(3, 4))


def test_dlpack_with_pytorch_shares_memory():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA here")
    t = pt.arange(4.0, device="cuda")
    o = torch.from_dlpack(t)
    o[0] = 9.0
    assert t.cpu().tolist() == [9.0, 1.0, 2.0, 3.0]
    back = pt.from_dlpack(torch.ones(3, device="cuda"))
    assert back.is_cuda and back.sum().item() == 3.0
