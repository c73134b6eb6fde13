"""pytest plugin: --backend option and the `device` fixture (filled in by the suite)."""


def pytest_addoption(parser):
    parser.addoption("--backend", action="append", default=None,
                     help="run conformance tests on this backend (repeatable); default: all")
