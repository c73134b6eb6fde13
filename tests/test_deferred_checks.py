"""Index range checks on device backends: eager when the host knows the index's range,
deferred to the next host read otherwise, with the same IndexError as on cpu
(NOTE [deferred index checks] in plugtorch/_deferred.py)."""
import pytest

import plugtorch as pt
from plugtorch import debug

from plugtorch import _dispatch

# device backends that run every primitive natively: a CPU fallback reads the host, which
# flushes pending checks inside the op (still the same error, but not what is tested here)
DEVICES = [d for d in pt.backends.available()
           if d != "cpu" and not _dispatch.coverage(pt.backends.get(d))["fallback"]]


def _cpu_error(fn):
    with pytest.raises(RuntimeError) as e:        # gather's class, as in PyTorch
        fn("cpu")
    return str(e.value)


@pytest.mark.parametrize("dev", DEVICES)
def test_device_computed_index_is_checked_at_the_next_read_without_a_transfer(dev):
    def op(d):
        x = pt.arange(12.0, device=d).reshape(4, 3)
        idx = pt.tensor([[0, 1, 2]], device=d) * 5          # values known only on the device
        return x.gather(0, idx)

    expected = _cpu_error(lambda d: op(d).cpu())
    x = pt.arange(12.0, device=dev).reshape(4, 3)
    idx = pt.tensor([[0, 1, 2]], device=dev) * 5
    debug.reset_counters()
    y = x.gather(0, idx)                                     # no error yet, no host read
    assert debug.transfers(dev) == 0
    with pytest.raises(RuntimeError) as e:
        y.cpu()
    assert str(e.value) == expected
    assert pt.ones(2, device=dev).sum().item() == 2.0        # raised once, then cleared


@pytest.mark.parametrize("dev", DEVICES)
def test_host_known_index_is_checked_eagerly(dev):
    x = pt.ones(3, 2, device=dev)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x.index_select(0, pt.tensor([0, 5], device=dev))


@pytest.mark.parametrize("dev", DEVICES)
def test_in_range_device_indices_give_cpu_results_without_transfers(dev):
    pt.manual_seed(0)
    w = pt.randn(10, 4)
    tok = pt.randint(0, 10, (16,))
    ref = pt.nn.functional.embedding(tok, w)
    wd, td = w.to(dev), pt.randint(0, 10, (16,), device=dev)
    td.copy_(tok.to(dev))                                     # a write: range unknown again
    debug.reset_counters()
    out = pt.nn.functional.embedding(td, wd)
    neg = pt.arange(4, device=dev)[td % 4 - 4]                # negative indices wrap
    assert debug.transfers(dev) == 0
    assert out.cpu().tolist() == ref.tolist()
    assert neg.cpu().tolist() == pt.arange(4)[tok % 4 - 4].tolist()


# ----------------------------------------------------------------------------- range cache

def _shared_views():
    """(name, make(array) -> (int64 tensor, numpy array writing into its memory)) for every
    way a cpu tensor shares memory with numpy."""
    import numpy as np

    def dlpack(a):
        t = pt.from_numpy(a.copy())
        return t, np.from_dlpack(t)

    def numpy_view(a):
        t = pt.tensor(a)
        return t, t.numpy()
    return [("from_numpy", lambda a: (pt.from_numpy(a), a)), ("numpy", numpy_view),
            ("dlpack", dlpack)]


@pytest.mark.parametrize("how", [n for n, _ in _shared_views()])
@pytest.mark.parametrize("bad,shape,op", [
    (-1, (1, 3), lambda x, i: x.gather(0, i)),
    (7, (1, 3), lambda x, i: x.gather(0, i)),
    (-1, (3,), lambda x, i: x.index_select(0, i)),
    (-9, (3,), lambda x, i: x[i]),
], ids=["gather-neg", "gather-big", "index_select-neg", "getitem-neg"])
def test_range_check_sees_numpy_writes_into_shared_memory(how, bad, shape, op):
    import numpy as np
    make = dict(_shared_views())[how]
    x = pt.arange(12.0).reshape(4, 3)
    idx, arr = make(np.array([0, 1, 2]).reshape(shape))
    assert op(x, idx).tolist() == op(x, pt.tensor([0, 1, 2]).reshape(shape)).tolist()
    arr[...] = bad                     # written behind plugtorch's back: no version bump
    assert idx.reshape(-1).tolist() == [bad] * 3
    with pytest.raises((IndexError, RuntimeError), match=f"index {bad} is out of bounds"):
        op(x, idx)
    arr[...] = np.array([3, 2, 1]).reshape(shape)
    assert op(x, idx).tolist() == op(x, pt.tensor([3, 2, 1]).reshape(shape)).tolist()


def test_device_index_from_a_host_array_keeps_its_values(device):
    """A tensor made from a numpy array on any device: later writes to the array either
    show in the tensor (shared memory) and are checked, or do not, and the op uses the
    values the tensor holds."""
    import numpy as np
    a = np.array([0, 1, 2])
    idx = pt.from_numpy(a).to(device)
    x = pt.arange(12.0, device=device).reshape(4, 3)
    assert x.gather(0, idx.reshape(1, 3)).tolist() == [[0.0, 4.0, 8.0]]
    a[:] = -1
    held = idx.cpu().numpy()
    assert held.tolist() in ([0, 1, 2], [-1, -1, -1])
    if held[0] < 0:
        with pytest.raises(RuntimeError, match="index -1 is out of bounds"):
            x.gather(0, idx.reshape(1, 3)).cpu()
    else:
        assert x.gather(0, idx.reshape(1, 3)).tolist() == [[0.0, 4.0, 8.0]]
