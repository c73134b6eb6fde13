"""PixelShuffle and PixelUnshuffle at PyTorch's module path (torch.nn.modules.pixelshuffle);
written in upsampling.py (NOTE [module paths] in __init__.py)."""
from .upsampling import PixelShuffle, PixelUnshuffle  # noqa: F401

__all__ = ["PixelShuffle", "PixelUnshuffle"]
