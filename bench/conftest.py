"""Benchmarks: `pytest bench/ --benchmark-only`. PyTorch cases run only where it is installed."""
import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.benchmark)
