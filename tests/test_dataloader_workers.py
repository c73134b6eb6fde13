"""DataLoader with worker processes (NOTE [DataLoader workers]).

The reference for every batch is the same loader with num_workers=0. Waits are bounded by
the loader's own `timeout`, so a regression fails instead of hanging the suite.
"""
import os
import pickle
import re
import time

import pytest

import plugtorch
from plugtorch.utils.data import (DataLoader, Dataset, IterableDataset, TensorDataset,
                                  get_worker_info)

GUARD = 20      # seconds: a hang would be a bug; fail after this instead


class Squares(Dataset):
    """Sample i: (tensor [i, i*i] float32, i); later items are slower so they arrive late."""

    def __init__(self, n=11, delay=0.0):
        self.n, self.delay = n, delay

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.delay and i % 2 == 0:
            time.sleep(self.delay)      # even items slow: results arrive out of order
        return plugtorch.tensor([float(i), float(i * i)]), i


class Failing(Squares):
    def __getitem__(self, i):
        if i == 5:
            raise ValueError("sample 5 is broken")
        return super().__getitem__(i)


class MissingKey(Squares):
    def __getitem__(self, i):
        return {}["no-such-key"]


class Dying(Squares):
    def __getitem__(self, i):
        if i == 4:
            os._exit(3)         # the worker vanishes without a word
        return super().__getitem__(i)


class Slow(Squares):
    def __getitem__(self, i):
        time.sleep(2.0)
        return i


