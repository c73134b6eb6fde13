"""Printing reads only the elements it shows (on every backend), and an allocation the
device cannot hold raises plugtorch.OutOfMemoryError naming the size and the device."""
import re
import time

import numpy as np
import pytest

import plugtorch as pt
from plugtorch import _dtype as D

_HUGE_ZEROS = ("tensor([[0., 0., 0.,  ..., 0., 0., 0.],\n"
               "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
               "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
               "        ...,\n"
               "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
               "        [0., 0., 0.,  ..., 0., 0., 0.],\n"
               "        [0., 0., 0.,  ..., 0., 0., 0.]]")


@pytest.fixture
def reads(device, monkeypatch):
    """The element counts of every host read the backend of `device` serves."""
    backend = pt.backends.get(device)
    seen, to_numpy = [], backend.to_numpy

    def spy(t):
        seen.append(t.numel())
        return to_numpy(t)
    monkeypatch.setattr(backend, "to_numpy", spy)
    return seen


def _body(text):
    """repr without the device suffix (other devices add `, device='...'`)."""
    return re.sub(r",\s*device='[^']*'", "", text)


def test_huge_expanded_tensor_prints_its_edges_only(device, reads):
    x = pt.zeros(1, device=device).expand(10 ** 6, 10 ** 6)
    start = time.perf_counter()
    text = repr(x)
    assert time.perf_counter() - start < 5
    assert _body(text) == _HUGE_ZEROS + ")"
    assert reads and max(reads) <= 36, reads


def test_summarized_values_are_the_edges(device, reads):
    # every printed number is distinct, so a wrongly gathered edge shows
    a = np.arange(7 * 40 * 50).reshape(7, 40, 50)
    x = pt.tensor(a, device=device)[:, ::2].transpose(1, 2)      # (7, 50, 20), strided
    text = repr(x)
    assert max(reads) <= 6 * 6 * 6
    view = a[:, ::2].transpose(0, 2, 1)
    shown = [int(v) for v in text.replace("tensor(", "").replace("[", " ").replace("]", " ")
             .replace(",", " ").split() if v.isdigit()]
    keep = [np.r_[0:3, n - 3:n] for n in view.shape]
    assert shown == view[np.ix_(*keep)].reshape(-1).tolist()


@pytest.mark.parametrize("make", [
    lambda m, dev: m.arange(12 * 500, device=dev).reshape(12, 500) / 7,
    lambda m, dev: m.ones(3, device=dev, dtype=m.int32).expand(400, 3),
    lambda m, dev: (m.arange(3000, device=dev) % 3 == 0).reshape(30, 100)[:, :50].t(),
    lambda m, dev: m.arange(5000.0, device=dev).reshape(10, 500)[::3] * 1e6,
    lambda m, dev: m.zeros(1, device=dev, dtype=m.float64).expand(2, 1000, 3),
], ids=["float", "int32-expanded", "bool-transposed", "sci", "float64-3d"])
def test_summarized_repr_matches_pytorch(make, device):
    torch = pytest.importorskip("torch")
    ours = _body(repr(make(pt, device))).replace("plugtorch.", "torch.")
    assert ours == repr(make(torch, "cpu"))


@pytest.mark.parametrize("dtype", D.ALL, ids=lambda d: d.name)
def test_small_repr_matches_pytorch_per_dtype(dtype, device):
    torch = pytest.importorskip("torch")
    if dtype not in pt.backends.get(device).dtypes:
        pytest.skip(f"{dtype.name} not supported on {device}")
    values = np.array([[0, 1, 5], [7, 3, 2]]) if dtype is not D.bool else \
        np.array([[True, False, True], [False, False, True]])
    a = (values / 3 if dtype.is_floating_point else values).astype(dtype.np)
    ours = _body(repr(pt.tensor(a, device=device))).replace("plugtorch.", "torch.")
    assert ours == repr(torch.tensor(a))


def test_out_of_memory_names_size_and_device(device):
    with pytest.raises(pt.OutOfMemoryError) as info:
        pt.empty(2 ** 46, device=device)              # 256 TiB of float32
    msg = str(info.value)
    assert "256.00 TiB" in msg and str(pt.device(device)) in msg, msg
    assert isinstance(info.value, RuntimeError)
    # sizes past the 128 TiB address space: no overcommit setting lets them through
    with pytest.raises(pt.OutOfMemoryError, match=r"256\.00 TiB .*int64"):
        pt.zeros(2 ** 45, dtype=pt.int64, device=device)
    assert pt.ones(3, device=device).sum().item() == 3.0     # the device still works
