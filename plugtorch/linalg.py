"""`plugtorch.linalg`: linear algebra under PyTorch's `torch.linalg` names.

The factorizations (solve, slogdet, cholesky, qr, svd, svdvals, eigh, eigvalsh) run a kernel
a backend may provide, else the host one through the counted CPU fallback; everything else
is composed from them and ordinary ops (NOTE [factorization kernels] in ops/decomp.py).

Example:
    >>> import plugtorch
    >>> plugtorch.linalg.vector_norm(plugtorch.tensor([3., 4.]))
    tensor(5.)
"""
from .ops.linalg import matmul
from .ops.norms import norm, vector_norm
from .ops.decomp import (LinAlgError, inv, det, slogdet, solve, cholesky, qr, svd, svdvals,
                         eigh, eigvalsh, pinv, matrix_rank, lstsq, cross, multi_dot,
                         matrix_power, matrix_norm)

__all__ = ["vector_norm", "norm", "matmul", "inv", "det", "slogdet", "solve", "cholesky", "qr",
           "svd", "svdvals", "eigh", "eigvalsh", "pinv", "matrix_rank", "lstsq", "cross",
           "multi_dot", "matrix_power", "matrix_norm"]
