"""The example backend on numexpr (examples/numexpr_backend), installed as a user installs it:
plugtorch and the example are built from this checkout and pip-installed into a new venv,
where plugtorch finds the backend through its `plugtorch.backends` entry point (no
PYTHONPATH, no --plugin) and the conformance suite passes on it in strict mode.

The venv is made once for the module, without pip (this interpreter's pip installs into it);
numpy, pluggy and pytest are pinned to the versions installed here, so pip takes them from
its cache or the local index instead of downloading newer ones."""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "numexpr_backend"

# what a build of the checkout must not copy: environments, build output, caches
_NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "venv", ".ci-*", "build", "dist",
                                      "*.egg-info", "__pycache__", ".hypothesis",
                                      ".benchmarks", ".pytest_cache")


def _env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "PLUGTORCH_AUTOLOAD")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class Venv:
    def __init__(self, path):
        self.path = path
        self.python = path / "bin" / "python"
        self.cwd = path.parent / "run"        # outside the checkout: nothing imports from it
        self.cwd.mkdir()

    def run(self, *args, timeout=600):
        return subprocess.run([str(self.python), *args], cwd=self.cwd, env=_env(),
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("example_backend")
    # builds write into their source tree (build/, *.egg-info): build copies
    shutil.copytree(ROOT, tmp / "plugtorch", ignore=_NOT_SOURCES)
    shutil.copytree(EXAMPLE, tmp / "numexpr_backend", ignore=_NOT_SOURCES)
    pins = tmp / "constraints.txt"
    pins.write_text("".join(f"{name}=={metadata.version(name)}\n"
                            for name in ("numpy", "pluggy", "pytest")))
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    env = Venv(tmp / "venv")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env.python), "--disable-pip-version-check",
         "--no-input", "install", "-q", "-c", str(pins), str(tmp / "plugtorch"),
         str(tmp / "numexpr_backend"), "pytest"],
        cwd=tmp, env=_env(), capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    if done.returncode and re.search(r"No matching distribution found for (numexpr|setuptools)",
                                     output):
        pytest.skip(f"a requirement is not available from any package index here:\n{output}")
    assert done.returncode == 0, output[-4000:]
    return env


def test_the_backend_is_found_through_its_entry_point(venv):
    code = textwrap.dedent("""
        import json, plugtorch, plugtorch_numexpr
        (entry,) = [b for b in plugtorch.backends.list() if b["name"] == "numexpr"]
        x = plugtorch.tensor([-2.0, 0.0, 2.0], device="numexpr")
        print(json.dumps({"entry": entry, "files": [plugtorch.__file__,
                          plugtorch_numexpr.__file__], "device": str(x.device),
                          "sigmoid": x.sigmoid().cpu().tolist()}))
    """)
    done = venv.run("-c", code)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["entry"] == {"name": "numexpr", "plugin": "numexpr (plugtorch_numexpr)",
                              "available": True, "reason": "", "devices": 1}
    site = str(venv.path)
    assert all(f.startswith(site) for f in found["files"]), found["files"]   # not the checkout
    assert found["device"] == "numexpr"
    expected = [1 / (1 + 2.718281828459045 ** 2), 0.5, 1 / (1 + 2.718281828459045 ** -2)]
    assert found["sigmoid"] == pytest.approx(expected, rel=1e-6)


def test_every_primitive_and_factorization_is_native(venv):
    done = venv.run("-m", "plugtorch", "coverage", "numexpr")
    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout
    assert "24/24 required primitives, 44/44 optional ones" in text, text
    assert "CPU fallback (0): -" in text, text
    assert "ops on the CPU fallback (no kernel of its own) (0): -" in text, text


