"""plugtorch.testing.assert_close is PyTorch's torch.testing.assert_close: same verdicts, same
messages (up to the package name in reprs)."""
import math

import pytest

import plugtorch
from plugtorch.testing import assert_close

NAN, INF = math.nan, math.inf

CASES = {
    "close": lambda m: (m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0 + 1e-6]), {}),
    "far": lambda m: (m.tensor([1.0, 2.0, 3.0]), m.tensor([1.0, 2.1, 3.0]), {}),
    "dtype": lambda m: (m.tensor([1.0]), m.tensor([1.0], dtype=m.float64), {}),
    "dtype-unchecked": lambda m: (m.tensor([1.0]), m.tensor([1.0], dtype=m.float64),
                                  {"check_dtype": False}),
    "shape": lambda m: (m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0, 3.0]), {}),
    "int": lambda m: (m.tensor([1, 2]), m.tensor([1, 3]), {}),
    "bool": lambda m: (m.tensor([True]), m.tensor([False]), {}),
    "nan": lambda m: (m.tensor([1.0, NAN]), m.tensor([1.0, NAN]), {}),
    "nan-equal": lambda m: (m.tensor([1.0, NAN]), m.tensor([1.0, NAN]), {"equal_nan": True}),
    "inf": lambda m: (m.tensor([INF, -INF]), m.tensor([INF, -INF]), {}),
    "scalar": lambda m: (1.0, 1.0 + 1e-9, {}),
    "scalar-types": lambda m: (1, 1.0, {}),
    "nested": lambda m: ([m.tensor(1.0), {"b": 2}], [m.tensor(1.0), {"b": 2}], {}),
    "nested-far": lambda m: ({"a": m.tensor(1.0)}, {"a": m.tensor(2.0)}, {}),
    "tolerances": lambda m: (m.tensor([1.0, 2.0]), m.tensor([1.0, 2.05]),
                             {"rtol": 0.1, "atol": 0.0}),
    "one-tolerance": lambda m: (m.tensor([1.0]), m.tensor([1.0]), {"rtol": 1e-3}),
    "list-vs-tensor": lambda m: (m.tensor([1.0, 2.0]), [1.0, 2.0], {}),
    "msg": lambda m: (m.tensor([1.0, 2.0]), m.tensor([1.0, 2.5]), {"msg": "custom"}),
    "float16": lambda m: (m.tensor([1.0, 2.0], dtype=m.float16),
                          m.tensor([1.0, 2.001], dtype=m.float16), {}),
    "2d": lambda m: (m.tensor([[1.0, 2.0], [3.0, 4.0]]), m.tensor([[1.0, 2.0], [3.0, 4.5]]),
                     {}),
}


def _outcome(module, case):
    a, e, kw = CASES[case](module)
    try:
        module.testing.assert_close(a, e, **kw)
        return "ok"
    except Exception as err:       # the class and the message are compared
        text = str(err).replace("plugtorch.", "").replace("torch.", "")
        return f"{type(err).__name__}: {text.replace('_tensor.Tensor', 'Tensor')}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_verdict_and_message_as_pytorch(case):
    torch = pytest.importorskip("torch")
    assert _outcome(plugtorch, case) == _outcome(torch, case)


def test_verdicts_without_pytorch():
    verdicts = {case: _outcome(plugtorch, case).split(":")[0] for case in CASES}
    assert [c for c, v in verdicts.items() if v == "ok"] == [
        "close", "dtype-unchecked", "nan-equal", "inf", "scalar", "nested", "tolerances",
        "float16"]
    assert verdicts["one-tolerance"] == "ValueError"
    assert verdicts["list-vs-tensor"] == "TypeError"
    with pytest.raises(AssertionError, match=r"Mismatched elements: 1 / 3 \(33.3%\)"):
        assert_close(plugtorch.tensor([1.0, 2.0, 3.0]), plugtorch.tensor([1.0, 2.1, 3.0]))


def test_device_is_checked(device):
    a = plugtorch.ones(2, device=device)
    assert_close(a, plugtorch.ones(2, device=device))
    if device != "cpu":
        with pytest.raises(AssertionError, match="attribute 'device' do not match"):
            assert_close(a, plugtorch.ones(2))
        assert_close(a, plugtorch.ones(2), check_device=False)
