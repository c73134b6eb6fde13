"""OpenCL backend concerns the conformance suite does not cover: device listing, asynchronous
execution (no host transfer or fallback inside a chain of ops), the program cache, the
memory pool, build errors, and numpy's semantics at the edges (division by zero, NaN,
rounding) checked against numpy."""
import os
import sys

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import debug

pytest.importorskip("pyopencl")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "backends", "opencl"))
import plugtorch_opencl  # noqa: E402

if "opencl" not in pt.backends.available():
    try:
        pt.backends.register(plugtorch_opencl)
    except RuntimeError:
        pass
if "opencl" not in pt.backends.available():
    pytest.skip("no OpenCL device", allow_module_level=True)

BACKEND = pt.backends.get("opencl")


def on(a):
    return pt.tensor(np.asarray(a), device="opencl")


def host(t):
    return t.cpu().numpy()


def test_describe_lists_every_device():
    import pyopencl as cl
    devs = [d for p in cl.get_platforms() for d in p.get_devices()]
    info = BACKEND.describe()
    usable = [i for i in info if i["device"] is not None]
    left_out = [i for i in info if i["device"] is None]     # their compiler cannot build
    assert len(usable) + len(left_out) == len(devs)
    assert [i["device"] for i in usable] == [f"opencl:{k}" for k in range(len(usable))]
    assert all("cannot compile kernels" in i["unusable"] for i in left_out)
    assert usable[0]["fp64"] == ("cl_khr_fp64" in BACKEND.devices[0].extensions)
    assert (pt.float64 in BACKEND.dtypes) == all(i["fp64"] for i in usable)


def test_chain_of_ops_makes_no_transfer_and_no_fallback():
    x = pt.randn(64, 32, device="opencl")
    w = pt.randn(32, 16, device="opencl", requires_grad=True)
    debug.reset_counters()
    y = (x @ w).relu()
    loss = (y.exp().log1p() * 0.5 - y.sigmoid()).sum()
    loss.backward()
    with pt.no_grad():
        w -= 0.1 * w.grad
    m = x.amax(1, keepdim=True)
    g = (x * (x.argmax(1, keepdim=True) == 3)).cumsum(0).sort(0).values + m
    assert debug.transfers("opencl") == 0
    assert debug.fallbacks("opencl") == {}
    xs, ws = host(x), host(w.detach())
    assert np.isfinite(loss.item()) and np.isfinite(ws).all()
    ref = np.sort(np.cumsum(xs * (xs.argmax(1) == 3)[:, None], 0), 0) + xs.max(1, keepdims=True)
    np.testing.assert_allclose(host(g), ref, rtol=1e-5, atol=1e-5)


def test_gather_matches_numpy():
    x = np.random.default_rng(2).standard_normal((5, 6)).astype(np.float32)
    i = np.random.default_rng(3).integers(0, 6, (5, 3))
    np.testing.assert_array_equal(host(on(x).gather(1, on(i))), np.take_along_axis(x, i, 1))
    np.testing.assert_array_equal(host(on(x).t().gather(0, on(i.T))),
                                  np.take_along_axis(x.T, i.T, 0))


def test_no_primitive_falls_back():
    from plugtorch._dispatch import coverage
    assert coverage(BACKEND)["fallback"] == []


def test_program_cache_builds_once():
    rt = BACKEND.runtimes[0]
    a = on(np.arange(10, dtype=np.int16))
    _ = a * 3
    before = rt.builds
    for _ in range(3):
        r = a * 3
    assert rt.builds == before
    np.testing.assert_array_equal(host(r), np.arange(10, dtype=np.int16) * 3)


def test_pool_reuses_freed_buffers():
    rt = BACKEND.runtimes[0]
    t = pt.empty(1 << 16, device="opencl")
    del t
    held = rt.pool.held_blocks
    t = pt.empty(1 << 16, device="opencl")
    assert rt.pool.held_blocks == held - 1


def test_build_error_names_op_dtype_and_log():
    from plugtorch_opencl.runtime import KernelBuildError
    rt = BACKEND.runtimes[0]
    with pytest.raises(KernelBuildError, match=r"(?s)myop \(float32\).*undeclared_thing"):
        rt.kernels(("bad", 1), lambda: "__kernel void k(__global float* x) "
                                        "{ x[0] = undeclared_thing; }", "myop (float32)")


