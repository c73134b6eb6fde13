"""plugtorch.testing: the conformance suite (a pytest plugin) and assertion helpers."""
