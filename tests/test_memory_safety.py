"""No op touches memory outside its tensors, whatever index it is given.

Each test indexes an empty dim of a view carved out of a larger tensor (a narrow or split
tail whose offset is the end of its storage, an empty `as_strided` view) with an index that
is known on the host or computed on the device. The op must raise the cpu's IndexError (on
devices it may come at the next host read) and leave every element of the surrounding
storage and of neighbouring tensors as it was (NOTE [index bounds] in the OpenCL backend).
"""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch import _dispatch


def _index(device, computed):
    """The index [0] on device: a literal (range known on the host) or computed there."""
    i = pt.tensor([0], device=device)
    return i * 1 if computed else i


# the cpu's error for an out-of-range index: IndexError, or RuntimeError for gather and
# scatter (PyTorch's classes)
INDEX_ERRORS = (IndexError, RuntimeError)


def _raises_index_error(fn, device):
    """fn() raises the index error, at once or at the next host read."""
    with pytest.raises(INDEX_ERRORS, match="out of bounds|out of range"):
        fn()
        pt.zeros(1, device=device).item()


def _surrounded(device, shape=(4, 6)):
    """(tensor, its values, neighbouring tensors, their values): a known-valued tensor with
    tensors allocated right before and after it."""
    def make(k):
        return pt.arange(float(np.prod(shape)), device=device).reshape(shape) + 100 * k
    before = [make(k) for k in (1, 2)]
    x = make(0)
    after = [make(k) for k in (3, 4)]
    neighbours = before + after
    return x, x.cpu().numpy().copy(), neighbours, [t.cpu().numpy().copy() for t in neighbours]


def _assert_untouched(x, ref, neighbours, refs):
    np.testing.assert_array_equal(x.cpu().numpy(), ref)
    for t, r in zip(neighbours, refs):
        np.testing.assert_array_equal(t.cpu().numpy(), r)


# views of a (4, 6) tensor whose dim 1 is empty, each starting at a different place: the end
# of a row, the end of the storage (offset == numel), and well past it
_EMPTY_VIEWS = {
    "narrow-tail": lambda x: x[1:3].narrow(1, 6, 0),
    "split-tail": lambda x: pt.split(x.reshape(-1), [24, 0])[1].reshape(1, 0),
    "as_strided-end": lambda x: x.as_strided((2, 0), (6, 1), 24),
    "as_strided-past": lambda x: x.as_strided((2, 0), (6, 1), 1000),
}

_WRITES = {
    "setitem": lambda v, i: v.__setitem__((slice(None), i), 7.0),
    "index_put_": lambda v, i: v.index_put_((pt.zeros_like(i), i), pt.tensor(7.0,
                                                                           device=i.device)),
    "index_put_accumulate": lambda v, i: v.index_put_(
        (pt.zeros_like(i), i), pt.tensor(7.0, device=i.device), accumulate=True),
    "index_fill": lambda v, i: v.index_add_(1, i, pt.ones(v.shape[0], 1, device=i.device)),
    "scatter_": lambda v, i: v.scatter_(1, i.reshape(1, 1), 7.0),
    "scatter_add_": lambda v, i: v.scatter_add_(1, i.reshape(1, 1),
                                                pt.ones(1, 1, device=i.device)),
}

_READS = {
    "getitem": lambda v, i: v[:, i],
    "index_select": lambda v, i: v.index_select(1, i),
    "gather": lambda v, i: v.gather(1, i.reshape(1, 1)),
    "take": lambda v, i: pt.take(v, i),
    "embedding": lambda v, i: pt.nn.functional.embedding(i, v.t()),
}


@pytest.mark.parametrize("computed", [False, True], ids=["host-index", "device-index"])
@pytest.mark.parametrize("view", list(_EMPTY_VIEWS))
@pytest.mark.parametrize("op", list(_WRITES))
def test_write_through_an_empty_dim_raises_and_touches_nothing(device, op, view, computed):
    x, ref, neighbours, refs = _surrounded(device)
    v = _EMPTY_VIEWS[view](x)
    assert 0 in v.shape
    _raises_index_error(lambda: _WRITES[op](v, _index(device, computed)), device)
    _assert_untouched(x, ref, neighbours, refs)


@pytest.mark.parametrize("computed", [False, True], ids=["host-index", "device-index"])
@pytest.mark.parametrize("view", list(_EMPTY_VIEWS))
@pytest.mark.parametrize("op", list(_READS))
def test_read_through_an_empty_dim_raises(device, op, view, computed):
    x, ref, neighbours, refs = _surrounded(device)
    v = _EMPTY_VIEWS[view](x)
    _raises_index_error(lambda: _READS[op](v, _index(device, computed)), device)
    _assert_untouched(x, ref, neighbours, refs)


@pytest.mark.parametrize("op", list(_READS) + list(_WRITES))
def test_empty_dim_error_is_the_cpu_error(device, op):
    def error(dev):
        v = pt.zeros(3, 0, device=dev)
        fn = _READS.get(op) or _WRITES[op]
        with pytest.raises(INDEX_ERRORS) as e:
            fn(v, pt.tensor([2], device=dev) * 1)
            pt.zeros(1, device=dev).item()
        return type(e.value), str(e.value)
    assert error(device) == error("cpu")
    assert "index 2" in error("cpu")[1]


def test_in_range_index_on_a_tail_view_still_works(device):
    # the storage-end offset is fine for a view that is not empty along the indexed dim
    x = pt.arange(24.0, device=device).reshape(4, 6)
    tail = x[3:].narrow(1, 4, 2)                      # the last two elements of the storage
    i = pt.tensor([1, 0, 1], device=device) * 1
    np.testing.assert_array_equal(tail.index_select(1, i).cpu().numpy(), [[23., 22., 23.]])
    tail[:, i] = pt.tensor([5.0, 6.0, 7.0], device=device)
    np.testing.assert_array_equal(x.cpu().numpy()[3], [18, 19, 20, 21, 6, 7])


# ----------------------------------------------------------------------------- kernels

def _kernel_devices():
    return [d for d in pt.backends.available() if d == "opencl"]


@pytest.mark.parametrize("dev", _kernel_devices())
def test_gather_and_scatter_kernels_ignore_out_of_range_indices(dev):
    """The primitives themselves (below the frontend's checks) never read or write past the
    indexed dim, even when handed an out-of-range index."""
    big = pt.arange(30.0, device=dev)
    src = big[10:20]                                  # neighbours: big[:10] and big[20:]
    ref = big.cpu().numpy().copy()
    out = pt.full((4,), -1.0, device=dev)
    idx = pt.tensor([2, 10, -11, 1000], device=dev)
    _dispatch.kernel("gather", out)(out, src, 0, idx)
    np.testing.assert_array_equal(out.cpu().numpy(), [12.0, -1.0, -1.0, -1.0])
    vals = pt.full((4,), 99.0, device=dev)
    _dispatch.kernel("scatter", src)(src, 0, idx, vals, None)
    _dispatch.kernel("scatter", src)(src, 0, idx, vals, "sum")
    expect = ref.copy()
    expect[12] = 99.0 + 99.0
    np.testing.assert_array_equal(big.cpu().numpy(), expect)
