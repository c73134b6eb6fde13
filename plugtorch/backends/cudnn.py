"""`plugtorch.backends.cudnn`: the cuDNN switches PyTorch programs set, accepted for
compatibility. plugtorch does not use cuDNN, so none of them has any effect.

- `benchmark` (False): PyTorch picks the fastest convolution algorithm per shape.
- `deterministic` (False): PyTorch restricts itself to deterministic algorithms.
- `enabled` (True): PyTorch uses cuDNN at all.
- `allow_tf32` (True): PyTorch lets cuDNN convolutions use TensorFloat-32.

Example:
    >>> import plugtorch as torch
    >>> torch.backends.cudnn.benchmark = True          # accepted; changes nothing
    >>> torch.backends.cudnn.is_available()
    False
"""
import contextlib

__all__ = ["benchmark", "deterministic", "enabled", "allow_tf32", "is_available", "version",
           "flags"]

benchmark = False
deterministic = False
enabled = True
allow_tf32 = True


def is_available():
    """False: no plugtorch backend uses cuDNN."""
    return False


def version():
    """None: no cuDNN library is loaded."""
    return None


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, deterministic=False, allow_tf32=True):
    """Set the flags within the block and restore them afterwards (no effect either)."""
    g = globals()
    names = ("enabled", "benchmark", "deterministic", "allow_tf32")
    old = {k: g[k] for k in names}
    g.update(zip(names, (enabled, benchmark, deterministic, allow_tf32)))
    try:
        yield
    finally:
        g.update(old)
