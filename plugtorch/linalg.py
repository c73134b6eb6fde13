"""`plugtorch.linalg`: linear algebra under PyTorch's `torch.linalg` names.

Example:
    >>> import plugtorch
    >>> plugtorch.linalg.vector_norm(plugtorch.tensor([3., 4.]))
    tensor(5.)
"""
from .ops.linalg import matmul
from .ops.norms import norm, vector_norm

__all__ = ["vector_norm", "norm", "matmul"]
