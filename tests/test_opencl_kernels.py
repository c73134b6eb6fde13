"""The OpenCL device's kernel shapes, each against numpy: elementwise chunks (NOTE
[elementwise chunks]), the reduction kernels `red` and `redcol` (NOTE [reduction layout]),
the one-launch softmax (NOTE [softmax kernel]) and every matmul variant the tuner may
choose (NOTE [register-blocked matmul]); and the tuner itself (NOTE [matmul tuning]): its
disk cache, what it refuses to load, and PLUGTORCH_TUNE=0."""
import json
import os
import sys

import numpy as np
import pytest

import plugtorch as pt

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

from plugtorch_kernels import autotune, geometry, matmul, tuning  # noqa: E402
from plugtorch_kernels.launch import elementwise as lew  # noqa: E402
from plugtorch_kernels.launch import indexing as lix  # noqa: E402
from plugtorch_kernels.launch import matmul as lmm  # noqa: E402
from plugtorch_kernels.runtime import KernelBuildError  # noqa: E402

BACKEND = pt.backends.get("opencl")
RT = BACKEND.runtimes[BACKEND.default_index()]
F32 = pt.float32


def on(a):
    return pt.tensor(np.asarray(a), device="opencl")


def host(t):
    return t.cpu().numpy()


@pytest.fixture
def launches(monkeypatch):
    """The names of the kernels the device launches while the test runs."""
    names = []
    launch = RT.launch

    def spy(kernel, *args):
        names.append(kernel.kernel.function_name)
        return launch(kernel, *args)
    monkeypatch.setattr(RT, "launch", spy)
    return names


# ----------------------------------------------------------------------------- elementwise

@pytest.fixture(params=[1, 3, 7, 64, 256])
def chunk(request, monkeypatch):
    """Every elementwise launch takes this many elements per work-item."""
    c = request.param
    monkeypatch.setattr(geometry, "elementwise_chunk", lambda kind, n, cus=1: c)
    monkeypatch.setattr(lew, "elementwise_chunk", lambda kind, n, cus=1: c)
    monkeypatch.setattr(lix, "elementwise_chunk", lambda kind, n, cus=1: c)
    RT.plans.clear()
    yield c
    RT.plans.clear()


def _take(a, i, d):
    """gather's reference: numpy's take_along_axis over the part of `a` the index spans."""
    part = tuple(slice(None) if k == d else slice(0, n) for k, n in enumerate(i.shape))
    return np.take_along_axis(a[part], i, d)


