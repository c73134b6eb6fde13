"""DataLoader: batches from a dataset, in this process or in worker processes.

NOTE [DataLoader workers]
With ``num_workers = n > 0`` the loader starts n processes (``fork`` where the platform has
it, else ``spawn``; choose with ``multiprocessing_context=``). Each worker has its own index
queue and its own result pipe. The main process keeps ``prefetch_factor * n`` tasks in
flight, handing task k (a list of indices) to the next live worker round-robin, and delivers
results strictly in task order: a result that arrives early waits in ``_task_info``.
NOTE [DataLoader pipes] (_pipe.py) says how results cross the pipes.

- Seeds: each epoch draws a base seed from ``generator`` (or the global generator); worker i
  seeds plugtorch, `random` and numpy from ``base_seed + i``, so workers differ from each
  other and a seeded generator makes every worker reproducible.
- Errors: a worker catches an exception from the dataset or collate_fn and sends it back
  with its traceback text; the main process raises it when that batch is due.
- Dead workers: the main process waits on the result pipes and on the workers' exit
  sentinels together (and wakes every ``_STATUS_INTERVAL`` seconds regardless); a worker
  that has exited, even half way through sending a batch, turns into a RuntimeError
  naming its pid, never a hang. ``timeout`` bounds the wait for any one batch.
- Shutdown: at the end of an epoch (or when the iterator is dropped) the loader sets
  ``done_event``, sends each worker None, joins them, and terminates (then kills) any that
  linger.
  ``persistent_workers=True`` keeps the workers between epochs: a new epoch sends
  `ResumeIteration` to each worker and waits for every echo before sending new tasks, so
  stale results of an abandoned epoch are discarded.
- Workers return cpu tensors; batches cross the process boundary pickled, and a tensor
  pickles through ``Tensor.__reduce_ex__`` (plugtorch/serialization.py).
"""
import collections
import itertools
import multiprocessing
import multiprocessing.connection
import signal
import time

from . import _pipe, _worker
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

_STATUS_INTERVAL = 0.2     # seconds between checks that the workers are alive


class _InfiniteConstantSampler(Sampler):
    """Placeholder indices for an IterableDataset (the dataset decides what comes next)."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Iterate over a dataset in batches, optionally shuffled, optionally in worker processes.

    Args:
        dataset: a map-style `Dataset` (``__getitem__`` / ``__len__``) or an `IterableDataset`.
        batch_size: samples per batch (default 1); None disables batching (each sample goes
            through `default_convert` only).
        shuffle: reshuffle indices every epoch (map-style datasets only).
        sampler: the order of indices (any iterable); excludes `shuffle`.
        batch_sampler: yields whole lists of indices; excludes batch_size, shuffle, sampler
            and drop_last.
        num_workers: worker processes (0: load in this process). NOTE [DataLoader workers].
        collate_fn: turns a list of samples into a batch (default `default_collate`).
        pin_memory: accepted for compatibility; plugtorch has no pinned host memory.
        drop_last: drop the last incomplete batch.
        timeout: seconds to wait for a batch from the workers before raising (0: no limit).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: a start method name ("fork", "spawn", "forkserver") or a
            multiprocessing context.
        generator: the plugtorch.Generator of the shuffling and of the workers' base seed.
        prefetch_factor: batches each worker loads in advance (default 2 with workers).
        persistent_workers: keep the worker processes alive between epochs.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.utils.data import TensorDataset
        >>> from plugtorch.utils.data import DataLoader
        >>> ds = TensorDataset(torch.arange(10.0), torch.arange(10))
        >>> [y.tolist() for _, y in DataLoader(ds, batch_size=4)]
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    """

    _FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
               "persistent_workers")

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
                 timeout=0, worker_init_fn=None, multiprocessing_context=None, generator=None,
                 *, prefetch_factor=None, persistent_workers=False, pin_memory_device=""):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing. let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value}")
        elif shuffle not in (None, True, False):
            raise TypeError(f"DataLoader: shuffle should be a boolean value, got {shuffle!r}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = _resolve_context(multiprocessing_context, num_workers)
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self._iterator = None
        self._initialized = True

    def __setattr__(self, name, value):
        if getattr(self, "_initialized", False) and name in self._FROZEN:
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None or self._iterator._shutdown:
            self._iterator = _MultiProcessIter(self)
        else:
            self._iterator._reset(self)
        return self._iterator

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)       # TypeError if the dataset has no length
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)


def _resolve_context(ctx, num_workers):
    if ctx is None:
        if num_workers == 0:
            return None
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    if num_workers == 0:
        raise ValueError(f"multiprocessing_context can only be used with multi-process "
                         f"loading (num_workers > 0), but got num_workers={num_workers}")
    if isinstance(ctx, str):
        methods = multiprocessing.get_all_start_methods()
        if ctx not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start "
                             f"method in {methods!r}, but got multiprocessing_context={ctx!r}")
        return multiprocessing.get_context(ctx)
    if not hasattr(ctx, "Process") or not hasattr(ctx, "Queue"):
        raise TypeError(f"multiprocessing_context option should be a valid context object or "
                        f"a string specifying the start method, but got "
                        f"multiprocessing_context={ctx!r}")
    return ctx


def _base_seed(generator):
    from ... import empty, int64
    return int(empty((), dtype=int64).random_(generator=generator).item())


