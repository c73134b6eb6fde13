"""Every declared op on the backend under test, generated from `plugtorch.ops.OPS`.

One test per (op, dtype) and input layout; a test runs all of the cell's samples and
reports every sample that fails. See `plugtorch.testing._cases` for what is compared.
"""
import numpy as np
import pytest

import plugtorch
from plugtorch import debug
from plugtorch.testing import _cases

CASES = _cases.op_cases()
GRAD_CASES = _cases.grad_cases()
BROADCAST_CASES = _cases.broadcast_cases()


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
    before = debug.fallbacks(device)
    failures, ran = _cases.check_forward(case, device, variant)
    after = debug.fallbacks(device)
    used = sorted(k for k, n in after.items() if n != before.get(k, 0))
    record_property("fallback", ",".join(used))
    if failures:
        more = f"\n... and {len(failures) - 5} more" if len(failures) > 5 else ""
        pytest.fail("\n".join(failures[:5]) + more, pytrace=False)
    if not ran:
        pytest.skip(f"no sample of {case.op.name} has an input that can be {variant}")


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
    if failures:
        pytest.fail("\n".join(failures[:5]), pytrace=False)
    if not ran:
        pytest.skip(f"{case.op.name}: no sample lists inputs to gradient-check")
