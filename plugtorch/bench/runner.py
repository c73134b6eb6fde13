"""Where and how workloads are timed: targets (a backend, or PyTorch), rounds and statistics.

NOTE [bench timing]: one round is one call of the workload followed by a synchronize of the
target's device, both inside the timed region, so a backend with an asynchronous queue is
timed for finished work, not for enqueued work. Each cell runs `warmup` untimed rounds
(compiling kernels, filling caches), then timed rounds until `max_time` seconds have passed
with at least `min_rounds` rounds, or `max_rounds` rounds.
"""
import importlib
import statistics
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Target:
    label: str          # column name: a backend name, or "torch"
    module: object      # the plugtorch or torch module a workload's setup gets
    device: str
    sync: Callable[[], None]


@dataclass(frozen=True)
class Budget:
    warmup: int = 2
    min_rounds: int = 5
    max_rounds: int = 1000
    max_time: float = 1.0

    @classmethod
    def quick(cls):
        return cls(warmup=1, min_rounds=1, max_rounds=3, max_time=0.02)


def backend_target(name):
    """The Target for plugtorch backend `name` (its device 0)."""
    import plugtorch
    backend = plugtorch.backends.get(name)
    return Target(name, plugtorch, name, lambda: backend.synchronize(0))


def torch_target():
    """The Target for PyTorch on the CPU; raises ImportError where it is not installed."""
    torch = importlib.import_module("torch")
    return Target("torch", torch, "cpu", lambda: None)


def measure(fn, sync, budget):
    """Seconds per round of `fn(); sync()` (NOTE [bench timing])."""
    for _ in range(budget.warmup):
        fn()
        sync()
    data, clock = [], time.perf_counter
    start = clock()
    while len(data) < budget.max_rounds and (len(data) < budget.min_rounds
                                             or clock() - start < budget.max_time):
        t0 = clock()
        fn()
        sync()
        data.append(clock() - t0)
    return data


def _quartiles(s):
    if len(s) == 1:
        return s[0], s[0]
    q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
    return q1, q3


def stats(data):
    """pytest-benchmark's stats fields for the round times `data` (seconds)."""
    s = sorted(data)
    mean, median = statistics.fmean(s), statistics.median(s)
    stddev = statistics.stdev(s) if len(s) > 1 else 0.0
    q1, q3 = _quartiles(s)
    iqr = q3 - q1
    low, high = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    iqr_outliers = sum(1 for v in s if v < low or v > high)
    stddev_outliers = sum(1 for v in s if abs(v - mean) > stddev)
    return {
        "min": s[0], "max": s[-1], "mean": mean, "stddev": stddev, "rounds": len(s),
        "median": median, "iqr": iqr, "q1": q1, "q3": q3,
        "iqr_outliers": iqr_outliers, "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": next(v for v in s if v >= low),
        "hd15iqr": next(v for v in reversed(s) if v <= high),
        "ops": 1 / mean if mean > 0 else 0.0, "total": sum(s), "iterations": 1, "data": list(data),
    }


@dataclass
class Result:
    workload: str       # sized name
    group: str
    target: str
    params: dict
    stats: dict = None  # None when the workload failed on this target
    error: str = ""
    flops: float = None
    nbytes: float = None


def run(workloads, targets, budget, quick=False, progress=None):
    """Time every workload on every target; a failure becomes a Result with `error` set."""
    results = []
    for w in workloads:
        name, params = w.sized(quick)
        for t in targets:
            if progress:
                progress(f"{name} [{t.label}]")
            r = Result(name, w.group, t.label, params,
                       flops=w.flops(**params) if w.flops else None,
                       nbytes=w.nbytes(**params) if w.nbytes else None)
            try:
                fn = w.setup(t.module, t.device, **params)
                r.stats = stats(measure(fn, t.sync, budget))
            except Exception as e:  # a backend lacking an op must not stop the suite
                r.error = f"{type(e).__name__}: {e}".splitlines()[0][:200]
            results.append(r)
    return results
