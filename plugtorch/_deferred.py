"""Deferred checks: errors a device finds are raised at the next host read.

NOTE [deferred index checks]
An index tensor's range must be checked before a kernel uses it, and the check must raise
the same IndexError on every backend. Reading the index's min/max back to the host on every
gather would stall a device's queue on each training step. So, on a device backend, when
the range of an index tensor is not already known on the host, the frontend
  1. computes its (min, max) on the device into a 2-element tensor, queued like any op,
  2. hands the kernel an index clamped into range (no out-of-bounds access can happen),
  3. registers the check here.
The first host read that follows (`.item()`, `.numpy()`, `.cpu()`, printing) reads the
pending (min, max) pairs and raises the very IndexError the cpu backend raised at the op,
so the error is identical, only its timing follows the device's. Ranges known on the host
skip all of this: index tensors made from host data (a `.to(device)` of labels, a
`tensor(...)` literal) remember their min/max from the upload, and a checked index keeps
its range until its storage is written again.
"""
import numpy as np

__all__ = ["defer", "flush", "pending"]

_PENDING = []          # (tensor holding values, check(values as numpy) -> raises or None)
_LIMIT = 256           # past this many, flush: bounded memory for code that never reads


def defer(values, check):
    _PENDING.append((values, check))
    if len(_PENDING) > _LIMIT:
        flush()


def pending():
    return len(_PENDING)


def flush():
    """Read every pending check's values and raise the first error found."""
    if not _PENDING:
        return
    from ._tensor import host_array_nocheck
    items = list(_PENDING)
    _PENDING.clear()
    for values, check in items:
        check(np.asarray(host_array_nocheck(values)))
