"""The backend registry: listing, isolation of broken plugins, autoload, kernel-name checks,
the CPU fallback and the dispatch table."""
import json
import os
import subprocess
import sys
import textwrap
import types
import warnings

import numpy as np
import pytest

import plugtorch
from plugtorch import _dispatch
from plugtorch.backends import Backend, BackendUnavailable

import plugtorch_minimal   # on sys.path through conftest.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def registered():
    """Register backends for one test and remove them afterwards."""
    names = []

    def add(plugin, name=None):
        got = plugtorch.backends.register(plugin, name=name)
        names.extend(got)
        return got

    yield add
    known = {b["name"] for b in plugtorch.backends.list()}
    for n in set(names) & known:
        plugtorch.backends.unregister(n)


def _entry(name):
    return next(b for b in plugtorch.backends.list() if b["name"] == name)


# ----------------------------------------------------------------------------- listing

def test_list_shows_cpu_available():
    cpu = _entry("cpu")
    assert cpu == {"name": "cpu", "plugin": "cpu (plugtorch_cpu)", "available": True,
                   "reason": "", "devices": 1}
    assert "cpu" in plugtorch.backends.available()


class _Absent(Backend):
    name = "absentdev"

    def availability(self):
        return False, "no absentdev driver found"


def test_unavailable_backend_is_listed_with_reason(registered):
    registered(_Absent())
    entry = _entry("absentdev")
    assert entry["available"] is False and entry["reason"] == "no absentdev driver found"
    assert "absentdev" not in plugtorch.backends.available()
    with pytest.raises(BackendUnavailable, match="no absentdev driver found"):
        plugtorch.zeros(2, device="absentdev")


class _FactoryRaises:
    @plugtorch.hookimpl
    def plugtorch_register_backends(self, register):
        def factory():
            raise RuntimeError("driver exploded")
        register("boomdev", factory)


def test_factory_error_is_isolated(registered):
    registered(_FactoryRaises())
    entry = _entry("boomdev")
    assert not entry["available"] and entry["reason"] == "RuntimeError: driver exploded"
    with pytest.raises(BackendUnavailable, match="driver exploded"):
        plugtorch.ones(1, device="boomdev")
    assert (plugtorch.ones(2) + 1).tolist() == [2.0, 2.0]


class _HookRaises:
    @plugtorch.hookimpl
    def plugtorch_register_backends(self, register):
        raise ImportError("needs libfoo.so")


def test_hook_error_names_the_plugin(monkeypatch):
    # keep the broken entry out of the listing seen by later tests
    monkeypatch.setattr(plugtorch.backends, "_broken", dict(plugtorch.backends._broken))
    with pytest.raises(RuntimeError, match=r"runtime:hookraiser failed: ImportError: needs libfoo"):
        plugtorch.backends.register(_HookRaises(), name="runtime:hookraiser")
    broken = [b for b in plugtorch.backends.list() if b["plugin"] == "runtime:hookraiser"]
    assert broken == [{"name": None, "plugin": "runtime:hookraiser", "available": False,
                       "reason": "ImportError: needs libfoo.so", "devices": 0}]
    assert plugtorch.ones(2).sum().item() == 2.0


def test_unknown_kernel_name_is_rejected_naming_the_plugin(registered):
    class Typo(plugtorch_minimal.MinimalBackend):
        name = "typodev"
        kernels = dict(plugtorch_minimal.KERNELS, frobnicate=lambda out, x: None)

    registered(Typo(), name="typo-plugin")
    with pytest.raises(BackendUnavailable, match="typo-plugin.*'frobnicate': no primitive"):
        plugtorch.backends.get("typodev")
    assert "frobnicate" in _entry("typodev")["reason"]


@pytest.mark.parametrize("name", ["matmul", "mean", "relu6"])
def test_kernel_for_a_composite_op_is_rejected(registered, name):
    # matmul and mean are composites: a kernel for them would never be called
    class Composite(plugtorch_minimal.MinimalBackend):
        pass
    Composite.name = f"comp{name.replace('6', 'six')}"
    Composite.kernels = dict(plugtorch_minimal.KERNELS, **{name: lambda out, x: None})
    registered(Composite(), name="composite-plugin")
    with pytest.raises(BackendUnavailable, match=f"composite-plugin.*'{name}'.*may not override"
                       if name != "relu6" else f"'{name}'"):
        plugtorch.backends.get(Composite.name)


