"""The tensor model on cpu: metadata, views sharing memory, conversions, numpy sharing."""
import numpy as np
import pytest

import plugtorch as pt


def test_metadata():
    x = pt.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, pt.Size)
    assert x.size() == (2, 3, 4) and x.size(-1) == 4
    assert x.dim() == x.ndim == 3
    assert x.numel() == 24
    assert x.stride() == (12, 4, 1) and x.stride(0) == 12
    assert x.storage_offset() == 0
    assert x.is_contiguous()
    assert x.dtype is pt.float32 and x.device == pt.device("cpu")
    assert x.is_leaf and x.grad_fn is None and not x.requires_grad
    assert repr(x.shape) == "plugtorch.Size([2, 3, 4])"
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.size(3)


def test_views_share_memory_and_have_expected_strides():
    x = pt.arange(12.0).reshape(3, 4)
    t = x.t()
    assert t.shape == (4, 3) and t.stride() == (1, 4) and not t.is_contiguous()
    n = x.narrow(1, 1, 2)
    assert n.storage_offset() == 1 and n.stride() == (4, 1)
    s = x.select(0, 2)
    assert s.tolist() == [8.0, 9.0, 10.0, 11.0]
    s.fill_(-1.0)
    assert x.tolist()[2] == [-1.0] * 4
    p = x.unsqueeze(0).permute(2, 0, 1)
    assert p.shape == (4, 1, 3)
    e = pt.tensor([1.0, 2.0]).unsqueeze(1).expand(2, 3)
    assert e.stride() == (1, 0)
    np.testing.assert_array_equal(e.numpy(), [[1, 1, 1], [2, 2, 2]])
    assert x.view(-1).shape == (12,)
    assert x.flatten().shape == (12,)
    assert x.unflatten(1, (2, 2)).shape == (3, 2, 2)
    assert x.unsqueeze(-1).squeeze().shape == (3, 4)
    assert [c.shape[1] for c in x.split(2, dim=1)] == [2, 2]
    assert [c.shape[1] for c in x.chunk(3, dim=1)] == [2, 2]
    assert len(x.unbind(0)) == 3
    v = x.view(2, 6)
    v.zero_()
    assert x.sum().item() == 0


def test_view_incompatible_strides_raises_and_reshape_copies():
    x = pt.arange(6.0).reshape(2, 3).t()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.view(6)
    r = x.reshape(6)
    assert r.tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    r.fill_(7)
    assert x.tolist()[0][0] == 0.0   # reshape had to copy


def test_invalid_shape_message():
    with pytest.raises(RuntimeError, match=r"shape '\[4, 2\]' is invalid for input of size 6"):
        pt.arange(6).view(4, 2)


def test_expand_errors_name_sizes():
    with pytest.raises(RuntimeError, match="must match the existing size"):
        pt.ones(2, 3).expand(4, 3)


def test_contiguous_clone_detach():
    x = pt.arange(6.0).reshape(2, 3)
    assert x.contiguous() is x
    y = x.t().contiguous()
    assert y.is_contiguous() and y.tolist() == [[0, 3], [1, 4], [2, 5]]
    c = x.clone()
    c.fill_(0)
    assert x.sum().item() == 15
    d = x.detach()
    d.fill_(1)
    assert x.sum().item() == 6     # detach shares storage


def test_from_numpy_shares_memory_both_ways():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = pt.from_numpy(a)
    assert t.dtype is pt.float64
    a[0, 0] = 42
    assert t[0, 0].item() == 42 if hasattr(pt.Tensor, "__getitem__") else True
    t.mul_(2)
    assert a[1, 2] == 10
    n = t.numpy()
    n[1, 1] = -1
    assert a[1, 1] == -1
    # non-contiguous numpy arrays share memory too
    b = np.arange(12.0).reshape(3, 4)[:, ::2]
    tb = pt.from_numpy(b)
    assert tb.stride() == (4, 2)
    tb.fill_(0)
    assert b.sum() == 0
    with pytest.raises(ValueError, match="negative"):
        pt.from_numpy(np.arange(3.0)[::-1])


