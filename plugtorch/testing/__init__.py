"""plugtorch.testing: the conformance suite (a pytest plugin) and assertion helpers.

Run the suite on a backend with ``pytest --pyargs plugtorch.testing.suite --backend NAME``
or ``plugtorch conformance NAME``; the tests are generated from the op declarations in
`plugtorch.ops.OPS`, so a newly declared op is tested on every backend at once.
`fd_check` and `double_fd_check` check a function's gradients (and double backward) by
central finite differences, for tests of ops written outside the declarations.
`assert_values` compares a tensor with numpy reference values (dtype-aware tolerances);
`assert_close` is PyTorch's `torch.testing.assert_close`.

Example:
    >>> import plugtorch
    >>> from plugtorch.testing import assert_values
    >>> assert_values(plugtorch.ones(2) * 3, [3.0, 3.0])
"""
from ._assert_close import assert_close
from ._compare import assert_values, tolerances, to_host
from ._gradcheck_fd import double_fd_check, fd_check
from ._override import kernel_override

__all__ = ["assert_close", "assert_values", "double_fd_check", "fd_check", "kernel_override", "tolerances",
           "to_host"]
