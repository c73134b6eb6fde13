"""Work handles, and moving tensors to and from the host buffers MPI reads and writes.

NOTE [host staging]
The MPI backend hands MPI numpy arrays. A tensor on any device is copied to a contiguous
host array before a collective and the result copied back into the tensor when the
collective completes, so collectives work for every backend whether or not the MPI is
device-aware (none is assumed). float16 travels as float32 and bool as uint8 (MPI has
no float16 reduction and no MAX/MIN/SUM on booleans); the result is cast back.

NOTE [collective timeout]
Every collective is started non-blocking and `Work.wait` polls it against the process
group's timeout, so a rank that died or never reached the same call makes the others
raise a RuntimeError naming the collective instead of hanging. The launcher's bootstrap
turns an uncaught exception into MPI Abort, which makes mpiexec end every rank.
"""
import time

import numpy as np

__all__ = ["Work", "to_host", "from_host"]

_WIRE = {np.dtype(np.float16): np.dtype(np.float32), np.dtype(np.bool_): np.dtype(np.uint8)}


def to_host(t):
    """A new contiguous host array holding `t`'s values, in the dtype MPI carries."""
    a = t.detach().cpu().numpy()
    return np.array(a, dtype=_WIRE.get(a.dtype, a.dtype), order="C", copy=True)


def empty_host(t, shape=None):
    """An uninitialised host array for receiving values of `t`'s dtype."""
    dt = t.dtype.np
    return np.empty(t.shape if shape is None else shape, dtype=_WIRE.get(dt, dt))


def from_host(t, a):
    """Write host array `a` (any shape with t's element count) into tensor `t` in place."""
    from .. import from_numpy
    src = from_numpy(np.ascontiguousarray(a).reshape(tuple(t.shape)))
    t.detach().copy_(src.to(t.dtype))


_SPIN = 2e-4      # seconds of polling without sleeping (a sleep lasts >= ~50 us on Linux)


class Work:
    """The handle an ``async_op=True`` collective returns (and the one blocking calls wait on).

    ``wait()`` blocks until the collective has completed on this rank and its result is in
    the output tensors, raising RuntimeError after the group's timeout (NOTE [collective
    timeout]); ``is_completed()`` asks without blocking.
    """

    def __init__(self, what, requests, finish=None, timeout=None, result=(), keep=(),
                 statuses=None):
        self._what = what
        self._requests = list(requests)
        self._keep = keep              # host buffers MPI uses until the requests complete
        self._statuses = statuses
        self._finish = finish
        self._timeout = timeout
        self._result = list(result)
        self._done = False

    def _test(self):
        from mpi4py import MPI
        if not self._done and MPI.Request.Testall(self._requests, self._statuses):
            self._done = True
            if self._finish is not None:
                self._finish()
        return self._done

    def is_completed(self):
        """True once the collective has completed and its output is written."""
        return self._test()

    def is_success(self):
        return self._test()

    def wait(self, timeout=None):
        """Block until done; RuntimeError if the group's timeout (or `timeout`, a
        timedelta or seconds) passes first. Returns True."""
        limit = _seconds(timeout if timeout is not None else self._timeout)
        start = time.monotonic()
        pause = 1e-6
        while not self._test():
            waited = time.monotonic() - start
            if waited > limit:
                raise RuntimeError(
                    f"{self._what}: timed out after {limit:g} s waiting for the other ranks "
                    f"(a rank may have failed, or not called the same collective)")
            if waited > _SPIN:
                time.sleep(pause)
                pause = min(pause * 2, 1e-3)
        return True

    def result(self):
        """The output tensors of the collective."""
        self.wait()
        return self._result

    def get_future(self):
        raise NotImplementedError("Work.get_future: futures are not supported by the MPI "
                                  "backend; call wait()")


def _seconds(timeout):
    if timeout is None:
        return 1800.0
    return float(timeout.total_seconds() if hasattr(timeout, "total_seconds") else timeout)