class Seeds(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return info.id, info.seed, plugtorch.initial_seed(), plugtorch.rand(1).item()


class Sharded(IterableDataset):
    """range(n), split between workers by get_worker_info()."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


class Unpicklable(Squares):
    def __getitem__(self, i):
        return lambda: i


def batches(loader):
    return [(x.tolist(), y.tolist()) for x, y in loader]


@pytest.mark.parametrize("batch_size, drop_last", [(3, False), (4, True), (1, False)])
def test_workers_give_the_same_batches_in_order(batch_size, drop_last):
    ds = Squares(delay=0.01)
    ref = batches(DataLoader(ds, batch_size=batch_size, drop_last=drop_last))
    got = batches(DataLoader(ds, batch_size=batch_size, drop_last=drop_last, num_workers=2,
                             timeout=GUARD))
    assert got == ref
    assert len(DataLoader(ds, batch_size=batch_size, drop_last=drop_last,
                          num_workers=2)) == len(ref)


def test_worker_exception_reraised_with_traceback():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2, timeout=GUARD)
    it = iter(loader)
    assert next(it)[1].tolist() == [0, 1] and next(it)[1].tolist() == [2, 3]
    with pytest.raises(ValueError) as e:
        next(it)
    text = str(e.value)
    assert "Caught ValueError in DataLoader worker process" in text
    assert "Traceback (most recent call last)" in text
    assert "sample 5 is broken" in text and "in __getitem__" in text
    assert next(it)[1].tolist() == [6, 7]          # the loader goes on after an error
    del it


def test_worker_key_error_message_is_readable():
    with pytest.raises(KeyError) as e:
        list(DataLoader(MissingKey(), num_workers=1, timeout=GUARD))
    assert "no-such-key" in str(e.value) and "\\n" not in str(e.value)


def test_dead_worker_raises_instead_of_hanging():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+\) exited "
                                           r"unexpectedly \(exit code 3\)"):
        list(DataLoader(Dying(), batch_size=2, num_workers=2, timeout=GUARD))
    assert time.monotonic() - start < 5


def test_timeout_option():
    loader = DataLoader(Slow(), num_workers=1, timeout=0.3)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        next(iter(loader))
    assert time.monotonic() - start < 1.5


def test_unpicklable_batch_is_an_error_not_a_hang():
    with pytest.raises(Exception, match="while pickling the batch"):
        list(DataLoader(Unpicklable(), batch_size=None, num_workers=1, timeout=GUARD))


def test_worker_seeds_differ_and_are_reproducible():
    def run(seed):
        g = plugtorch.Generator().manual_seed(seed)
        loader = DataLoader(Seeds(), batch_size=None, num_workers=2, generator=g,
                            timeout=GUARD)
        return list(loader)

    a = run(0)
    assert {r[0] for r in a} == {0, 1}
    for worker_id, seed, initial, _ in a:
        assert initial == seed                     # plugtorch is seeded with info.seed
    seeds = {r[0]: r[1] for r in a}
    assert seeds[1] == seeds[0] + 1                # base_seed + worker_id
    draws = [r[3] for r in a]
    assert len(set(draws)) == len(draws)           # workers do not repeat each other
    assert run(0) == a                             # same generator seed: same everything
    assert run(1) != a


def test_worker_init_fn_and_its_errors():
    def init(worker_id):
        plugtorch.manual_seed(1000 + worker_id)

    got = list(DataLoader(Seeds(), batch_size=None, num_workers=2, worker_init_fn=init,
                          timeout=GUARD))
    assert {(r[0], r[2]) for r in got} == {(0, 1000), (1, 1001)}

    def broken(worker_id):
        raise OSError("cannot open shard")

    with pytest.raises(OSError, match="cannot open shard"):
        list(DataLoader(Seeds(), num_workers=1, worker_init_fn=broken, timeout=GUARD))


def test_iterable_dataset_sharded_by_worker_info():
    loader = DataLoader(Sharded(10), batch_size=2, num_workers=2, timeout=GUARD)
    got = [i for b in loader for i in b.tolist()]
    assert sorted(got) == list(range(10))          # each sample exactly once
    assert len(loader) == 5
    dropped = DataLoader(Sharded(10), batch_size=2, num_workers=3, drop_last=True,
                         timeout=GUARD)
    # shards [0 3 6 9] [1 4 7] [2 5 8]: each worker keeps only whole batches of 2
    assert sorted(i for b in dropped for i in b.tolist()) == [0, 1, 2, 3, 4, 5, 6, 9]


def test_persistent_workers_survive_epochs_and_abandoned_epochs():
    ds = Squares()
    ref = batches(DataLoader(ds, batch_size=3))
    loader = DataLoader(ds, batch_size=3, num_workers=2, persistent_workers=True,
                        timeout=GUARD)
    assert batches(loader) == ref
    it = loader._iterator
    pids = [w.pid for w in it._workers]
    next(iter(loader))                             # abandon an epoch half way
    assert batches(loader) == ref
    assert [w.pid for w in loader._iterator._workers] == pids
    assert all(w.is_alive() for w in it._workers)
    it._shutdown_workers()
    assert not any(w.is_alive() for w in it._workers)


def test_workers_exit_after_epoch_and_when_dropped():
    it = iter(DataLoader(Squares(), batch_size=2, num_workers=2, timeout=GUARD))
    workers = list(it._workers)
    list(it)
    assert not any(w.is_alive() for w in workers)
    it = iter(DataLoader(Squares(), batch_size=2, num_workers=2, timeout=GUARD))
    next(it)
    workers = list(it._workers)
    del it                                          # dropped mid-epoch
    assert not any(w.is_alive() for w in workers)


def test_spawn_start_method():
    ds = TensorDataset(plugtorch.arange(6.0).reshape(3, 2))
    loader = DataLoader(ds, batch_size=2, num_workers=1, multiprocessing_context="spawn",
                        timeout=GUARD)
    assert [x.tolist() for (x,) in loader] == [[[0, 1], [2, 3]], [[4, 5]]]


def test_tensor_pickling_used_by_workers():
    t = plugtorch.arange(6.0).reshape(2, 3).t()
    t.requires_grad_()
    back = pickle.loads(pickle.dumps(t))
    assert back.tolist() == t.tolist() and back.requires_grad and back.is_leaf
    with pytest.raises(RuntimeError, match="non-leaf"):
        pickle.dumps(t * 2)


_KILLED_MID_SEND = r"""
import os, signal, sys, threading, time
import numpy as np
import plugtorch
from plugtorch.utils.data import DataLoader, Dataset

class Big(Dataset):
    # sample 0 is 8 MB; its worker is SIGKILLed while that batch is still being sent
    def __len__(self):
        return 4
    def __getitem__(self, i):
        if i == 0:
            threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGKILL)).start()
            return plugtorch.from_numpy(np.ones(2 ** 21, np.float32))
        time.sleep(0.5)    # the other worker answers after the kill
        return plugtorch.zeros(2)

it = iter(DataLoader(Big(), batch_size=None, num_workers=2))
print(*[w.pid for w in it._workers], flush=True)
time.sleep(1.0)            # nobody reads: the 8 MB message is half written when the kill comes
try:
    next(it)
except RuntimeError as e:
    print("error:", e, flush=True)
"""


def test_worker_killed_while_sending_a_batch_raises_and_leaves_no_worker(tmp_path):
    import signal
    import subprocess
    import sys
    script = tmp_path / "killed.py"
    script.write_text(_KILLED_MID_SEND)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=GUARD)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)         # the loader and any worker it left
        proc.communicate()
        pytest.fail("DataLoader hung after a worker was killed while sending a batch")
    lines = out.splitlines()
    pids = [int(p) for p in lines[0].split()]
    assert len(pids) == 2
    assert any(re.search(r"error: DataLoader worker \(pid %d\) exited unexpectedly "
                         r"\(killed by signal SIGKILL\)" % pids[0], ln) for ln in lines), out
    deadline = time.monotonic() + 5
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in pids if _process_exists(p)]
        time.sleep(0.05)
    assert not alive, f"worker processes left running: {alive}"


def _process_exists(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"    # a zombie has exited
    except FileNotFoundError:
        return False
