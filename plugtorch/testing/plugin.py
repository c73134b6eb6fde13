"""pytest plugin of the conformance suite: chooses the backends tests run on.

Active only when asked for: ``pytest -p plugtorch.testing.plugin`` (plugtorch's own test
configuration and `plugtorch conformance` pass it), so the pytest runs of other projects in
the same environment do not get it. It adds:

- ``--backend NAME`` (repeatable): the backends to test; default: every available one
  (`plugtorch.backends.available()`, after conftest files had a chance to register more).
- ``--plugin MODULE`` (repeatable): import MODULE and register it as a backend plugin
  first, for a backend that is not installed with an entry point yet (``--backend-plugin``
  is its older spelling).
- ``--strict`` (pytest's own flag, which also turns on pytest's strict checks) or
  ``PLUGTORCH_STRICT=1``: strict conformance. A primitive that would run on the CPU fallback
  raises `plugtorch.debug.FallbackError` instead, and a test during which any fallback ran
  fails, so a backend passes only by running everything on its own device.
- a ``device`` argument for tests: every test that takes ``device`` runs once per selected
  backend, with ids like ``[cpu]``, ``[minimal]``, ``[opencl]``; its value is the device
  type string, e.g. ``plugtorch.ones(3, device=device)``.

Example (a third-party backend author):
    pytest -p plugtorch.testing.plugin --pyargs plugtorch.testing.suite \
        --backend mybackend --strict
"""
import argparse
import importlib

import pytest

import plugtorch
from plugtorch import debug


def pytest_addoption(parser):
    group = parser.getgroup("plugtorch", "plugtorch conformance")
    group.addoption("--backend", action="append", default=None, metavar="NAME",
                    help="run device tests on this backend (repeatable); default: every "
                         "available backend")
    group.addoption("--plugin", action="append", default=[], metavar="MODULE",
                    dest="backend_plugin",
                    help="import MODULE and register it as a plugtorch backend plugin first "
                         "(repeatable)")
    group.addoption("--backend-plugin", action="append", dest="backend_plugin",
                    metavar="MODULE", help=argparse.SUPPRESS)


def pytest_configure(config):
    for name in config.getoption("backend_plugin", None) or []:
        plugtorch.backends.register(importlib.import_module(name))
    # the suite reports fallbacks in its matrix; one warning per primitive adds nothing
    config.addinivalue_line("filterwarnings", "ignore::plugtorch._dispatch.FallbackWarning")
    if strict_mode(config):
        debug.strict(True)


def strict_mode(config):
    """Whether fallbacks fail tests: pytest's --strict, or PLUGTORCH_STRICT=1."""
    return bool(getattr(config.option, "strict", False)) or debug.is_strict()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    # in strict mode a fallback fails the test even if the test caught the error
    if not strict_mode(item.config):
        return (yield)
    before = _total_fallbacks()
    result = yield
    ran = _total_fallbacks() - before
    if ran:
        raise debug.FallbackError(f"{ran} CPU fallback(s) ran during this test in strict "
                                  f"mode: {debug.counters()}")
    return result


def _total_fallbacks():
    return sum(n for k, n in debug.counters().items() if k[0] == "fallback")


def selected_backends(config):
    """The backend names chosen with --backend (checked), or every available one."""
    cached = getattr(config, "_plugtorch_backends", None)
    if cached is not None:
        return cached
    names = config.getoption("backend", None)
    if not names:
        names = plugtorch.backends.available()
    else:
        known = {b["name"]: b for b in plugtorch.backends.list() if b["name"]}
        for name in names:
            if name not in known:
                raise pytest.UsageError(
                    f"--backend {name}: no such backend; known: {', '.join(sorted(known))} "
                    f"(install its package, or pass --plugin MODULE)")
            if not known[name]["available"]:
                raise pytest.UsageError(f"--backend {name}: backend is not available: "
                                        f"{known[name]['reason']}")
        names = list(dict.fromkeys(names))
    config._plugtorch_backends = names
    return names


def pytest_sessionstart(session):
    # a wrong --backend is a usage error, reported once before collection
    if session.config.getoption("backend", None):
        selected_backends(session.config)


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        names = selected_backends(metafunc.config)
        metafunc.parametrize("device", names, ids=names)


def pytest_report_header(config):
    rows = []
    for b in plugtorch.backends.list():
        state = "available" if b["available"] else f"unavailable ({b['reason']})"
        rows.append(f"{b['name'] or b['plugin']}: {state}")
    return "plugtorch backends: " + "; ".join(rows)


def pytest_itemcollected(item):
    # label op tests with their matrix cell, for `plugtorch conformance` (see __main__.py)
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    if case is not None and hasattr(case, "op") and hasattr(case, "dtype"):
        item.user_properties += [("op", case.op.name), ("dtype", case.dtype.name),
                                 ("check", getattr(item, "originalname", item.name))]