def test_numpy_refuses_grad_and_non_cpu_message():
    x = pt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()
    assert np.asarray(x.detach()).tolist() == [1.0, 1.0]


def test_item_tolist_bool_len():
    assert pt.tensor(3.5).item() == 3.5
    assert pt.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        pt.ones(2).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(pt.ones(2))
    assert bool(pt.tensor([1]))
    assert len(pt.ones(5, 2)) == 5
    assert int(pt.tensor(7)) == 7 and float(pt.tensor(2.5)) == 2.5


def test_to_dtype_and_casts():
    x = pt.tensor([1.7, -2.2])
    assert x.to(pt.int64).tolist() == [1, -2]
    assert x.long().dtype is pt.int64 and x.double().dtype is pt.float64
    assert x.half().dtype is pt.float16 and x.int().dtype is pt.int32
    assert x.bool().tolist() == [True, True]
    assert x.to(pt.float32) is x
    assert x.to(pt.float32, copy=True) is not x
    assert x.to(pt.zeros(1, dtype=pt.float64)).dtype is pt.float64


def test_copy_broadcasts_and_casts():
    x = pt.zeros(2, 3, dtype=pt.int32)
    x.copy_(pt.tensor([1.9, 2.1, -3.5]))
    assert x.tolist() == [[1, 2, -3], [1, 2, -3]]
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        pt.zeros(3).copy_(pt.zeros(2, 3))


def test_inplace_cast_error():
    x = pt.ones(3, dtype=pt.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        x.add_(1.5)
    x.add_(2)
    assert x.tolist() == [3, 3, 3]


def test_inplace_with_overlapping_input():
    x = pt.arange(4.0).reshape(2, 2)
    x.add_(x.t())
    assert x.tolist() == [[0.0, 3.0], [3.0, 6.0]]


def test_version_counter_bumps_on_inplace():
    x = pt.zeros(3)
    v = x._version
    x.add_(1)
    x.mul_(2)
    assert x._version == v + 2
    assert x[0:1]._version == x._version if hasattr(pt.Tensor, "__getitem__") else True


def test_resize_keeps_data():
    x = pt.arange(4.0)
    x.resize_(2, 2)
    assert x.tolist() == [[0, 1], [2, 3]]
    x.resize_(3, 3)
    assert x.shape == (3, 3)
    assert x.flatten().tolist()[:4] == [0, 1, 2, 3]


def test_factories():
    assert pt.zeros(2, 3).sum().item() == 0
    assert pt.ones((2, 3), dtype=pt.int32).dtype is pt.int32
    assert pt.full((2,), 7).dtype is pt.int64 and pt.full((2,), 7).tolist() == [7, 7]
    assert pt.full((2,), 1.5).dtype is pt.float32
    assert pt.arange(5).tolist() == [0, 1, 2, 3, 4] and pt.arange(5).dtype is pt.int64
    np.testing.assert_allclose(pt.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(pt.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5), atol=1e-7)
    np.testing.assert_array_equal(pt.eye(3, 2).numpy(), np.eye(3, 2))
    assert pt.zeros_like(pt.ones(2, dtype=pt.int8)).dtype is pt.int8
    assert pt.full_like(pt.ones(2), 3).tolist() == [3, 3]
    assert pt.empty(0, 3).shape == (0, 3)
    assert pt.tensor([True, False]).dtype is pt.bool
    assert pt.tensor([1, 2.5]).dtype is pt.float32
    assert pt.tensor(np.arange(3, dtype=np.int16)).dtype is pt.int16
    with pytest.raises(RuntimeError, match="negative dimension"):
        pt.zeros(-1)
    with pytest.raises(RuntimeError, match="floating point"):
        pt.ones(2, dtype=pt.int64, requires_grad=True)


def test_tensor_copies_numpy_input():
    a = np.zeros(3)
    t = pt.tensor(a)
    a[0] = 1
    assert t.tolist() == [0, 0, 0]
    s = pt.as_tensor(a)
    a[1] = 2
    assert s.tolist() == [1, 2, 0]


def test_unknown_device_message():
    with pytest.raises(RuntimeError, match="unknown device type 'nosuchdevice'"):
        pt.zeros(2, device="nosuchdevice")


def test_device_object():
    d = pt.device("opencl:1")
    assert d.type == "opencl" and d.index == 1 and str(d) == "opencl:1"
    assert pt.device("cpu") == "cpu"
    assert repr(pt.device("cpu")) == "device(type='cpu')"


def test_as_strided_overlapping_windows_accumulate_gradient():
    x = pt.arange(5.0, requires_grad=True)
    w = x.as_strided((3, 3), (1, 1))          # sliding windows share elements
    weights = pt.arange(1.0, 10.0).reshape(3, 3)
    (w * weights).sum().backward()
    # each x[i] collects the weights of every window position that reads it
    assert x.grad.tolist() == [1.0, 2 + 4, 3 + 5 + 7, 6 + 8, 9.0]


def test_clamp_gradient_includes_the_bounds():
    x = pt.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
    x.clamp(0, 1).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]      # PyTorch passes it at the bounds
    a = pt.tensor([0.0, 0.5, 3.0], requires_grad=True)
    lo = pt.tensor([1.0, 0.0, 0.0], requires_grad=True)
    hi = pt.tensor([2.0, 2.0, 2.0], requires_grad=True)
    pt.clamp(a, lo, hi).sum().backward()
    assert (a.grad.tolist(), lo.grad.tolist(), hi.grad.tolist()) == \
        ([0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0])


