"""PyTorch as an oracle: every declared op that PyTorch also has, on the same samples.

Skipped as a whole when torch is not importable; nothing else in plugtorch needs it. See
`plugtorch.testing._oracle` for what is compared and for the table of known, deliberate
differences (`KNOWN`): a difference not in that table fails, and a table entry whose
difference no longer shows fails too, so the table stays true.

- test_torch_forward: declared dtypes, on every backend under test: outcome, result dtype
  and shape exactly, values within tolerance.
- test_torch_gradient: float64 gradients of (out * w).sum(), on every backend.
- test_torch_undeclared_dtype: dtypes an op does not declare, on one backend (cpu when
  selected: argument checks are frontend code, the same on every backend): where PyTorch
  rejects the input, plugtorch must reject it too; where both accept it, results match.

By default the dtypes are bool, int64, float32 and float64; set the environment variable
PLUGTORCH_ORACLE_DTYPES=all for every dtype (or a comma-separated list of names).

Example:
    pytest --pyargs plugtorch.testing.suite.test_torch_oracle --backend cpu
"""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no oracle to compare with")

import plugtorch  # noqa: E402
from plugtorch import _dtype as D  # noqa: E402
from plugtorch.ops import OPS  # noqa: E402
from plugtorch.testing import _oracle  # noqa: E402
from plugtorch.testing._cases import OpCase  # noqa: E402
from plugtorch.testing.plugin import selected_backends  # noqa: E402


def _dtypes():
    spec = os.environ.get("PLUGTORCH_ORACLE_DTYPES", "bool,int64,float32,float64")
    if spec.strip() == "all":
        return D.ALL
    return tuple(D.to_dtype(name.strip()) for name in spec.split(",") if name.strip())


DTYPES = _dtypes()
_OPS = [op for _, op in sorted(OPS.items())]
FORWARD = [OpCase(op, dt) for op in _OPS for dt in DTYPES if dt in op.dtypes]
UNDECLARED = [OpCase(op, dt) for op in _OPS for dt in DTYPES if dt not in op.dtypes]
GRAD = [OpCase(op, D.float64) for op in _OPS if op.grad and D.float64 in op.dtypes]
_FORWARD_KINDS = {"outcome", "error-type", "count", "dtype", "shape", "values"}


def _torch_fn(case):
    functional = case.op.fn is getattr(plugtorch.nn.functional, case.op.name, None)
    fn = _oracle.torch_callable(case.op.name, functional)
    if fn is None:
        pytest.skip(f"torch has no {case.op.name} (torch.*, Tensor.*, torch.nn.functional.*)")
    return fn


def _samples(case):
    try:
        samples = case.samples()
    except Exception as e:      # an undeclared dtype the sample generator cannot make
        pytest.skip(f"{case!r}: no samples for this dtype ({type(e).__name__}: {e})")
    if not samples:
        pytest.skip(f"{case.op.name} declares no samples")
    return samples


def _settle(case, problems, kinds, declared=True):
    """Fail on any problem no KNOWN entry covers; xfail when every problem is covered; fail
    when a KNOWN entry (for one of `kinds`) covered nothing, as it is no longer true.

    An entry without `dtypes` is only held to that for the op's declared dtypes: e.g. the
    random ops' different values cannot show where the dtype is rejected."""
    entries = [k for k in _oracle.known(case.op.name, case.dtype) if k.kinds & kinds]
    used, unexpected = set(), []
    for kind, msg in problems:
        hit = next((k for k in entries if k.covers(kind, msg)), None)
        if hit is None:
            unexpected.append(msg)
        else:
            used.add(hit)
    if unexpected:
        more = f"\n... and {len(unexpected) - 8} more" if len(unexpected) > 8 else ""
        pytest.fail("\n".join(unexpected[:8]) + more, pytrace=False)
    stale = [k for k in entries if k not in used and (declared or k.dtypes is not None)]
    if stale:
        pytest.fail(f"{case!r}: a difference listed in plugtorch.testing._oracle.KNOWN no "
                    f"longer occurs; remove that entry: {stale[0].reason}", pytrace=False)
    if used:
        pytest.xfail("known difference: " + "; ".join(k.reason for k in used))


