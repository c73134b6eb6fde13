"""What the package promises: its license, a pytest plugin that loads only where asked for,
and a source distribution that holds what its own tests need."""
import importlib.util
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:     # Python 3.10
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    if tomllib is None:
        pytest.skip("reading pyproject.toml needs tomllib (Python 3.11+)")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_file_and_declaration():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    project = _pyproject()["project"]
    assert project["license"] == "MIT"            # an SPDX expression
    assert project["license-files"] == ["LICENSE"]


def test_pytest_plugin_is_not_registered_globally():
    project = _pyproject()["project"]
    assert "pytest11" not in project.get("entry-points", {})
    addopts = _pyproject()["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert "plugtorch.testing.plugin" in addopts


def test_other_projects_pytest_runs_without_the_plugin(tmp_path):
    # a project of its own (its own ini file) in the same environment as plugtorch
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_trivial.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=tmp_path,
        env=env, capture_output=True, text=True, timeout=120)
    collected = run("--co", "-q")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "test_trivial.py::test_one" in collected.stdout
    assert "plugtorch backends" not in collected.stdout       # the plugin's report header
    usage = run("--help")
    assert "--backend=NAME" not in usage.stdout and "plugtorch conformance" not in usage.stdout
    # ... and where asked for, it is there
    usage = run("-p", "plugtorch.testing.plugin", "--help")
    assert "--backend=NAME" in usage.stdout and "--plugin=MODULE" in usage.stdout


def test_this_repository_loads_the_plugin(request):
    # pyproject's addopts loads it for plugtorch's own tests: --backend and `device` work
    assert request.config.pluginmanager.has_plugin("plugtorch.testing.plugin")
    assert hasattr(request.config.option, "backend")


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    if importlib.util.find_spec("build") is None:
        pytest.skip("building the sdist needs the `build` package (pip install build)")
    out = tmp_path_factory.mktemp("sdist")
    done = subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(out),
                           str(ROOT)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "Could not find a version that satisfies" in \
            done.stdout + done.stderr:
        pytest.skip("building the sdist needs setuptools>=77 from a package index")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (path,) = out.glob("plugtorch-*.tar.gz")
    with tarfile.open(path) as tar:
        return {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}


def test_sdist_holds_what_its_tests_need(sdist):
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    wanted = {"LICENSE", "README.md", "pyproject.toml", "tests/conftest.py",
              "tests/test_packaging.py", "examples/minimal_backend/plugtorch_minimal.py",
              "docs/writing-a-backend.md", "bench/conftest.py", "plugtorch/cli/__init__.py"}
    if tracked.returncode == 0:   # every tracked test, doc, example, kernel header
        wanted |= {f for f in tracked.stdout.split() if f.startswith(("tests/", "docs/",
                   "examples/", "bench/")) or f.endswith((".h", ".cl", ".cu"))}
    wanted = {f for f in wanted if (ROOT / f).exists()}
    missing = sorted(wanted - sdist)
    assert not missing, f"the sdist lacks {missing}"
    headers = [f for f in sdist if f.endswith(".h")]
    assert headers, "the sdist holds no kernel header"
    assert not [f for f in sdist if "__pycache__" in f or f.endswith(".pyc")]


def test_console_script_and_module_entry():
    project = _pyproject()["project"]
    assert project["scripts"]["plugtorch"] == "plugtorch.cli:main"
    code = textwrap.dedent("""
        import runpy, sys
        sys.argv = ["plugtorch", "--version"]
        runpy.run_module("plugtorch", run_name="__main__")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("plugtorch "), done.stderr
