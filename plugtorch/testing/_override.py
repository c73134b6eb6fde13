"""Temporarily give a backend a kernel, for tests of overridable ops."""
import contextlib

from .. import _dispatch
from .. import backends


@contextlib.contextmanager
def kernel_override(device_type, name, kernel):
    """Within the block, backend `device_type` has `kernel` registered under `name` (checked
    like any registered kernel); the previous table is restored afterwards.

    Example:
        >>> import plugtorch
        >>> from plugtorch.testing import kernel_override
        >>> def flat(out, x, dim):
        ...     out.fill_(0.5)
        >>> with kernel_override("cpu", "softmax", flat):
        ...     plugtorch.softmax(plugtorch.zeros(2), 0).tolist()
        [0.5, 0.5]
    """
    with _dispatch.substitute(backends.get(device_type), name, kernel):
        yield kernel
