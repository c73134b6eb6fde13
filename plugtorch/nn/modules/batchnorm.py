"""Batch normalization at PyTorch's module path (torch.nn.modules.batchnorm); the layers are
written in normalization.py (NOTE [module paths] in __init__.py)."""
from .normalization import (_NormBase, _BatchNorm, BatchNorm1d, BatchNorm2d,  # noqa: F401
                            BatchNorm3d)

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]
