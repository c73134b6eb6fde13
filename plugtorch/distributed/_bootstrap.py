"""Run one rank of `plugtorch run`: ``python -m plugtorch.distributed._bootstrap SCRIPT
[ARGS]`` (or ``-m MODULE [ARGS]``) under mpiexec.

Sets PyTorch's launcher variables from Open MPI's, then runs the script as __main__. An
uncaught exception, or a non-zero exit, calls MPI Abort so that mpiexec ends every rank
instead of leaving the others waiting in a collective.
"""
import os
import runpy
import sys
import traceback


def _environ():
    env = os.environ
    for var, ompi, default in (("RANK", "OMPI_COMM_WORLD_RANK", "0"),
                               ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "1"),
                               ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "0"),
                               ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "1")):
        env[var] = env.get(ompi, env.get(var, default))
    env.setdefault("MASTER_ADDR", "127.0.0.1")
    env.setdefault("MASTER_PORT", "29500")


def _abort(code):
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        from mpi4py import MPI
        MPI.COMM_WORLD.Abort(code)
    finally:
        os._exit(code)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[:1] == ["-m"] and len(argv) < 2:
        print("usage: python -m plugtorch.distributed._bootstrap (SCRIPT | -m MODULE) [ARGS]",
              file=sys.stderr)
        return 2
    _environ()
    try:
        if argv[0] == "-m":
            sys.argv = argv[1:]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = argv
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) or e.code is None else 1
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
        if code:
            _abort(code)
        return 0
    except BaseException:
        print(f"plugtorch run: rank {os.environ['RANK']} failed:", file=sys.stderr)
        traceback.print_exc()
        _abort(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
