"""The cpu backend's intra-op threads: each workload of `plugtorch bench` on 1 thread and on
N (default: plugtorch.get_num_threads()), in one process.

    python bench/threads.py [--threads N] [--filter NAME ...] [--rounds R]

Within every round both settings run, in alternating order (the machine's drift hits both
alike); the table gives the median time of each and the ratio N / 1 (below 1: faster with
threads). Results are the same for any thread count (tests/test_intraop_threads.py); this
measures only time.
"""
import argparse
import statistics
import time

import plugtorch as torch
from plugtorch.bench import WORKLOADS


def _time(fn, budget=0.05):
    fn()
    t = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t, 1e-6)
    n = max(1, int(budget / once))
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--filter", action="append", default=[],
                   help="run the workloads whose name contains this (repeatable)")
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args(argv)
    many = args.threads
    if many < 2:
        raise SystemExit("threads.py: needs --threads 2 or more to compare with 1")
    print(f"{'workload':36s} {'1 thread':>12s} {f'{many} threads':>12s}  ratio")
    for w in WORKLOADS:
        name = w.name.format(**w.params)
        if args.filter and not any(f in name for f in args.filter):
            continue
        fn = w.setup(torch, "cpu", **w.params)
        times = {1: [], many: []}
        for r in range(args.rounds):
            for n in ((1, many) if r % 2 else (many, 1)):
                torch.set_num_threads(n)
                times[n].append(_time(fn))
        one, par = statistics.median(times[1]), statistics.median(times[many])
        print(f"{name:36s} {one * 1e3:9.3f} ms {par * 1e3:9.3f} ms  {par / one:5.2f}x",
              flush=True)
    torch.set_num_threads(many)


if __name__ == "__main__":
    main()
