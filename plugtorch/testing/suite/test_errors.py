"""Error parity: a bad input raises the same exception type and message on every backend
as on cpu, because the frontend checks everything before a kernel runs."""
import numpy as np
import pytest

import plugtorch


def _outcome(fn, device):
    try:
        fn(device)
    except Exception as e:
        return type(e), str(e)
    return None, "no error"


def _assert_parity(fn, device, expected_type):
    cpu = _outcome(fn, "cpu")
    assert cpu[0] is expected_type, f"on cpu: expected {expected_type.__name__}, got {cpu}"
    got = _outcome(fn, device)
    assert got == cpu, f"on {device}: {got[0].__name__ if got[0] else None}: {got[1]!r}\n" \
                       f"on cpu: {cpu[0].__name__}: {cpu[1]!r}"


def _t(shape, device, dtype=plugtorch.float32):
    return plugtorch.ones(*shape, dtype=dtype, device=device)


def test_broadcast_mismatch(device):
    _assert_parity(lambda d: _t((3, 4), d) + _t((5,), d), device, RuntimeError)


def test_broadcast_mismatch_where(device):
    _assert_parity(lambda d: plugtorch.where(_t((2, 3), d, plugtorch.bool), _t((3,), d),
                                             _t((4,), d)), device, RuntimeError)


def test_mm_inner_size_mismatch(device):
    if not hasattr(plugtorch, "mm"):
        pytest.skip("mm is not declared yet")
    _assert_parity(lambda d: plugtorch.mm(_t((3, 4), d), _t((5, 6), d)), device, RuntimeError)


def test_matmul_inner_size_mismatch(device):
    if not hasattr(plugtorch, "matmul"):
        pytest.skip("matmul is not declared yet")
    _assert_parity(lambda d: plugtorch.matmul(_t((2, 3, 4), d), _t((5, 6), d)), device,
                   RuntimeError)


def test_select_index_out_of_range(device):
    _assert_parity(lambda d: _t((3, 4), d).select(1, 4), device, IndexError)


def test_getitem_index_out_of_range(device):
    if not hasattr(plugtorch.Tensor, "__getitem__"):
        pytest.skip("indexing is not implemented yet")
    _assert_parity(lambda d: _t((3, 4), d)[3], device, IndexError)


def test_gather_index_out_of_range(device):
    if not hasattr(plugtorch, "gather"):
        pytest.skip("gather is not declared yet")
    _assert_parity(lambda d: plugtorch.gather(
        _t((2, 3), d), 1, plugtorch.tensor(np.array([[0, 3], [1, 2]]), device=d)),
        device, RuntimeError)      # PyTorch's class for gather and scatter


def test_dim_out_of_range(device):
    _assert_parity(lambda d: _t((2, 3), d).sum(2), device, IndexError)


def test_inplace_result_cannot_be_cast(device):
    _assert_parity(lambda d: _t((3,), d, plugtorch.int64).add_(_t((3,), d)), device,
                   RuntimeError)
    _assert_parity(lambda d: _t((3,), d, plugtorch.int64).mul_(1.5), device, RuntimeError)


def test_inplace_on_leaf_requiring_grad(device):
    def bad(d):
        x = plugtorch.ones(3, device=d, requires_grad=True)
        x.add_(1)
    _assert_parity(bad, device, RuntimeError)


def test_device_mismatch_names_both_devices(device):
    others = [b for b in plugtorch.backends.available() if b != device]
    if not others:
        pytest.skip("needs a second backend")
    other = others[0]
    a, b = _t((3,), device), _t((3,), other)
    for fn in (lambda: a + b, lambda: b * a, lambda: plugtorch.where(a > 0, a, b)):
        with pytest.raises(RuntimeError) as info:
            fn()
        msg = str(info.value)
        assert str(a.device) in msg and str(b.device) in msg, msg