def test_kernel_signature_is_checked(registered):
    class WrongArity(plugtorch_minimal.MinimalBackend):
        name = "aritydev"
        kernels = dict(plugtorch_minimal.KERNELS, add=lambda out, a: None)

    registered(WrongArity(), name="arity-plugin")
    with pytest.raises(BackendUnavailable, match=r"arity-plugin: kernel 'add' must accept "
                                                 r"\(out, a, b\)"):
        plugtorch.backends.get("aritydev")


def test_overridable_op_kernel_is_accepted_and_used(registered):
    calls = []

    def softmax(out, x, dim):
        calls.append(dim)
        plugtorch_minimal.KERNELS["fill"](out, 0.5)

    class Fast(plugtorch_minimal.MinimalBackend):
        name = "fastdev"
        kernels = dict(plugtorch_minimal.KERNELS, softmax=softmax)

    registered(Fast())
    y = plugtorch.softmax(plugtorch.zeros(3, 2, device="fastdev"), dim=-1)
    assert calls == [1] and y.tolist() == [[0.5, 0.5]] * 3
    assert _dispatch.resolution("softmax", plugtorch.backends.get("fastdev")) == "kernel"
    assert _dispatch.resolution("softmax", plugtorch.backends.get("minimal")) == "composite"


def test_contract_tiers():
    from plugtorch.backends import OPTIONAL, PRIMITIVES, REQUIRED
    assert len(REQUIRED) <= 24
    assert set(REQUIRED) | set(OPTIONAL) == set(PRIMITIVES)
    assert set(_dispatch.DECOMPOSITIONS) == set(OPTIONAL)


def test_register_same_plugin_twice_is_a_no_op():
    assert "minimal" in plugtorch.backends.available()
    before = plugtorch.backends.list()
    assert plugtorch.backends.register(plugtorch_minimal) == ["minimal"]
    assert plugtorch.backends.list() == before


def test_unregister_then_register_again(registered):
    class Probe(plugtorch_minimal.MinimalBackend):
        name = "probedev"

    registered(Probe())
    x = plugtorch.ones(2, device="probedev")
    plugtorch.backends.unregister("probedev")
    with pytest.raises(RuntimeError, match="unknown device type 'probedev'"):
        plugtorch.ones(2, device="probedev")
    registered(Probe())
    assert plugtorch.ones(2, device="probedev").device.type == "probedev"
    assert x.device.type == "probedev"


def test_existing_tensors_keep_working_after_a_registration(registered):
    x = plugtorch.ones(3)
    y = plugtorch.ones(3, device="minimal")

    class Late(plugtorch_minimal.MinimalBackend):
        name = "latedev"

    registered(Late())
    assert (x + 1).tolist() == [2.0] * 3 and (y * 2).sum().item() == 6.0


# ----------------------------------------------------------------------------- fallback

_LACKING = ("sin", "sort", "scatter")


@pytest.fixture
def fresh_minimal(registered):
    """A minimal backend under a new name that lacks three required kernels: its fallback
    warnings have not fired yet."""
    class Fresh(plugtorch_minimal.MinimalBackend):
        name = "freshdev"
        kernels = {k: v for k, v in plugtorch_minimal.KERNELS.items() if k not in _LACKING}

    registered(Fresh())
    return "freshdev"


def test_fallback_is_counted_and_warns_once(fresh_minimal):
    a = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -2.5]])
    x = plugtorch.tensor(a, device=fresh_minimal)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y1, y2 = x.sin(), (x * 2).sin()
    fb = [w for w in caught if issubclass(w.category, _dispatch.FallbackWarning)]
    assert len(fb) == 1 and "sin" in str(fb[0].message) and "freshdev" in str(fb[0].message)
    assert plugtorch.debug.fallbacks(fresh_minimal)["sin"] == 2
    assert "mul" not in plugtorch.debug.fallbacks(fresh_minimal)   # native kernel
    assert y1.device.type == fresh_minimal
    np.testing.assert_allclose(y2.cpu().numpy(), np.sin(2 * a), rtol=1e-15)


