"""x[key] reads/writes, gather/scatter, index_select, masked ops, nonzero, take: values vs numpy
float64, views share memory, PyTorch's errors, gradients by finite differences."""
import numpy as np
import pytest

import plugtorch as torch
from plugtorch.ops import OPS
from plugtorch.testing import fd_check

RNG = np.random.default_rng(0)


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def noncontig(shape):
    """A float64 tensor with the given shape whose strides are not contiguous."""
    a = RNG.standard_normal(tuple(reversed(shape)))
    t = torch.tensor(a).permute(*reversed(range(len(shape))))
    assert not t.is_contiguous() or len(shape) < 2
    return t, a.T


def check_grad(f, *arrays):
    """Gradients of sum(f(*arrays) * w) vs central differences, for every input."""
    fd_check(f, list(arrays), rtol=1e-7, rng=np.random.default_rng(1))


# ----------------------------------------------------------------------------- basic getitem

KEYS = [0, -1, (1, 2), slice(1, 3), (slice(None), slice(None, None, 2)), (Ellipsis, 1),
        (None, 0, None), (1, Ellipsis, None), (slice(5, 10),), (slice(-3, -1), 0),
        (slice(None, None, 3), Ellipsis, slice(1, None, 2)), (), True, (0, False)]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_basic_getitem_matches_numpy_and_is_a_view(key):
    x, a = noncontig((4, 3, 5))
    y = x[key]
    expect = a[key]
    np.testing.assert_array_equal(y.numpy(), expect)
    assert y._storage is x._storage
    if y.numel():
        y.fill_(123.0)                       # written through the view ...
        a2 = a.copy()
        a2[key] = 123.0
        np.testing.assert_array_equal(x.numpy(), a2)   # ... and seen in the base


def test_slice_steps_errors():
    x = torch.zeros(5)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        x[::0]
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 5"):
        x[5]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 1"):
        x[0, 0]
    with pytest.raises(IndexError, match="only integers, slices"):
        x[1.5]
    with pytest.raises(IndexError, match="tensors used as indices must be long"):
        x[torch.tensor([1.0])]


# ----------------------------------------------------------------------------- advanced

ADV = [
    lambda i: ([0, 2, -1],),
    lambda i: (np.array([[0, 1], [2, 3]]),),
    lambda i: (slice(None), [2, 0, 0]),
    lambda i: ([0, 1], [2, 0]),                        # adjacent, broadcast
    lambda i: ([[0], [3]], slice(None), [1, 4]),       # separated: index dims first
    lambda i: (slice(1, 3), [0, 2], [[1], [4]]),       # adjacent after a slice
    lambda i: (0, slice(None), [0, 1]),                # int is basic (select), as PyTorch
    lambda i: (Ellipsis, [4, 3]),
    lambda i: (None, [1, 1], Ellipsis, 0),
    lambda i: (i.int32([1, 3]),),
    lambda i: ([],),
    lambda i: (True, [0, 1]),                          # a bool beside index tensors indexes
    lambda i: ([1, 2], slice(None), False),
]


class _I:
    @staticmethod
    def int32(v):
        return torch.tensor(v, dtype=torch.int32)


def _np_key(key):
    def conv(k):
        if isinstance(k, torch.Tensor):
            return np.asarray(k.numpy())
        if isinstance(k, list):
            return np.asarray(k, dtype=None if k else np.int64)
        return k
    return tuple(conv(k) for k in key)


@pytest.mark.parametrize("k", range(len(ADV)))
def test_advanced_getitem_matches_pytorch_rules(k):
    x, a = noncontig((4, 3, 5))
    key = ADV[k](_I)
    if k == 12:
        with pytest.raises(IndexError, match=r"could not be broadcast together with shapes "
                                             r"\[2\], \[0\]"):
            x[key]
        return
    y = x[key]
    nkey = _np_key(key)
    if k == 6:      # numpy would move the index dims first; PyTorch selects first
        expect = a[0][:, [0, 1]]
    elif k == 11:
        expect = a[[0, 1]]
    elif k == 8:
        expect = a[None, ..., 0][:, [1, 1]]
    else:
        expect = a[nkey]
    np.testing.assert_array_equal(y.numpy(), expect)
    assert y._storage is not x._storage      # a copy


