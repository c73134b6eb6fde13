"""The conformance suite: ``pytest --pyargs plugtorch.testing.suite --backend NAME``.

- test_ops: every declared op x dtype x sample, forward (contiguous, non-contiguous and
  broadcast inputs) against its numpy reference, and gradients against finite differences.
- test_semantics: views and in-place writes, autograd behaviour, dtype support.
- test_errors: the same exception type and message on every backend as on cpu.
"""
