"""plugtorch_numexpr: a plugtorch backend whose elementwise kernels are numexpr programs.

Tensors live in host memory as flat numpy arrays. Every elementwise primitive (the
arithmetic, comparisons, transcendental functions, `where`) and the softmax family run as
numexpr programs: evaluated in cache-sized blocks, split across numexpr's threads, and
compound kernels (sigmoid, erf, remainder, softmax, ...) in one pass with no full-size
temporaries. Reductions, sorting, indexing, matmul and the matrix factorizations are numpy's
(LAPACK for the factorizations), so the backend implements every primitive and every
factorization itself and passes the conformance suite in strict mode.

It is written against the public contract only: `plugtorch.backends.Backend`, NOTE [backend
contract] in `plugtorch.backends.base`, the accessors of `plugtorch.backends` and NOTE
[factorization kernels] in `plugtorch.ops.decomp`.

Installed (`pip install .`), it registers through the `plugtorch.backends` entry point:
    >>> import plugtorch
    >>> x = plugtorch.linspace(-3, 3, 7, device="numexpr")
    >>> x.sigmoid().sum().item()
    3.5
"""
from plugtorch.backends import hookimpl

from .backend import NumexprBackend

__all__ = ["NumexprBackend", "plugtorch_register_backends"]


@hookimpl
def plugtorch_register_backends(register):
    register("numexpr", NumexprBackend)
