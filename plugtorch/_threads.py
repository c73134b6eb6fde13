"""set_num_threads / get_num_threads: the host threads one op may use.

As in PyTorch, the default is one thread per core this process may run on, or
OMP_NUM_THREADS when it is set; each started backend is told the number (Backend.
set_num_threads). The cpu backend splits large elementwise and row-wise kernels over that
many threads (NOTE [intra-op threads] in plugtorch_cpu/threads.py); numpy's matrix products
use OpenBLAS's own threads, which OPENBLAS_NUM_THREADS sets at start-up.
"""
import operator
import os

__all__ = ["set_num_threads", "get_num_threads"]


def _default():
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


_threads = _default()


def get_num_threads():
    """The number of threads an op may use on the host.

    Example:
        >>> import plugtorch as torch
        >>> torch.get_num_threads() >= 1
        True
    """
    return _threads


def set_num_threads(n):
    """Let one op use up to `n` host threads (1: every op runs on the calling thread).

    Results do not depend on it: the cpu backend splits a kernel only across elements that
    it computes independently.

    Example:
        >>> import plugtorch as torch
        >>> old = torch.get_num_threads()
        >>> torch.set_num_threads(1)
        >>> torch.get_num_threads()
        1
        >>> torch.set_num_threads(old)
    """
    global _threads
    try:
        count = operator.index(n)
    except TypeError:
        count = 0
    if count < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n!r}")
    _threads = n = count
    from . import backends
    for backend in backends.started():
        backend.set_num_threads(n)
