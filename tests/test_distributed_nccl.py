"""NCCL collectives for CUDA tensors (NOTE [nccl collectives] in plugtorch/distributed/_nccl.py)
without a GPU: the CUDA backend runs over the fake CuPy of _fake_cupy.py (device memory is
host memory) and `cupy.cuda.nccl` is the fake below, whose communicator records every call
and performs it with numpy on the memory behind the pointers it is given. Two ranks are
simulated by two threads sharing a fake MPI communicator (for the unique id) and a fake NCCL
fabric."""
import ctypes
import datetime
import threading
import types

import numpy as np
import pytest

import plugtorch
import plugtorch.distributed as dist
from plugtorch.distributed import ReduceOp, _nccl
from plugtorch.distributed._group import ProcessGroup

import _fake_cupy

# nccl.h: ncclDataType_t and ncclRedOp_t, and the numpy dtype each type holds
NCCL_H = {"NCCL_INT8": 0, "NCCL_UINT8": 1, "NCCL_INT32": 2, "NCCL_UINT32": 3,
          "NCCL_INT64": 4, "NCCL_UINT64": 5, "NCCL_FLOAT16": 6, "NCCL_FLOAT32": 7,
          "NCCL_FLOAT64": 8, "NCCL_BFLOAT16": 9,
          "NCCL_SUM": 0, "NCCL_PROD": 1, "NCCL_MAX": 2, "NCCL_MIN": 3, "NCCL_AVG": 4}
NP_OF = {0: np.int8, 1: np.uint8, 2: np.int32, 3: np.uint32, 4: np.int64, 5: np.uint64,
         6: np.float16, 7: np.float32, 8: np.float64}
REDUCE = {0: np.add.reduce, 1: np.multiply.reduce, 2: np.maximum.reduce,
          3: np.minimum.reduce}
TIMEOUT = datetime.timedelta(seconds=20)


def _mem(ptr, count, dt):
    dt = np.dtype(NP_OF[dt])
    return np.frombuffer((ctypes.c_char * (count * dt.itemsize)).from_address(ptr), dt)


class Fabric:
    """What the ranks of one fake NCCL communicator exchange."""

    def __init__(self, size):
        self.size, self.slots = size, [None] * size
        self.barrier = threading.Barrier(size, timeout=20)

    def exchange(self, rank, value):
        self.slots[rank] = value
        self.barrier.wait()
        got = list(self.slots)
        self.barrier.wait()
        return got


def fake_nccl(calls):
    """A cupy.cuda.nccl stand-in; `calls` collects (rank, method, args) tuples."""
    fabrics = {}
    lock = threading.Lock()
    ids = iter(range(1000))

    class NcclCommunicator:
        def __init__(self, ndev, uid, rank):
            with lock:
                self.fabric = fabrics.setdefault(uid, Fabric(ndev))
            self.rank = rank
            calls.append((rank, "init", (ndev, uid)))

        def _both(self, name, args, send, count, dt):
            calls.append((self.rank, name, args))
            return self.fabric.exchange(self.rank, _mem(send, count, dt).copy())

        def allReduce(self, send, recv, count, dt, op, stream):
            parts = self._both("allReduce", (count, dt, op, stream, send == recv), send,
                               count, dt)
            _mem(recv, count, dt)[:] = REDUCE[op](np.stack(parts))

        def reduce(self, send, recv, count, dt, op, root, stream):
            parts = self._both("reduce", (count, dt, op, root, stream), send, count, dt)
            if self.rank == root:
                _mem(recv, count, dt)[:] = REDUCE[op](np.stack(parts))

        def broadcast(self, send, recv, count, dt, root, stream):
            parts = self._both("broadcast", (count, dt, root, stream), send, count, dt)
            _mem(recv, count, dt)[:] = parts[root]

        def allGather(self, send, recv, count, dt, stream):
            parts = self._both("allGather", (count, dt, stream), send, count, dt)
            _mem(recv, count * len(parts), dt)[:] = np.concatenate(parts)

        def reduceScatter(self, send, recv, count, dt, op, stream):
            n = self.fabric.size
            parts = self._both("reduceScatter", (count, dt, op, stream), send, count * n, dt)
            whole = REDUCE[op](np.stack(parts))
            _mem(recv, count, dt)[:] = whole[self.rank * count:(self.rank + 1) * count]

        def destroy(self):
            calls.append((self.rank, "destroy", ()))

    mod = types.SimpleNamespace(available=True, NcclCommunicator=NcclCommunicator,
                                get_unique_id=lambda: ("uid", next(ids)), **NCCL_H)
    return mod


