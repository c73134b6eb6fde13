"""NCCL collectives for CUDA tensors, through CuPy's NCCL binding (cupy.cuda.nccl).

NOTE [nccl collectives]
A process group started with ``init_process_group("nccl")`` keeps its MPI communicator for
everything, and in addition runs these collectives on the GPU with NCCL when every tensor of
the call is a cuda tensor of a dtype NCCL has (`NCCL_TYPES`) and, for reductions, the
ReduceOp is one NCCL has (`NCCL_OPS`): all_reduce, reduce, broadcast, all_gather,
all_gather_into_tensor, reduce_scatter and reduce_scatter_tensor. Every other call (cpu or
opencl tensors, mixed devices, bool and int16 reductions, BAND/BOR/BXOR, gather, scatter,
send/recv, the object collectives) goes through host memory on MPI as with backend "mpi"
(NOTE [host staging] in _work.py). The choice depends only on what every rank passes alike
(devices, dtype, op), never on one rank's memory layout, so all ranks take the same path: a
non-contiguous tensor is copied to a contiguous temporary on its device and back.

The NCCL communicator of a (group, device) is made on the group's first NCCL collective on
that device, by every member at once: rank 0 makes the unique id (`nccl.get_unique_id()`),
the group's MPI communicator broadcasts it, and each rank makes
`NcclCommunicator(size, uid, rank)` with the tensor's device current. Collectives run in
place where the API allows (sendbuf == recvbuf) on the CuPy memory behind the tensors
(`buffer(t)` is the storage's 1-d CuPy array, `offset(t)` the first element), queued on the
device's current CuPy stream like plugtorch's kernels, so they are ordered with the work
before and after them and the host does not wait. AVG is NCCL's SUM and then a division
queued on the same stream. `Work.wait()` returns at once, as PyTorch's NCCL work does for
the current stream: later work on the stream sees the result; `is_completed()` asks an event
recorded after the collective. There is no timeout: NCCL blocks the stream, not the host,
and a rank that died leaves the others' kernels waiting (NOTE [collective timeout] covers
only the MPI path).
"""
import importlib
import threading
import warnings
import weakref

from ._group import ReduceOp

__all__ = ["NCCL_TYPES", "NCCL_OPS", "nccl_unavailable", "try_collective"]

#: plugtorch dtype name -> the cupy.cuda.nccl constant of its NCCL data type
NCCL_TYPES = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32",
              "float64": "NCCL_FLOAT64", "int8": "NCCL_INT8", "uint8": "NCCL_UINT8",
              "int32": "NCCL_INT32", "int64": "NCCL_INT64"}
#: dtypes NCCL has no type for: broadcast and gathers move their bytes as NCCL_UINT8;
#: reductions on them go through MPI
BYTES_ONLY = ("bool", "int16")
#: ReduceOp -> the cupy.cuda.nccl constant (AVG: SUM, then a division by the group's size)
NCCL_OPS = {ReduceOp.SUM: "NCCL_SUM", ReduceOp.AVG: "NCCL_SUM", ReduceOp.PRODUCT: "NCCL_PROD",
            ReduceOp.MIN: "NCCL_MIN", ReduceOp.MAX: "NCCL_MAX"}

_comms = weakref.WeakKeyDictionary()     # ProcessGroup -> {device index: NcclCommunicator}
_lock = threading.Lock()


def _dtype_name(dt):
    return str(dt).rsplit(".", 1)[-1]


def _cuda():
    """(cuda backend, cupy.cuda.nccl), or raise RuntimeError saying why NCCL can't run."""
    from .. import backends
    try:
        be = backends.get("cuda")
    except Exception as e:        # no CuPy, no driver, no device: the backend says which
        raise RuntimeError(str(e)) from None
    if be.device_count() == 0:
        raise RuntimeError("CuPy found no CUDA device")
    nccl = getattr(be.cp.cuda, "nccl", None)
    if nccl is None:
        try:
            if not hasattr(be.cp, "__path__"):     # not a package: no submodules
                raise ImportError(f"{be.cp.__name__}.cuda has no nccl")
            with warnings.catch_warnings():   # CuPy warns when libnccl is missing
                warnings.simplefilter("ignore")
                nccl = importlib.import_module(be.cp.__name__ + ".cuda.nccl")
        except ImportError as e:
            raise RuntimeError(f"this CuPy has no NCCL binding ({e})") from None
    if not getattr(nccl, "available", True) or not hasattr(nccl, "NcclCommunicator"):
        raise RuntimeError("CuPy cannot load the NCCL library (libnccl.so.2); "
                           "pip install nvidia-nccl-cu12")
    return be, nccl


def nccl_unavailable():
    """"" when NCCL collectives can run here, else why not."""
    try:
        _cuda()
    except RuntimeError as e:
        return str(e)
    return ""


def _communicator(g, be, nccl, index):
    with _lock:
        per = _comms.setdefault(g, {})
        comm = per.get(index)
    if comm is None:
        uid = nccl.get_unique_id() if g.rank() == 0 else None
        uid = g.comm.bcast(uid, root=0)
        with be.device(index):
            comm = nccl.NcclCommunicator(g.size(), uid, g.rank())
        with _lock:
            per[index] = comm
    return comm


def forget(g):
    """Destroy the NCCL communicators of group `g`, or (None) of every group
    (destroy_process_group)."""
    with _lock:
        groups = list(_comms) if g is None else [g] if g in _comms else []
        per = [c for k in groups for c in _comms.pop(k).values()]
    for comm in per:
        comm.destroy()


