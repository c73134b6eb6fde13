"""Deferred checks: errors a device finds are raised at the next host read.

NOTE [deferred index checks]
An index tensor's range must be checked before a kernel uses it, and the check must raise
the same IndexError on every backend. Reading the index's min/max back to the host on every
gather would stall a device's queue on each training step. So, on a device backend, when
the range of an index tensor is not already known on the host, the frontend
  1. computes its (min, max) on the device into a 2-element tensor, queued like any op,
  2. hands the kernel an index clamped into range (no out-of-bounds access can happen),
  3. registers the check here.
The first host read of device memory that follows (`.item()`, `.numpy()`, `.cpu()`,
printing) reads the pending (min, max) pairs and raises the very IndexError the cpu backend raised at the op,
so the error is identical, only its timing follows the device's. Ranges known on the host
skip all of this: index tensors made from host data (a `.to(device)` of labels, a
`tensor(...)` literal) remember their min/max from the upload, and a checked index keeps
its range until its storage is written again.

Pending checks are kept per thread: an op's error raises at the next host read of the
thread that ran the op, never in another thread, and no thread's read can consume (and
so hide) another thread's error.
"""
import threading

import numpy as np

__all__ = ["defer", "flush", "pending"]

_LIMIT = 256           # past this many, flush: bounded memory for code that never reads


class _Local(threading.local):
    def __init__(self):
        # (tensor holding values, check(values as numpy) -> raises or None)
        self.pending = []


LOCAL = _Local()       # host reads test `LOCAL.pending` before calling flush (fast path)


def defer(values, check):
    items = LOCAL.pending
    items.append((values, check))
    if len(items) > _LIMIT:
        flush()


def pending():
    """How many checks this thread has pending."""
    return len(LOCAL.pending)


def flush():
    """Read every pending check of this thread and raise the first error found."""
    if not LOCAL.pending:
        return
    from ._tensor import host_array_nocheck
    items = LOCAL.pending
    LOCAL.pending = []
    for values, check in items:
        check(np.asarray(host_array_nocheck(values)))
