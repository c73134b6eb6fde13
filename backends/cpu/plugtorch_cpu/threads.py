"""Intra-op threads: one large kernel runs on several cores.

NOTE [intra-op threads]
numpy runs each call on one core but releases the GIL inside its loops, so Python threads
that each run numpy on a part of the output run in parallel. A kernel whose output has at
least `COSTLY` or `CHEAP` elements per part (by the kernel's cost per element; a reduction
counts the elements it reads) is split along one dim of the output into up to
`plugtorch.get_num_threads()` parts: the calling thread runs the first part and sleeping
worker threads the others, each woken by a lock (15 us per handoff when the worker is hot,
up to 100 us when it slept, so smaller kernels stay whole). Every element is computed by the
same numpy call as without the split, so results are bit for bit the same for any thread
count: parts never cut a dim the kernel reduces, and a kernel that reduces is cut only when
the reduced dims are the last ones and contiguous (each row reduced along memory, as whole)
with two or more rows in every part. The workers run under the caller's numpy error state.
A split is skipped when the output repeats an element (an expanded view that fill_ or
masked_fill_ writes) or an input overlaps the output other than element for element (numpy
copies such inputs first; parts would race), when no dim is long enough, and when another
thread is using the workers (kernels from several threads run whole, side by side). After a
fork the child starts without workers and makes new ones when it needs them.
"""
import os
import threading

import numpy as np

#: the fewest output elements a part of a split kernel gets: waking a worker costs 15 us
#: when it is hot and up to 100 us when it slept, so a part must be worth a few hundred us.
#: COSTLY for kernels that spend ~1 ns or more on an element (exp, tanh, pow, softmax),
#: CHEAP for those bound by memory (add, where, fill, copies, row reductions)
COSTLY = 1 << 18
CHEAP = 1 << 21


class _Worker:
    """A daemon thread that runs one job at a time, handed over through two locks."""

    def __init__(self):
        self.go = threading.Lock()
        self.go.acquire()
        self.done = threading.Lock()
        self.done.acquire()
        self.job = None
        self.error = None
        self.busy = False     # started and not yet waited for
        threading.Thread(target=self._loop, name="plugtorch-cpu", daemon=True).start()

    def _loop(self):
        while True:
            self.go.acquire()
            fn, args, err = self.job
            self.job = None
            try:
                with np.errstate(**err):    # numpy's error state is per thread
                    fn(*args)
            except BaseException as e:       # handed back to the caller
                self.error = e
            self.done.release()

    def start(self, fn, args, err):
        self.busy = True
        self.job = (fn, args, err)
        self.go.release()

    def wait(self):
        self.done.acquire()
        self.busy = False
        e, self.error = self.error, None
        return e


class _Pool:
    def __init__(self):
        self.threads = 1
        self.min_size = None          # the smallest output that is split (None: never)
        self.workers = []
        self.lock = threading.Lock()

    def configure(self, n):
        with self.lock:
            self.threads = n
            self.min_size = 2 * COSTLY if n > 1 else None

    def _reset_after_fork(self):
        # the workers were not copied into the child; its locks may be held by them
        self.workers = []
        self.lock = threading.Lock()


POOL = _Pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=POOL._reset_after_fork)


def split(call, o, arrays, keep=(), chunk=COSTLY, work=None):
    """Run call(o_part, *array_parts) over parts of the output `o` (a numpy array) on up to
    get_num_threads() threads, or call(o, *arrays) at once when the kernel is too small to
    cut. `arrays` have o's shape (or are 0-d, or size 1 along the split dim: passed whole);
    `keep` the dims that must not be cut (those a kernel reduces); `chunk` the fewest
    elements of work in a part (COSTLY or CHEAP), `work` the elements the kernel reads (a
    reduction's input size; default: the output's)."""
    total = o.size if work is None else work
    m = POOL.min_size
    if m is None or total < m:
        call(o, *arrays)
        return
    shape = o.shape
    n = min(POOL.threads, total // chunk)
    # a kernel that reduces keeps two or more rows in every part: numpy reduces a single
    # row another way (pairwise along it, not in order across rows), with other bits
    least = 2 * n if keep else n
    axis = None
    for d, size in enumerate(shape):
        if d not in keep and size >= least:
            axis = d
            break
    if n < 2 or axis is None or not _separate(o, arrays) or not POOL.lock.acquire(False):
        call(o, *arrays)
        return
    try:
        workers = POOL.workers
        if any(w.busy for w in workers):
            # a wait was interrupted (KeyboardInterrupt): that worker's `done` would answer
            # the next job early, so it is left to finish alone and replaced
            workers = POOL.workers = [w for w in workers if not w.busy]
        while len(workers) < n - 1:
            workers.append(_Worker())
        size = shape[axis]
        cuts = [size * i // n for i in range(n + 1)]

        def part(i):
            cut = (slice(None),) * axis + (slice(cuts[i], cuts[i + 1]),)
            return (o[cut],) + tuple(a[cut] if a.ndim and a.shape[axis] == size else a
                                     for a in arrays)
        err = np.geterr()
        for i in range(1, n):
            workers[i - 1].start(call, part(i), err)
        error = None
        try:
            call(*part(0))
        finally:
            for w in workers[:n - 1]:
                e = w.wait()
                error = error or e
        if error is not None:
            raise error
    finally:
        POOL.lock.release()


def _separate(o, arrays):
    """Whether the output holds each element once (not an expanded or overlapping view,
    which fill_/masked_fill_ may write), and every input is 0-d or has o's rank and either is
    the output itself, element for element, or shares no memory with it (numpy's overlap
    test, by bounds)."""
    reach = 0
    for stride, size in sorted((abs(st), n) for st, n in zip(o.strides, o.shape) if n > 1):
        if stride <= reach:
            return False
        reach += stride * (size - 1)
    for a in arrays:
        if a.ndim and a.ndim != o.ndim:
            return False
        if a.ndim and np.may_share_memory(o, a) and not (
                a.__array_interface__["data"][0] == o.__array_interface__["data"][0] and
                a.strides == o.strides and a.shape == o.shape):
            return False
    return True


def rows_in_memory(x, dims):
    """Whether the sorted `dims` are the last dims of the numpy array x and C-contiguous: a
    kernel reducing them reads each row along memory, the same way in every part."""
    if not dims or tuple(dims) != tuple(range(dims[0], x.ndim)):
        return False
    expected = x.itemsize
    for d in range(x.ndim - 1, dims[0] - 1, -1):
        if x.shape[d] != 1 and x.strides[d] != expected:
            return False
        expected *= x.shape[d]
    return True