class NcclWork:
    """The Work of an NCCL collective: ordered on the stream (NOTE [nccl collectives])."""

    def __init__(self, what, event, result):
        self._what, self._event, self._result = what, event, list(result)

    def is_completed(self):
        return bool(self._event.done)

    is_success = is_completed

    def wait(self, timeout=None):
        return True

    def result(self):
        return self._result

    def get_future(self):
        raise NotImplementedError("Work.get_future: futures are not supported; call wait()")


class _Buf:
    """The contiguous device memory NCCL reads or writes for tensor `t`: t's own, or a
    contiguous temporary copied back by `done()`."""

    def __init__(self, t, load=True):
        self.t = t
        self.tmp = t if t.is_contiguous() else (t.contiguous() if load else
                                                t.new_empty(t.shape))

    def ptr(self):
        from ..backends import buffer, offset
        t = self.tmp
        return buffer(t).data.ptr + offset(t) * t.element_size()

    def array(self, cp):
        """A CuPy array over the memory (for the AVG division)."""
        from ..backends import buffer, offset
        t = self.tmp
        mem = buffer(t).data + offset(t) * t.element_size()
        return cp.ndarray((t.numel(),), t.dtype.np, memptr=mem)

    def done(self):
        if self.tmp is not self.t:
            self.t.detach().copy_(self.tmp)


def _eligible(g, tensors, op):
    """(backend, nccl, device index, NCCL type name) when the call runs on NCCL, else None."""
    if getattr(g, "backend", "mpi") != "nccl" or not tensors:
        return None
    first = tensors[0]
    if first.device.type != "cuda" or any(t.device != first.device or t.dtype is not first.dtype
                                          for t in tensors):
        return None
    name = _dtype_name(first.dtype)
    if op is None:
        kind = NCCL_TYPES.get(name) or ("NCCL_UINT8" if name in BYTES_ONLY else None)
    else:
        kind = NCCL_TYPES.get(name) if ReduceOp(op) in NCCL_OPS else None
    if kind is None:
        return None
    be, nccl = _cuda()
    return be, nccl, first.device.index or 0, kind


def try_collective(what, g, op=None, **kw):
    """Run collective `what` on NCCL and return its NcclWork, or None when the call goes
    through MPI (NOTE [nccl collectives]). `kw` holds the collective's tensors."""
    from ..backends import is_tensor
    tensors = [t for v in kw.values() for t in (v if isinstance(v, (list, tuple)) else [v])
               if is_tensor(t)]
    found = _eligible(g, tensors, op)
    if found is None:
        return None
    be, nccl, index, kind = found
    cp = be.cp
    dt = getattr(nccl, kind)
    with be.device(index):
        comm = _communicator(g, be, nccl, index)
        stream = cp.cuda.get_current_stream()
        nop = getattr(nccl, NCCL_OPS[ReduceOp(op)]) if op is not None else None
        outs = _issue(what, g, kw, comm, dt, nop, stream.ptr, kind == "NCCL_UINT8")
        if op is not None and ReduceOp(op) is ReduceOp.AVG:
            for b in outs:
                a = b.array(cp)
                a /= g.size()
        for b in outs:
            b.done()
        event = cp.cuda.Event(disable_timing=True)
        stream.record(event)
    result = kw.get("tensor_list") or [kw[k] for k in ("tensor", "output_tensor", "output")
                                       if k in kw]
    return NcclWork(what, event, result)


def _count(t, as_bytes):
    return t.numel() * (t.element_size() if as_bytes else 1)


def _issue(what, g, kw, comm, dt, nop, stream, as_bytes):
    """Queue the NCCL call of `what`; returns the _Bufs of its outputs."""
    from .. import cat, empty
    if what == "all_reduce":
        b = _Buf(kw["tensor"])
        comm.allReduce(b.ptr(), b.ptr(), b.t.numel(), dt, nop, stream)
        return [b]
    if what == "reduce":
        b = _Buf(kw["tensor"])
        mine = g.rank() == kw["root"]
        comm.reduce(b.ptr(), b.ptr(), b.t.numel(), dt, nop, kw["root"], stream)
        return [b] if mine else []
    if what == "broadcast":
        b = _Buf(kw["tensor"])
        comm.broadcast(b.ptr(), b.ptr(), _count(b.t, as_bytes), dt, kw["root"], stream)
        return [b] if g.rank() != kw["root"] else []
    if what == "all_gather_into_tensor":
        src, out = _Buf(kw["input_tensor"]), _Buf(kw["output_tensor"], load=False)
        comm.allGather(src.ptr(), out.ptr(), _count(src.t, as_bytes), dt, stream)
        return [out]
    if what == "all_gather":
        src, parts = _Buf(kw["tensor"]), kw["tensor_list"]
        n = src.t.numel()
        out = _Buf(empty(n * g.size(), dtype=src.t.dtype, device=src.t.device))
        comm.allGather(src.ptr(), out.ptr(), _count(src.t, as_bytes), dt, stream)
        for i, p in enumerate(parts):
            p.detach().copy_(out.t[i * n:(i + 1) * n].view(tuple(p.shape)))
        return []
    if what in ("reduce_scatter", "reduce_scatter_tensor"):
        if what == "reduce_scatter":
            src = _Buf(cat([t.detach().reshape(-1) for t in kw["input_list"]]))
        else:
            src = _Buf(kw["input"])
        out = _Buf(kw["output"], load=False)
        comm.reduceScatter(src.ptr(), out.ptr(), out.t.numel(), dt, nop, stream)
        return [out]
    raise AssertionError(what)