def test_out_arguments_are_written():
    out = pt.empty(0)
    r = pt.cat([pt.ones(2), pt.zeros(3)], out=out)
    assert r is out and out.tolist() == [1, 1, 0, 0, 0]
    assert pt.empty(2, 3, out=out) is out and out.shape == (2, 3)
    with pytest.raises(RuntimeError, match="can't be cast"):
        pt.cat([pt.ones(2)], out=pt.empty(2, dtype=pt.int64))


def test_broadcast_error_with_many_shapes():
    shapes = [pt.ones(3)] * 9 + [pt.ones(4)]
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        pt.broadcast_tensors(*shapes)


# ----------------------------------------------------------------------------- small composites

def test_type_names_and_casts():
    x = pt.tensor([1.5, -2.0])
    assert x.type() == "torch.FloatTensor"      # PyTorch's names (NOTE [legacy type names])
    assert (x > 0).type() == "torch.BoolTensor" and x.long().type() == "torch.LongTensor"
    assert x.type(pt.int32).dtype is pt.int32 and x.type(pt.int32).tolist() == [1, -2]
    assert x.type("torch.DoubleTensor").dtype is pt.float64
    with pytest.raises(ValueError, match="invalid type"):
        x.type("plugtorch.NopeTensor")


def test_square_log_bases_hyperbolic_against_numpy():
    x = np.array([-1.5, -0.2, 0.0, 0.7, 2.0])
    t = pt.tensor(x)
    np.testing.assert_allclose(t.square().numpy(), x * x, rtol=1e-15)
    assert pt.square(pt.tensor([True, False])).dtype is pt.int64      # bool -> int64
    assert pt.square(pt.tensor([3], dtype=pt.int8)).dtype is pt.int8
    for fn, ref in [(pt.exp2, np.exp2), (pt.sinh, np.sinh), (pt.cosh, np.cosh),
                    (pt.atan, np.arctan)]:
        np.testing.assert_allclose(fn(t).numpy(), ref(x), rtol=1e-14)
    u = np.array([-1.0, -0.6, 0.0, 0.3, 1.0])
    np.testing.assert_allclose(pt.asin(pt.tensor(u)).numpy(), np.arcsin(u), atol=1e-15)
    np.testing.assert_allclose(pt.tensor(u).acos().numpy(), np.arccos(u), atol=1e-15)
    assert np.isnan(pt.asin(pt.tensor([1.5])).item())
    p = np.abs(x) + 0.5
    np.testing.assert_allclose(pt.log2(pt.tensor(p)).numpy(), np.log2(p), rtol=1e-14)
    np.testing.assert_allclose(pt.tensor(p).log10().numpy(), np.log10(p), rtol=1e-14)
    assert pt.log2(pt.tensor([8, 1])).tolist() == [3.0, 0.0]            # int -> float
    np.testing.assert_allclose(t.clamp_min(0.1).numpy(), np.maximum(x, 0.1))
    np.testing.assert_allclose(t.clamp_max(0.1).numpy(), np.minimum(x, 0.1))


