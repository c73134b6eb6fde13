"""Decompositions of the optional primitives into other primitives.

NOTE [decompositions]
Every optional primitive (`plugtorch.backends.OPTIONAL`) is written here with the kernel
contract's arguments, `(out, *inputs)`, as a sequence of other primitive calls through the
dispatcher, so a backend that implements only the required tier runs it on its own device.
A decomposition is what the dispatcher resolves to when a backend has no kernel of that name
(NOTE [dispatch]); it never records autograd (the frontend already did) and never reads values
on the host, except `nonzero`, whose output size is data-dependent (PyTorch waits there too).

Rules that keep them correct for any backend:
- Temporaries are new contiguous tensors; `out` is written only by the last call, and that
  call is elementwise, so an `out` that is also an input (in-place ops) stays correct.
- Python scalars go only in the second operand of a binary primitive; constants elsewhere
  are one-element tensors broadcast with stride 0.
- Results match the primitive's definition to rounding: log1p and expm1 use the correction
  trick, remainder and floor_divide start from the exact fmod, rounding goes through an exact
  integer cast, sigmoid never overflows. The exception is cos (and tan) near the zeros of
  cos, where the half-angle form has an absolute error of about one ulp of 1.
"""
from . import elementwise, reductions  # noqa: F401  (each module registers its decompositions)
