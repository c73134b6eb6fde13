"""Views, in-place writes, autograd and dtype support on the backend under test.

Every expected value here is a closed form or a numpy computation, never another backend.
"""
import numpy as np
import pytest

import plugtorch
from plugtorch import _dtype as D
from plugtorch.testing import assert_values, to_host


def _arange(shape, device, dtype=plugtorch.float32):
    n = int(np.prod(shape))
    return plugtorch.tensor(np.arange(n, dtype=dtype.np).reshape(shape), device=device)


# ----------------------------------------------------------------------------- views

@pytest.mark.parametrize("make_view, region", [
    (lambda x: x.select(0, 1), (1, slice(None))),
    (lambda x: x.narrow(1, 1, 2), (slice(None), slice(1, 3))),
    (lambda x: x.t(), (slice(None), slice(None))),
    (lambda x: x.view(12), (slice(None), slice(None))),
    (lambda x: x.diagonal(), (np.arange(3), np.arange(3))),
    (lambda x: x.unsqueeze(0).squeeze(0).transpose(0, 1).narrow(0, 2, 1),
     (slice(None), slice(2, 3))),
], ids=["select", "narrow", "t", "view", "diagonal", "chain"])
def test_write_through_view_is_seen_in_base(device, make_view, region):
    x = _arange((3, 4), device)
    expected = np.arange(12, dtype=np.float32).reshape(3, 4)
    v = make_view(x)
    v.fill_(-1.0)
    expected[region] = -1.0
    assert_values(x, expected)
    v.mul_(3)    # an in-place kernel writing through a strided view
    expected[region] = -3.0
    assert_values(x, expected)
    assert v.device == x.device


@pytest.mark.parametrize("shape, new, strides", [
    ((2, 3), (2, 1, 3), (3, 3, 1)),
    ((2, 3, 4), (6, 1, 4), (4, 4, 1)),
    ((4, 1, 3), (12,), (1,)),
    ((1,), (1, 1), (1, 1)),
    ((3, 4), (1, 12, 1), (12, 1, 1)),
])
def test_view_of_a_contiguous_tensor_has_contiguous_strides(device, shape, new, strides):
    """As PyTorch: a size-1 dim of a view of a contiguous tensor gets the stride a
    contiguous tensor of the new shape has (the product of the sizes after it)."""
    v = _arange(shape, device).view(new)
    assert v.stride() == strides
    assert v.is_contiguous()
    np.testing.assert_array_equal(to_host(v), np.arange(int(np.prod(shape))).reshape(new))


@pytest.mark.parametrize("make, new, strides", [
    (lambda x: x[:, ::2], (8, 1, 3), (6, 6, 2)),
    (lambda x: x[:, ::2], (4, 1, 6), (12, 12, 2)),
    (lambda x: x[:, :3].t(), (3, 1, 4), (1, 48, 12)),
])
def test_view_of_a_strided_tensor_has_pytorch_strides(device, make, new, strides):
    """Size-1 dims of a view take the stride of the contiguous chunk they fall in."""
    base = _arange((4, 12), device)
    v = make(base).view(new)
    assert v.stride() == strides
    np.testing.assert_array_equal(to_host(v), to_host(make(base)).reshape(new))
    with pytest.raises(RuntimeError):
        make(base).t().view(-1)


def test_write_to_base_is_seen_in_view(device):
    x = _arange((3, 4), device)
    v = x.t().narrow(0, 1, 2)
    x.add_(10)
    assert_values(v, np.arange(12, dtype=np.float32).reshape(3, 4).T[1:3] + 10)


def test_copy_into_strided_view(device):
    x = plugtorch.zeros(4, 6, device=device)
    src = _arange((3, 2), device)
    x.as_strided((3, 2), (6, 2), 1).copy_(src)
    expected = np.zeros((4, 6), np.float32)
    expected.reshape(-1)[np.add.outer(np.arange(3) * 6, np.arange(2) * 2) + 1] = \
        np.arange(6).reshape(3, 2)
    assert_values(x, expected)


def test_copy_broadcasts_and_casts(device):
    x = plugtorch.zeros(2, 3, dtype=plugtorch.float64, device=device)
    x.copy_(plugtorch.tensor([1, 2, 3], dtype=plugtorch.int32, device=device))
    assert x.dtype is plugtorch.float64
    assert_values(x, np.tile([1.0, 2.0, 3.0], (2, 1)))


def test_inplace_bumps_version_and_keeps_storage(device):
    x = _arange((2, 3), device)
    v = x.select(0, 0)
    version = x._version
    v.add_(1)
    assert x._version == v._version == version + 1
    assert v._storage is x._storage


def test_inplace_on_expanded_input_reads_before_write(device):
    # x += x.t(): the kernel's input overlaps its output at other positions
    x = _arange((3, 3), device)
    x.add_(x.t().clone())
    a = np.arange(9, dtype=np.float32).reshape(3, 3)
    assert_values(x, a + a.T)


# ----------------------------------------------------------------------------- autograd

def test_backward_closed_form(device):
    a = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    x = plugtorch.tensor(a, device=device, requires_grad=True)
    y = (x * x * 3 + x.exp()).sum()
    y.backward()
    assert x.grad.device == x.device and x.grad.dtype is plugtorch.float64
    assert_values(x.grad, 6 * a + np.exp(a))


def test_gradients_accumulate(device):
    x = plugtorch.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    (x * 2).sum().backward()
    (x * x).sum().backward()
    assert_values(x.grad, 2 + 2 * np.array([1.0, 2.0, 3.0]))


