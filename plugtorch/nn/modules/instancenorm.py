"""Instance normalization at PyTorch's module path (torch.nn.modules.instancenorm); the layers
are written in normalization.py (NOTE [module paths] in __init__.py)."""
from .normalization import _InstanceNorm, InstanceNorm1d, InstanceNorm2d  # noqa: F401

__all__ = ["InstanceNorm1d", "InstanceNorm2d"]