def test_elementwise_chunks_walk_rows_and_carry(chunk):
    """Chunks that start mid-row, end mid-row and span several rows of every view kind."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 5, 7, 11)).astype(np.float32)
    b = rng.standard_normal((5, 1, 11)).astype(np.float32)
    ta, tb = on(a), on(b)
    np.testing.assert_array_equal(host(ta.permute(3, 1, 0, 2).contiguous()),
                                  a.transpose(3, 1, 0, 2))
    np.testing.assert_array_equal(host(ta + tb), a + b)                  # broadcast (stride 0)
    np.testing.assert_array_equal(host(ta[1:, ::2, 3:, 1:10:3] * 2),
                                  a[1:, ::2, 3:, 1:10:3] * 2)             # offset, steps
    np.testing.assert_array_equal(host(ta.mT.neg()), -a.transpose(0, 1, 3, 2))
    np.testing.assert_array_equal(host(pt.where(ta > 0, ta.mT.mT, 0.5)),
                                  np.where(a > 0, a, np.float32(0.5)))
    np.testing.assert_array_equal(host(ta + ta), a + a)                  # contiguous
    out = pt.zeros(7, 3, device="opencl")
    out.t()[:, 1:] = ta[0, 0, 1:, :3].t()            # a strided write through a view
    ref = np.zeros((7, 3), np.float32)
    ref[1:] = a[0, 0, 1:, :3]
    np.testing.assert_array_equal(host(out), ref)
    # gather walks the index's shape the same way, along every dim and through views
    for d in range(4):
        i = rng.integers(0, a.shape[d], (2, 4, 6, 9))
        np.testing.assert_array_equal(host(ta.gather(d, on(i))), _take(a, i, d))
        e = 3 if d == 1 else 1 if d == 3 else d                    # d after the swap
        np.testing.assert_array_equal(host(ta.transpose(1, 3).gather(e, on(i).transpose(1, 3))),
                                      _take(np.swapaxes(a, 1, 3), np.swapaxes(i, 1, 3), e))
    # more dims than the kernel's MAXD after merging: the launcher splits the leading ones
    c = rng.standard_normal((2,) * 10).astype(np.float32)
    perm = tuple(range(9, -1, -1))
    np.testing.assert_array_equal(host(on(c).permute(*perm).contiguous()), c.transpose(perm))


@pytest.mark.parametrize("dt", ["float32", "float16", "int64", "bool"])
def test_transposing_copies_in_blocks(dt, launches):
    """A copy that transposes a matrix or a batch of them runs the blocked `tcopy` on a CPU
    device, also into an offset output and over partial blocks."""
    rng = np.random.default_rng(6)
    a = (rng.standard_normal((3, 37, 50)) * 9).astype(dt)
    t = on(a)
    del launches[:]
    np.testing.assert_array_equal(host(t.mT.contiguous()), a.transpose(0, 2, 1))
    np.testing.assert_array_equal(host(t[1].t().contiguous()), a[1].T)
    out = pt.zeros(4, 50, 37, dtype=t.dtype, device="opencl")
    out[1:] = t.mT                                     # into an offset view of out
    ref = np.zeros((4, 50, 37), dt)
    ref[1:] = a.transpose(0, 2, 1)
    np.testing.assert_array_equal(host(out), ref)
    if RT.kind == "cpu":
        assert launches.count("tcopy") == 3, launches
    np.testing.assert_array_equal(host(t.permute(2, 0, 1).contiguous()), a.transpose(2, 0, 1))


def test_elementwise_chunk_follows_the_device_kind():
    chunk = tuning.elementwise_chunk
    assert chunk("gpu", 1 << 24) == 1 and chunk("other", 1000) == 1
    assert chunk("cpu", 1) == 1
    assert chunk("cpu", 1000, 2) * tuning.LOCAL_SIZE >= 1000           # one work-group
    assert chunk("cpu", 1 << 24, 2) == tuning.CHUNK_MAX
    groups = -(-38400 // (chunk("cpu", 38400, 2) * tuning.LOCAL_SIZE))
    assert 2 <= groups <= 2 * tuning.CHUNK_GROUPS                       # both cores busy
    plan = geometry.elementwise_plan((1000,), [(1,), (1,)], "cpu", 1)
    assert plan[0] == "c" and plan[3] * plan[2][0] >= 1000


# ----------------------------------------------------------------------------- reductions

def _with_nans(rng, shape, dt):
    x = rng.standard_normal(shape).astype(dt)
    flat = x.reshape(-1)
    flat[rng.integers(0, flat.size, max(1, flat.size // 50))] = np.nan
    return x


@pytest.mark.parametrize("dt", ["float32", "float16", "int32"])
def test_reductions_over_rows_and_columns(dt, launches):
    rng = np.random.default_rng(1)
    if dt == "int32":
        x = rng.integers(-1000, 1000, (37, 29)).astype(dt)
    else:
        x = rng.standard_normal((37, 29)).astype(dt)
    t = on(x)
    tol = dict(rtol=1e-2, atol=1e-2) if dt == "float16" else dict(rtol=1e-5, atol=1e-5)
    for d in (0, 1):
        np.testing.assert_array_equal(host(t.amax(d)), x.max(d))
        np.testing.assert_array_equal(host(t.amin(d)), x.min(d))
        np.testing.assert_allclose(host(t.sum(d)).astype(np.float64),
                                   x.astype(np.float64).sum(d), **tol)
        np.testing.assert_array_equal(host((t > 0).any(d)), (x > 0).any(d))
        np.testing.assert_array_equal(host((t > -3).all(d)), (x > -3).all(d))
    # columns (29 outputs: a block of RC and a partial one) go through `redcol`
    assert "redcol" in launches and "red" in launches
    # long columns: `redcol` over parts of the rows, then `red` over the parts
    tall = (rng.standard_normal((1100, 21)) * 10).astype(dt)
    del launches[:]
    np.testing.assert_allclose(host(on(tall).sum(0)).astype(np.float64),
                               tall.astype(np.float64).sum(0), rtol=tol["rtol"] * 10,
                               atol=tol["atol"] * 1000 if dt == "float16" else 1e-3)
    assert launches == ["redcol", "red"]
    np.testing.assert_array_equal(host(on(tall)[::3].amax(0)), tall[::3].max(0))
    if dt != "int32":
        p = (1 + rng.random((9, 40)) / 10).astype(dt)
        np.testing.assert_allclose(host(on(p).prod(1)).astype(np.float64),
                                   p.astype(np.float64).prod(1), rtol=5e-3)


@pytest.mark.parametrize("dt", ["float32", "float16"])
def test_amax_amin_propagate_nan_in_every_kernel(dt):
    rng = np.random.default_rng(2)
    x = _with_nans(rng, (6, 300), dt)
    x[0] = np.nan
    x[1] = -np.inf
    x[2, :] = 1
    x[2, 299] = np.nan                      # in the tail after the groups of 8
    t = on(x)
    with np.errstate(invalid="ignore"):
        for d in (0, 1):
            np.testing.assert_array_equal(host(t.amax(d)), x.max(d))
            np.testing.assert_array_equal(host(t.amin(d)), x.min(d))
        np.testing.assert_array_equal(host(t.amax((0, 1))), x.max())
        big = _with_nans(rng, (3, 20000), dt)      # few outputs, long rows: two passes
        big[2] = rng.standard_normal(20000)
        np.testing.assert_array_equal(host(on(big).amax(1)), big.max(1))
        tall = _with_nans(rng, (700, 37), dt)      # long columns: `redcol` in parts
        tall[:, 5] = rng.standard_normal(700)
        np.testing.assert_array_equal(host(on(tall).amax(0)), tall.max(0))
        np.testing.assert_array_equal(host(on(tall).amin(0)), tall.min(0))


def test_reductions_over_several_reduced_dims():
    """Reduced dims that do not merge: one row walk per outer index."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6, 5, 33)).astype(np.float32)
    t = on(x)
    for dims in ((0, 2), (0, 3), (1, 3), (0, 2, 3), (0, 1, 2, 3)):
        np.testing.assert_allclose(host(t.sum(dims)), x.astype(np.float64).sum(dims),
                                   rtol=1e-5, atol=1e-4)
        np.testing.assert_array_equal(host(t.amax(dims)), x.max(dims))
    tp = on(x.transpose(2, 0, 3, 1).copy()).permute(1, 3, 0, 2)     # the same values, strided
    np.testing.assert_allclose(host(tp.sum((0, 2))), x.astype(np.float64).sum((0, 2)),
                               rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(host(tp.amin((1, 3))), x.min((1, 3)))
    i = rng.integers(-50, 50, (3, 10000)).astype(np.int64)
    np.testing.assert_array_equal(host(on(i).sum(1)), i.sum(1))
    np.testing.assert_array_equal(host(on(i).sum(0)), i.sum(0))


# ----------------------------------------------------------------------------- softmax

def _softmax_ref(x, d):
    z = x - x.max(d, keepdims=True)
    e = np.exp(z)
    return e / e.sum(d, keepdims=True), z - np.log(e.sum(d, keepdims=True))


@pytest.mark.parametrize("dt", ["float32", "float16", "float64"])
def test_softmax_kernel_matches_numpy(dt, launches):
    if pt.float64 not in BACKEND.dtypes and dt == "float64":
        pytest.skip("the device has no float64")
    rng = np.random.default_rng(4)
    tol = dict(rtol=3e-3, atol=3e-3) if dt == "float16" else dict(rtol=1e-5, atol=1e-6)
    for shape, d in (((5, 37), 1), ((4, 3, 9), 1), ((3, 4, 5), 0), ((2, 3, 19), 2), ((17,), 0)):
        x = (rng.standard_normal(shape) * 20 + 100).astype(dt)
        t = on(x)
        ref, lref = _softmax_ref(x.astype(np.float64), d)
        del launches[:]
        np.testing.assert_allclose(host(pt.softmax(t, d)).astype(np.float64), ref, **tol)
        np.testing.assert_allclose(host(pt.log_softmax(t, d)).astype(np.float64), lref,
                                   rtol=tol["rtol"], atol=tol["atol"] * 10)
        assert launches == ["softmax", "softmax"], launches        # one launch each
        tt = t.transpose(0, -1)                                     # strided lines
        xt = x.astype(np.float64).swapaxes(0, -1)
        np.testing.assert_allclose(host(pt.softmax(tt, 0)).astype(np.float64),
                                   _softmax_ref(xt, 0)[0], **tol)
    x = np.array([[1, np.nan, 2], [-np.inf] * 3, [0, 1, 2]], dt)
    got = host(pt.softmax(on(x), 1))
    assert np.isnan(got[:2]).all()
    np.testing.assert_allclose(got[2].astype(np.float64), _softmax_ref(x[2:].astype(
        np.float64), 1)[0][0], **tol)


# ----------------------------------------------------------------------------- matmul

CANDIDATES = tuning.BMM_CANDIDATES[F32]


@pytest.mark.parametrize("name", CANDIDATES)
def test_every_matmul_variant_matches_numpy(name, monkeypatch):
    """Each variant over full blocks, both edge strips, operands smaller than one block,
    transposed and offset operands and a broadcast batch, against numpy in float64."""
    monkeypatch.setattr(lmm, "variant", lambda rt, dt, odt, M, N: name)
    tm, tn = lmm.block(name)
    rng = np.random.default_rng(5)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)      # noqa: E731
    tol = dict(rtol=1e-4, atol=1e-4)
    for B, M, K, N in ((3, 2 * tm + 5, 37, 2 * tn + 3), (2, tm, 64, tn), (1, 1, 1, 1),
                       (2, tm - 1 or 1, 5, tn - 1 or 1), (1, 3 * tm, 130, tn + 1)):
        a, b = f(B, M, K), f(B, K, N)
        ref = a.astype(np.float64) @ b
        np.testing.assert_allclose(host(on(a) @ on(b)), ref, **tol)
        np.testing.assert_allclose(host(on(a.transpose(0, 2, 1).copy()).mT @ on(b)), ref,
                                   **tol)
    a, big = f(3, 2 * tm + 1, 40), f(45, 2 * tn + 9)
    np.testing.assert_allclose(host(on(a)[:, 1:] @ on(big)[3:43, 7:]),
                               a[:, 1:].astype(np.float64) @ big[3:43, 7:], **tol)
    assert autotune.check(RT, F32, name)


