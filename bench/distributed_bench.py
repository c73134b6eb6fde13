"""all_reduce bandwidth against raw mpi4py, and a DistributedDataParallel training step.

    plugtorch run --nproc-per-node 2 bench/distributed_bench.py [--json results.json]
    plugtorch run --nproc-per-node 1 bench/distributed_bench.py     # DDP step, 1 process only

all_reduce: float32 buffers of 1 KB to 16 MB, summed over the ranks by raw mpi4py
(`comm.Allreduce` on numpy arrays) and by plugtorch.distributed.all_reduce on cpu and on
opencl tensors of the same values. The three run in turn within every repetition, each
after a barrier; the table gives the median time on rank 0 as bandwidth (bytes / time)
and plugtorch's bandwidth over mpi4py's.

DDP: one SGD step (forward, cross-entropy, backward with the gradient all-reduce, update)
of an MLP 784-256-256-10 on a global batch of 128, by 1 process (rank 0 alone, with DDP
over a group of one) and by every rank (128 / world size rows each), in alternating
blocks so both see the same machine load. Median step time on rank 0 and the speed-up.
"""
import argparse
import json
import statistics
import time

import numpy as np

import plugtorch as torch
import plugtorch.distributed as dist
from plugtorch import nn
from plugtorch.nn.parallel import DistributedDataParallel as DDP

SIZES = (1 << 10, 64 << 10, 1 << 20, 16 << 20)


def _reps(nbytes):
    return max(10, min(200, (64 << 20) // (nbytes * 8)))


def _sync(t):
    if t.device.type != "cpu":
        torch.backends.get(t.device.type).synchronize(t.device.index or 0)


def bench_all_reduce(devices, scale):
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rows = []
    for nbytes in SIZES:
        values = np.random.default_rng(comm.rank).standard_normal(nbytes // 4)
        values = values.astype(np.float32)
        recv = np.empty_like(values)
        tensors = {dev: torch.tensor(values, device=dev) for dev in devices}

        def mpi4py():
            comm.Allreduce(values, recv, MPI.SUM)

        def plugtorch_on(dev):
            def run():
                dist.all_reduce(tensors[dev])
                _sync(tensors[dev])
            return run
        cases = {"mpi4py": mpi4py, **{dev: plugtorch_on(dev) for dev in devices}}
        times = {name: [] for name in cases}
        for rep in range(max(3, int(_reps(nbytes) * scale)) + 2):
            for name, run in cases.items():
                comm.Barrier()
                t0 = time.perf_counter()
                run()
                if rep >= 2:                                    # two warm-up rounds
                    times[name].append(time.perf_counter() - t0)
        rows.append({"bytes": nbytes, **{name: statistics.median(ts)
                                         for name, ts in times.items()}})
    return rows


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def bench_ddp(steps, blocks, batch=128):
    rank, world = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.standard_normal((batch, 784)).astype(np.float32))
    Y = torch.tensor(rng.integers(0, 10, batch))
    loss_fn = nn.CrossEntropyLoss()

    def trainer(group, x, y):
        model = DDP(_mlp(), process_group=group)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)

        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        return step

    share = batch // world
    many = trainer(None, X[rank * share:(rank + 1) * share], Y[rank * share:(rank + 1) * share])
    runs = [(world, many)]
    if world > 1:
        alone = dist.new_group([0])
        runs.insert(0, (1, trainer(alone, X, Y) if rank == 0 else None))
    times = {procs: [] for procs, _ in runs}
    for block in range(blocks):
        for procs, step in runs:
            dist.barrier()
            if procs == 1 and rank != 0:
                continue
            for i in range(steps + 1):
                t0 = time.perf_counter()
                step()
                if i:                                           # the first step warms up
                    times[procs].append(time.perf_counter() - t0)
    return {procs: statistics.median(ts) for procs, ts in times.items() if ts}


def _gbs(nbytes, seconds):
    return nbytes / seconds / 1e9


def _size(nbytes):
    return f"{nbytes >> 20} MB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KB"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", metavar="PATH", help="also write the figures to PATH (rank 0)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply the all_reduce repetitions by this (default 1)")
    p.add_argument("--ddp-steps", type=int, default=5, help="timed steps per block")
    p.add_argument("--ddp-blocks", type=int, default=4, help="alternating blocks")
    args = p.parse_args(argv)
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    devices = [d for d in ("cpu", "opencl") if d in torch.backends.available()]
    rows = bench_all_reduce(devices, args.scale) if world > 1 else []
    ddp = bench_ddp(args.ddp_steps, args.ddp_blocks)
    dist.destroy_process_group()
    if rank:
        return
    if rows:
        print(f"all_reduce, float32 SUM, {world} processes: median GB/s (ratio to mpi4py)")
        print(f"{'size':>6} {'mpi4py':>8}" + "".join(f" {'plugtorch ' + d:>24}" for d in devices))
        for row in rows:
            ref = _gbs(row["bytes"], row["mpi4py"])
            gbs = [_gbs(row["bytes"], row[d]) for d in devices]
            print(f"{_size(row['bytes']):>6} {ref:8.4f}"
                  + "".join(f" {g:>15.4f} ({g / ref:5.2f}x)" for g in gbs))
    print("DDP step, MLP 784-256-256-10, global batch 128, SGD, cpu: median ms")
    print("  ".join(f"{n} process{'es' if n > 1 else ''}: {s * 1e3:.1f}"
                    for n, s in sorted(ddp.items()))
          + (f"  speed-up: {ddp[1] / ddp[world]:.2f}x" if world > 1 else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"world_size": world, "all_reduce_seconds": rows,
                       "ddp_step_seconds": {str(n): s for n, s in ddp.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
