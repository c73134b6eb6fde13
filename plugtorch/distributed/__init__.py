"""plugtorch.distributed: process groups and collectives, PyTorch's API on MPI.

Start the processes with the launcher, which runs them under mpiexec:

    plugtorch run --nproc-per-node 2 train.py --epochs 3

and in the script:

    import plugtorch.distributed as dist
    dist.init_process_group("mpi")
    t = torch.ones(3, device="opencl")
    dist.all_reduce(t)                      # every rank: tensor([2., 2., 2.])

Collectives take tensors of any device. The MPI backend does not assume a device-aware
MPI: device tensors are copied through host memory (NOTE [host staging] in
plugtorch/distributed/_work.py). ``init_process_group("nccl")`` runs the collectives of
CUDA tensors on NCCL through CuPy instead (NOTE [nccl collectives] in _nccl.py). Every
MPI collective gives up with a RuntimeError after the group's timeout instead of hanging
when a rank has died (NOTE [collective timeout]).
Requires mpi4py and an MPI (``pip install 'plugtorch[distributed]'`` installs both).
"""
from ._group import (ReduceOp, ProcessGroup, GroupMember, group, is_available,
                     is_initialized, init_process_group, destroy_process_group, new_group,
                     get_rank, get_world_size, get_backend, get_global_rank,
                     get_process_group_ranks, is_mpi_available, is_nccl_available,
                     is_gloo_available, default_pg_timeout)
from ._collectives import (all_reduce, reduce, broadcast, all_gather, all_gather_into_tensor,
                           reduce_scatter, reduce_scatter_tensor, gather, scatter, barrier,
                           send, recv, isend, irecv, all_gather_object,
                           broadcast_object_list)
from ._work import Work

__all__ = ["ReduceOp", "ProcessGroup", "GroupMember", "group", "Work", "is_available",
           "is_initialized", "init_process_group", "destroy_process_group", "new_group",
           "get_rank", "get_world_size", "get_backend", "get_global_rank",
           "get_process_group_ranks", "is_mpi_available", "is_nccl_available",
           "is_gloo_available", "default_pg_timeout", "all_reduce", "reduce", "broadcast",
           "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor",
           "gather", "scatter", "barrier", "send", "recv", "isend", "irecv",
           "all_gather_object", "broadcast_object_list"]
