"""`plugtorch bench`: time a suite of workloads on each backend, and PyTorch where installed.

    plugtorch bench [--backend NAME ...] [--compare torch] [--filter PATTERN] [--quick]
                    [--json out.json] [--compare-to previous.json] [--plot out.png]

Each workload (plugtorch.bench.workloads.WORKLOADS) is written once against a module object,
so the same code runs on every plugtorch backend and on PyTorch. The table has a row per
workload and a column per backend; a cell is the median time (or GFLOP/s, GB/s) and the
speed relative to the reference column. `--json` writes pytest-benchmark's JSON layout, so
`pytest-benchmark compare out.json` reads it; `bench/` in the repository runs the same
workloads under pytest-benchmark.

Example:
    >>> from plugtorch.bench import main
    >>> main(["--quick", "--backend", "cpu", "--filter", "matmul-8"])  # doctest: +SKIP
"""
import argparse
import json
import re
import sys

from . import report
from .runner import Budget, backend_target, run, torch_target
from .workloads import WORKLOADS, Workload

__all__ = ["main", "WORKLOADS", "Workload", "select"]


def _parser():
    p = argparse.ArgumentParser(
        prog="plugtorch bench",
        description="Time the benchmark workloads on plugtorch backends (and PyTorch).")
    p.add_argument("--backend", action="append", metavar="NAME",
                   help="a backend to run (repeatable; default: every available backend)")
    p.add_argument("--compare", action="append", choices=["torch"], default=[],
                   help="also run PyTorch (CPU) where it is installed")
    p.add_argument("--filter", action="append", metavar="PATTERN",
                   help="run the workloads whose name or group matches this regular "
                        "expression or substring (repeatable)")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and a few rounds: checks that everything runs")
    p.add_argument("--time", type=float, metavar="SECONDS",
                   help="timed seconds per cell, at least --min-rounds rounds (default 1)")
    p.add_argument("--rounds", type=int, metavar="N", help="at most N timed rounds per cell")
    p.add_argument("--warmup", type=int, metavar="N", help="untimed rounds first (default 2)")
    p.add_argument("--ratio-to", metavar="COLUMN",
                   help="the column ratios refer to (default: cpu, else the first column)")
    p.add_argument("--json", metavar="PATH", help="write the results as pytest-benchmark JSON")
    p.add_argument("--compare-to", metavar="PATH",
                   help="a JSON file of an earlier run: adds each column's speed relative to it")
    p.add_argument("--plot", metavar="PATH", help="draw a bar chart (needs matplotlib)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import a backend plugin module and register it first")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    return p


def select(patterns, workloads=WORKLOADS, quick=False):
    """The workloads whose sized name or group matches any of `patterns` (all if none)."""
    if not patterns:
        return list(workloads)

    def hit(p, text):
        try:
            return re.search(p, text) is not None
        except re.error:
            return p in text
    return [w for w in workloads
            if any(hit(p, w.sized(quick)[0]) or hit(p, w.group) for p in patterns)]


def _targets(args, note):
    import importlib
    import plugtorch
    for mod in args.plugin:
        plugtorch.backends.register(importlib.import_module(mod))
    targets = []
    for name in args.backend or plugtorch.backends.available():
        try:
            targets.append(backend_target(name))
        except RuntimeError as e:   # unknown or unavailable backend
            note(f"skipped backend {name!r}: {e}")
    if "torch" in args.compare:
        try:
            targets.append(torch_target())
        except ImportError:
            note("skipped torch: PyTorch is not installed")
    return targets


def main(argv):
    """Run `plugtorch bench` with command-line arguments `argv`; returns the exit status."""
    args = _parser().parse_args(argv)
    workloads = select(args.filter, quick=args.quick)
    if args.list:
        for w in workloads:
            print(f"{w.sized(args.quick)[0]:<32} {w.group}")
        return 0
    if not workloads:
        print(f"plugtorch bench: no workload matches {args.filter}", file=sys.stderr)
        return 2
    if args.plot and not report.check_plot():
        return 2
    previous = None
    if args.compare_to:
        try:
            previous = report.load_medians(args.compare_to)
        except (OSError, ValueError) as e:
            print(f"plugtorch bench: --compare-to: {e}", file=sys.stderr)
            return 2
    notes = []
    targets = _targets(args, notes.append)
    if not targets:
        print("plugtorch bench: no backend to run\n" + "\n".join(notes), file=sys.stderr)
        return 2
    labels = [t.label for t in targets]
    ratio_to = args.ratio_to or ("cpu" if "cpu" in labels else labels[0])
    if ratio_to not in labels:
        print(f"plugtorch bench: --ratio-to {ratio_to!r} is not a column; columns: "
              f"{', '.join(labels)}", file=sys.stderr)
        return 2

    base = Budget.quick() if args.quick else Budget()
    budget = Budget(warmup=base.warmup if args.warmup is None else args.warmup,
                    min_rounds=base.min_rounds if args.rounds is None
                    else min(base.min_rounds, args.rounds),
                    max_rounds=base.max_rounds if args.rounds is None else args.rounds,
                    max_time=base.max_time if args.time is None else args.time)
    results = run(workloads, targets, budget, quick=args.quick)

    print(report.table(results, labels, ratio_to if len(labels) > 1 else None, previous))
    for line in notes + report.notes(results, ratio_to if len(labels) > 1 else None):
        print(f"  {line}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report.to_json(results, budget, args.quick), f, indent=2)
    if args.plot:
        report.plot(results, labels, args.plot)
    return 1 if any(r.error for r in results) else 0
