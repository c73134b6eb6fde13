"""Vision helpers: image transforms, datasets (MNIST, 8x8 Digits) and classic models.

    >>> from plugtorch.vision import datasets, models, transforms
"""
from . import transforms, datasets, models  # noqa: F401

__all__ = ["transforms", "datasets", "models"]
