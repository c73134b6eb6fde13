"""Type promotion follows PyTorch's rules."""
import itertools

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import _dtype as D

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


@pytest.mark.parametrize("a,b,expected", [
    ("int64", "float32", "float32"), ("uint8", "int8", "int16"), ("int32", "int64", "int64"),
    ("bool", "uint8", "uint8"), ("float16", "float64", "float64"), ("bool", "bool", "bool"),
    ("uint8", "int64", "int64"), ("int8", "float16", "float16"),
])
def test_promote_types_table(a, b, expected):
    assert pt.promote_types(getattr(pt, a), getattr(pt, b)) is getattr(pt, expected)


def test_python_scalar_does_not_upcast_float32():
    x = pt.ones(3)
    assert (x * 2.5).dtype is pt.float32
    assert (x + 1).dtype is pt.float32


def test_int_tensor_with_float_scalar_gives_default_float():
    x = pt.tensor([1, 2, 3])
    assert x.dtype is pt.int64
    assert (x * 2.5).dtype is pt.float32
    assert (x + 1).dtype is pt.int64


def test_int_true_division_gives_float():
    x = pt.tensor([1, 2, 3])
    r = x / 2
    assert r.dtype is pt.float32
    np.testing.assert_allclose(r.numpy(), [0.5, 1.0, 1.5])
    assert (x // 2).dtype is pt.int64
    assert (x // 2).tolist() == [0, 1, 1]


def test_zero_dim_tensor_only_wins_across_categories():
    x = pt.ones(3, dtype=pt.float32)
    assert (x + pt.tensor(1.0, dtype=pt.float64)).dtype is pt.float32
    i = pt.ones(3, dtype=pt.int32)
    assert (i + pt.tensor(1.0, dtype=pt.float64)).dtype is pt.float64
    assert (i + pt.tensor(1, dtype=pt.int64)).dtype is pt.int32


def test_comparison_gives_bool():
    assert (pt.ones(2) < 2).dtype is pt.bool


def test_promotion_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    for a, b in itertools.product(NAMES, NAMES):
        ours = pt.promote_types(getattr(pt, a), getattr(pt, b)).name
        theirs = str(torch.promote_types(getattr(torch, a), getattr(torch, b))).split(".")[1]
        assert ours == theirs, (a, b)


def test_result_type_scalars_and_tensors_match_torch():
    torch = pytest.importorskip("torch")
    for name in NAMES:
        for scalar in (True, 2, 2.5):
            ours = (pt.ones(2, dtype=getattr(pt, name)) * 0 + scalar).dtype.name \
                if name != "bool" else pt.result_type(pt.ones(2, dtype=pt.bool), scalar).name
            theirs = str(torch.result_type(torch.ones(2, dtype=getattr(torch, name)),
                                           scalar)).split(".")[1]
            assert ours == theirs, (name, scalar)


def test_to_dtype_accepts_names_and_numpy():
    assert D.to_dtype("float64") is pt.float64
    assert D.to_dtype(np.int32) is pt.int32
    assert D.to_dtype(float) is pt.float32
    with pytest.raises(TypeError):
        D.to_dtype("complex128")


def test_default_dtype_switch():
    pt.set_default_dtype(pt.float64)
    try:
        assert pt.tensor([1.5]).dtype is pt.float64
        assert pt.ones(2).dtype is pt.float64
    finally:
        pt.set_default_dtype(pt.float32)
    with pytest.raises(TypeError):
        pt.set_default_dtype(pt.int64)