def test_bool_mask_getitem():
    x, a = noncontig((3, 4))
    m = a > 0
    np.testing.assert_array_equal(x[torch.tensor(m)].numpy(), a[m])
    row = np.array([True, False, True])
    np.testing.assert_array_equal(x[torch.tensor(row), 1:].numpy(), a[row, 1:])
    np.testing.assert_array_equal(x[:, [True, False, False, True]].numpy(),
                                  a[:, [True, False, False, True]])
    with pytest.raises(IndexError, match=r"The shape of the mask \[2\] at index 0 does not "
                                         r"match the shape of the indexed tensor \[3, 4\]"):
        x[torch.tensor([True, False])]


def test_index_out_of_range_errors_name_index_and_size():
    x = torch.zeros(3, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x[torch.tensor([0, 5])]
    with pytest.raises(IndexError, match="index -5 is out of bounds for dimension 1 with size 4"):
        x[:, [-5]]
    with pytest.raises(IndexError, match="index 9 is out of bounds for dimension 0"):
        x[[9]] = 1.0


def test_advanced_getitem_gradient():
    a = RNG.standard_normal((4, 5))
    check_grad(lambda x: x[[0, 2, 0], 1:4], a)                 # repeated row: grads add
    check_grad(lambda x: x[[[0], [3]], [1, 1, 4]], a)
    check_grad(lambda x: x[torch.tensor(a > 0)], a)


def test_basic_getitem_gradient():
    a = RNG.standard_normal((4, 5))
    check_grad(lambda x: x[1:3, ::2], a)
    check_grad(lambda x: x[None, -1], a)


# ----------------------------------------------------------------------------- setitem

SET = [((1,), 7.0), ((slice(None), 2), [1.0, 2.0, 3.0, 4.0]), (([0, 3], [1, 2]), -1.0),
       (([0, 3],), [[1.0], [2.0]]), ((slice(1, None), [0, 2]), 5.0),
       ((Ellipsis, [True, False, True]), 0.5), ((0, slice(None, None, 2)), [9.0, 8.0])]


@pytest.mark.parametrize("key,value", SET, ids=repr)
def test_setitem_matches_numpy(key, value):
    x, a = noncontig((4, 3))
    a = a.copy()
    v = torch.tensor(value) if isinstance(value, list) else value
    x[key] = v
    a[_np_key(key)] = np.asarray(value)
    np.testing.assert_array_equal(x.numpy(), a)


def test_setitem_writes_into_the_base_through_views_and_numpy():
    arr = np.zeros((3, 4))
    t = torch.from_numpy(arr)
    t[1][[0, 3]] = 2.0          # t[1] is a view: the advanced write lands in t's memory
    t[:, 1] = torch.tensor([1.0, 2.0, 3.0])
    expect = np.zeros((3, 4))
    expect[1, [0, 3]] = 2.0
    expect[:, 1] = [1, 2, 3]
    np.testing.assert_array_equal(arr, expect)


def test_setitem_shape_mismatch():
    x = torch.zeros(5, 6, 7)
    with pytest.raises(RuntimeError, match=r"shape mismatch: value tensor of shape \[3\] cannot "
                                           r"be broadcast to indexing result of shape \[1, 6, 7\]"):
        x[[0]] = torch.zeros(3)


def test_setitem_autograd_on_non_leaf():
    x = T(RNG.standard_normal(4), grad=True)
    y = x * 2
    y[0] = 0
    y[[2, 2]] = 5.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 0.0, 2.0])


def test_setitem_value_gradient_and_leaf_error():
    x = T(RNG.standard_normal((3, 4)), grad=True)
    v = T(RNG.standard_normal(4), grad=True)
    y = x * 1
    y[[0, 2]] = v           # v broadcast to two rows: its gradient sums them
    y[1, 1:3] = v[:2] * 3
    w = RNG.standard_normal((3, 4))
    (y * T(w)).sum().backward()
    gx = w.copy()
    gx[[0, 2]] = 0
    gx[1, 1:3] = 0
    np.testing.assert_allclose(x.grad.numpy(), gx)
    gv = w[0] + w[2]
    gv[:2] += 3 * w[1, 1:3]
    np.testing.assert_allclose(v.grad.numpy(), gv)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 1.0


# ----------------------------------------------------------------------------- gather / scatter

