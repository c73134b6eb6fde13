"""What runs inside a DataLoader worker process (NOTE [DataLoader workers] in dataloader.py).

A worker waits on its index queue for ``(task_idx, index)``, fetches and collates that
batch, and sends ``(task_idx, payload)`` on its own result pipe (NOTE [DataLoader pipes] in
_pipe.py), where the payload is the batch pickled here, so a batch that cannot be pickled
becomes an error the main process sees.
"""
import os
import pickle
import queue
import random
import sys
import traceback
from multiprocessing.reduction import ForkingPickler

import numpy as np

from . import _pipe

__all__ = ["get_worker_info", "WorkerInfo"]

# how often a waiting worker checks that its parent still exists
_WATCHDOG_INTERVAL = 1.0

_worker_info = None


class WorkerInfo:
    """Facts about the current worker process: id, num_workers, seed and dataset (its copy).

    Read-only; see `get_worker_info`.
    """
    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")
        super().__setattr__(key, val)

    def __repr__(self):
        items = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__keys if k != "dataset")
        return f"{type(self).__name__}({items})"


def get_worker_info():
    """In a DataLoader worker: its `WorkerInfo`; in the main process: None.

    Use it in an IterableDataset's ``__iter__`` (or a ``worker_init_fn``) to give each worker
    its own shard of the data.

    Example:
        >>> from plugtorch.utils.data import get_worker_info
        >>> get_worker_info() is None     # not in a worker
        True
    """
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process with its traceback."""

    def __init__(self, exc_info=None, where="in background"):
        exc_type, exc, tb = exc_info or sys.exc_info()
        self.exc_type = exc_type
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc, tb))
        self.where = where

    def reraise(self):
        msg = (f"Caught {self.exc_type.__name__} {self.where}.\nOriginal "
               f"{self.exc_msg}")
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)   # KeyError would repr() the message
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exc


class _KeyErrorMessage(str):
    def __repr__(self):
        return self


class ResumeIteration:
    """Sent to persistent workers at a new epoch; echoed back once they are ready."""


class IterableStop:
    """A worker's IterableDataset is exhausted for this epoch."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class _MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        many = getattr(self.dataset, "__getitems__", None)
        data = many(index) if callable(many) else [self.dataset[i] for i in index]
        return self.collate_fn(data)


class _IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.it = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = (auto_collation, collate_fn,
                                                                drop_last)
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.it))
        data = []
        for _ in index:            # index is a list of batch_size placeholders
            try:
                data.append(next(self.it))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last):
    cls = _IterableFetcher if iterable else _MapFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


def dumps(data):
    return bytes(ForkingPickler.dumps(data))


def _seed_worker(seed, base_seed, worker_id):
    import plugtorch
    # each worker runs its ops on one thread, as in PyTorch (the workers together fill the
    # cores)
    plugtorch.set_num_threads(1)
    random.seed(seed)
    plugtorch.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))


def worker_loop(iterable, dataset, index_queue, result_conn, done_event, auto_collation,
                collate_fn, drop_last, base_seed, init_fn, worker_id, num_workers):
    """The body of a worker process: serve index_queue until told to stop (None)."""
    global _worker_info
    where = f"in DataLoader worker process {worker_id}"
    try:
        seed = base_seed + worker_id
        _seed_worker(seed, base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        init_error = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = ExceptionWrapper(where=where)
        iteration_end = False
        parent = os.getppid()
        fd = result_conn.fileno()
        os.set_blocking(fd, False)

        def keep_going():                  # False: nobody will read what is being sent
            return os.getppid() == parent and not done_event.is_set()

        while os.getppid() == parent:      # the parent died: nobody to serve any more
            try:
                r = index_queue.get(timeout=_WATCHDOG_INTERVAL)
            except queue.Empty:
                if done_event.is_set():
                    break
                continue
            if isinstance(r, ResumeIteration):
                if not _pipe.send(fd, _pipe.RESUME, b"", keep_going):
                    break
                iteration_end = False
                if init_error is None:
                    try:
                        fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn,
                                               drop_last)
                    except Exception:
                        init_error = ExceptionWrapper(where=where)
                continue
            if r is None:
                break
            if done_event.is_set() or iteration_end:
                continue
            idx, index = r
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if iterable:
                        data, iteration_end = IterableStop(worker_id), True
                    else:
                        data = ExceptionWrapper(where=where)
                except Exception:
                    data = ExceptionWrapper(where=where)
            try:
                payload = dumps(data)
            except Exception:
                payload = dumps(ExceptionWrapper(where=where + " while pickling the batch"))
            if not _pipe.send(fd, idx, payload, keep_going):
                break
            del data, payload, r
    except KeyboardInterrupt:
        pass                        # the main process handles ^C and shuts workers down
    finally:
        result_conn.close()


def loads(payload):
    return pickle.loads(payload)