def test_matmul_edge_strips_take_their_own_variants(monkeypatch, launches):
    """The strips a block leaves at the right and bottom edges are products of their own,
    each with the variant chosen for its shape, down to the scalar one."""
    def pick(rt, dt, odt, M, N):
        return ("v8x32w16" if N >= 32 and M >= 8 else "v6x16w8" if N >= 16 and M >= 6 else
                "v8x8w8" if N >= 8 and M >= 8 else "s8x8")
    monkeypatch.setattr(lmm, "variant", pick)
    rng = np.random.default_rng(7)
    for B, M, K, N in ((2, 45, 33, 61), (1, 17, 9, 100), (3, 7, 20, 13), (1, 64, 64, 64)):
        a = rng.standard_normal((B, M, K)).astype(np.float32)
        b = rng.standard_normal((B, K, N)).astype(np.float32)
        del launches[:]
        np.testing.assert_allclose(host(on(a) @ on(b)), a.astype(np.float64) @ b, rtol=1e-4,
                                   atol=1e-4)
        if (M, N) == (45, 61):      # 40 x 32, then 45 x 29: 42 x 16, 45 x 13: 40 x 8, ...
            assert launches.count("bmm") >= 4


def test_matmul_variant_names():
    assert matmul.variant("v6x32w16") == ("vec", 6, 32, 16)
    assert matmul.variant("l64x64k8") == ("local", 64, 64, 8)
    assert matmul.variant("s8x8") == ("scalar", 8, 8, 1)
    for bad in ("v6x20w16", "l60x64k8", "q1x1", "v6x16w4"):
        with pytest.raises(ValueError):
            matmul.variant(bad)
    # every candidate of every dtype is a registered program; other dtypes are scalar only
    assert matmul.candidates(pt.float64) == ("s8x8",)
    assert set(matmul.candidates(F32)) == set(CANDIDATES)


