"""Collectives and point-to-point on tensors of any device, over MPI.

Each call stages its tensors through host arrays (NOTE [host staging]) and starts a
non-blocking MPI operation; with ``async_op=True`` it returns the Work handle, otherwise
it waits on it under the group's timeout (NOTE [collective timeout]). Ranks (src, dst) are
global ranks, as in PyTorch. On a rank outside `group` a collective does nothing and
returns None.
"""
import pickle

import numpy as np

from ._group import ReduceOp, group_rank, resolve
from ._nccl import try_collective
from ._work import Work, empty_host, from_host, to_host

__all__ = ["all_reduce", "reduce", "broadcast", "all_gather", "all_gather_into_tensor",
           "reduce_scatter", "reduce_scatter_tensor", "gather", "scatter", "barrier",
           "send", "recv", "isend", "irecv", "all_gather_object", "broadcast_object_list"]


def _check_op(op, what, t):
    """ReduceOp(op), after checking that it applies to `t`'s dtype."""
    op = ReduceOp(op)
    if op is ReduceOp.AVG and not (t.dtype.is_floating_point or t.dtype.is_complex):
        raise TypeError(f"{what}: ReduceOp.AVG needs a floating or complex tensor, got "
                        f"{t.dtype}; use ReduceOp.SUM")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and t.dtype.is_floating_point:
        raise TypeError(f"{what}: ReduceOp.{op.name} needs an integer or bool tensor, got "
                        f"{t.dtype}")
    return op


def _mpi_op(op, what, t):
    from mpi4py import MPI
    op = _check_op(op, what, t)
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
            ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


def _finish(out, host, op=None, size=1):
    def finish():
        if op == ReduceOp.AVG:
            host[...] = host / size
        from_host(out, host)
    return finish


def _same(what, ref, tensors, numel=None):
    for t in tensors:
        if t.dtype is not ref.dtype or (numel is not None and t.numel() != numel):
            raise ValueError(f"{what}: every tensor must have dtype {ref.dtype} and "
                             f"{numel if numel is not None else 'any'} elements, got "
                             f"{t.dtype} with {t.numel()}")


