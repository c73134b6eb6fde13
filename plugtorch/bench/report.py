"""Reporting bench results: the terminal table, pytest-benchmark JSON and a bar chart."""
import datetime
import json
import os
import platform
import sys

JSON_VERSION = "5.1.0"      # the pytest-benchmark JSON layout these files follow


def fmt_time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g}{unit}"
    return f"{seconds * 1e9:.3g}ns"


def fmt_ratio(r):
    return f"{r:.3g}x"


def cell_value(r):
    """The figure a table cell shows: GFLOP/s or GB/s where the work is known, else time."""
    median = r.stats["median"]
    if r.flops:
        return f"{r.flops / median / 1e9:.3g}GF/s"
    if r.nbytes:
        return f"{r.nbytes / median / 1e9:.3g}GB/s"
    return fmt_time(median)


def _by_key(results):
    return {(r.workload, r.target): r for r in results}


def table(results, targets, ratio_to=None, previous=None):
    """The results as text: a row per workload, a column per target. A cell is the median
    (as time, GFLOP/s or GB/s) and its speed relative to the `ratio_to` column (reference
    median / this median: above 1 is faster). With `previous` (name -> median seconds from
    an earlier run), a last column gives each target's speed relative to that run."""
    cells = _by_key(results)
    names = list(dict.fromkeys(r.workload for r in results))
    head = ["workload"] + targets
    if previous is not None:
        head.append("vs prev (" + "/".join(targets) + ")")
    rows = []
    for name in names:
        row = [name]
        ref = cells.get((name, ratio_to))
        for t in targets:
            r = cells.get((name, t))
            if r is None or r.stats is None:
                row.append("error" if r is not None else "-")
                continue
            text = cell_value(r)
            if ref is not None and ref.stats is not None and t != ratio_to:
                text += " " + fmt_ratio(ref.stats["median"] / r.stats["median"])
            row.append(text)
        if previous is not None:
            ratios = []
            for t in targets:
                r, before = cells.get((name, t)), previous.get(bench_name(name, t))
                ok = r is not None and r.stats is not None and before
                ratios.append(fmt_ratio(before / r.stats["median"]) if ok else "-")
            row.append("/".join(ratios))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows + [head]) for i in range(len(head))]
    line = lambda row: "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([line(head)] + [line(row) for row in rows])


def notes(results, ratio_to):
    out = []
    if ratio_to:
        out.append(f"cells: median time, or GF/s / GB/s; Nx = speed relative to {ratio_to}"
                   f" (higher is faster)")
    for r in results:
        if r.error:
            out.append(f"{r.workload} [{r.target}] failed: {r.error}")
    return out


# ----------------------------------------------------------------------------- JSON

def bench_name(workload, target):
    return f"{workload}[{target}]"


def to_json(results, budget, quick):
    """A dict in pytest-benchmark's JSON layout (`pytest-benchmark compare` reads it)."""
    import plugtorch
    machine = {
        "node": platform.node(), "processor": platform.processor(),
        "machine": platform.machine(), "python_compiler": platform.python_compiler(),
        "python_implementation": platform.python_implementation(),
        "python_implementation_version": platform.python_version(),
        "python_version": platform.python_version(), "python_build": platform.python_build(),
        "release": platform.release(), "system": platform.system(),
        "cpu": {"count": os.cpu_count()}, "plugtorch": plugtorch.__version__,
    }
    options = {"warmup": budget.warmup, "min_rounds": budget.min_rounds,
               "max_rounds": budget.max_rounds, "max_time": budget.max_time,
               "timer": "perf_counter", "disable_gc": False, "quick": quick}
    benchmarks = []
    for r in results:
        if r.stats is None:
            continue
        extra = {"category": r.group}
        if r.flops:
            extra["gflops"] = r.flops / r.stats["median"] / 1e9
        if r.nbytes:
            extra["gbps"] = r.nbytes / r.stats["median"] / 1e9
        name = bench_name(r.workload, r.target)
        benchmarks.append({
            "group": r.workload, "name": name, "fullname": f"plugtorch.bench::{name}",
            "params": {"backend": r.target, **r.params}, "param": r.target,
            "extra_info": extra, "options": options, "stats": r.stats})
    return {"machine_info": machine, "commit_info": {"project": "plugtorch"},
            "benchmarks": benchmarks,
            "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "version": JSON_VERSION}


def load_medians(path):
    """name -> median seconds, from a JSON file written by --json (or by pytest-benchmark)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    try:
        return {b["name"]: b["stats"]["median"] for b in data["benchmarks"]}
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a pytest-benchmark JSON file (missing {e})") from e


# ----------------------------------------------------------------------------- chart

PLOT_MISSING = ("--plot needs matplotlib, which is not installed; install it with "
                "`pip install 'plugtorch[plot]'`")


def check_plot():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(f"plugtorch bench: {PLOT_MISSING}", file=sys.stderr)
        return False
    return True


def plot(results, targets, path):
    """Grouped bars: a group per workload, a bar per target, median time on a log scale."""
    from matplotlib.figure import Figure
    cells = _by_key(results)
    names = list(dict.fromkeys(r.workload for r in results))
    fig = Figure(figsize=(max(6.0, 0.6 * len(names) * max(1, len(targets)) / 2 + 2), 4.5))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(targets))
    for i, t in enumerate(targets):
        xs, ys = [], []
        for j, name in enumerate(names):
            r = cells.get((name, t))
            if r is not None and r.stats is not None:
                xs.append(j + (i - (len(targets) - 1) / 2) * width)
                ys.append(r.stats["median"])
        ax.bar(xs, ys, width, label=t)
    ax.set_yscale("log")
    ax.set_ylabel("median time per call (s)")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=40, ha="right", fontsize=8)
    ax.legend()
    ax.set_title("plugtorch bench")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