def test_uniform_matches_cpu_bit_for_bit():
    for dt in (pt.float16, pt.float32, pt.float64):
        pt.manual_seed(7)
        c = pt.rand(5, 7, dtype=dt).numpy()
        pt.manual_seed(7)
        o = host(pt.rand(5, 7, dtype=dt, device="opencl"))
        np.testing.assert_array_equal(o, c)


def test_integer_division_semantics():
    a = np.array([7, -7, 7, -7, -128], np.int8)
    b = np.array([2, 2, -2, 3, -1], np.int8)
    np.testing.assert_array_equal(host(on(a) // on(b)), np.floor_divide(a, b))
    np.testing.assert_array_equal(host(on(a) % on(b)), np.remainder(a, b))
    for op in (lambda x, y: x // y, lambda x, y: x % y):      # a zero divisor raises
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            host(op(on(a), on(np.array([2, 2, -2, 0, -1], np.int8))))
    f = np.array([7.5, -7.5, 3.0, 1.0], np.float32)
    g = np.array([2.0, 2.0, -2.0, 0.0], np.float32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(host(on(f) // on(g)), np.floor_divide(f, g))
        np.testing.assert_array_equal(host(on(f) % on(g)), np.remainder(f, g))


def test_rounding_nan_and_extremes():
    x = np.array([0.5, 1.5, 2.5, -0.5, np.nan, -np.inf], np.float32)
    np.testing.assert_array_equal(host(on(x).round()), np.round(x))
    np.testing.assert_array_equal(host(on(x) == on(x)), x == x)
    np.testing.assert_array_equal(host(on(x).amax()), np.nan)
    assert host(on(x).argmax()) == 4
    np.testing.assert_array_equal(host(pt.maximum(on(x), on(np.zeros(6, np.float32)))),
                                  np.maximum(x, 0))


def test_write_through_transposed_view():
    base = pt.zeros(3, 4, device="opencl")
    v = base.t()
    v += pt.arange(12, dtype=pt.float32, device="opencl").reshape(4, 3)
    np.testing.assert_array_equal(host(base), np.arange(12, dtype=np.float32).reshape(4, 3).T)


def test_scatter_sum_with_duplicates_and_nonzero():
    out = pt.zeros(2, 4, device="opencl")
    idx = on(np.array([[0, 0, 3], [1, 1, 1]]))
    src = on(np.array([[1., 2., 3.], [4., 5., 6.]], np.float32))
    out.scatter_add_(1, idx, src)
    np.testing.assert_array_equal(host(out), [[3, 0, 0, 3], [0, 15, 0, 0]])
    x = np.random.default_rng(0).integers(0, 3, (50, 70)) * (np.arange(70) % 2)
    np.testing.assert_array_equal(host(on(x).nonzero()), np.argwhere(x))


def test_large_sum_two_pass():
    x = np.random.default_rng(1).random(300_000).astype(np.float32)
    np.testing.assert_allclose(host(on(x).sum()), x.astype(np.float64).sum(), rtol=1e-5)
    np.testing.assert_array_equal(host(on(x > 0.5).any()), True)


def test_sort_is_stable_with_nan():
    x = np.array([3., np.nan, 1., 3., np.nan, 1.], np.float32)
    v, i = on(x).sort(descending=True, stable=True)
    np.testing.assert_array_equal(host(i), [1, 4, 0, 3, 2, 5])
    v, i = on(x).sort(stable=True)
    np.testing.assert_array_equal(host(i), np.argsort(x, kind="stable"))


# ----------------------------------------------------------------------------- float16

def _same_f16(got, ref):
    """got and ref are float16 arrays with the same bits (any NaN matches any NaN)."""
    assert got.dtype == np.float16 and got.shape == ref.shape
    nan = np.isnan(ref)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan].view(np.uint16), ref[~nan].view(np.uint16))


def _f16_samples(n, seed):
    """n float16 values of every magnitude, with ties, NaN, +-inf, +-0 and the extremes."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 10.0 ** rng.integers(-6, 5, n)).astype(np.float16)
    x[:10] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 65504, -65504, 2049, 6e-8, 1e-4]
    return x


def test_float16_on_every_device():
    """float16 needs no cl_khr_fp16: it is stored as half and computed in float."""
    assert pt.float16 in BACKEND.dtypes
    x = pt.zeros(3, dtype=pt.float16, device="opencl") + 1.5
    np.testing.assert_array_equal(host(x), np.full(3, 1.5, np.float16))


def test_float16_elementwise_rounds_as_float32_then_half():
    """Each result is the float32 result rounded once to float16 (ties to even), as
    PyTorch computes float16: bit for bit, for tensor, scalar and strided operands."""
    x, y = _f16_samples(4000, 1), _f16_samples(4000, 2)[::-1].copy()
    a, b = on(x), on(y)
    xf, yf = x.astype(np.float32), y.astype(np.float32)
    f16 = np.float16
    with np.errstate(all="ignore"):
        cases = {"add": (a + b, xf + yf), "sub": (a - b, xf - yf), "mul": (a * b, xf * yf),
                 "div": (a / b, xf / yf), "maximum": (pt.maximum(a, b), np.maximum(xf, yf)),
                 "neg": (-a, -xf), "abs": (a.abs(), np.abs(xf)), "sqrt": (a.sqrt(), np.sqrt(xf)),
                 "round": (a.round(), np.round(xf)), "floor": (a.floor(), np.floor(xf)),
                 "mul scalar": (a * 1.1, xf * np.float32(f16(1.1))),
                 "add scalar": (0.3 + a, np.float32(f16(0.3)) + xf),
                 "strided": (a.reshape(40, 100).t() * b.reshape(100, 40),
                             xf.reshape(40, 100).T * yf.reshape(100, 40)),
                 "where": (pt.where(a > b, a, b), np.where(xf > yf, xf, yf))}
        for name, (got, ref) in cases.items():
            assert got.dtype == pt.float16, name
            _same_f16(host(got), ref.astype(f16))
    np.testing.assert_array_equal(host(a < b), x < y)
    np.testing.assert_array_equal(host(a.isnan()), np.isnan(x))
    np.testing.assert_array_equal(host(a.isinf()), np.isinf(x))


def test_float16_casts_round_to_nearest_even():
    with np.errstate(over="ignore"):
        vals = [2049.0, 2051.0, 2050.0, -2049.0, 65519.0, 65520.0, 1e6, -65520.0, 0.1, 1 / 3,
                2.0 ** -25, 3 * 2.0 ** -26, 1e-9, -0.0, np.nan, np.inf, -np.inf]
        for dt in (np.float32, np.float64):
            src = np.array(vals, dt)
            got = host(on(src).to(pt.float16))
            _same_f16(got, src.astype(np.float16))
        np.testing.assert_array_equal(got[:5], [2048, 2052, 2050, -2048, 65504])
        assert got[5] == np.inf and got[7] == -np.inf and np.isnan(got[14])
        # a float64 just above a float16 tie rounds up: rounded once, not through float32
        near = np.array([2049.0 + 2.0 ** -30, 2051.0 - 2.0 ** -30], np.float64)
        np.testing.assert_array_equal(host(on(near).to(pt.float16)), [2050, 2050])
        for dt in (np.int32, np.int64, np.int16, np.uint8, np.bool_):
            src = np.array([0, 1, 2049, 2051, 65519, 65520, 100000, -3], np.int64).astype(dt)
            _same_f16(host(on(src).to(pt.float16)), src.astype(np.float16))
    h = np.array([1.5, -2.5, 2049 // 1, 65504, -0.0, 6e-8, np.nan, np.inf], np.float16)
    for dt in (pt.float32, pt.float64, pt.float16):
        got = host(on(h).to(dt))
        np.testing.assert_array_equal(got, h.astype(got.dtype))
        assert np.signbit(got[4])
    finite = h[:6]
    for dt in (pt.int32, pt.int64, pt.int16, pt.bool):
        got = host(on(finite).to(dt))
        np.testing.assert_array_equal(got, finite.astype(got.dtype))


def test_float16_reductions_accumulate_in_float():
    """Sums, products, cumsum and matmul of float16 accumulate in float32 and round once,
    as PyTorch does: 5000 ones sum to 5000, where a float16 accumulator stops at 2048."""
    ones = np.ones(5000, np.float16)
    assert host(on(ones).sum()) == 5000
    np.testing.assert_array_equal(host(on(ones[:3000]).cumsum(0)),
                                  np.arange(1, 3001).astype(np.float16))
    np.testing.assert_array_equal(host(on(ones.reshape(1, 5000)) @ on(ones.reshape(5000, 1))),
                                  [[5000]])
    rng = np.random.default_rng(6)
    x = rng.standard_normal((37, 810)).astype(np.float16)
    x64 = x.astype(np.float64)
    f16 = dict(rtol=2.0 ** -10, atol=1e-3)       # one float16 rounding of the float64 value
    for dims, ref in (((), x64.sum()), ((1,), x64.sum(1)), ((0,), x64.sum(0))):
        got = host(on(x).sum(dims) if dims else on(x).sum())
        assert got.dtype == np.float16
        np.testing.assert_allclose(got, ref.astype(np.float16), **f16)
    big = (rng.random(300_000) / 10).astype(np.float16)   # the two-pass path
    np.testing.assert_allclose(host(on(big).sum()), big.astype(np.float64).sum(), rtol=2.0 ** -10)
    p = (1 + rng.random(20) / 10).astype(np.float16)
    np.testing.assert_allclose(host(on(p).prod()), p.astype(np.float64).prod(), rtol=2.0 ** -10)
    a = rng.standard_normal((3, 20, 70)).astype(np.float16)
    b = rng.standard_normal((3, 70, 19)).astype(np.float16)
    got = host(on(a) @ on(b))
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, **f16)
    np.testing.assert_allclose(host(on(a).mT.contiguous().mT @ on(b).mT.contiguous().mT),
                               a.astype(np.float64) @ b, **f16)


def test_float16_matmul_kernels_agree(monkeypatch):
    """float16 is multiplied with the device's float32 block kernel and rounded once; the
    scalar float16 kernel must give the same bits."""
    from plugtorch_kernels.launch import matmul
    rng = np.random.default_rng(8)
    a = rng.standard_normal((2, 30, 300)).astype(np.float16)
    b = rng.standard_normal((2, 300, 37)).astype(np.float16)
    b[0, 0, 0], a[1, 3, 0] = np.inf, np.nan
    fast = host(on(a) @ on(b).mT.contiguous().mT)
    monkeypatch.setattr(matmul, "variant", lambda rt, dt, odt, M, N: "s8x8")
    scalar = host(on(a) @ on(b).mT.contiguous().mT)
    _same_f16(fast, scalar)
    with np.errstate(invalid="ignore"):
        ref = a.astype(np.float64) @ b
    np.testing.assert_allclose(scalar, ref, rtol=2.0 ** -10, atol=1e-3)


def test_float16_nan_inf_and_order_ops():
    x = _f16_samples(200, 3).reshape(4, 50)
    t = on(x)
    np.testing.assert_array_equal(host(t.amax(1)), np.max(x, 1))
    np.testing.assert_array_equal(host(t.amin(0)), np.min(x, 0))
    np.testing.assert_array_equal(host(t.argmax(1)), np.argmax(x, 1))
    v, i = t.sort(1, stable=True)
    np.testing.assert_array_equal(host(i), np.argsort(x, 1, kind="stable"))
    _same_f16(host(v), np.sort(x, 1, kind="stable"))
    np.testing.assert_array_equal(host(t.nonzero()), np.argwhere(x))
    idx = np.random.default_rng(4).integers(0, 50, (4, 30))
    _same_f16(host(t.gather(1, on(idx))), np.take_along_axis(x, idx, 1))
    out = pt.zeros(4, 50, dtype=pt.float16, device="opencl")
    out.scatter_add_(1, on(idx), on(np.full((4, 30), 0.1, np.float16)))
    ref = np.zeros((4, 50), np.float16)
    for r in range(4):
        for c in idx[r]:
            ref[r, c] = np.float16(np.float32(ref[r, c]) + np.float32(np.float16(0.1)))
    _same_f16(host(out), ref)
    _same_f16(host(t.t().contiguous()), x.T.copy())
    full = pt.full((3,), float("inf"), dtype=pt.float16, device="opencl")
    np.testing.assert_array_equal(host(full), [np.inf] * 3)
    assert np.isnan(host(full * 0)).all()


# ----------------------------------------------------------------------------- launch path

def test_kernel_signatures_are_read_for_typed_launches():
    from plugtorch_opencl.runtime import arg_types
    src = ("KERNEL void k(GLOBAL float* out, long n, geo_t g, const uint s, dims_t d) {}\n"
           "__kernel void h(__global const char* x, half v, double w) {}\n"
           "KERNEL void bad(GLOBAL float* out, float4 v) {}")
    t = arg_types(src)
    assert t["k"] == [None, np.dtype(np.int64), np.dtype((np.void, 72)), np.dtype(np.uint32),
                      np.dtype((np.void, 64))]
    assert t["h"] == [None, np.dtype(np.float16), np.dtype(np.float64)]
    assert "bad" not in t


def test_unreadable_signature_is_a_build_error():
    from plugtorch_opencl.runtime import KernelBuildError
    rt = BACKEND.runtimes[0]
    with pytest.raises(KernelBuildError, match="signature of kernel k of myop"):
        rt.kernels(("bad-sig", 1), lambda: "__kernel void k(__global float* x, float4 v) "
                                            "{ x[0] = v.x; }", "myop")


def test_scalar_args_round_and_wrap_as_the_cpu():
    from plugtorch_kernels.args import scalar_arg
    assert scalar_arg(1e300, pt.float32) == np.inf
    assert scalar_arg(0.1, pt.float32) == float(np.float32(0.1))
    assert scalar_arg(300, pt.uint8) == 44 and scalar_arg(200, pt.int8) == -56
    x = np.array([1.5, -2.0, 3.25], np.float32)
    np.testing.assert_array_equal(host(on(x) * 1e300), x * np.float32(np.inf))
    np.testing.assert_array_equal(host(on(np.arange(4, dtype=np.int8)) + 200),
                                  np.arange(4, dtype=np.int8) + np.int8(-56))


def _busy_queue():
    """Queue ~2 GFLOP on the device and return a marker event that completes after it."""
    import pyopencl as cl
    a = pt.ones(1024, 1024, device="opencl")
    a @ a
    return cl.enqueue_marker(BACKEND.runtimes[0].queue)


def test_ops_and_frees_do_not_wait_for_the_device():
    import pyopencl as cl
    x = on(np.arange(10, dtype=np.float32))
    rt = BACKEND.runtimes[0]
    done = _busy_queue()
    y = (x + x).relu() * 2 - x.sum()
    z = pt.empty(1 << 16, device="opencl")
    held = rt.pool.held_blocks
    del z                         # back to the pool, no sync
    assert rt.pool.held_blocks == held + 1
    z = pt.empty(1 << 16, device="opencl")
    assert rt.pool.held_blocks == held
    assert done.command_execution_status != cl.command_execution_status.COMPLETE
    np.testing.assert_array_equal(host(y), np.maximum(2 * np.arange(10), 0) * 2 - 45)


def test_strided_operands_match_numpy():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((4, 5, 6)).astype(np.float32)
    b = rng.standard_normal((6, 5)).astype(np.float32)
    ta, tb = on(a), on(b)
    got = ta.permute(2, 0, 1)[1:, ::2, 1:4] + tb.t()[:, None, 1:4]
    ref = a.transpose(2, 0, 1)[1:, ::2, 1:4] + b.T[:, None, 1:4]
    np.testing.assert_array_equal(host(got), ref)
    out = pt.zeros(6, 4, device="opencl")
    out.t()[:, 1:4] = ta[:, 2, 1:4]              # strided write through a view
    ref = np.zeros((6, 4), np.float32)
    ref.T[:, 1:4] = a[:, 2, 1:4]
    np.testing.assert_array_equal(host(out), ref)


@pytest.mark.parametrize("dt", ["float32", "float64", "int32"])
def test_matmul_blocks_edges_and_layouts(dt):
    """Full and partial register blocks, transposed and offset operands, batch broadcast."""
    rng = np.random.default_rng(5)
    f = lambda *s: (rng.standard_normal(s) * 4).astype(dt)
    a, b = f(3, 20, 37), f(3, 37, 35)
    ref = a.astype(np.float64) @ b
    tol = dict(rtol=1e-5, atol=1e-3) if dt == "float32" else dict(rtol=1e-12, atol=0)
    np.testing.assert_allclose(host(on(a) @ on(b)), ref, **tol)
    at, bt = f(3, 37, 20), f(3, 35, 37)           # operands as transposed views
    np.testing.assert_allclose(host(on(at).mT @ on(bt).mT),
                               at.transpose(0, 2, 1).astype(np.float64) @ bt.transpose(0, 2, 1),
                               **tol)
    big = f(40, 50)                               # offset views, broadcast over the batch
    np.testing.assert_allclose(host(on(a) @ on(big)[3:40, 7:42]),
                               a.astype(np.float64) @ big[3:40, 7:42], **tol)