def _forward(case, device):
    fn = _torch_fn(case)
    problems = []
    for i, sample in enumerate(_samples(case)):
        where = f"{case.op.name} {case.dtype.name} on {device}, sample {i} {sample!r}"
        problems += [(kind, f"{where}: {msg}")
                     for kind, msg in _oracle.check_sample(case.op, sample, device, fn)]
    return problems


@pytest.mark.parametrize("case", FORWARD, ids=repr)
def test_torch_forward(case, device):
    """Same outcome, exact result dtype and shape, close values as PyTorch."""
    backend = plugtorch.backends.get(device)
    if case.dtype not in backend.dtypes:
        pytest.skip(f"unsupported: {case.dtype.name} on {device}")
    _settle(case, _forward(case, device), _FORWARD_KINDS)


@pytest.mark.parametrize("case", GRAD, ids=lambda c: c.op.name)
def test_torch_gradient(case, device):
    """float64 gradients of (out * w).sum() as PyTorch's."""
    backend = plugtorch.backends.get(device)
    if case.dtype not in backend.dtypes:
        pytest.skip(f"unsupported: {case.dtype.name} on {device}")
    fn = _torch_fn(case)
    rng = np.random.default_rng(1234)
    problems, ran = [], False
    for i, sample in enumerate(_samples(case)):
        if not sample.grad_args:
            continue
        ran = True
        where = f"{case.op.name} on {device}, sample {i} {sample!r}"
        try:
            found = _oracle.check_sample_gradient(case.op, sample, device, fn, rng)
        except Exception as e:
            found = [("grad", f"raised {type(e).__name__}: {e}")]
        problems += [(kind, f"{where}: {msg}") for kind, msg in found]
    if not ran:
        pytest.skip(f"{case.op.name}: no sample lists inputs to gradient-check")
    _settle(case, problems, {"grad"})


@pytest.fixture
def host_device(request):
    names = selected_backends(request.config)
    return "cpu" if "cpu" in names else names[0]


# named `cell`, not `case`: these are not cells of the conformance matrix (not declared)
@pytest.mark.parametrize("cell", UNDECLARED, ids=repr)
def test_torch_undeclared_dtype(cell, host_device):
    """A dtype the op does not declare: PyTorch's rejections are ours; if plugtorch
    accepts what PyTorch accepts, the results must match as for declared dtypes."""
    backend = plugtorch.backends.get(host_device)
    if cell.dtype not in backend.dtypes:
        pytest.skip(f"unsupported: {cell.dtype.name} on {host_device}")
    problems = _forward(cell, host_device)
    # not declaring a dtype PyTorch supports is a coverage gap, not a wrong answer
    gaps = [msg for kind, msg in problems if kind == "outcome" and "| torch returned" in msg]
    problems = [p for p in problems if not (p[0] == "outcome" and p[1] in gaps)]
    _settle(cell, problems, _FORWARD_KINDS, declared=False)
    if gaps:
        pytest.skip(f"not declared for {cell.dtype.name}, torch accepts: {gaps[0]}")


def test_oracle_reports_differences():
    """The comparison itself: a wrong dtype, shape, value or outcome is reported, a match
    is not (so a green oracle run means something)."""
    op = OPS["add"]
    ours = [plugtorch.tensor([1.0, 2.0])]
    assert _oracle.compare_results(op, ours, [torch.tensor([1.0, 2.0])]) == []

    def kinds(theirs):
        return [kind for kind, _ in _oracle.compare_results(op, ours, theirs)]

    assert kinds([torch.tensor([1.0, 2.0], dtype=torch.float64)]) == ["dtype"]
    assert kinds([torch.tensor([[1.0, 2.0]])]) == ["shape"]
    assert kinds([torch.tensor([1.0, 2.1])]) == ["values"]
    assert kinds([torch.tensor([1.0, 2.0]), torch.tensor(0)]) == ["count"]
    sample = OPS["add"].samples(D.float32, np.random.default_rng(0))[0]
    wrong = lambda a, b: torch.sub(a, b)  # noqa: E731
    assert [k for k, _ in _oracle.check_sample(op, sample, "cpu", wrong)] == ["values"]
    refuse = lambda a, b: torch.tensor(1).item(0)  # noqa: E731
    assert [k for k, _ in _oracle.check_sample(op, sample, "cpu", refuse)] == ["outcome"]
