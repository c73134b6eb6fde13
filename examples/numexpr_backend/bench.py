"""Time and peak memory of a few ops on the numexpr backend and on cpu (README's table).

    python bench.py [--numel N] [--dtype float32|float64]

Time is the best of five runs; memory is the peak of numpy's allocations during one run
(tracemalloc), in units of the result's size: 1.0 means the result and nothing else.
"""
import argparse
import time
import tracemalloc

import numexpr
import numpy as np

import plugtorch
import plugtorch_numexpr

plugtorch.backends.register(plugtorch_numexpr)    # a no-op where the entry point found it

OPS = {
    "x + y": lambda x, y: x + y,
    "exp": lambda x, y: x.exp(),
    "tanh": lambda x, y: x.tanh(),
    "sigmoid": lambda x, y: x.sigmoid(),
    "erf": lambda x, y: x.erf(),
    "remainder": lambda x, y: x.remainder(y),
    "softmax(dim=1)": lambda x, y: x.softmax(1),
    "log_softmax(dim=1)": lambda x, y: x.log_softmax(1),
}


def measure(fn, x, y):
    fn(x, y)                                    # compiles numexpr's program once
    best = min(_timed(fn, x, y) for _ in range(5))
    tracemalloc.start()
    out = fn(x, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak / (out.numel() * out.element_size())


def _timed(fn, x, y):
    start = time.perf_counter()
    fn(x, y)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numel", type=int, default=1 << 22)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()
    dtype = getattr(plugtorch, args.dtype)
    plugtorch.manual_seed(0)
    x = plugtorch.randn(args.numel // 1024, 1024, dtype=dtype)
    y = plugtorch.rand(args.numel // 1024, 1024, dtype=dtype) + 0.5
    print(f"{args.numel} {args.dtype} elements; numpy {np.__version__}, numexpr "
          f"{numexpr.__version__} on {numexpr.get_num_threads()} threads\n")
    print("| op | cpu | numexpr | cpu memory | numexpr memory |")
    print("|---|---|---|---|---|")
    for name, fn in OPS.items():
        (tc, mc), (tn, mn) = (measure(fn, x.to(d), y.to(d)) for d in ("cpu", "numexpr"))
        print(f"| {name} | {tc * 1e3:.1f} ms | {tn * 1e3:.1f} ms | {mc:.1f} | {mn:.1f} |")


if __name__ == "__main__":
    main()