class FakeMpi:
    """The calls the NCCL path and destroy_process_group make of a group's MPI communicator."""

    def __init__(self, fabric, rank):
        self.fabric, self.me = fabric, rank

    def Get_rank(self):
        return self.me

    def bcast(self, obj, root=0):
        return self.fabric.exchange(self.me, obj)[root]

    def Free(self):
        pass


@pytest.fixture
def cuda(monkeypatch):
    """(fake cupy with a fake nccl, list of NCCL calls); cuda kernels run on OpenCL."""
    executor = _fake_cupy.opencl_executor()
    if executor is None:
        pytest.skip("no OpenCL device to run the fake CUDA kernels on")
    fake, _ = _fake_cupy.install(monkeypatch, count=1, executor=executor)
    calls = []
    fake.cuda.nccl = fake_nccl(calls)
    return fake, calls


def groups(size):
    fabric = Fabric(size)
    return [ProcessGroup(FakeMpi(fabric, r), range(size), TIMEOUT, "nccl")
            for r in range(size)]


def on_ranks(size, fn):
    """Run fn(group, rank) on `size` simulated ranks; returns their results."""
    gs, out, errors = groups(size), [None] * size, []

    def run(r):
        try:
            out[r] = fn(gs[r], r)
        except BaseException as e:         # re-raised in the test's thread
            errors.append(e)
            for g in gs:
                g.comm.fabric.barrier.abort()
    threads = [threading.Thread(target=run, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if errors:
        raise errors[0]
    return out


def cu(a):
    return plugtorch.from_numpy(np.asarray(a)).to("cuda")


def host(t):
    return t.cpu().numpy()


# -- without any CUDA: the clear error -------------------------------------------------------

def test_nccl_backend_here_says_why_it_cannot_run():
    why = _nccl.nccl_unavailable()
    if not why:
        pytest.skip("NCCL can run here")
    with pytest.raises(RuntimeError, match="backend 'nccl' needs CUDA devices") as e:
        dist.init_process_group("nccl")
    assert why in str(e.value) and "backend='mpi'" in str(e.value)
    assert not dist.is_initialized() and not dist.is_nccl_available()


def test_each_missing_piece_is_named(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "cupy", None)            # CuPy not installed
    import plugtorch.backends as registry
    from plugtorch_cuda.backend import CudaBackend
    monkeypatch.setitem(registry._entries, "cuda",
                        registry._Entry("cuda", CudaBackend, "cuda (tests)"))
    assert "CuPy is not installed" in _nccl.nccl_unavailable()
    fake, _ = _fake_cupy.install(monkeypatch, count=0)        # no GPU
    assert "no CUDA device" in _nccl.nccl_unavailable()
    fake, _ = _fake_cupy.install(monkeypatch, count=1)        # a GPU, no NCCL binding
    assert "no NCCL binding" in _nccl.nccl_unavailable()
    fake.cuda.nccl = types.SimpleNamespace(available=False)  # libnccl missing
    why = _nccl.nccl_unavailable()
    assert "libnccl" in why and "nvidia-nccl-cu12" in why
    fake.cuda.nccl = fake_nccl([])
    assert _nccl.nccl_unavailable() == "" and dist.is_nccl_available()


# -- the tables ----------------------------------------------------------------------------

def test_dtype_table_covers_every_dtype_with_nccl_types_of_the_same_bytes():
    every = {"bool", "float16", "float32", "float64", "int8", "int16", "int32", "int64",
             "uint8"}
    assert set(_nccl.NCCL_TYPES) | set(_nccl.BYTES_ONLY) == every
    assert not set(_nccl.NCCL_TYPES) & set(_nccl.BYTES_ONLY)
    for name, kind in _nccl.NCCL_TYPES.items():
        assert np.dtype(NP_OF[NCCL_H[kind]]) == getattr(plugtorch, name).np, name


def test_op_table():
    assert {op: _nccl.NCCL_OPS.get(op) for op in ReduceOp} == {
        ReduceOp.SUM: "NCCL_SUM", ReduceOp.AVG: "NCCL_SUM", ReduceOp.PRODUCT: "NCCL_PROD",
        ReduceOp.MIN: "NCCL_MIN", ReduceOp.MAX: "NCCL_MAX", ReduceOp.BAND: None,
        ReduceOp.BOR: None, ReduceOp.BXOR: None}


def test_table_names_are_cupys():
    """Every constant named is one CuPy's NCCL binding defines (read from the extension
    module, which loads only where libnccl is)."""
    import importlib.util
    import pathlib
    spec = importlib.util.find_spec("cupy_backends")
    if spec is None:
        pytest.skip("CuPy is not installed")
    libs = list(pathlib.Path(spec.submodule_search_locations[0], "cuda", "libs")
                .glob("nccl*.so"))
    if not libs:
        pytest.skip("this CuPy has no NCCL binding")
    text = libs[0].read_bytes()
    for name in list(_nccl.NCCL_TYPES.values()) + list(_nccl.NCCL_OPS.values()):
        assert name.encode() in text, name


# -- the collectives, on the fake ------------------------------------------------------------

@pytest.mark.parametrize("op", [ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN,
                                ReduceOp.MAX])
def test_all_reduce_two_ranks(cuda, op):
    fake, calls = cuda
    vals = [np.array([[1.5, -2.0, 3.0], [4.0, 0.5, -1.0]], np.float32),
            np.array([[2.0, 3.0, -0.5], [1.0, 2.0, 6.0]], np.float32)]
    ts = [cu(v) for v in vals]
    on_ranks(2, lambda g, r: dist.all_reduce(ts[r], op, group=g))
    want = {ReduceOp.SUM: vals[0] + vals[1], ReduceOp.AVG: (vals[0] + vals[1]) / 2,
            ReduceOp.PRODUCT: vals[0] * vals[1], ReduceOp.MIN: np.minimum(*vals),
            ReduceOp.MAX: np.maximum(*vals)}[op]
    for t in ts:
        np.testing.assert_allclose(host(t), want, rtol=1e-6)
    stream = fake.cuda.get_current_stream().ptr
    nop = NCCL_H["NCCL_SUM" if op is ReduceOp.AVG else _nccl.NCCL_OPS[op]]
    got = sorted(c for c in calls if c[1] == "allReduce")
    assert got == [(r, "allReduce", (6, NCCL_H["NCCL_FLOAT32"], nop, stream, True))
                   for r in range(2)]
    inits = [c for c in calls if c[1] == "init"]
    assert len(inits) == 2 and {c[0] for c in inits} == {0, 1}
    assert inits[0][2] == inits[1][2] and inits[0][2][0] == 2     # rank 0's id, world 2


def test_communicator_made_once_per_group_and_destroyed(cuda):
    fake, calls = cuda
    ts = [cu(np.arange(4, dtype=np.int64) * (r + 1)) for r in range(2)]

    def run(g, r):
        for _ in range(3):
            dist.all_reduce(ts[r], group=g)
        dist.destroy_process_group(g)
    on_ranks(2, run)
    np.testing.assert_array_equal(host(ts[0]), np.arange(4) * 12)     # 3, 6, 12 times
    assert [c[1] for c in calls].count("init") == 2
    assert [c[1] for c in calls].count("destroy") == 2
    assert {c[2][1] for c in calls if c[1] == "allReduce"} == {NCCL_H["NCCL_INT64"]}


def test_broadcast_and_reduce_take_the_group_rank_as_root(cuda):
    fake, calls = cuda
    vals = [np.array([1, 2, 3], np.int32), np.array([10, 20, 30], np.int32)]
    ts = [cu(v) for v in vals]
    ps = [cu(v) for v in vals]
    on_ranks(2, lambda g, r: (dist.broadcast(ts[r], src=1, group=g),
                              dist.reduce(ps[r], dst=1, op=ReduceOp.MAX, group=g)))
    for t in ts:
        np.testing.assert_array_equal(host(t), vals[1])
    np.testing.assert_array_equal(host(ps[1]), np.maximum(*vals))
    stream = fake.cuda.get_current_stream().ptr
    i32 = NCCL_H["NCCL_INT32"]
    assert sorted(c for c in calls if c[1] in ("broadcast", "reduce")) == [
        (0, "broadcast", (3, i32, 1, stream)), (0, "reduce", (3, i32, NCCL_H["NCCL_MAX"], 1,
                                                              stream)),
        (1, "broadcast", (3, i32, 1, stream)), (1, "reduce", (3, i32, NCCL_H["NCCL_MAX"], 1,
                                                              stream))]


def test_all_gather_both_forms(cuda):
    fake, calls = cuda
    vals = [np.array([[1., 2.], [3., 4.]]), np.array([[5., 6.], [7., 8.]])]
    ins = [cu(v) for v in vals]
    lists = [[cu(np.zeros((2, 2))) for _ in range(2)] for _ in range(2)]
    outs = [cu(np.zeros((4, 2))) for _ in range(2)]
    strided = [cu(np.zeros((2, 4))).t() for _ in range(2)]     # a non-contiguous output

    def run(g, r):
        dist.all_gather(lists[r], ins[r], group=g)
        dist.all_gather_into_tensor(outs[r], ins[r], group=g)
        dist.all_gather_into_tensor(strided[r], ins[r], group=g)
    on_ranks(2, run)
    for r in range(2):
        for i in range(2):
            np.testing.assert_array_equal(host(lists[r][i]), vals[i])
        np.testing.assert_array_equal(host(outs[r]), np.concatenate(vals))
        np.testing.assert_array_equal(host(strided[r]), np.concatenate(vals))
    f64 = NCCL_H["NCCL_FLOAT64"]
    assert {c[2][:2] for c in calls if c[1] == "allGather"} == {(4, f64)}
    assert [c[1] for c in calls].count("allGather") == 6


@pytest.mark.parametrize("op", [ReduceOp.SUM, ReduceOp.AVG])
def test_reduce_scatter_both_forms(cuda, op):
    fake, calls = cuda
    rng = np.random.default_rng(0)
    vals = [rng.standard_normal(6) for _ in range(2)]          # float64 per rank, 2 x 3
    total = (vals[0] + vals[1]) / (2 if op is ReduceOp.AVG else 1)
    outs = [cu(np.zeros(3)) for _ in range(2)]
    outs2 = [cu(np.zeros(3)) for _ in range(2)]

    def run(g, r):
        dist.reduce_scatter_tensor(outs[r], cu(vals[r]), op, group=g)
        dist.reduce_scatter(outs2[r], [cu(vals[r][:3]), cu(vals[r][3:])], op, group=g)
    on_ranks(2, run)
    for r in range(2):
        np.testing.assert_allclose(host(outs[r]), total[3 * r:3 * r + 3], rtol=1e-12)
        np.testing.assert_allclose(host(outs2[r]), total[3 * r:3 * r + 3], rtol=1e-12)
    assert {c[2][:3] for c in calls if c[1] == "reduceScatter"} == {
        (3, NCCL_H["NCCL_FLOAT64"], NCCL_H["NCCL_SUM"])}


def test_float16_and_non_contiguous_and_bytes_only(cuda):
    fake, calls = cuda
    base = [np.arange(6, dtype=np.float16).reshape(2, 3) + r for r in range(2)]
    ts = [cu(b).t() for b in base]                              # non-contiguous views
    bools = [cu(np.array([True, False, r == 1])) for r in range(2)]
    on_ranks(2, lambda g, r: (dist.all_reduce(ts[r], group=g),
                              dist.broadcast(bools[r], src=1, group=g)))
    for t in ts:
        assert not t.is_contiguous()
        np.testing.assert_array_equal(host(t), (base[0] + base[1]).T)
    for b in bools:
        np.testing.assert_array_equal(host(b), [True, False, True])
    assert {c[2][1] for c in calls if c[1] == "allReduce"} == {NCCL_H["NCCL_FLOAT16"]}
    assert {c[2][:2] for c in calls if c[1] == "broadcast"} == {(3, NCCL_H["NCCL_UINT8"])}


def test_single_rank_async_work(cuda):
    fake, calls = cuda
    g = groups(1)[0]
    t = cu(np.array([1., 2., 3.], np.float32))
    stream = fake.cuda.Stream(non_blocking=True)
    with stream:                                   # NCCL queues on the current stream
        work = dist.all_reduce(t, ReduceOp.AVG, group=g, async_op=True)
    assert work.wait() and work.is_completed() and work.result() == [t]
    np.testing.assert_array_equal(host(t), [1., 2., 3.])
    assert [c[1] for c in calls] == ["init", "allReduce"]
    assert calls[1][2] == (3, NCCL_H["NCCL_FLOAT32"], NCCL_H["NCCL_SUM"], stream.ptr, True)
    assert stream.ptr != fake.cuda.Stream.null.ptr


def test_the_rest_goes_through_mpi(cuda, monkeypatch):
    """cpu tensors, BAND, bool sums and gather are MPI's: try_collective declines them, and
    an "mpi" group never uses NCCL."""
    fake, calls = cuda
    g = groups(1)[0]
    t = cu(np.array([1, 2], np.int32))
    assert _nccl.try_collective("all_reduce", g, ReduceOp.BAND, tensor=t) is None
    assert _nccl.try_collective("all_reduce", g, ReduceOp.SUM,
                                tensor=cu(np.array([True]))) is None
    assert _nccl.try_collective("all_reduce", g, ReduceOp.SUM,
                                tensor=plugtorch.tensor([1.])) is None
    assert _nccl.try_collective("all_gather", g, tensor=t,
                                tensor_list=[plugtorch.zeros(2, dtype=plugtorch.int32)]) is None
    mpi = ProcessGroup(g.comm, [0], TIMEOUT)
    assert _nccl.try_collective("all_reduce", mpi, ReduceOp.SUM, tensor=t) is None
    assert calls == [] and mpi.name() == "mpi" and g.name() == "nccl"
