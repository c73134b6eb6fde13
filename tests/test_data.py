"""utils.data in one process: datasets, samplers, collation, DataLoader options.

References: closed forms (index arithmetic, binomial bounds on sampler frequencies) and, where
PyTorch is installed, torch.utils.data.default_collate on the same Python/numpy samples.
Worker processes are tested in test_dataloader_workers.py.
"""
import collections
import math
import warnings

import numpy as np
import pytest

import plugtorch
from plugtorch.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                                  IterableDataset, RandomSampler, SequentialSampler, Subset,
                                  SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
                                  default_collate, default_convert, get_worker_info,
                                  random_split)


def gen(seed=0):
    return plugtorch.Generator().manual_seed(seed)


class Range(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def binomial_ok(count, n, p, sigmas=5):
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


# ----------------------------------------------------------------------------- datasets

def test_tensor_dataset_rows_and_length():
    x = plugtorch.arange(12).reshape(4, 3)
    y = plugtorch.tensor([5, 6, 7, 8])
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    a, b = ds[2]
    assert a.tolist() == [6, 7, 8] and b.item() == 7


def test_tensor_dataset_size_mismatch():
    with pytest.raises(ValueError, match="Size mismatch between tensors.*4, 3"):
        TensorDataset(plugtorch.zeros(4, 2), plugtorch.zeros(3))


def test_subset_and_concat():
    sub = Subset(Range(10), [7, 2, 5])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [7, 2, 5]
    cat = ConcatDataset([Range(3), Subset(Range(10), [9, 8]), Range(2)])
    assert len(cat) == 7
    assert [cat[i] for i in range(7)] == [0, 1, 2, 9, 8, 0, 1]
    assert cat[-1] == 1 and cat[-7] == 0
    with pytest.raises(IndexError):
        cat[7]
    with pytest.raises(ValueError, match="exceed dataset length"):
        cat[-8]
    both = Range(2) + Range(1)
    assert isinstance(both, ConcatDataset) and [both[i] for i in range(3)] == [0, 1, 0]
    assert list(Stream(2) + Stream(2)) == [0, 1, 0, 1]


def test_random_split_lengths_fractions_and_reproducibility():
    parts = random_split(Range(10), [3, 7], generator=gen(1))
    assert [len(p) for p in parts] == [3, 7]
    items = sorted(p[i] for p in parts for i in range(len(p)))
    assert items == list(range(10))                     # disjoint and complete
    again = random_split(Range(10), [3, 7], generator=gen(1))
    assert [list(p.indices) for p in again] == [list(p.indices) for p in parts]
    other = random_split(Range(10), [3, 7], generator=gen(2))
    assert [list(p.indices) for p in other] != [list(p.indices) for p in parts]
    # floor(5 * 0.5) = 2 each; the remainder goes to the first split
    assert [len(p) for p in random_split(Range(5), [0.5, 0.5], generator=gen())] == [3, 2]
    assert [len(p) for p in random_split(Range(10), [0.1, 0.2, 0.7])] == [1, 2, 7]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(Range(10), [3, 3])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        random_split(Range(1), [0.5, 0.5])
    assert any("Length of split at index 1 is 0" in str(x.message) for x in w)


# ----------------------------------------------------------------------------- samplers

def test_sequential_and_random_sampler_permutations():
    assert list(SequentialSampler(Range(4))) == [0, 1, 2, 3]
    s = RandomSampler(Range(20), generator=gen(3))
    first, second = list(s), list(s)
    assert sorted(first) == list(range(20)) and sorted(second) == list(range(20))
    assert first != second                              # a new order each epoch
    assert list(RandomSampler(Range(20), generator=gen(3))) == first
    assert len(s) == 20


def test_random_sampler_without_generator_uses_global_seed():
    plugtorch.manual_seed(5)
    a = list(RandomSampler(Range(30)))
    plugtorch.manual_seed(5)
    assert list(RandomSampler(Range(30))) == a


def test_random_sampler_num_samples_without_replacement_chains_permutations():
    out = list(RandomSampler(Range(5), num_samples=12, generator=gen()))
    assert len(out) == 12
    assert sorted(out[:5]) == list(range(5)) and sorted(out[5:10]) == list(range(5))
    assert len(set(out[10:])) == 2


def test_random_sampler_with_replacement_is_uniform():
    n_draws = 4000
    out = list(RandomSampler(Range(4), replacement=True, num_samples=n_draws,
                             generator=gen(7)))
    assert len(out) == n_draws and set(out) <= {0, 1, 2, 3}
    counts = collections.Counter(out)
    assert all(binomial_ok(counts[i], n_draws, 0.25) for i in range(4)), counts


def test_random_sampler_errors():
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(Range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(Range(3), num_samples=0)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(Range(0))


def test_subset_random_sampler():
    idx = [10, 20, 30, 40]
    out = list(SubsetRandomSampler(idx, generator=gen(4)))
    assert sorted(out) == idx and len(SubsetRandomSampler(idx)) == 4


def test_weighted_sampler_frequencies():
    w = [1.0, 2.0, 0.0, 5.0]
    n = 8000
    counts = collections.Counter(WeightedRandomSampler(w, n, generator=gen(9)))
    assert counts[2] == 0
    for i, wi in enumerate(w):
        assert binomial_ok(counts[i], n, wi / sum(w)), counts


def test_weighted_sampler_without_replacement():
    out = list(WeightedRandomSampler([1, 1, 0, 1, 1], 4, replacement=False, generator=gen()))
    assert sorted(out) == [0, 1, 3, 4]
    with pytest.raises(RuntimeError, match="replacement=False"):
        list(WeightedRandomSampler([1, 1, 0], 3, replacement=False))
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        WeightedRandomSampler([1.0], 0)


def test_batch_sampler():
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3
    assert len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(3), 2, 0)


# ----------------------------------------------------------------------------- collate

Point = collections.namedtuple("Point", "x y")


def test_collate_tensors_numbers_strings():
    a, b = plugtorch.tensor([1.0, 2.0]), plugtorch.tensor([3.0, 4.0])
    assert default_collate([a, b]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    f = default_collate([0.5, 1.5])
    assert f.dtype == plugtorch.float64 and f.tolist() == [0.5, 1.5]
    i = default_collate([1, 2, 3])
    assert i.dtype == plugtorch.int64 and i.tolist() == [1, 2, 3]
    assert default_collate([True, False]).dtype == plugtorch.bool
    assert default_collate(["a", "b"]) == ["a", "b"]


def test_collate_numpy():
    out = default_collate([np.arange(3, dtype=np.int32), np.arange(3, 6, dtype=np.int32)])
    assert out.dtype == plugtorch.int32 and out.tolist() == [[0, 1, 2], [3, 4, 5]]
    s = default_collate([np.float32(1.5), np.float32(2.5)])
    assert s.dtype == plugtorch.float32 and s.tolist() == [1.5, 2.5]
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_collate_containers():
    batch = [{"x": plugtorch.tensor([1]), "meta": ("a", 1)},
             {"x": plugtorch.tensor([2]), "meta": ("b", 2)}]
    out = default_collate(batch)
    assert out["x"].tolist() == [[1], [2]]
    assert out["meta"][0] == ["a", "b"] and out["meta"][1].tolist() == [1, 2]
    assert isinstance(out["meta"], list)                 # tuples give lists, as PyTorch
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3] and p.y.tolist() == [2.0, 4.0]
    od = default_collate([collections.OrderedDict(b=1, a=2)] * 2)
    assert isinstance(od, collections.OrderedDict) and list(od) == ["b", "a"]
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        default_collate([[1, 2], [3]])


def test_collate_matches_pytorch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as tcollate

    batches = [
        [1.5, 2.25], [1, 2], [True, False], [np.float32(1.5), np.float32(-2)],
        [np.arange(6, dtype=np.int16).reshape(2, 3), np.ones((2, 3), np.int16)],
        [(np.float64(1), [2, 3]), (np.float64(4), [5, 6])],
        [{"a": 1.0, "b": [np.int64(2)]}, {"a": 3.0, "b": [np.int64(4)]}],
    ]

    def same(ours, ref):
        if isinstance(ref, torch.Tensor):
            assert str(ours.dtype).split(".")[1] == str(ref.dtype).split(".")[1]
            np.testing.assert_array_equal(ours.numpy(), ref.numpy())
        elif isinstance(ref, dict):
            assert list(ours) == list(ref)
            for k in ref:
                same(ours[k], ref[k])
        elif isinstance(ref, (list, tuple)):
            assert type(ours) is type(ref) and len(ours) == len(ref)
            for o, r in zip(ours, ref):
                same(o, r)
        else:
            assert ours == ref

    for batch in batches:
        same(default_collate(batch), tcollate(batch))


def test_default_convert():
    out = default_convert({"x": np.arange(2), "s": "text", "n": 3, "t": (np.float32(1),)})
    assert out["x"].tolist() == [0, 1] and out["s"] == "text" and out["n"] == 3
    assert out["t"][0].dtype == plugtorch.float32


# ----------------------------------------------------------------------------- DataLoader

def test_loader_batches_drop_last_and_len():
    ds = TensorDataset(plugtorch.arange(10.0))
    got = [x.tolist() for (x,) in DataLoader(ds, batch_size=4)]
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(DataLoader(ds, batch_size=4)) == 3
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert len(list(DataLoader(ds, batch_size=4, drop_last=True))) == 2
    single = list(DataLoader(Range(3), batch_size=None))
    assert single == [0, 1, 2]


def test_loader_shuffle_is_a_reproducible_permutation():
    ds = Range(12)
    a = [b.tolist() for b in DataLoader(ds, batch_size=5, shuffle=True, generator=gen(11))]
    flat = [i for b in a for i in b]
    assert sorted(flat) == list(range(12)) and flat != list(range(12))
    b = [b.tolist() for b in DataLoader(ds, batch_size=5, shuffle=True, generator=gen(11))]
    assert a == b


def test_loader_sampler_and_batch_sampler():
    got = [b.tolist() for b in DataLoader(Range(6), batch_size=2, sampler=[5, 3, 1])]
    assert got == [[5, 3], [1]]
    got = [b.tolist() for b in DataLoader(Range(6), batch_sampler=[[0, 5], [2]])]
    assert got == [[0, 5], [2]]


def test_loader_option_clashes():
    msg = "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and " \
          "drop_last"
    for kw in ({"batch_size": 2}, {"shuffle": True}, {"sampler": [0]}, {"drop_last": True}):
        with pytest.raises(ValueError, match=msg):
            DataLoader(Range(3), batch_sampler=[[0]], **kw)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(Range(3), sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching"):
        DataLoader(Range(3), batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(Range(3), num_workers=-1)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(Range(3), timeout=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(Range(3), prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(Range(3), persistent_workers=True)
    with pytest.raises(ValueError, match="multiprocessing_context can only be used"):
        DataLoader(Range(3), multiprocessing_context="spawn")
    loader = DataLoader(Range(3))
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 4


def test_loader_iterable_dataset():
    loader = DataLoader(Stream(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(loader) == 3
    loader = DataLoader(Stream(7), batch_size=3, drop_last=True)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]] and len(loader) == 2
    assert list(DataLoader(Stream(2), batch_size=None)) == [0, 1]
    assert get_worker_info() is None