# ----------------------------------------------------------------------------- the tuner

class _Rt:
    """The tuner's view of a device, without one: an identity and a `tuned` dict."""
    kind = "cpu"

    def __init__(self, key=None):
        self.tuned = {}
        self.key = key

    def tuning_key(self):
        return self.key


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache directory, tuning on, and a counted stand-in for the search."""
    monkeypatch.setenv(autotune.ENV_CACHE, str(tmp_path))
    monkeypatch.delenv(autotune.ENV_TUNE, raising=False)
    calls = []

    def search(rt, dt, names):
        calls.append(names)
        return {n: (0.5 if n == "v8x16w8" else 4.0 if n == "s8x8" else
                    None if n == "v6x32w16" else 1.0) for n in names}
    monkeypatch.setattr(autotune, "search", search)
    return tmp_path, calls


DEVICE = {"name": "dev", "driver": "1.0", "platform_version": "p 2.0"}


def _files(path):
    return sorted(os.listdir(path))


def test_tuner_searches_once_and_keeps_the_result_on_disk(cache):
    path, calls = cache
    assert autotune.bmm_variant(_Rt(DEVICE), F32) == "v8x16w8"
    assert len(calls) == 1
    (name,) = _files(path)
    data = json.loads((path / name).read_text())
    assert data["fastest"] == "v8x16w8" and data["identity"]["device"] == DEVICE
    assert data["seconds"]["s8x8"] == 4.0 and data["seconds"]["v6x32w16"] is None
    # a new process (a fresh runtime) reads the file; the same runtime asks nothing again
    rt = _Rt(DEVICE)
    assert autotune.bmm_variant(rt, F32) == "v8x16w8"
    assert autotune.bmm_speeds(rt, F32) is autotune.bmm_speeds(rt, F32)
    assert len(calls) == 1
    # another driver version is another device: searched again, in a file of its own
    assert autotune.bmm_variant(_Rt({**DEVICE, "driver": "1.1"}), F32) == "v8x16w8"
    assert len(calls) == 2 and len(_files(path)) == 2
    # dtypes without candidates take the scalar kernel, searching nothing
    assert autotune.bmm_variant(_Rt(DEVICE), pt.float64) == "s8x8"
    assert len(calls) == 2


def test_tuner_picks_per_output_shape(cache):
    """Blocks that cover nothing (or little) of an output leave it to the scalar kernel."""
    rt = _Rt(DEVICE)                    # speeds: v8x16w8 8x, the others 4x the scalar one
    assert autotune.bmm_variant(rt, F32, 1024, 1024) == "v8x16w8"
    assert autotune.bmm_variant(rt, F32, 128, 6) == "s8x8"           # fewer columns than any
    assert autotune.bmm_variant(rt, F32, 128, 10) == "v8x8w8"        # 8 of 10 columns
    assert autotune.bmm_variant(rt, F32, 3, 600) == "s8x8"           # fewer rows than any
    assert autotune.bmm_variant(rt, F32, 6, 600) == "v6x16w8"        # 6 rows: all covered
    assert autotune.bmm_variant(rt, F32, 600, 6) == "s8x8"
    # 12 rows cover 600 of 604, 8 rows 600: the faster v8x16w8 still wins
    assert autotune.bmm_variant(rt, F32, 604, 64) == "v8x16w8"
    # v6x16w8 covers all 30 rows, v8x16w8 only 24: 4x on all beats 8x on 80 % and 1x
    assert autotune.bmm_variant(rt, F32, 30, 64) == "v6x16w8"


def _seconds(**over):
    times = {n: 1.0 for n in CANDIDATES}
    times.update(over)
    return times


_MISSING = object()


@pytest.mark.parametrize("bad", [
    "{not json", "[]", {"identity": {}}, ("v6x16w8", _MISSING), ("s8x8", None),
    ("v6x16w8", -1.0), ("v6x16w8", "fast"), ("v6x16w8", float("inf")), ("extra", 1.0)])
def test_tuner_ignores_a_bad_cache_file(cache, bad):
    """Unreadable JSON, another identity, a variant missing or extra, a time that is not a
    positive number, no scalar time: each is ignored, searched again and overwritten."""
    path, calls = cache
    ident = autotune.identity(_Rt(DEVICE), F32)
    file = autotune.cache_path(ident)
    if isinstance(bad, str):
        content = bad
    else:
        data = {"identity": ident, "seconds": _seconds()}
        if isinstance(bad, dict):
            data.update(bad)
        elif bad[1] is _MISSING:
            del data["seconds"][bad[0]]
        else:
            data["seconds"][bad[0]] = bad[1]
        content = json.dumps(data)
    with open(file, "w") as f:
        f.write(content)
    assert autotune.load(file, ident) is None
    assert autotune.bmm_variant(_Rt(DEVICE), F32) == "v8x16w8"
    assert len(calls) == 1
    assert autotune.load(file, ident)["v8x16w8"] == 0.5     # rewritten whole


def test_tuner_writes_atomically_and_survives_an_unwritable_dir(cache, tmp_path):
    path, _ = cache
    ident = autotune.identity(_Rt(DEVICE), F32)
    file = autotune.cache_path(ident)
    autotune.save(file, ident, _seconds(v6x16w8=0.25))
    assert _files(path) == [os.path.basename(file)]          # no temporary file left
    assert autotune.load(file, ident) == _seconds(v6x16w8=0.25)
    assert json.loads(open(file).read())["fastest"] == "v6x16w8"
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the directory would be")
    autotune.save(str(blocker / "sub" / "x.json"), ident, _seconds())       # no error


def test_tuner_identity_covers_device_driver_and_sources(monkeypatch):
    ident = autotune.identity(_Rt(DEVICE), F32)
    assert ident["device"] == DEVICE and ident["candidates"] == list(CANDIDATES)
    assert autotune.identity(_Rt(None), F32) is None
    from plugtorch_kernels import registry
    real = registry.source
    monkeypatch.setattr(autotune.registry, "source",
                        lambda key: real(key) + ("// changed\n" if key[3] == "s8x8" else ""))
    assert autotune.identity(_Rt(DEVICE), F32)["sources"] != ident["sources"]
    key = RT.tuning_key()
    d = RT.device
    assert key["driver"] == d.driver_version.strip() and key["name"] == d.name.strip()
    assert key["platform_version"] == d.platform.version.strip()


def test_tuner_off_and_without_identity(cache, monkeypatch):
    path, calls = cache
    monkeypatch.setenv(autotune.ENV_TUNE, "0")
    default = tuning.bmm_default("cpu", F32)
    assert autotune.bmm_variant(_Rt(DEVICE), F32) == default
    assert autotune.bmm_variant(_Rt(DEVICE), F32, 128, 10) == "s8x8"     # 16-wide blocks
    assert not calls and not _files(path)
    monkeypatch.setenv(autotune.ENV_TUNE, "1")
    assert autotune.bmm_variant(_Rt(None), F32) == "v8x16w8"       # searched, not kept
    assert len(calls) == 1 and not _files(path)


def test_search_times_good_variants_and_drops_broken_ones(monkeypatch):
    monkeypatch.setattr(autotune, "PROBLEMS", ((1, 64, 48, 64), (2, 30, 20, 40)))
    real = autotune.check

    def check(rt, dt, name, rng=None):
        if name == "v4x32w8":
            raise KernelBuildError("the device's compiler refused it")
        if name == "v6x32w16":
            return False                    # computed something else
        return real(rt, dt, name, rng)
    monkeypatch.setattr(autotune, "check", check)
    got = autotune.search(RT, F32, ["v6x16w8", "v4x32w8", "v6x32w16", "s8x8"])
    assert got["v4x32w8"] is None and got["v6x32w16"] is None
    assert got["v6x16w8"] > 0 and got["s8x8"] > 0           # the scalar one is always timed
