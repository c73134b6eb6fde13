"""Debug counters: host transfers and CPU fallbacks, per backend.

Example:
    >>> import plugtorch
    >>> plugtorch.debug.reset_counters()
    >>> _ = plugtorch.ones(3) + 1              # cpu: no transfer, no fallback
    >>> plugtorch.debug.counters()
    {}
"""
from ._dispatch import COUNTERS

__all__ = ["counters", "reset_counters", "transfers", "fallbacks"]


def counters():
    """A dict: ("to_host", backend) / ("to_device", backend) -> count,
    ("fallback", backend, op) -> count."""
    return dict(COUNTERS)


def reset_counters():
    COUNTERS.clear()


def transfers(backend):
    """Host transfers (either direction) counted for `backend` since the last reset."""
    return sum(v for k, v in COUNTERS.items() if k[0] in ("to_host", "to_device") and
               k[1] == backend)


def fallbacks(backend):
    """{op: count} of CPU fallbacks run for `backend` since the last reset."""
    return {k[2]: v for k, v in COUNTERS.items() if k[0] == "fallback" and k[1] == backend}