def test_gather_and_scatter_vs_numpy_and_grad():
    a = RNG.standard_normal((3, 4))
    idx = np.array([[2, 0, 1, 1], [0, 0, 2, 1]])
    x = T(a)
    np.testing.assert_array_equal(x.gather(0, torch.tensor(idx)).numpy(),
                                  np.take_along_axis(a, idx, 0))
    check_grad(lambda t: t.gather(0, torch.tensor(idx)), a)
    check_grad(lambda t: t.gather(1, torch.tensor(idx[:, :2])), a)
    src = RNG.standard_normal((2, 4))
    sidx = np.array([[2, 0, 1, 1], [0, 1, 2, 0]])
    expect = a.copy()
    for i, j in np.ndindex(sidx.shape):
        expect[sidx[i, j], j] = src[i, j]
    np.testing.assert_array_equal(x.scatter(0, torch.tensor(sidx), T(src)).numpy(), expect)
    check_grad(lambda t, s: t.scatter(0, torch.tensor(sidx), s), a, src)
    added = a.copy()
    np.add.at(added, (idx, np.arange(4)[None]), src)
    np.testing.assert_allclose(x.scatter_add(0, torch.tensor(idx), T(src)).numpy(), added)
    check_grad(lambda t, s: t.scatter_add(0, torch.tensor(idx), s), a, src)


