"""Utilities: data loading."""
from . import data  # noqa: F401  (plugtorch.utils.data after import plugtorch, as PyTorch)