def _run(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` over the ranks with `op`; every rank gets the result in place.

    Example, on 2 ranks under `plugtorch run`::

        t = torch.tensor([float(dist.get_rank() + 1)])
        dist.all_reduce(t)          # t is tensor([3.]) on both ranks
    """
    g = resolve(group)
    if g.comm is None:
        return None
    work = try_collective("all_reduce", g, _check_op(op, "all_reduce", tensor), tensor=tensor)
    if work is not None:
        return _run(work, async_op)
    mop = _mpi_op(op, "all_reduce", tensor)
    send = to_host(tensor)
    recv = np.empty_like(send)
    req = g.comm.Iallreduce(send, recv, mop)
    return _run(Work("all_reduce", [req], _finish(tensor, recv, op, g.size()), g.timeout,
                     [tensor], (send, recv)), async_op)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` over the ranks with `op` into rank `dst`'s tensor."""
    g = resolve(group)
    if g.comm is None:
        return None
    root = group_rank(g, dst, "reduce")
    work = try_collective("reduce", g, _check_op(op, "reduce", tensor), tensor=tensor,
                          root=root)
    if work is not None:
        return _run(work, async_op)
    mop = _mpi_op(op, "reduce", tensor)
    send = to_host(tensor)
    mine = g.rank() == root
    recv = np.empty_like(send) if mine else None
    req = g.comm.Ireduce(send, recv, mop, root)
    finish = _finish(tensor, recv, op, g.size()) if mine else None
    return _run(Work("reduce", [req], finish, g.timeout, [tensor], (send, recv)), async_op)


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank `src`'s `tensor` into `tensor` on every rank."""
    g = resolve(group)
    if g.comm is None:
        return None
    root = group_rank(g, src, "broadcast")
    work = try_collective("broadcast", g, tensor=tensor, root=root)
    if work is not None:
        return _run(work, async_op)
    buf = to_host(tensor) if g.rank() == root else empty_host(tensor)
    req = g.comm.Ibcast(buf, root)
    finish = _finish(tensor, buf) if g.rank() != root else None
    return _run(Work("broadcast", [req], finish, g.timeout, [tensor], (buf,)), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill `tensor_list[i]` with rank i's `tensor` on every rank."""
    g = resolve(group)
    if g.comm is None:
        return None
    if len(tensor_list) != g.size():
        raise ValueError(f"all_gather: tensor_list must hold one tensor per rank "
                         f"({g.size()}), got {len(tensor_list)}")
    _same("all_gather", tensor, tensor_list, tensor.numel())
    work = try_collective("all_gather", g, tensor=tensor, tensor_list=tensor_list)
    if work is not None:
        return _run(work, async_op)
    send = to_host(tensor)
    recv = empty_host(tensor, (g.size(), send.size))

    def finish():
        for out, part in zip(tensor_list, recv):
            from_host(out, part)
    req = g.comm.Iallgather(send, recv)
    return _run(Work("all_gather", [req], finish, g.timeout, tensor_list, (send, recv)),
                async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Rank i's `input_tensor` becomes the i-th part of `output_tensor` (world_size times
    as many elements: concatenated or stacked along dim 0)."""
    g = resolve(group)
    if g.comm is None:
        return None
    _same("all_gather_into_tensor", input_tensor, [output_tensor],
          input_tensor.numel() * g.size())
    work = try_collective("all_gather_into_tensor", g, output_tensor=output_tensor,
                          input_tensor=input_tensor)
    if work is not None:
        return _run(work, async_op)
    send = to_host(input_tensor)
    recv = empty_host(output_tensor, (output_tensor.numel(),))
    req = g.comm.Iallgather(send, recv)
    return _run(Work("all_gather_into_tensor", [req], _finish(output_tensor, recv),
                     g.timeout, [output_tensor], (send, recv)), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `input_list[i]` over the ranks with `op` into rank i's `output`."""
    g = resolve(group)
    if g.comm is None:
        return None
    if len(input_list) != g.size():
        raise ValueError(f"reduce_scatter: input_list must hold one tensor per rank "
                         f"({g.size()}), got {len(input_list)}")
    _same("reduce_scatter", output, input_list, output.numel())
    work = try_collective("reduce_scatter", g, _check_op(op, "reduce_scatter", output),
                          output=output, input_list=input_list)
    if work is not None:
        return _run(work, async_op)
    send = np.concatenate([to_host(t).reshape(-1) for t in input_list])
    return _reduce_scatter("reduce_scatter", g, output, send, op, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `input` over the ranks with `op`; rank i gets the i-th part (of
    output.numel() elements) in `output`."""
    g = resolve(group)
    if g.comm is None:
        return None
    _same("reduce_scatter_tensor", output, [input], output.numel() * g.size())
    work = try_collective("reduce_scatter_tensor", g,
                          _check_op(op, "reduce_scatter_tensor", output), output=output,
                          input=input)
    if work is not None:
        return _run(work, async_op)
    return _reduce_scatter("reduce_scatter_tensor", g, output, to_host(input).reshape(-1),
                           op, async_op)


def _reduce_scatter(what, g, output, send, op, async_op):
    mop = _mpi_op(op, what, output)
    recv = empty_host(output, (output.numel(),))
    req = g.comm.Ireduce_scatter_block(send, recv, mop)
    return _run(Work(what, [req], _finish(output, recv, op, g.size()), g.timeout, [output],
                     (send, recv)), async_op)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Rank `dst` gets every rank's `tensor` in `gather_list` (given on `dst` only)."""
    g = resolve(group)
    if g.comm is None:
        return None
    root = group_rank(g, dst, "gather")
    mine = g.rank() == root
    if mine:
        if gather_list is None or len(gather_list) != g.size():
            raise ValueError(f"gather: rank {dst} needs a gather_list of {g.size()} tensors")
        _same("gather", tensor, gather_list, tensor.numel())
    elif gather_list:
        raise ValueError(f"gather: gather_list is only given on the destination rank {dst}")
    send = to_host(tensor)
    recv = empty_host(tensor, (g.size(), send.size)) if mine else None

    def finish():
        for out, part in zip(gather_list, recv):
            from_host(out, part)
    req = g.comm.Igather(send, recv, root)
    return _run(Work("gather", [req], finish if mine else None, g.timeout,
                     gather_list or [], (send, recv)), async_op)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank i gets rank `src`'s `scatter_list[i]` in `tensor` (the list is given on `src`)."""
    g = resolve(group)
    if g.comm is None:
        return None
    root = group_rank(g, src, "scatter")
    send = None
    if g.rank() == root:
        if scatter_list is None or len(scatter_list) != g.size():
            raise ValueError(f"scatter: rank {src} needs a scatter_list of {g.size()} "
                             f"tensors")
        _same("scatter", tensor, scatter_list, tensor.numel())
        send = np.stack([to_host(t).reshape(-1) for t in scatter_list])
    elif scatter_list:
        raise ValueError(f"scatter: scatter_list is only given on the source rank {src}")
    recv = empty_host(tensor, (tensor.numel(),))
    req = g.comm.Iscatter(send, recv, root)
    return _run(Work("scatter", [req], _finish(tensor, recv), g.timeout, [tensor],
                     (send, recv)), async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of `group` has reached the barrier."""
    g = resolve(group)
    if g.comm is None:
        return None
    return _run(Work("barrier", [g.comm.Ibarrier()], None, g.timeout), async_op)


def isend(tensor, dst, group=None, tag=0):
    """Start sending `tensor` to rank `dst`; returns a Work handle."""
    g = resolve(group)
    if g.comm is None:
        return None
    buf = to_host(tensor)
    req = g.comm.Isend(buf, group_rank(g, dst, "isend"), tag)
    return Work("send", [req], None, g.timeout, [tensor], (buf,))


def irecv(tensor, src=None, group=None, tag=0):
    """Start receiving into `tensor` from rank `src` (None: any rank); returns a Work
    handle whose `source_rank()` is the sender once it completes."""
    from mpi4py import MPI
    g = resolve(group)
    if g.comm is None:
        return None
    buf = empty_host(tensor, (tensor.numel(),))
    source = MPI.ANY_SOURCE if src is None else group_rank(g, src, "irecv")
    status = MPI.Status()
    req = g.comm.Irecv(buf, source, tag)
    work = Work("recv", [req], _finish(tensor, buf), g.timeout, [tensor], (buf,), [status])
    work.source_rank = lambda: g.ranks[status.Get_source()]
    return work


def send(tensor, dst, group=None, tag=0):
    """Send `tensor` to rank `dst` (blocks until the send buffer is free)."""
    isend(tensor, dst, group, tag).wait()


def recv(tensor, src=None, group=None, tag=0):
    """Receive into `tensor` from rank `src` (None: any rank); returns the sender's rank."""
    work = irecv(tensor, src, group, tag)
    if work is None:
        return -1
    work.wait()
    return work.source_rank()


def _bytes_tensor(data):
    from .. import from_numpy
    return from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def all_gather_object(object_list, obj, group=None):
    """Fill `object_list[i]` with rank i's picklable `obj` on every rank."""
    from .. import tensor, zeros, uint8
    g = resolve(group)
    if g.comm is None:
        return None
    if len(object_list) != g.size():
        raise ValueError(f"all_gather_object: object_list must hold one entry per rank "
                         f"({g.size()}), got {len(object_list)}")
    data = pickle.dumps(obj)
    sizes = [tensor([0]) for _ in range(g.size())]
    all_gather(sizes, tensor([len(data)]), group)
    longest = max(int(t.item()) for t in sizes)
    padded = data + bytes(longest - len(data))
    parts = [zeros(longest, dtype=uint8) for _ in range(g.size())]
    all_gather(parts, _bytes_tensor(padded), group)
    for i, (part, n) in enumerate(zip(parts, sizes)):
        object_list[i] = pickle.loads(part.cpu().numpy().tobytes()[:int(n.item())])


def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Replace the entries of `object_list` on every rank by those of rank `src` (picklable
    objects; the list has the same length on every rank)."""
    from .. import tensor, zeros, uint8
    g = resolve(group)
    if g.comm is None:
        return None
    mine = g.rank() == group_rank(g, src, "broadcast_object_list")
    data = pickle.dumps(list(object_list)) if mine else b""
    size = tensor([len(data)])
    broadcast(size, src, group)
    buf = _bytes_tensor(data) if mine else zeros(int(size.item()), dtype=uint8)
    broadcast(buf, src, group)
    if not mine:
        object_list[:] = pickle.loads(buf.cpu().numpy().tobytes())