def test_nan_to_num_defaults_are_the_dtype_limits():
    x = pt.tensor([float("nan"), float("inf"), -float("inf"), 1.0])
    f32 = np.finfo(np.float32)
    assert pt.nan_to_num(x).tolist() == [0.0, float(f32.max), float(f32.min), 1.0]
    assert x.double().nan_to_num(nan=2.0).tolist()[:2] == [2.0, np.finfo(np.float64).max]
    i = pt.tensor([1, 2])
    assert pt.nan_to_num(i).tolist() == [1, 2]


def test_isclose_allclose_equal_lerp():
    a = pt.tensor([1.0, 2.0, float("inf"), float("nan"), -float("inf")])
    b = pt.tensor([1.0 + 1e-6, 2.1, float("inf"), float("nan"), float("inf")])
    assert pt.isclose(a, b).tolist() == [True, False, True, False, False]
    assert a.isclose(b, equal_nan=True).tolist() == [True, False, True, True, False]
    assert pt.isclose(a, b, rtol=0.1).tolist()[1] is True
    assert pt.isclose(pt.tensor([1, 2]), pt.tensor([1, 3])).tolist() == [True, False]
    assert pt.allclose(a[:3], a[:3]) is True and pt.allclose(a, a) is False
    assert pt.allclose(a, a, equal_nan=True) and not pt.allclose(a, b)
    with pytest.raises(RuntimeError, match="did not match"):
        pt.isclose(pt.ones(2), pt.ones(2, dtype=pt.float64))
    assert pt.equal(pt.tensor([1, 2]), pt.tensor([1, 2])) is True
    assert not pt.equal(pt.tensor([1, 2]), pt.tensor([[1, 2]]))        # shapes differ
    assert not pt.tensor([1.0, float("nan")]).equal(pt.tensor([1.0, float("nan")]))
    s, e = np.array([0.0, 10.0]), np.array([10.0, 20.0])
    np.testing.assert_allclose(pt.lerp(pt.tensor(s), pt.tensor(e), 0.25).numpy(),
                               s + 0.25 * (e - s))
    w = np.array([0.5, 2.0])
    np.testing.assert_allclose(pt.tensor(s).lerp(pt.tensor(e), pt.tensor(w)).numpy(),
                               s + w * (e - s))
    with pytest.raises(TypeError, match="lerp: not implemented for int64"):
        pt.lerp(pt.tensor([1]), pt.tensor([2]), 0.5)


def test_legacy_tensor_constructor():
    assert pt.Tensor(2, 3).shape == (2, 3) and pt.Tensor(2, 3).dtype is pt.float32
    assert pt.Tensor([1, 2]).tolist() == [1.0, 2.0] and pt.Tensor([1, 2]).dtype is pt.float32
    assert pt.Tensor().shape == (0,)
    assert isinstance(pt.Tensor([1.0]), pt.Tensor)
