"""Every declared op on the backend under test, generated from `plugtorch.ops.OPS`.

One test per (op, dtype) and input layout; a test runs all of the cell's samples and
reports every sample that fails. See `plugtorch.testing._cases` for what is compared.
Failures an op declares as known (`XFail` entries) are xfailed, and fail once they stop
occurring. Aliases (`plugtorch.ops.ALIASES`) are checked against their op on one sample.
"""
import warnings

import numpy as np
import pytest

import plugtorch
from plugtorch import debug
from plugtorch.ops import ALIASES, OPS
from plugtorch.testing import _cases
from plugtorch.testing._compare import mismatch, to_host

CASES = _cases.op_cases()
GRAD_CASES = _cases.grad_cases()
BROADCAST_CASES = _cases.broadcast_cases()
ALIAS_CASES = [a for _, a in sorted(ALIASES.items())]


def _require_dtype(case, device):
    """Skip as "unsupported" a dtype the backend rejects, after checking that it rejects it
    with a TypeError naming the dtype (never a silently wrong result)."""
    backend = plugtorch.backends.get(device)
    if case.dtype in backend.dtypes:
        return
    with pytest.raises(TypeError, match=case.dtype.name):
        plugtorch.tensor(np.zeros(2, case.dtype.np), device=device)
    pytest.skip(f"unsupported: {case.dtype.name} on {device}")


def _check(case, device, variant, record_property):
    _require_dtype(case, device)
    if case.op.samples is None:
        pytest.skip(f"{case.op.name} declares no samples")
    if case.op.ref is None and device == "cpu":
        pytest.skip(f"{case.op.name} declares no numpy reference: cpu is its reference")
    if variant != "contiguous" and not case.op.any_layout:
        pytest.skip(f"{case.op.name} reads the input's memory layout: contiguous inputs only")
    before = debug.fallbacks(device)
    failures, ran = _cases.check_forward(case, device, variant)
    after = debug.fallbacks(device)
    used = sorted(k for k, n in after.items() if n != before.get(k, 0))
    record_property("fallback", ",".join(used))
    if not ran:
        pytest.skip(f"no sample of {case.op.name} has an input that can be {variant}")
    _settle(case, device, variant, failures)


def _settle(case, device, check, failures):
    """Fail on failures no XFail entry of the op covers; xfail when each is covered; fail
    when an entry that applies here covered nothing (the failure is gone: remove it)."""
    entries = [x for x in case.op.xfail if x.applies(device, case.dtype, check)]
    unexpected = [f for f in failures if not any(x.covers(f) for x in entries)]
    if unexpected:
        more = f"\n... and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""
        pytest.fail("\n".join(unexpected[:5]) + more, pytrace=False)
    used = [x for x in entries if any(x.covers(f) for f in failures)]
    stale = [x for x in entries if x not in used]
    if stale:
        pytest.fail(f"{case!r} on {device} ({check}): a declared XFail no longer fails; "
                    f"remove it: {stale[0].reason}", pytrace=False)
    if used:
        pytest.xfail("known failure: " + "; ".join(x.reason for x in used))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_op_forward(case, device, record_property):
    """Contiguous inputs: values vs the float64 reference, dtype/shape vs the cpu backend."""
    _check(case, device, "contiguous", record_property)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_op_noncontiguous(case, device, record_property):
    """The same samples as strided views into a larger buffer."""
    _check(case, device, "noncontiguous", record_property)


@pytest.mark.parametrize("case", BROADCAST_CASES, ids=repr)
def test_op_broadcast(case, device, record_property):
    """The same samples with inputs as stride-0 (expanded) views."""
    _check(case, device, "broadcast", record_property)


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.op.name)
def test_op_gradient(case, device):
    """float64 gradients of (out * w).sum() vs central finite differences, on the backend."""
    _require_dtype(case, device)
    rng = np.random.default_rng(1234)
    failures, ran = [], False
    for i, sample in enumerate(case.samples()):
        if not sample.grad_args:
            continue
        ran = True
        try:
            problem = _cases.check_gradient(case.op, sample, device, rng)
        except Exception as e:
            problem = f"raised {type(e).__name__}: {e}"
        if problem is not None:
            failures.append(f"{case.op.name} on {device}, sample {i} {sample!r}: {problem}")
    if not ran:
        pytest.skip(f"{case.op.name}: no sample lists inputs to gradient-check")
    _settle(case, device, "gradient", failures)


def _alias_dtype(op, device):
    supported = plugtorch.backends.get(device).dtypes
    order = (plugtorch.float32,) + op.dtypes
    return next((dt for dt in order if dt in op.dtypes and dt in supported), None)


@pytest.mark.parametrize("alias", ALIAS_CASES, ids=lambda a: a.name)
def test_op_alias(alias, device):
    """An alias gives exactly its op's result (dtype, shape, values) on the op's first sample;
    an in-place alias writes that result into its first argument and returns it."""
    op = OPS[alias.target]
    dtype = _alias_dtype(op, device)
    if dtype is None:
        pytest.skip(f"unsupported: no dtype of {op.name} on {device}")
    sample = _cases.OpCase(op, dtype).samples()[0]
    make = _cases.tensor_maker(device)
    expected = _cases.leaves(_cases.run(op, sample, make, device))
    args, kwargs = _cases.inputs(sample, make, device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # e.g. upsample's deprecation notice
        result = alias.fn(*args, **kwargs)
    if alias.inplace:
        assert result is args[0], f"{alias.name} did not return its input"
    got = _cases.leaves(result)
    assert len(got) == len(expected), f"{alias.name}: {len(got)} outputs, {op.name} gives " \
        f"{len(expected)}"
    for k, (g, e) in enumerate(zip(got, expected)):
        assert getattr(g, "dtype", type(g)) == getattr(e, "dtype", type(e)), (alias.name, k)
        problem = mismatch(to_host(g), to_host(e), 0.0, 0.0)
        assert problem is None, f"{alias.name} vs {op.name}, output {k}: {problem}"
