"""Data loading on the backend under test: datasets of device tensors batch on that device,
with the same batches (values and order) as on cpu."""
import numpy as np

import plugtorch
from plugtorch.utils.data import DataLoader, TensorDataset, random_split


def _data(device):
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10) % 3
    return TensorDataset(plugtorch.tensor(x, device=device), plugtorch.tensor(y, device=device))


def _batches(device, **kwargs):
    g = plugtorch.Generator().manual_seed(7)
    loader = DataLoader(_data(device), batch_size=4, generator=g, **kwargs)
    return [(bx, by) for bx, by in loader]


def test_dataloader_batches_stay_on_device_and_match_cpu(device):
    for kwargs in ({}, {"shuffle": True}, {"shuffle": True, "drop_last": True}):
        got, ref = _batches(device, **kwargs), _batches("cpu", **kwargs)
        assert len(got) == len(ref)
        for (bx, by), (rx, ry) in zip(got, ref):
            assert bx.device.type == device and by.device.type == device
            assert bx.dtype is rx.dtype and by.dtype is ry.dtype
            assert bx.cpu().tolist() == rx.tolist() and by.cpu().tolist() == ry.tolist()


def test_random_split_of_device_dataset(device):
    g = plugtorch.Generator().manual_seed(3)
    a, b = random_split(_data(device), [7, 3], generator=g)
    rows = sorted(int(a[i][1].item()) * 100 + int(a[i][0][0].item()) for i in range(len(a)))
    rows += sorted(int(b[i][1].item()) * 100 + int(b[i][0][0].item()) for i in range(len(b)))
    assert len(a) == 7 and len(b) == 3 and len(set(rows)) == 10
