"""`plugtorch bench`: its workloads compute what PyTorch computes, and its table, JSON (read
back by pytest-benchmark), --compare-to ratios and chart are what was measured."""
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import plugtorch
from plugtorch.bench import WORKLOADS, main, select
from plugtorch.bench.runner import Budget, backend_target, measure, stats

ROOT = Path(__file__).resolve().parents[1]
STATS = {"min", "max", "mean", "stddev", "rounds", "median", "iqr", "q1", "q3", "ops",
         "iqr_outliers", "stddev_outliers", "outliers", "ld15iqr", "hd15iqr", "total", "data"}


def _table(out):
    """The printed table as rows of cells (columns are two or more spaces apart)."""
    lines = [ln for ln in out.splitlines() if ln and not ln.startswith(" ")]
    return [re.split(r"\s{2,}", ln) for ln in lines]


def _run(capsys, *argv):
    rc = main(["--quick", *argv])
    out = capsys.readouterr()
    return rc, _table(out.out), out


def test_json_is_pytest_benchmark_layout_and_table_matches(tmp_path, capsys):
    path = tmp_path / "out.json"
    rc, rows, _ = _run(capsys, "--filter", "add", "--backend", "cpu", "--json", str(path))
    assert rc == 0
    data = json.loads(path.read_text())
    assert {"machine_info", "commit_info", "benchmarks", "datetime", "version"} <= set(data)
    names = [w.sized(quick=True)[0] for w in select(["add"], quick=True)]
    assert names == ["add-10-x10", "add-1K"]
    assert [b["name"] for b in data["benchmarks"]] == [f"{n}[cpu]" for n in names]
    for b in data["benchmarks"]:
        assert set(b["stats"]) >= STATS
        assert b["stats"]["rounds"] == len(b["stats"]["data"]) >= 1
        assert b["stats"]["median"] == statistics.median(b["stats"]["data"])
        assert b["fullname"].endswith(b["name"]) and b["params"]["backend"] == "cpu"
    assert rows[0] == ["workload", "cpu"]
    assert [r[0] for r in rows[1:]] == names
    assert all(len(ln) <= 100 for ln in map("  ".join, rows))


def test_pytest_benchmark_compare_reads_the_json(tmp_path, capsys):
    pytest.importorskip("pytest_benchmark")
    path = tmp_path / "out.json"
    assert _run(capsys, "--filter", "matmul-8", "--backend", "cpu", "--json", str(path))[0] == 0
    done = subprocess.run([sys.executable, "-m", "pytest_benchmark", "compare", str(path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "matmul-8[cpu]" in done.stdout and "Failed to load" not in done.stderr + done.stdout


def test_compare_to_gives_ratio_of_json_medians(tmp_path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    args = ["--filter", "add-1K|matmul-16", "--backend", "cpu"]
    assert _run(capsys, *args, "--json", str(first))[0] == 0
    rc, rows, _ = _run(capsys, *args, "--json", str(second), "--compare-to", str(first))
    assert rc == 0
    assert rows[0] == ["workload", "cpu", "vs prev (cpu)"]
    med = [{b["name"]: b["stats"]["median"] for b in json.loads(p.read_text())["benchmarks"]}
           for p in (first, second)]
    assert len(rows) == 3
    for row in rows[1:]:
        name = f"{row[0]}[cpu]"
        assert row[2] == f"{med[0][name] / med[1][name]:.3g}x"


def test_ratio_column_is_ratio_of_medians(tmp_path, capsys):
    path = tmp_path / "out.json"
    rc, rows, _ = _run(capsys, "--filter", "^sum", "--backend", "cpu", "--compare", "torch",
                       "--ratio-to", "torch", "--json", str(path))
    assert rc == 0
    labels = rows[0][1:]
    if labels != ["cpu", "torch"]:
        pytest.skip("PyTorch not installed")
    med = {b["param"]: b["stats"]["median"] for b in json.loads(path.read_text())["benchmarks"]}
    assert rows[1][1].split()[1] == f"{med['torch'] / med['cpu']:.3g}x"
    assert len(rows[1][2].split()) == 1     # the reference column carries no ratio


def test_unavailable_backend_is_skipped_with_a_note(capsys):
    rc, rows, out = _run(capsys, "--filter", "matmul-8", "--backend", "nosuch",
                         "--backend", "cpu")
    assert rc == 0
    assert rows[0] == ["workload", "cpu"]
    assert "skipped backend 'nosuch'" in out.out
    assert main(["--quick", "--backend", "nosuch"]) == 2
    assert "no backend to run" in capsys.readouterr().err


def test_plot_writes_png(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="matplotlib (the `plot` extra) not installed")
    path = tmp_path / "out.png"
    assert _run(capsys, "--filter", "matmul-8", "--backend", "cpu", "--plot", str(path))[0] == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)    # import fails
    rc = main(["--quick", "--filter", "matmul-8", "--plot", str(tmp_path / "x.png")])
    assert rc == 2
    assert "plugtorch[plot]" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_stats_quartiles_match_numpy():
    data = [5.0, 1.0, 4.0, 2.0, 9.0, 3.0, 7.0]
    s = stats(data)
    q1, q3 = np.percentile(data, [25, 75])
    assert (s["q1"], s["q3"], s["iqr"]) == pytest.approx((q1, q3, q3 - q1))
    assert s["median"] == 4.0 and s["min"] == 1.0 and s["max"] == 9.0
    assert s["stddev"] == pytest.approx(np.std(data, ddof=1))
    assert s["ops"] == pytest.approx(1 / np.mean(data))


def _values(out):
    return (out.detach().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)).astype(
        np.float64)


@pytest.mark.parametrize("backend", ["cpu", "opencl"])
@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.sized(True)[0] for w in WORKLOADS])
def test_workload_runs_and_matches_pytorch(workload, backend):
    """Each workload (quick size) runs a timed round on the backend and its first call
    returns what the same code returns under PyTorch."""
    torch = pytest.importorskip("torch")
    if backend not in plugtorch.backends.available():
        pytest.skip(f"backend {backend} not available")
    _, params = workload.sized(quick=True)
    target = backend_target(backend)
    got = workload.setup(plugtorch, backend, **params)()
    want = workload.setup(torch, "cpu", **params)()
    np.testing.assert_allclose(_values(got), _values(want), rtol=1e-3, atol=1e-4)
    fn = workload.setup(plugtorch, backend, **params)
    times = measure(fn, target.sync, Budget(warmup=0, min_rounds=1, max_rounds=1))
    assert len(times) == 1 and times[0] > 0


def test_bench_directory_collects(tmp_path):
    # from outside the checkout, so no plugtorch.egg-info in the working directory adds
    # a second copy of the pytest plugin
    done = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "bench"), "--collect-only",
                           "-q"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ids = re.findall(r"test_workload\[(.+)\]", done.stdout)
    names = [w.sized()[0] for w in WORKLOADS]
    for target in ("cpu", "torch"):
        assert [i[:-len(target) - 1] for i in ids if i.endswith("-" + target)] == names
