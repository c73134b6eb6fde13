"""Utilities: data loading, activation checkpointing."""
from . import data, checkpoint  # noqa: F401  (available after import plugtorch, as PyTorch)