class _BaseIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._iterable = loader._iterable
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._collate_fn = loader.collate_fn
        self._index_sampler = loader._index_sampler
        self._sampler_iter = iter(self._index_sampler)
        self._loader_len = loader.__len__

    def __iter__(self):
        return self

    def _next_index(self):
        return next(self._sampler_iter)

    def __len__(self):
        return self._loader_len()


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._fetcher = _worker.make_fetcher(self._iterable, self._dataset,
                                             self._auto_collation, self._collate_fn,
                                             self._drop_last)

    def __next__(self):
        return self._fetcher.fetch(self._next_index())


class _MultiProcessIter(_BaseIter):
    """NOTE [DataLoader workers]."""

    def __init__(self, loader):
        self._shutdown = False      # first, so __del__ works even if starting fails
        self._workers = []
        self._index_queues = []
        self._readers = []
        super().__init__(loader)
        self._n = loader.num_workers
        self._prefetch = loader.prefetch_factor
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        ctx = loader.multiprocessing_context
        self._done_event = ctx.Event()
        self._ready = collections.deque()    # complete messages not yet taken
        base_seed = _base_seed(loader.generator)
        for i in range(self._n):
            q = ctx.Queue()
            q.cancel_join_thread()     # never block our exit on a dead worker's queue
            reader, writer = ctx.Pipe(duplex=False)
            w = ctx.Process(target=_worker.worker_loop, daemon=True, args=(
                self._iterable, self._dataset, q, writer, self._done_event,
                self._auto_collation, self._collate_fn, self._drop_last, base_seed,
                loader.worker_init_fn, i, self._n))
            self._index_queues.append(q)
            self._readers.append(_pipe.Reader(reader))
            w.start()
            self._workers.append(w)
            writer.close()             # the worker's end: its exit then reads as end of file
        self._reset(loader, first=True)

    def _reset(self, loader, first=False):
        if not first:
            self._sampler_iter = iter(self._index_sampler)
        self._send_idx = 0               # next task to hand out
        self._rcvd_idx = 0               # next task to deliver
        self._task_info = {}             # task -> (worker,) or (worker, payload)
        self._tasks_outstanding = 0
        self._active = [True] * self._n
        self._cycle = itertools.cycle(range(self._n))
        if not first:
            for q in self._index_queues:
                q.put(_worker.ResumeIteration())
            pending = self._n
            while pending:
                idx, _ = self._get_data()
                if idx == _pipe.RESUME:
                    pending -= 1
        for _ in range(self._prefetch * self._n):
            self._try_put_index()

    def _try_put_index(self):
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._n):
            wid = next(self._cycle)
            if self._active[wid]:
                break
        else:
            return                       # every worker is done with its IterableDataset
        self._index_queues[wid].put((self._send_idx, index))
        self._task_info[self._send_idx] = (wid,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _dead_workers_error(self):
        dead = [w for w, up in zip(self._workers, self._active) if up and not w.is_alive()]
        if not dead:
            return None
        parts = []
        for w in dead:
            code = w.exitcode
            how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and
                   code < 0 else f"exit code {code}")
            parts.append(f"DataLoader worker (pid {w.pid}) exited unexpectedly ({how})")
        return RuntimeError("; ".join(parts))

    def _get_data(self):
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while not self._ready:
            wait = _STATUS_INTERVAL
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0))
            live = [r for r in self._readers if not r.eof]
            sentinels = [w.sentinel for w, up in zip(self._workers, self._active) if up]
            ready = multiprocessing.connection.wait([r.conn for r in live] + sentinels, wait)
            for r in live:
                if r.conn in ready:
                    self._ready.extend(r.pump())
            if self._ready:
                break
            error = self._dead_workers_error()
            if error is not None:
                self._shutdown_workers(graceful=False)
                raise error
            if deadline is not None and time.monotonic() >= deadline:
                self._shutdown_workers(graceful=False)
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
        return self._ready.popleft()

    def __next__(self):
        if self._shutdown:
            raise StopIteration
        while True:
            # skip tasks given to a worker whose IterableDataset has ended
            while self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) == 2 or self._active[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                return self._deliver(info[1])
            idx, payload = self._get_data()
            self._tasks_outstanding -= 1
            data = _worker.loads(payload)
            if isinstance(data, _worker.IterableStop):
                self._active[data.worker_id] = False
                if not self._persistent:
                    self._index_queues[data.worker_id].put(None)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                self._task_info[idx] += (data,)   # early: wait for its turn
                continue
            del self._task_info[idx]
            return self._deliver(data)

    def _deliver(self, data):
        self._rcvd_idx += 1
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return data

    def _shutdown_workers(self, graceful=True):
        """Stop the workers: ask them to exit (graceful) or terminate them at once."""
        if self._shutdown:
            return
        self._shutdown = True
        try:
            self._done_event.set()
            if graceful:
                for q, w in zip(self._index_queues, self._workers):
                    if w.is_alive():
                        q.put(None)
            for w in self._workers:
                if graceful:
                    w.join(timeout=5.0)
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=1.0)
                if w.is_alive():
                    w.kill()
                    w.join(timeout=1.0)
            for q in self._index_queues:
                q.cancel_join_thread()
                q.close()
            for r in self._readers:
                r.close()
        except Exception:     # at interpreter exit parts of multiprocessing may be gone
            pass

    def __del__(self):
        # may run inside any allocation (garbage collection), so it must not wait on
        # anything: the iterator was dropped, its workers' pending work is moot
        self._shutdown_workers(graceful=False)