# Every elementwise kernel of the backend against the cpu backend's, called directly (below
# the frontend's checks) on each dtype's edge values: MIN // -1 and MIN % -1 (which trap in
# C), a zero divisor, NaN, infinities, -0.0, ties for round, erf's branch point.
_EDGE_CHECK = """
import numpy as np
import plugtorch
from plugtorch.backends import BINARY, UNARY

nx, cpu = plugtorch.backends.get("numexpr"), plugtorch.backends.get("cpu")
BOOL_OUT = {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
            "logical_not", "isnan", "isinf", "isfinite"}
FLOAT_ONLY = {"exp", "log", "sin", "cos", "tan", "tanh", "expm1", "log1p", "sqrt", "rsqrt",
              "reciprocal", "sigmoid", "erf", "atan2"}
NOT_BOOL = {"neg", "sub", "div", "floor_divide", "remainder", "fmod", "pow"}
INEXACT = FLOAT_ONLY | {"pow"}
TOL = {"float16": 1e-3, "float32": 2e-6, "float64": 1e-14}


def edge_values(dt):
    if dt.kind == "b":
        return np.array([True, False])
    if dt.kind in "iu":
        i = np.iinfo(dt)
        v = [i.min, i.min + 1, -7, -3, -2, -1, 0, 1, 2, 3, 5, 7, i.max - 1, i.max]
        return np.array([x for x in v if i.min <= x <= i.max], dt)
    return np.array([0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1.0, -1.0, 2.999, 3.0, 3.7, -3.7,
                     7.0, -7.0, 60.0, -60.0, 1e5, 1e-30, 0.49999999999999994, np.inf,
                     -np.inf, np.nan], dt)


def run(backend, device, name, arrays, out_dtype):
    ins = [plugtorch.from_numpy(a.copy()).to(device) for a in arrays]
    out = plugtorch.empty(arrays[0].shape, dtype=getattr(plugtorch, out_dtype.name),
                          device=device)
    backend.kernels[name](out, *ins)
    return out.cpu().numpy()


problems, checked = [], 0
for dt in map(np.dtype, ["bool", "uint8", "int8", "int16", "int32", "int64", "float16",
                         "float32", "float64"]):
    v = edge_values(dt)
    a, b = (np.ascontiguousarray(x) for x in np.broadcast_arrays(v[:, None], v[None, :]))
    for name in UNARY + BINARY:
        if (name in FLOAT_ONLY and dt.kind != "f") or (name in NOT_BOOL and dt.kind == "b") \\
                or (name in ("bitwise_not", "bitwise_and", "bitwise_or", "bitwise_xor")
                    and dt.kind == "f"):
            continue
        arrays = [a, b] if name in BINARY else [a]
        out_dtype = np.dtype(bool) if name in BOOL_OUT else dt
        try:
            with np.errstate(all="ignore"):
                want = run(cpu, "cpu", name, arrays, out_dtype)
        except TypeError:      # numpy refuses the dtype (relu of bool): the frontend never asks
            continue
        got = run(nx, "numexpr", name, arrays, out_dtype)
        checked += 1
        same = got == want
        if out_dtype.kind == "f":
            same |= np.isnan(got) & np.isnan(want)
        if name in INEXACT and dt.kind == "f":
            g, w = got.astype(np.float64), want.astype(np.float64)
            with np.errstate(all="ignore"):
                same |= np.abs(g - w) <= TOL[dt.name] * np.abs(w)
        if not np.all(same):
            i = tuple(np.argwhere(~same)[0])
            problems.append(f"{name} {dt.name} at {[x[i] for x in arrays]}: numexpr {got[i]!r}, "
                            f"cpu {want[i]!r} ({int((~same).sum())} elements differ)")
print(f"checked {checked}")
print("\\n".join(problems))
"""


def test_elementwise_kernels_match_cpu_on_edge_values(venv):
    done = venv.run("-c", _EDGE_CHECK)
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("checked ") and int(lines[0].split()[1]) > 300, lines[0]
    assert lines[1:] == [], "\n".join(lines[1:])


# Kernels may be called from several threads at once (the backend contract); these tensors
# are large enough for numexpr to split each kernel over its own threads too.
_THREADS_CHECK = """
import threading
import numpy as np
import plugtorch

def work(seed, results):
    rng = np.random.default_rng(seed)
    big = plugtorch.from_numpy(rng.standard_normal((200, 1000)).astype(np.float32))
    small = plugtorch.from_numpy(rng.standard_normal((32, 16)).astype(np.float32))
    big, small = big.to("numexpr"), small.to("numexpr")
    total = 0.0
    for step in range(400):
        x = big if step % 100 == 0 else small
        y = (x.sigmoid() * x.erf() + x.remainder(0.75)).softmax(1)
        total += y.log_softmax(0).sum().item()
    results[seed] = total

alone = {}
for seed in range(4):
    work(seed, alone)
together = {}
threads = [threading.Thread(target=work, args=(seed, together)) for seed in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(together == alone, sorted(together) == list(range(4)))
"""


def test_kernels_from_several_threads_match_one_thread(venv):
    done = venv.run("-c", _THREADS_CHECK)
    # two threads in one compiled numexpr program crash the process (SIGSEGV, SIGABRT)
    assert done.returncode == 0, (done.returncode, done.stderr[-4000:])
    assert done.stdout.split() == ["True", "True"], done.stdout


def test_conformance_suite_passes_in_strict_mode(venv):
    done = venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                    "plugtorch.testing.plugin", "--pyargs", "plugtorch.testing.suite",
                    "--backend", "numexpr", "--strict", timeout=1200)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 1000, summary
    assert not re.search(r"\d+ (failed|errors?)\b", summary), summary