def test_fallback_writes_back_into_strided_outputs(fresh_minimal):
    # scatter is in place on a non-contiguous view; sort has two outputs
    base = plugtorch.zeros(4, 6, device=fresh_minimal)
    view = base.t()
    index = plugtorch.tensor([[0, 1, 2, 3]], device=fresh_minimal)
    view.scatter_(1, index, plugtorch.tensor([[1.0, 2.0, 3.0, 4.0]], device=fresh_minimal))
    expected = np.zeros((4, 6))
    expected[:, 0] = [1, 2, 3, 4]
    np.testing.assert_array_equal(base.cpu().numpy(), expected)
    values, indices = plugtorch.tensor([3.0, 1.0, 2.0], device=fresh_minimal).sort()
    assert values.tolist() == [1.0, 2.0, 3.0] and indices.tolist() == [1, 2, 0]
    assert values.device.type == indices.device.type == fresh_minimal


def test_strict_mode_turns_a_fallback_into_an_error(fresh_minimal):
    x = plugtorch.tensor([0.5, 1.0], device=fresh_minimal)
    with plugtorch.debug.strict():
        with pytest.raises(plugtorch.debug.FallbackError, match="sin.*freshdev.*strict"):
            x.sin()
        assert (x * 2).tolist() == [1.0, 2.0]           # native kernels still run
        assert x.sigmoid().tolist() == pytest.approx(1 / (1 + np.exp([-0.5, -1.0])))   # decomposed
    assert not plugtorch.debug.is_strict()
    np.testing.assert_allclose(x.sin().cpu().numpy(), np.sin([0.5, 1.0]), rtol=1e-6)


def test_coverage_reports_native_decomposed_and_fallback(fresh_minimal):
    from plugtorch.backends import OPTIONAL, REQUIRED
    report = _dispatch.coverage(plugtorch.backends.get("minimal"))
    assert set(report["native"]) == set(plugtorch_minimal.KERNELS) == set(REQUIRED)
    assert set(report["decomposed"]) == set(OPTIONAL) and report["fallback"] == []
    fresh = _dispatch.coverage(plugtorch.backends.get(fresh_minimal))
    assert set(fresh["fallback"]) == set(_LACKING)
    cpu = _dispatch.coverage(plugtorch.backends.get("cpu"))
    assert cpu["fallback"] == [] and cpu["decomposed"] == []


# ----------------------------------------------------------------------------- hot path

class _NoPluggy:
    def __getattr__(self, name):
        raise AssertionError(f"pluggy used on the op path ({name})")


def test_pluggy_is_not_on_the_hot_path(monkeypatch):
    x, y = plugtorch.ones(3), plugtorch.ones(3, device="minimal")
    cpu = plugtorch.backends.get("cpu")
    assert _dispatch.kernel("add", x) is cpu.kernels["add"]
    monkeypatch.setattr(plugtorch.backends._pm, "hook", _NoPluggy())
    assert ((x + x) * 3).sum().item() == 18.0
    assert ((y + y) * 3).sin().sum().item() == pytest.approx(3 * np.sin(6.0))


# ----------------------------------------------------------------------------- entry points

_PLUGINS = {
    "ptthird_hook.py": """
        import plugtorch
        @plugtorch.hookimpl
        def plugtorch_register_backends(register):
            raise RuntimeError("hook failed on purpose")
    """,
    "ptthird_factory.py": """
        import plugtorch
        def _factory():
            raise OSError("no such device node")
        @plugtorch.hookimpl
        def plugtorch_register_backends(register):
            register("factorydev", _factory)
    """,
    "ptthird_badarg.py": """
        import plugtorch
        @plugtorch.hookimpl
        def plugtorch_register_backends(registr):
            registr("badargdev", None)
    """,
    "ptthird_badname.py": """
        import plugtorch
        @plugtorch.hookimpl
        def plugtorch_register_backend(register):
            register("badnamedev", None)
    """,
    "ptthird_good.py": """
        import plugtorch
        from plugtorch_cpu import CPUBackend
        class GoodBackend(CPUBackend):
            name = "gooddev"
        @plugtorch.hookimpl
        def plugtorch_register_backends(register):
            register("gooddev", GoodBackend)
    """,
}
_ENTRY_POINTS = """\
[plugtorch.backends]
missing = ptthird_does_not_exist
hook = ptthird_hook
factory = ptthird_factory
badarg = ptthird_badarg
badname = ptthird_badname
good = ptthird_good
"""
_PROBE = """
import json, plugtorch
listing = plugtorch.backends.list()
ok = (plugtorch.ones(2) + 1).tolist()
print(json.dumps({"list": listing, "ok": ok}))
"""


