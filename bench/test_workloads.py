"""The `plugtorch bench` workloads under pytest-benchmark: every workload of
plugtorch.bench.WORKLOADS on every available backend, and on PyTorch where it is installed.
A round is one call plus a device synchronize (NOTE [bench timing] in
plugtorch/bench/runner.py). Compare ratios within one run: the machine may be shared.

    pytest bench/test_workloads.py --benchmark-only --benchmark-group-by=group \
        --benchmark-columns=median,iqr,rounds

GFLOP/s and GB/s are in each case's extra_info (`--benchmark-json`).
"""
import pytest

import plugtorch
from plugtorch.bench import WORKLOADS
from plugtorch.bench.runner import backend_target, torch_target


def _targets():
    out = [pytest.param(name, id=name) for name in plugtorch.backends.available()]
    return out + [pytest.param("torch", id="torch")]


@pytest.mark.parametrize("target", _targets())
@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.sized()[0] for w in WORKLOADS])
def test_workload(benchmark, workload, target):
    if target == "torch":
        try:
            t = torch_target()
        except ImportError:
            pytest.skip("PyTorch not installed")
    else:
        t = backend_target(target)
    name, params = workload.sized()
    benchmark.group = name
    fn = workload.setup(t.module, t.device, **params)

    def step():
        fn()
        t.sync()
    benchmark(step)
    if benchmark.stats is not None:
        median = benchmark.stats.stats.median
        if workload.flops:
            benchmark.extra_info["gflops"] = round(workload.flops(**params) / median / 1e9, 2)
        if workload.nbytes:
            benchmark.extra_info["GB/s"] = round(workload.nbytes(**params) / median / 1e9, 2)