def test_scatter_inplace_forms():
    x = torch.zeros(2, 3)
    x.scatter_(1, torch.tensor([[0, 0], [2, 1]]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
               reduce="add")
    np.testing.assert_array_equal(x.numpy(), [[3, 0, 0], [0, 4, 3]])
    x.scatter_(1, torch.tensor([[0], [1]]), 2.0, reduce="multiply")
    np.testing.assert_array_equal(x.numpy(), [[6, 0, 0], [0, 8, 3]])
    x.scatter_(0, torch.tensor([[1, 0, 1]]), value=-1.0)
    np.testing.assert_array_equal(x.numpy(), [[6, -1, 0], [-1, 8, -1]])
    y = torch.ones(3)
    y.scatter_add_(0, torch.tensor([0, 0, 2]), torch.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(y.numpy(), [4, 1, 4])


def test_scatter_reduce():
    x = torch.tensor([1.0, 2.0, 3.0])
    idx = torch.tensor([0, 0, 2, 2])
    src = torch.tensor([2.0, 4.0, 5.0, 7.0])
    np.testing.assert_array_equal(x.scatter_reduce(0, idx, src, "sum").numpy(), [7, 2, 15])
    np.testing.assert_array_equal(x.scatter_reduce(0, idx, src, "prod").numpy(),
                                  [8, 2, 105])
    np.testing.assert_array_equal(
        x.scatter_reduce(0, idx, src, "sum", include_self=False).numpy(), [6, 2, 12])
    np.testing.assert_allclose(x.scatter_reduce(0, idx, src, "mean").numpy(),
                               [7 / 3, 2, 5])
    np.testing.assert_allclose(
        x.scatter_reduce(0, idx, src, "mean", include_self=False).numpy(), [3, 2, 6])


def test_gather_scatter_errors():
    x = torch.zeros(3, 4)
    with pytest.raises(RuntimeError, match="gather: index 3 is out of bounds for dimension 0 "
                                           "with size 3"):
        x.gather(0, torch.tensor([[3]]))
    with pytest.raises(RuntimeError, match="index -1 is out of bounds"):
        x.gather(1, torch.tensor([[-1]]))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(0, torch.tensor([0]))
    with pytest.raises(RuntimeError, match="no larger than self"):
        x.gather(0, torch.zeros(1, 5, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="Expected self.dtype to be equal to src.dtype"):
        x.scatter(0, torch.tensor([[0]]), torch.ones(1, 1, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="scatter: index 7 is out of bounds"):
        x.scatter(1, torch.tensor([[7]]), 1.0)


# ----------------------------------------------------------------------------- index_select & co

def test_index_select_and_index_add():
    x, a = noncontig((4, 5))
    idx = np.array([4, 0, 0, 2])
    np.testing.assert_array_equal(x.index_select(1, torch.tensor(idx)).numpy(), a[:, idx])
    check_grad(lambda t: t.index_select(0, torch.tensor([3, 3, 1])), a.copy())
    with pytest.raises(IndexError, match="index_select: index 5 is out of bounds for "
                                         "dimension 1 with size 5"):
        x.index_select(1, torch.tensor([5]))
    with pytest.raises(IndexError, match="index -1 is out of bounds"):
        x.index_select(0, torch.tensor([-1]))
    src = RNG.standard_normal((4, 3))
    expect = a.copy()
    np.add.at(expect, (slice(None), [1, 1, 4]), 2 * src)
    got = x.index_add(1, torch.tensor([1, 1, 4]), T(src), alpha=2)
    np.testing.assert_allclose(got.numpy(), expect)
    check_grad(lambda t, s: t.index_add(1, torch.tensor([1, 1, 4]), s, alpha=2), a.copy(), src)
    y = torch.zeros(3)
    y.index_add_(0, torch.tensor([2, 2]), torch.tensor([1.0, 1.5]))
    np.testing.assert_array_equal(y.numpy(), [0, 0, 2.5])


def test_masked_fill_select():
    x, a = noncontig((3, 4))
    m = RNG.random(4) < 0.5
    np.testing.assert_array_equal(x.masked_fill(torch.tensor(m), 2.5).numpy(),
                                  np.where(m, 2.5, a))
    np.testing.assert_array_equal(x.masked_select(torch.tensor(m)).numpy(),
                                  np.broadcast_to(a, (3, 4))[np.broadcast_to(m, (3, 4))])
    check_grad(lambda t: t.masked_fill(torch.tensor(m), 0.0), a.copy())
    check_grad(lambda t: t[:1].masked_select(torch.tensor(np.stack([m, ~m, m]))), a.copy())
    with pytest.raises(RuntimeError, match="only supports boolean masks"):
        x.masked_fill(torch.ones(4), 1.0)
    y = torch.zeros(2, 2, dtype=torch.int64)
    y.masked_fill_(torch.tensor([[True, False], [False, True]]), 7)
    np.testing.assert_array_equal(y.numpy(), [[7, 0], [0, 7]])
    assert y.dtype == torch.int64
    z = T(a, grad=True)
    w = z * 1
    w.masked_fill_(torch.tensor(m), 0.0)
    w.sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), np.broadcast_to(~m, (3, 4)).astype(float))


def test_nonzero_argwhere_take():
    a = np.array([[0, 1.5, 0], [2, 0, -1]])
    x = T(a)
    np.testing.assert_array_equal(x.nonzero().numpy(), np.argwhere(a))
    np.testing.assert_array_equal(torch.argwhere(x).numpy(), np.argwhere(a))
    for got, exp in zip(x.nonzero(as_tuple=True), np.nonzero(a)):
        np.testing.assert_array_equal(got.numpy(), exp)
    assert x.nonzero().dtype == torch.int64
    idx = np.array([[5, -1], [0, 2]])
    np.testing.assert_array_equal(x.take(torch.tensor(idx)).numpy(), np.take(a, idx))
    with pytest.raises(IndexError, match="out of range: tried to access index 6 on a tensor "
                                         "of 6 elements"):
        x.take(torch.tensor([6]))
    check_grad(lambda t: t.take(torch.tensor([0, 0, -1])), a)


def test_declared_ops_match_their_references():
    """Every declared indexing op against its numpy reference, float64 and int64."""
    rng = np.random.default_rng(3)
    names = ["gather", "scatter", "scatter_add", "index_select", "index_add", "masked_fill",
             "masked_select", "take", "nonzero"]
    for name in names:
        op = OPS[name]
        for dt in (torch.float64, torch.int64):
            for s in op.samples(dt, rng):
                args = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in s.args]
                got = op.fn(*args, **s.kwargs).numpy()
                exp = op.ref(*s.args, **s.kwargs)
                assert got.shape == np.shape(exp), (name, s)
                np.testing.assert_allclose(got, exp, err_msg=f"{name} {s}")


def test_index_checks_read_the_host_once_per_index_tensor(monkeypatch):
    from plugtorch.ops import indexing
    reads = []
    real = indexing.host_array
    monkeypatch.setattr(indexing, "host_array", lambda t: reads.append(t) or real(t))
    torch.zeros(5, 6)[torch.tensor([1, 2]), torch.tensor([[0], [5]])]
    assert len(reads) == 2
