"""plugtorch.testing: the conformance suite (a pytest plugin) and assertion helpers.

Run the suite on a backend with ``pytest --pyargs plugtorch.testing.suite --backend NAME``
or ``plugtorch conformance NAME``; the tests are generated from the op declarations in
`plugtorch.ops.OPS`, so a newly declared op is tested on every backend at once.
`fd_check` and `double_fd_check` check a function's gradients (and double backward) by
central finite differences, for tests of ops written outside the declarations.

Example:
    >>> import plugtorch
    >>> from plugtorch.testing import assert_close
    >>> assert_close(plugtorch.ones(2) * 3, [3.0, 3.0])
"""
from ._compare import assert_close, tolerances, to_host
from ._gradcheck_fd import double_fd_check, fd_check
from ._override import kernel_override

__all__ = ["assert_close", "double_fd_check", "fd_check", "kernel_override", "tolerances",
           "to_host"]
