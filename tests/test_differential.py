"""Seeded randomized differential test: random op programs, plugtorch vs PyTorch and every
device backend vs cpu, forward, errors and gradients.

Programs come from `plugtorch.testing._programs` (1-4 steps of unary, binary, reduction,
view, indexing, in-place and cat/stack/where/clamp ops over tensors with empty dims, 0-d
tensors, non-contiguous views, NaN/inf and every dtype the backend stores). Each program
runs on the cpu backend and in PyTorch (where installed), and on every other backend and
the cpu backend; results are compared step by step (dtype, shape, NaN positions and values
within the dtype's tolerance), errors must agree (both raise; between backends, the same
exception class), and so must the gradients of a weighted sum of the float outputs.

The examples are derandomized, so CI runs the same programs every time. Run many more by
hand (a failure prints the program, which is its own reproducer):

    PLUGTORCH_DIFF_EXAMPLES=5000 .venv/bin/pytest -q -p no:randomly tests/test_differential.py

`KNOWN` lists the divergences that exist today, each with its reason; remove an entry once
its cause is fixed.
"""
import os

import pytest
from hypothesis import HealthCheck, given, settings

import plugtorch
from plugtorch.testing._programs import ALL_DTYPES, compare, programs, run

EXAMPLES = int(os.environ.get("PLUGTORCH_DIFF_EXAMPLES", "100"))

SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                    print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


class Known:
    """A divergence that exists today, with its reason.

    Args:
        where: "torch" (the cpu backend vs PyTorch) or a backend name (it vs cpu).
        reason: why it differs.
        kinds: the Divergence kinds it covers ("outcome", "values", "grad", ...).
        ops: the ops it covers, one of which the step is (for gradients: one of which the
            program uses); None: any.
        match: texts the divergence's message contains, all of them.
        code: a text the step's source (for gradients: the program's) contains.
    """

    def __init__(self, where, reason, kinds, ops=None, match=(), code=""):
        self.where, self.reason, self.kinds, self.ops = where, reason, set(kinds), ops
        self.match, self.code = (match,) if isinstance(match, str) else match, code

    def applies(self, d):
        return (d.kind in self.kinds and (self.ops is None or bool(d.ops & self.ops)) and
                all(m in d.message for m in self.match) and self.code in d.codes)


_RETURNED = "returned a result | expected"
_RAISED = "| expected a result"

KNOWN = [
    # deliberate extensions (the PyTorch oracle lists them too)
    Known("torch", "plugtorch accepts a Python number as `other` (torch: TypeError)",
          {"outcome"}, {"atan2", "maximum", "minimum", "logical_and", "logical_or",
                        "logical_xor"}, (_RETURNED, "must be Tensor, not")),
    Known("torch", "plugtorch's flip accepts one int as dims (torch: a tuple)", {"outcome"},
          {"flip"}, (_RETURNED, "must be tuple of ints, not int")),
    # PyTorch skips a check where plugtorch does not
    Known("torch", "an out-of-range advanced index raises even where the indexed result is "
          "empty (torch checks no bounds then)", {"outcome"}, {"index", "inplace_index_put"},
          ("raised IndexError", "out of bounds", _RAISED)),
    Known("torch", "softmax/log_softmax of an empty integer tensor raise (torch has no kernel "
          "for integers but runs none for an empty input)", {"outcome"},
          {"softmax", "log_softmax"}, ("expected a floating point input", _RAISED)),
    Known("torch", "torch marks an integer tensor as requiring grad after a requires-grad "
          "float is assigned into an empty slice of it", {"requires_grad"},
          {"inplace_setitem"}, "requires_grad False | expected True"),
    Known("torch", "floor_divide's and remainder's gradients with respect to the divisor are "
          "zero (torch: backward raises 'derivative not implemented')", {"backward"},
          {"floor_divide", "remainder"}, "derivative for aten::"),
    # defects
    Known("torch", "a float Python scalar out of an integer dtype's range is cast when "
          "assigned or filled (torch: 'value cannot be converted ... without overflow')",
          {"outcome"}, None, (_RETURNED, "without overflow")),
    Known("torch", "an index with two ellipses raises (torch accepts it)", {"outcome"},
          {"getitem"}, "only have a single ellipsis"),
    Known("torch", "prod(dim)'s gradient is out/x, NaN for an infinite input (torch switches "
          "to products of the other elements when any input is zero)", {"grad"}, {"prod"},
          "got np.float64(nan)"),
    Known("torch", "var/std's gradient is NaN where an input is infinite (torch: inf)",
          {"grad"}, {"var", "std"}, "got np.float64(nan), expected np.float64(inf)"),
    Known("torch", "pow's gradient with respect to a float64 exponent computes the log of a "
          "float16 base in float16", {"grad"}, {"pow"}, "differ beyond", code="float16"),
]


def _unexplained(found, where):
    return [d for d in found if not any(k.where == where and k.applies(d) for k in KNOWN)]


def _report(program, found, device, against):
    lines = [f"{device} diverges from {against}:"] + [f"  {d!r}" for d in found]
    return "\n".join(lines + ["program:", program.source(device)])


def _dtypes(device):
    names = {d.name for d in plugtorch.backends.get(device).dtypes}
    return tuple(n for n in ALL_DTYPES if n in names)


def test_cpu_matches_torch():
    torch = pytest.importorskip("torch")

    @SETTINGS
    @given(programs())
    def check(program):
        found = compare(program, run(program, plugtorch, "cpu"), run(program, torch, "cpu"),
                        same_errors=False)
        found = _unexplained(found, "torch")
        assert not found, _report(program, found, "cpu", "PyTorch")

    check()


def test_device_matches_cpu(device):
    if device == "cpu":
        pytest.skip("the cpu backend is the reference here (test_cpu_matches_torch)")
    dtypes = _dtypes(device)

    @SETTINGS
    @given(programs(dtypes))
    def check(program):
        found = compare(program, run(program, plugtorch, device), run(program, plugtorch, "cpu"),
                        same_errors=True)
        found = _unexplained(found, device)
        assert not found, _report(program, found, device, "cpu")

    check()
