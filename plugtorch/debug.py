"""Debug counters: host transfers and CPU fallbacks, per backend.

Example:
    >>> import plugtorch
    >>> plugtorch.debug.reset_counters()
    >>> _ = plugtorch.ones(3) + 1              # cpu: no transfer, no fallback
    >>> plugtorch.debug.counters()
    {}
"""
from ._dispatch import COUNTERS, FallbackError, FallbackWarning, is_strict, set_strict

__all__ = ["counters", "reset_counters", "transfers", "fallbacks", "strict", "is_strict",
           "FallbackError", "FallbackWarning"]


class _Strict:
    def __init__(self, enabled):
        self.previous = set_strict(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        set_strict(self.previous)
        return False


def strict(enabled=True):
    """Strict mode: a primitive that would run on the CPU fallback raises `FallbackError`.

    Takes effect at once, for the whole process (every thread); used as a context manager it
    restores the previous setting on exit. `PLUGTORCH_STRICT=1` turns it on at start-up.

    Example:
        >>> import plugtorch
        >>> with plugtorch.debug.strict():
        ...     (plugtorch.ones(2) * 2).tolist()      # the cpu backend has every kernel
        [2.0, 2.0]
    """
    return _Strict(enabled)


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