@pytest.fixture(scope="module")
def third_party(tmp_path_factory):
    """A directory holding a fake installed distribution with four backend entry points."""
    root = tmp_path_factory.mktemp("site")
    dist = root / "ptthird-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ptthird\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(_ENTRY_POINTS)
    for name, src in _PLUGINS.items():
        (root / name).write_text(textwrap.dedent(src))
    return root


def _probe(site, **env):
    full = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), ROOT]), **env)
    out = subprocess.run([sys.executable, "-c", _PROBE], env=full, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["ok"] == [2.0, 2.0]      # import plugtorch and cpu work whatever failed
    return {b["plugin"].split(" ")[0]: b for b in data["list"]}


def test_broken_entry_points_are_isolated(third_party):
    listing = _probe(third_party)
    assert listing["cpu"]["available"]
    missing = listing["missing"]
    assert missing["name"] is None and not missing["available"]
    assert "ModuleNotFoundError" in missing["reason"] and "ptthird_does_not_exist" in \
        missing["reason"]
    assert listing["hook"]["reason"] == "RuntimeError: hook failed on purpose"
    assert listing["factory"]["name"] == "factorydev"
    assert listing["factory"]["reason"] == "OSError: no such device node"
    # pluggy validates hooks against the hookspecs: a misspelt argument or hook name is an
    # isolated, listed error, not a crash of the first plugtorch.ones()
    assert "PluginValidationError" in listing["badarg"]["reason"] and \
        "registr" in listing["badarg"]["reason"]
    assert "PluginValidationError" in listing["badname"]["reason"] and \
        "plugtorch_register_backend" in listing["badname"]["reason"]
    assert listing["good"]["name"] == "gooddev" and listing["good"]["available"]


def test_autoload_off_skips_third_party_entry_points(third_party):
    listing = _probe(third_party, PLUGTORCH_AUTOLOAD="0")
    assert listing["cpu"]["available"]
    assert not set(listing) & {"missing", "hook", "factory", "badarg", "badname", "good"}


# ----------------------------------------------------------------------------- review fixes

def test_unregistered_plugin_can_be_registered_again():
    class Again:
        @plugtorch.hookimpl
        def plugtorch_register_backends(self, register):
            register("againdev", plugtorch_minimal.MinimalBackend)
    plugin = Again()
    assert plugtorch.backends.register(plugin) == ["againdev"]
    plugtorch.backends.unregister("againdev")
    assert plugtorch.backends.register(plugin) == ["againdev"]
    assert plugtorch.ones(2, device="againdev").sum().item() == 2.0
    plugtorch.backends.unregister("againdev")


def test_a_failed_plugin_is_loaded_again_on_retry(monkeypatch):
    monkeypatch.setattr(plugtorch.backends, "_broken", dict(plugtorch.backends._broken))
    state = {"ready": False}

    class Flaky:
        @plugtorch.hookimpl
        def plugtorch_register_backends(self, register):
            if not state["ready"]:
                raise OSError("driver not ready")
            register("flakydev", plugtorch_minimal.MinimalBackend)
    plugin = Flaky()
    with pytest.raises(RuntimeError, match="driver not ready"):
        plugtorch.backends.register(plugin, name="flaky")
    state["ready"] = True
    assert plugtorch.backends.register(plugin, name="flaky") == ["flakydev"]
    plugtorch.backends.unregister("flakydev")


def test_one_backend_object_when_threads_start_it_together(registered):
    import threading
    import time
    made = []

    class Slow(plugtorch_minimal.MinimalBackend):
        name = "slowdev"

        def __init__(self):
            made.append(self)
            time.sleep(0.2)

    registered(type("P", (), {"plugtorch_register_backends":
                              staticmethod(lambda register: register("slowdev", Slow))})())
    out = []
    threads = [threading.Thread(target=lambda: out.append(plugtorch.zeros(2, device="slowdev")))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and len(out) == 2
    assert plugtorch.backends.get("slowdev") is made[0]


@pytest.mark.parametrize("value, expected", [("1", True), ("off", False), ("0", False),
                                             ("no", False), ("yes", True)])
def test_strict_environment_variable(value, expected):
    code = "import plugtorch; print(plugtorch.debug.is_strict())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PLUGTORCH_STRICT=value), timeout=60)
    assert out.stdout.strip() == str(expected), out.stderr


# ----------------------------------------------------------------------------- opencl devices

class _FakeDevice:
    def __init__(self, name, broken):
        self.name, self.broken, self.extensions = name, broken, "cl_khr_fp64"
        self.version, self.global_mem_size, self.max_compute_units = "OpenCL 1.2", 2**30, 1
        self.type = 2          # CL_DEVICE_TYPE_CPU


class _FakePlatform:
    name = "Fake CL"

    def __init__(self, devices):
        self._devices = devices

    def get_devices(self):
        return self._devices


def _fake_cl(devices):
    """A stand-in for pyopencl whose compiler fails on the devices marked broken."""
    class Program:
        def __init__(self, ctx, src):
            self.ctx = ctx

        def build(self):
            if self.ctx.broken:
                raise RuntimeError("clBuildProgram failed: BUILD_PROGRAM_FAILURE\n\n"
                                   "error: unknown target CPU 'generic'\nDevice failed")
            return self

    return types.SimpleNamespace(get_platforms=lambda: [_FakePlatform(devices)],
                                 Context=lambda devs: devs[0], Program=Program,
                                 device_type=types.SimpleNamespace(CPU=2))


def test_opencl_device_whose_compiler_fails_is_left_out(monkeypatch):
    pytest.importorskip("pyopencl")
    from plugtorch_opencl import backend as ocl
    b = ocl.OpenCLBackend()    # the real one first: imports every kernel module
    devices = [_FakeDevice("broken-cpu", True), _FakeDevice("good-cpu", False)]
    monkeypatch.setitem(sys.modules, "pyopencl", _fake_cl(devices))
    b = ocl.OpenCLBackend()
    assert b.availability() == (True, "")
    assert [d.name for d in b.devices] == ["good-cpu"] and b.accelerator is False
    assert b.unusable == [("broken-cpu", "Fake CL", "error: unknown target CPU 'generic'")]
    left_out = b.describe()[-1]
    assert left_out["device"] is None and left_out["name"] == "broken-cpu"
    assert "unknown target CPU" in left_out["unusable"]

    monkeypatch.setitem(sys.modules, "pyopencl", _fake_cl(devices[:1]))
    b = ocl.OpenCLBackend()
    ok, why = b.availability()
    assert not ok and "broken-cpu" in why and "unknown target CPU 'generic'" in why


@pytest.mark.parametrize("env, expect", [
    ({}, "glibc malloc keeping freed memory"),
    ({"PLUGTORCH_CPU_MALLOC": "system"}, "system malloc (PLUGTORCH_CPU_MALLOC=system)"),
    ({"MALLOC_TRIM_THRESHOLD_": "1000000"}, "system malloc (tuned by MALLOC_TRIM_THRESHOLD_)"),
])
def test_cpu_backend_reports_its_allocator_setting(env, expect):
    """NOTE [keeping freed host memory]: applied on glibc unless the user opted out or tuned
    malloc themselves; `plugtorch info` (describe) says which."""
    from plugtorch_cpu import allocator
    if allocator.glibc_version() is None and not env:
        expect = "system malloc"
    code = ("import plugtorch, plugtorch.backends as b; plugtorch.zeros(1); "
            "print(b.get('cpu').describe()[0]['allocator'])")
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PLUGTORCH_CPU_MALLOC", "MALLOC_MMAP_THRESHOLD_",
                          "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, text=True,
                         capture_output=True, check=True).stdout.strip()
    assert out.startswith(expect), out


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_cpu_fill_of_short_strided_rows_matches_numpy_bit_for_bit(dtype):
    """The cpu fill writes rows of 2-4 floats as one wide integer each (the padding columns
    a pitched fold zeroes); every value, -0.0 and NaN included, lands as numpy's fill
    writes it, and nothing outside the rows changes."""
    rng = np.random.default_rng(0)
    for inner, pitch in ((2, 34), (4, 14), (3, 10), (1, 5), (8, 9)):
        for value in (0.0, -0.0, 1.5, float("nan"), float("-inf"), 1e-40):
            base = rng.standard_normal(600 * pitch + 8).astype(dtype)
            t = plugtorch.tensor(base.copy())
            t.as_strided((600, inner), (pitch, 1), 3).fill_(value)
            ref = base.copy()
            np.lib.stride_tricks.as_strided(
                ref[3:], (600, inner), (pitch * ref.itemsize, ref.itemsize)).fill(value)
            assert t.numpy().tobytes() == ref.tobytes(), (inner, pitch, value)