def test_second_backward_needs_retain_graph(device):
    x = plugtorch.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()        # allowed once more: the graph was retained
    assert_values(x.grad, 2 * (np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0]))))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_modified_saved_tensor_is_detected(device):
    x = plugtorch.tensor([1.0, 2.0], device=device, requires_grad=True)
    h = x * 1
    y = h.exp()          # saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_no_grad_and_detach(device):
    x = plugtorch.tensor([1.0, 2.0], device=device, requires_grad=True)
    with plugtorch.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert not x.detach().requires_grad


def test_gradient_through_view_and_inplace(device):
    x = plugtorch.tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    h = x * 1
    h.select(0, 1).mul_(2)           # CopySlices on a non-leaf
    (h * h).sum().backward()
    scale = np.array([[1.0], [2.0]])
    assert_values(x.grad, 2 * np.arange(6.0).reshape(2, 3) * scale ** 2)


# ----------------------------------------------------------------------------- dtypes

def test_unsupported_dtypes_raise_type_error(device):
    backend = plugtorch.backends.get(device)
    missing = [d for d in D.ALL if d not in backend.dtypes]
    if not missing:
        pytest.skip(f"{device} supports every dtype")
    x = plugtorch.ones(3, device=device)
    for d in missing:
        with pytest.raises(TypeError, match=d.name):
            plugtorch.zeros(3, dtype=d, device=device)
        with pytest.raises(TypeError, match=d.name):
            x.to(d)
        with pytest.raises(TypeError, match=d.name):
            plugtorch.tensor(np.zeros(3, d.np)).to(device)


@pytest.mark.parametrize("dtype", D.ALL, ids=lambda d: d.name)
def test_dtype_round_trip(device, dtype):
    if dtype not in plugtorch.backends.get(device).dtypes:
        pytest.skip(f"unsupported: {dtype.name} on {device}")
    a = (np.arange(-3, 3) % 2 == 0) if dtype is D.bool else np.arange(6).astype(dtype.np)
    t = plugtorch.tensor(a, device=device)
    assert t.dtype is dtype and t.device.type == device
    assert np.array_equal(to_host(t), a) and to_host(t).dtype == a.dtype


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sort_and_topk_rank_nan_largest(device, dtype):
    """NaN is the largest value (as PyTorch): descending sort and topk put every NaN before
    +inf, in input order; ascending sort puts them last."""
    x = plugtorch.tensor([1.0, np.nan, np.inf, -1.0, np.inf, np.nan, -np.inf],
                         dtype=getattr(plugtorch, dtype), device=device)
    values, indices = x.sort(descending=True)
    assert to_host(indices).tolist() == [1, 5, 2, 4, 0, 3, 6]
    np.testing.assert_array_equal(to_host(values),
                                  [np.nan, np.nan, np.inf, np.inf, 1.0, -1.0, -np.inf])
    assert to_host(x.topk(3).indices).tolist() == [1, 5, 2]
    assert to_host(x.sort().indices).tolist() == [6, 3, 0, 2, 4, 1, 5]
    m = x.reshape(1, 7).expand(2, 7).t()          # along dim 0 of a strided view
    assert to_host(m.sort(0, descending=True).indices[:, 1]).tolist() == [1, 5, 2, 4, 0, 3, 6]


@pytest.mark.parametrize("dtype", ["float32", "int32"])
@pytest.mark.parametrize("dim", [-1, 1])
def test_argmax_argmin_over_a_short_dim_of_many_rows(device, dtype, dim):
    """Thousands of rows of 2-9 values (pooling windows): the first extreme wins among ties,
    a row holding NaN picks its first NaN (PyTorch's rule); checked against np.argmax."""
    rng = np.random.default_rng(11)
    for k in (2, 4, 9):
        a = rng.integers(-3, 3, (3, 700, k)).astype(dtype)       # ties everywhere
        if dtype == "float32":
            a[0, :40] = np.nan
            a[1, 5, :] = [-0.0, 0.0] + [-5.0] * (k - 2)           # -0 and 0 tie: the first
            a[2, 3, k - 1] = np.nan
        a = np.moveaxis(a, -1, dim)
        x = plugtorch.tensor(a, device=device)
        for name in ("argmax", "argmin"):
            ref = getattr(np, name)(a, axis=dim)
            got = getattr(x, name)(dim)
            np.testing.assert_array_equal(to_host(got), ref, err_msg=f"{name} k={k}")
            assert got.dtype is plugtorch.int64


def test_std_gradient_is_zero_for_a_constant_input(device):
    """d std / dx is 0 where std is 0 (PyTorch's convention), not NaN; elsewhere it is
    (x - mean) / ((n - 1) std)."""
    x = plugtorch.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], dtype=plugtorch.float64,
                         device=device, requires_grad=True)
    x.std(1).sum().backward()
    a = np.array([1.0, 2.0, 4.0])
    expected = (a - a.mean()) / ((a.size - 1) * a.std(ddof=1))
    np.testing.assert_allclose(to_host(x.grad), [[0.0, 0.0, 0.0], expected], rtol=1e-12)
    y = plugtorch.full((2, 3), 5.0, dtype=plugtorch.float64, device=device,
                       requires_grad=True)
    s, m = plugtorch.std_mean(y, 1)
    (s + m).sum().backward()
    np.testing.assert_allclose(to_host(y.grad), np.full((2, 3), 1 / 3), rtol=1e-12)
