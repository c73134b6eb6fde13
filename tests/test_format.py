"""Tensor repr: PyTorch's layout, checked against hard-coded strings and, where PyTorch is
installed, against PyTorch's own repr of the same values."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch._format import set_printoptions, get_printoptions, printoptions


@pytest.mark.parametrize("make,expected", [
    (lambda: pt.tensor([1.0, 2.0, 3.0]), "tensor([1., 2., 3.])"),
    (lambda: pt.tensor([129.2818, 861.4557, 6110.3291]),
     "tensor([ 129.2818,  861.4557, 6110.3291])"),
    (lambda: pt.tensor([1, -20, 300]), "tensor([  1, -20, 300])"),
    (lambda: pt.tensor([True, False]), "tensor([ True, False])"),
    (lambda: pt.tensor(3.5), "tensor(3.5000)"),
    (lambda: pt.tensor(-7), "tensor(-7)"),
    (lambda: pt.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: pt.tensor([1e9, 1.0]), "tensor([1.0000e+09, 1.0000e+00])"),
    (lambda: pt.tensor([float("nan"), float("inf"), -float("inf")]),
     "tensor([nan, inf, -inf])"),
    (lambda: pt.tensor([float("nan"), 1.0, 2.0]), "tensor([nan, 1., 2.])"),
    (lambda: pt.tensor([[1.0, -2.5], [3.0, 4.0]]),
     "tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]])"),
    (lambda: pt.arange(8.0).reshape(2, 2, 2),
     "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])"),
    (lambda: pt.zeros(0, 3), "tensor([], size=(0, 3))"),
    (lambda: pt.zeros(0), "tensor([])"),
    (lambda: pt.zeros(0, dtype=pt.int64), "tensor([], dtype=plugtorch.int64)"),
    (lambda: pt.tensor([1.0, 2.0], dtype=pt.float64), "tensor([1., 2.], dtype=plugtorch.float64)"),
    (lambda: pt.tensor([1, 2], dtype=pt.int32), "tensor([1, 2], dtype=plugtorch.int32)"),
    (lambda: pt.tensor([0.5], dtype=pt.float16), "tensor([0.5000], dtype=plugtorch.float16)"),
    (lambda: pt.ones(2, requires_grad=True), "tensor([1., 1.], requires_grad=True)"),
    (lambda: pt.ones(2, requires_grad=True) * 2, "tensor([2., 2.], grad_fn=<MulBackward0>)"),
])
def test_repr_hard_coded(make, expected):
    assert repr(make()) == expected
    assert str(make()) == expected


def test_summarized_vector():
    assert repr(pt.arange(2000.0)) == \
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n" \
        "        1.9990e+03])"
    assert repr(pt.arange(1001)) == "tensor([   0,    1,    2,  ...,  998,  999, 1000])"


def test_summarized_matrix():
    x = pt.arange(1200).reshape(30, 40)
    assert repr(x) == ("tensor([[   0,    1,    2,  ...,   37,   38,   39],\n"
                       "        [  40,   41,   42,  ...,   77,   78,   79],\n"
                       "        [  80,   81,   82,  ...,  117,  118,  119],\n"
                       "        ...,\n"
                       "        [1080, 1081, 1082,  ..., 1117, 1118, 1119],\n"
                       "        [1120, 1121, 1122,  ..., 1157, 1158, 1159],\n"
                       "        [1160, 1161, 1162,  ..., 1197, 1198, 1199]])")


def test_long_rows_wrap_at_80_columns():
    text = repr(pt.arange(30.0) / 7)
    lines = text.split("\n")
    assert len(lines) == 4 and all(len(line) <= 80 for line in lines)
    assert lines[0].startswith("tensor([0.0000, 0.1429,")
    assert all(line.startswith("        ") and line[8].isdigit() for line in lines[1:])


def test_device_suffix(device):
    text = repr(pt.ones(2, device=device))
    if device == "cpu":
        assert text == "tensor([1., 1.])"
    else:
        assert text.startswith("tensor([1., 1.], device='" + device)


def test_long_suffixes_move_to_a_new_line():
    text = repr(pt.tensor([123456.5] * 5, dtype=pt.float64))
    assert text == ("tensor([123456.5000, 123456.5000, 123456.5000, 123456.5000, 123456.5000],\n"
                    "       dtype=plugtorch.float64)")


def test_printoptions():
    x = pt.tensor([1.23456, 2.5])
    with printoptions(precision=2):
        assert repr(x) == "tensor([1.23, 2.50])"
        assert get_printoptions()["precision"] == 2
    assert repr(x) == "tensor([1.2346, 2.5000])"
    with printoptions(sci_mode=True):
        assert repr(x) == "tensor([1.2346e+00, 2.5000e+00])"
    with printoptions(threshold=5, edgeitems=1):
        assert repr(pt.arange(10)) == "tensor([0,  ..., 9])"
    with printoptions(profile="full"):
        assert "..." not in repr(pt.arange(2000))
    with pytest.raises(ValueError, match="profile"):
        set_printoptions(profile="long")


# ----------------------------------------------------------------------------- vs PyTorch

def _cases():
    rng = np.random.default_rng(0)
    return [
        rng.standard_normal((3, 4)), rng.standard_normal((2, 3, 4)), rng.standard_normal(2000),
        rng.standard_normal((40, 40)), rng.standard_normal((5, 6, 7, 8)), np.arange(30.0),
        rng.standard_normal(100) * 1e6, rng.standard_normal(25) * 1e-6,
        rng.integers(-1000, 1000, (7, 9)), np.array([1e20, -3.0]), np.array([123456789.0]),
        np.array([0.1, 0.25, 1000.5]), np.array([-0.0, 1e-10]), np.zeros(3),
        rng.random(20).astype(np.float16), rng.random(10), np.array(1e-7),
        rng.integers(0, 2, (100, 100)).astype(bool), np.array([2.0 ** 60]),
        np.array([5e-5, 7e-5]), np.zeros((2, 0, 3)), np.zeros((0, 2), bool),
        rng.standard_normal((1, 1, 1)), np.array([np.nan, 1.5, -np.inf]),
    ]


@pytest.mark.parametrize("k", range(len(_cases())))
def test_repr_matches_pytorch(k):
    torch = pytest.importorskip("torch")
    a = _cases()[k]
    ours = repr(pt.tensor(a)).replace("plugtorch.", "torch.")
    assert ours == repr(torch.tensor(a))


def test_autograd_suffixes_match_pytorch():
    torch = pytest.importorskip("torch")
    x, tx = pt.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0],
                                                                     requires_grad=True)
    for ours, theirs in [(x, tx), (x * 2, tx * 2), (x + 1, tx + 1), (x.exp(), tx.exp())]:
        assert repr(ours) == repr(theirs)
