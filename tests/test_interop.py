"""numpy and DLPack interop: cpu tensors share memory with what they are exchanged with."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch._interop import from_dlpack


# ----------------------------------------------------------------------------- numpy()

def test_numpy_shares_memory_both_ways():
    t = pt.zeros(2, 3)
    a = t.numpy()
    a[0, 1] = 5
    assert t[0, 1].item() == 5
    t.add_(1)
    assert a.tolist() == [[1, 6, 1], [1, 1, 1]]


def test_numpy_of_a_view_is_a_view():
    t = pt.arange(12.0).reshape(3, 4)
    v = t.t()[1:3]
    a = v.numpy()
    assert a.shape == (2, 3) and a.tolist() == [[1, 5, 9], [2, 6, 10]]
    a[...] = -1
    assert t.numpy()[:, 1:3].tolist() == [[-1, -1]] * 3


def test_from_numpy_shares_memory_both_ways():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    t = pt.from_numpy(a)
    t.mul_(10)
    assert a.tolist() == [[0, 10, 20], [30, 40, 50]]
    a[1, 2] = -7
    assert t[1, 2].item() == -7


def test_numpy_refuses_grad_and_device_tensors(device):
    with pytest.raises(RuntimeError, match="requires grad"):
        pt.ones(2, requires_grad=True).numpy()
    if device != "cpu":
        with pytest.raises(TypeError, match="Tensor.cpu()"):
            pt.ones(2, device=device).numpy()


# ----------------------------------------------------------------------------- __array__

def test_asarray_shares_memory_on_cpu():
    t = pt.arange(4.0)
    a = np.asarray(t)
    assert a.dtype == np.float32 and np.shares_memory(a, t.numpy())
    a[0] = 9
    assert t[0].item() == 9


def test_array_copy_and_dtype_keywords():
    t = pt.arange(3.0)
    c = np.array(t)                 # numpy's default is a copy
    c[0] = 5
    assert t[0].item() == 0
    d = np.asarray(t, dtype=np.float64)
    assert d.dtype == np.float64 and d.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="Unable to avoid copy"):
        np.asarray(t, dtype=np.float64, copy=False)
    assert np.shares_memory(np.asarray(t, copy=False), t.numpy())


def test_array_on_a_device_copies(device):
    t = pt.arange(3.0, device=device)
    assert np.asarray(t).tolist() == [0, 1, 2]
    if device != "cpu":
        with pytest.raises(ValueError, match="Unable to avoid copy"):
            np.asarray(t, copy=False)


def test_numpy_functions_accept_tensors():
    t = pt.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.sum(np.asarray(t)) == 10
    assert np.allclose(np.linalg.inv(np.asarray(t)), [[-2, 1], [1.5, -0.5]])
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(pt.ones(2, requires_grad=True))


# ----------------------------------------------------------------------------- DLPack

@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int32", "int64", "float16",
                                   "float32", "float64"])
def test_dlpack_export_to_numpy_shares_memory(dtype):
    t = pt.tensor([1, 0, 1], dtype=getattr(pt, dtype))
    assert t.__dlpack_device__() == (1, 0)
    a = np.from_dlpack(t)
    assert a.dtype == np.dtype(dtype) and a.tolist() == t.tolist()
    a[1] = 1
    assert t[1].item() == 1


def test_dlpack_export_keeps_strides_and_offset():
    t = pt.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1)[1:3]
    a = np.from_dlpack(t)
    assert a.shape == (2, 2, 3)
    np.testing.assert_array_equal(a, np.arange(24.0).reshape(2, 3, 4).transpose(2, 0, 1)[1:3])
    assert np.from_dlpack(pt.tensor(2.5)).shape == ()


def test_dlpack_export_refuses_grad():
    with pytest.raises(RuntimeError, match="require gradient"):
        pt.ones(2, requires_grad=True).__dlpack__()
    assert np.from_dlpack(pt.ones(2, requires_grad=True).detach()).tolist() == [1, 1]


def test_dlpack_export_from_a_device_without_support(device):
    if device == "cpu":
        pytest.skip("cpu exports through numpy")
    backend = pt.backends.get(device)
    t = pt.ones(2, device=device)
    if getattr(backend, "to_dlpack", None) is None:
        with pytest.raises(BufferError, match="cannot export DLPack"):
            t.__dlpack__()


def test_from_dlpack_numpy_shares_memory():
    a = np.zeros((2, 3), np.float64)[:, 1:]
    t = from_dlpack(a)
    assert t.shape == (2, 2) and t.dtype is pt.float64 and t.stride() == (3, 1)
    t.fill_(4)
    assert a.tolist() == [[4, 4], [4, 4]]


def test_from_dlpack_capsule_and_tensor():
    a = np.arange(3.0)
    t = from_dlpack(a.__dlpack__(max_version=(1, 0)))
    t[0] = 8
    assert a[0] == 8
    # a legacy (unversioned) capsule carries no read-only flag: numpy imports it read-only
    legacy = from_dlpack(a.__dlpack__())
    a[1] = 9
    assert legacy.tolist() == [8, 9, 2]
    assert from_dlpack(t) is t
    with pytest.raises(TypeError, match="__dlpack__"):
        from_dlpack([1, 2])


def test_from_dlpack_round_trip_through_plugtorch():
    t = pt.arange(5)
    u = from_dlpack(np.from_dlpack(t))
    u[2] = 100
    assert t[2].item() == 100


def test_dlpack_with_pytorch_both_ways():
    torch = pytest.importorskip("torch")
    tt = torch.arange(4.0)
    p = from_dlpack(tt)
    assert p.dtype is pt.float32
    p.mul_(2)
    assert tt.tolist() == [0, 2, 4, 6]
    q = pt.ones(2, 2, dtype=pt.float64)
    tq = torch.from_dlpack(q)
    assert tq.dtype == torch.float64
    tq.add_(1)
    assert q.tolist() == [[2, 2], [2, 2]]
