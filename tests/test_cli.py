"""The `plugtorch` command (python -m plugtorch): help, version, exit statuses, info,
coverage, conformance (its matrix, failures, fallbacks and reports); and that the
conformance suite catches a backend with wrong kernels."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

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
    assert code == 2 and "invalid choice: 'frobnicate'" in err and "Traceback" not in err
    code, _, err = _run(["coverage", "nosuchdev"])
    assert code == 2 and "unknown device type 'nosuchdev'" in err and "Traceback" not in err


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


# a backend that registers but cannot run here, and one without its own `exp` kernel
# (-k expressions below name "-exp-float32" so that logsumexp and the like stay out)
_FAKES = '''
import plugtorch
from plugtorch_minimal import KERNELS, MinimalBackend


class AbsentBackend(MinimalBackend):
    name = "absent"

    def availability(self):
        return False, "no such hardware on this machine"


class PartialBackend(MinimalBackend):
    name = "partial"
    kernels = {k: v for k, v in KERNELS.items() if k != "exp"}

    def describe(self):
        return [{"device": "partial", "name": "test", "memory": 3 * 2**30 + 2**29}]


@plugtorch.hookimpl
def plugtorch_register_backends(register):
    register("absent", AbsentBackend)
    register("partial", PartialBackend)
'''


@pytest.fixture
def fakes(tmp_path):
    (tmp_path / "ptfakes.py").write_text(textwrap.dedent(_FAKES))
    return tmp_path


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("command", ["", "info", "coverage", "conformance", "demo", "bench"])
def test_help_of_every_command(command, flag):
    code, out, err = _run([command, flag] if command else [flag], timeout=60)
    assert code == 0, err
    assert out.startswith(f"usage: plugtorch {command}".rstrip()), out[:300]
    assert err == ""


def test_version():
    import plugtorch
    code, out, err = _run(["--version"])
    assert (code, out.strip(), err) == (0, f"plugtorch {plugtorch.__version__}", "")


@pytest.mark.parametrize("args, message", [
    ([], "required: COMMAND"),
    (["info", "--bogus"], "unrecognized arguments: --bogus"),
    (["coverage"], "required: NAME"),
    (["conformance"], "required: NAME"),
    (["info", "--plugin"], "expected one argument"),
    (["info", "--plugin", "no_such_plugin_module"], "cannot import it"),
    (["conformance", "minimal", "--plugin", "plugtorch_minimal", "--report", "out.txt"],
     "unknown format '.txt'"),
])
def test_usage_errors_exit_2(args, message):
    code, out, err = _run(args)
    assert code == 2 and message in err, (code, err)
    assert "Traceback" not in err


def test_old_plugin_spelling_still_works():
    code, out, err = _run(["info", "--backend-plugin", "plugtorch_minimal"])
    assert code == 0, err
    assert "minimal      available" in out and "--backend-plugin is deprecated" in err


def test_unavailable_backend_exits_3(fakes):
    for cmd in ("coverage", "conformance"):
        code, out, err = _run([cmd, "absent", "--plugin", "ptfakes"], extra_path=[fakes])
        assert code == 3, (cmd, code, out[-2000:], err)
        assert "not available: no such hardware on this machine" in err
        assert "Traceback" not in err


def test_closed_pipe_is_quiet():
    # the reader is gone before the command writes anything: its output hits a closed pipe
    env = dict(os.environ, PYTHONPATH=EXAMPLE)
    for args in (["coverage", "cpu"], ["info", "--json"]):
        proc = subprocess.Popen([sys.executable, "-m", "plugtorch", *args], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.wait(timeout=60) == 141, err
        assert err == ""


def test_pipe_into_head_shell():
    code = (f"set -o pipefail; PYTHONPATH= {sys.executable!r} -m plugtorch coverage cpu "
            f"| head -1")
    out = subprocess.run(["bash", "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.startswith("backend cpu: ") and len(out.stdout.splitlines()) == 1
    assert "Traceback" not in out.stderr and "BrokenPipeError" not in out.stderr
    assert out.returncode in (0, 141)     # 0 when the command finished before head exited


def test_ctrl_c_exits_130(monkeypatch, capsys):
    from plugtorch import cli
    from plugtorch.cli import _info

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(_info, "info", interrupted)
    assert cli.main(["info"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_info_json_and_human_sizes(fakes):
    code, out, err = _run(["info", "--json", "--plugin", "ptfakes"], extra_path=[fakes])
    assert code == 0, err
    data = json.loads(out)
    backends = {b["name"]: b for b in data["backends"]}
    assert backends["cpu"]["available"] is True and backends["cpu"]["devices"]
    assert backends["absent"] == {"name": "absent", "plugin": "runtime:ptfakes",
                                  "available": False, "devices": [],
                                  "reason": "no such hardware on this machine"}
    assert backends["partial"]["devices"] == [{"device": "partial", "name": "test",
                                             "memory": 3 * 2**30 + 2**29}]
    code, out, err = _run(["info", "--plugin", "ptfakes"], extra_path=[fakes])
    assert code == 0, err
    assert "    partial: name=test, memory=3.5 GiB" in out


def test_human_bytes():
    from plugtorch.cli._info import human_bytes
    assert [human_bytes(n) for n in (0, 1023, 1536, 5 * 2**20, 8 * 2**30, 2**41)] == \
        ["0 B", "1023 B", "1.5 KiB", "5.0 MiB", "8.0 GiB", "2.0 TiB"]


def test_conformance_help_is_ours():
    code, out, err = _run(["conformance", "--help"])
    assert code == 0 and out.startswith("usage: plugtorch conformance")
    assert "pytest.main" not in out and "--report FILE" in out and "-k EXPR" in out


def test_conformance_no_test_selected_exits_2():
    code, out, err = _run(["conformance", "minimal", "--plugin", "plugtorch_minimal", "-k",
                           "no_test_has_this_name"])
    assert code == 2, out[-2000:] + err
    assert "no conformance test was selected" in out


def test_conformance_lists_fallbacks(fakes, tmp_path):
    report = tmp_path / "partial.json"
    code, out, err = _run(["conformance", "partial", "--plugin", "ptfakes", "-k",
                           "test_op_forward and (-exp-float32 or -log-float32)", "--report",
                           str(report)], extra_path=[fakes])
    assert code == 0, out[-3000:] + err
    summary = out[out.index("failures: none"):]
    fallbacks = summary[summary.index("CPU fallbacks: "):summary.index("conformance of")]
    # exp ran on the CPU fallback in one test; log has its own kernel
    assert [line.split()[0] for line in fallbacks.splitlines()[1:] if line.strip()] == ["exp"]
    assert fallbacks.splitlines()[1].split()[-2:] == ["1", "test(s)"]
    rows = _matrix(out)
    assert rows["exp"]["f32"] == "fb" and rows["log"]["f32"] == "ok"
    data = json.loads(report.read_text())
    assert set(data["fallbacks"]) == {"exp"} and data["fallbacks"]["exp"]["tests"] == 1
    assert data["fallbacks"]["exp"]["calls"] >= 1
    assert data["outcomes"]["passed"] == 2 and data["exit_code"] == 0


def test_conformance_strict_fails_on_fallback(fakes):
    code, out, err = _run(["conformance", "partial", "--plugin", "ptfakes", "--strict", "-k",
                           "test_op_forward and -exp-float32"], extra_path=[fakes])
    assert code == 1, out[-3000:] + err
    assert "failures (1):" in out and "test_op_forward[partial-exp-float32]" in out


@pytest.mark.parametrize("ext", ["md", "json", "html"])
def test_conformance_reports(tmp_path, ext):
    (tmp_path / "ptbuggy.py").write_text(textwrap.dedent(_BUGGY))
    report = tmp_path / f"out.{ext}"
    code, out, err = _run(["conformance", "buggy", "--plugin", "ptbuggy", "-k",
                           "test_op_forward and (-add- or -neg-)", "--report", str(report)],
                          extra_path=[tmp_path])
    assert code == 1, out[-3000:] + err
    # the failures come first in the summary, before the fallbacks and the matrix
    summary = out[out.index("failures ("):]
    assert summary.index("failures (") < summary.index("CPU fallbacks") < \
        summary.index("conformance of backend")
    text = report.read_text()
    failed = "test_op_forward[buggy-add-float64]"
    if ext == "json":
        data = json.loads(text)
        assert data["backend"] == "buggy" and data["exit_code"] == 1
        assert failed in {f["test"].rsplit("::", 1)[1] for f in data["failures"]}
        assert data["outcomes"]["failed"] == len(data["failures"]) >= 1
        cols, rows = data["matrix"]["columns"], data["matrix"]["rows"]
        assert dict(zip(cols, rows["add"]))["f64"] == "FAIL"
        assert dict(zip(cols, rows["neg"]))["f64"] == "ok"
    elif ext == "md":
        assert text.startswith("# Conformance of backend `buggy`")
        assert f"{failed}`" in text and "| add |" in text and "FAIL" in text
    else:
        assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
        assert failed in text and "<td>FAIL</td>" in text
