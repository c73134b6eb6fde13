"""The `plugtorch` command (python -m plugtorch): info, coverage, conformance; and that the
conformance suite catches a backend with wrong kernels."""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "minimal_backend")

_BUGGY = '''
"""A backend with two planted bugs, to show that the conformance suite finds them."""
import numpy as np
import plugtorch
from plugtorch_minimal import KERNELS, MinimalBackend, _view


def _exp_ignoring_strides(out, x):
    # bug: reads the input as if it were contiguous from its offset
    buf = x._storage.data.array
    n = out.numel()
    _view(out)[...] = np.exp(buf[x._offset:x._offset + n]).reshape(out.shape)


def _add_in_float32(out, a, b):
    # bug: float64 additions lose precision
    o = _view(out)
    av = _view(a) if isinstance(a, plugtorch.Tensor) else a
    bv = _view(b) if isinstance(b, plugtorch.Tensor) else b
    r = np.add(av, bv)
    o[...] = r.astype(np.float32) if o.dtype == np.float64 else r


class BuggyBackend(MinimalBackend):
    name = "buggy"
    kernels = dict(KERNELS, exp=_exp_ignoring_strides, add=_add_in_float32)


@plugtorch.hookimpl
def plugtorch_register_backends(register):
    register("buggy", BuggyBackend)
'''


def _run(args, extra_path=(), timeout=120):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([EXAMPLE, *map(str, extra_path)]))
    out = subprocess.run([sys.executable, "-m", "plugtorch", *args], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=timeout)
    return out.returncode, out.stdout, out.stderr


def _matrix(stdout):
    """Rows of the printed op x dtype matrix: op -> {column: status}."""
    lines = stdout.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("conformance of backend"))
    header = lines[start + 1].split()
    rows = {}
    for line in lines[start + 2:]:
        if line.startswith("cells:"):
            break
        name, *cells = line.split()
        rows[name] = dict(zip(header, cells))
    return rows


def test_info_lists_backends_and_devices():
    code, out, err = _run(["info", "--plugin", "plugtorch_minimal"])
    assert code == 0, err
    assert "cpu          available" in out and "minimal      available" in out
    assert "    minimal: name=numpy arrays" in out


def test_coverage_lists_fallbacks():
    code, out, err = _run(["coverage", "minimal", "--plugin", "plugtorch_minimal"])
    assert code == 0, err
    sections = {l.split(" (")[0]: l.split(": ", 1)[1].split() for l in out.splitlines()
                if " (" in l and ": " in l}
    assert {"exp", "sort", "scatter", "uniform"} <= set(sections["native"])
    assert {"cos", "cumsum", "argmax", "nonzero"} <= set(sections["decomposed"])
    assert sections["CPU fallback"] == ["-"]
    assert out.startswith("backend minimal: 24/24 required primitives, 0/44 optional")


def test_unknown_command_and_backend():
    code, _, err = _run(["frobnicate"])
    assert code == 2 and "unknown command" in err
    code, _, err = _run(["coverage", "nosuchdev"])
    assert code != 0 and "unknown device type 'nosuchdev'" in err


def test_conformance_matrix_on_minimal():
    code, out, err = _run(["conformance", "minimal", "--plugin", "plugtorch_minimal",
                           "--strict", "-k", "exp or sort"])
    assert code == 0, out[-3000:] + err
    rows = _matrix(out)
    assert rows["exp"]["f32"] == "ok" and rows["exp"]["grad"] == "ok"
    assert rows["exp"]["f16"] == "unsup"           # minimal has no float16
    assert rows["sort"]["f64"] == "ok"              # strict: no CPU fallback anywhere


def test_conformance_finds_planted_bugs(tmp_path):
    (tmp_path / "ptbuggy.py").write_text(textwrap.dedent(_BUGGY))
    code, out, err = _run(["conformance", "buggy", "--plugin", "ptbuggy", "-k",
                           "exp or add"], extra_path=[tmp_path])
    assert code == 1, out[-3000:] + err
    rows = _matrix(out)
    assert rows["exp"]["f32"] == "FAIL" and rows["exp"]["f64"] == "FAIL"
    assert rows["add"]["f64"] == "FAIL" and rows["add"]["i64"] == "ok"
    assert rows["add"]["f32"] == "ok"
    assert "test_op_noncontiguous[buggy-exp-float32]" in out
    assert "test_op_forward[buggy-exp-float32]" not in out   # contiguous inputs are fine
