"""Every docstring example in plugtorch runs and prints what it says.

STYLE.md asks public API docstrings for an Example runnable on CPU; this file keeps those
examples honest. One test per module that has examples (a module without any gets no test,
so the count says how many modules are really checked). Each example starts from the same
names a reader would have typed: `plugtorch` and `numpy as np`, nothing private from the
module it documents.
"""
import doctest
import importlib
import io
import pkgutil

import numpy as np
import pytest

import plugtorch

FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
# the conformance suite is a pytest plugin driven by its own tests, not a documented API
EXCLUDED = ("plugtorch.testing.suite",)


def _excluded(name):
    return any(name == p or name.startswith(p + ".") for p in EXCLUDED)


def _module_names():
    # walk_packages imports packages to find their children; a package that cannot be
    # imported is reported by the per-module import below, so ignore it here
    found = pkgutil.walk_packages(plugtorch.__path__, "plugtorch.", onerror=lambda name: None)
    return sorted(m.name for m in found if not _excluded(m.name))


def _doctests(module):
    finder = doctest.DocTestFinder(exclude_empty=True)
    globs = {"plugtorch": plugtorch, "np": np}
    tests = finder.find(module, module.__name__, globs=globs)
    return sorted((t for t in tests if t.examples), key=lambda t: t.name)


def _params():
    params = []
    for name in _module_names():
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            # optional dependency missing (e.g. scikit-learn for the digits dataset)
            params.append(pytest.param(name, marks=pytest.mark.skip(
                reason=f"{name} needs an optional dependency: {e}"), id=name))
            continue
        if _doctests(module):
            params.append(pytest.param(name, id=name))
    return params


class _Runner(doctest.DocTestRunner):
    """Records an ImportError raised by an example: an optional dependency (scikit-learn
    for the digits) that is not installed skips the module instead of failing it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.missing = []

    def report_unexpected_exception(self, out, test, example, exc_info):
        if isinstance(exc_info[1], ImportError):
            self.missing.append(f"{test.name}: {exc_info[1]}")
        super().report_unexpected_exception(out, test, example, exc_info)


@pytest.mark.parametrize("name", _params())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    out = io.StringIO()
    runner = _Runner(optionflags=FLAGS)
    for test in _doctests(module):
        runner.run(test, out=out.write)
    if runner.missing:
        pytest.skip("an optional dependency is missing: " + "; ".join(runner.missing))
    assert runner.tries > 0
    assert runner.failures == 0, f"{runner.failures} of {runner.tries} examples failed " \
                                 f"in {name}:\n{out.getvalue()}"
