"""Process groups on MPI: the default group, new_group, ranks, and ReduceOp."""
import datetime
import enum
import importlib.util
import os

__all__ = ["ReduceOp", "ProcessGroup", "GroupMember", "group", "is_available",
           "is_initialized", "init_process_group", "destroy_process_group", "new_group",
           "get_rank", "get_world_size", "get_backend", "get_global_rank",
           "get_process_group_ranks", "is_mpi_available", "is_nccl_available",
           "is_gloo_available", "default_pg_timeout"]

default_pg_timeout = datetime.timedelta(minutes=30)


class ReduceOp(enum.IntEnum):
    """How all_reduce, reduce and reduce_scatter combine the ranks' values.

    AVG is SUM divided by the group's size (floating and complex tensors only); BAND, BOR
    and BXOR take integer and bool tensors."""
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7


class ProcessGroup:
    """A set of ranks that run collectives together, over one MPI communicator.

    `ranks` are the members' global ranks; `comm` is None on a rank outside the group.
    `backend` is "mpi", or "nccl" where CUDA tensors' collectives run on NCCL (NOTE [nccl
    collectives] in _nccl.py)."""

    def __init__(self, comm, ranks, timeout, backend="mpi"):
        self.comm = comm
        self.ranks = list(ranks)
        self.timeout = timeout
        self.backend = backend

    def rank(self):
        return self.comm.Get_rank() if self.comm is not None else -1

    def size(self):
        return len(self.ranks) if self.comm is not None else -1

    def name(self):
        return self.backend

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend!r}, ranks={self.ranks})"


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = -100


group = GroupMember            # `dist.group.WORLD`, as in PyTorch

_BACKENDS = ("mpi", "gloo")    # gloo: PyTorch code's CPU backend name; it runs on MPI here


def is_available():
    """True when the MPI backend can run here (mpi4py is installed)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available():
    return is_available()


def is_gloo_available():
    return is_available()


def is_nccl_available():
    """True when CuPy, its NCCL library and a CUDA device are all here."""
    from ._nccl import nccl_unavailable
    return not nccl_unavailable()


def is_initialized():
    """True between init_process_group and destroy_process_group."""
    return GroupMember.WORLD is not None


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1,
                       rank=-1, store=None, group_name="", pg_options=None, device_id=None):
    """Join the default process group: every process started by `plugtorch run`.

    Membership comes from MPI (the launcher starts the processes with mpiexec and sets
    RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT); a process
    started alone is a group of one. With backend "mpi", collectives on tensors of every
    device go through host memory (NOTE [host staging] in plugtorch/distributed/_work.py).

    Args:
        backend: "mpi" (default); "gloo" is accepted and runs on MPI too. "nccl" runs the
            collectives of CUDA tensors on NCCL through CuPy and the rest on MPI (NOTE
            [nccl collectives] in _nccl.py); a RuntimeError says why when NCCL can't run.
        init_method: None or "env://" (MPI needs no rendezvous address).
        timeout: how long a collective waits for the other ranks before raising
            RuntimeError (a datetime.timedelta, default 30 minutes).
        world_size, rank: if given, checked against MPI's.

    Example, in a script started by ``plugtorch run --nproc-per-node 2``::

        import plugtorch.distributed as dist
        dist.init_process_group("mpi")
        dist.get_rank(), dist.get_world_size()          # (0, 2) and (1, 2)
    """
    name = (backend or "mpi").lower()
    if name == "nccl":
        from ._nccl import nccl_unavailable
        why = nccl_unavailable()
        if why:
            raise RuntimeError(f"init_process_group: backend 'nccl' needs CUDA devices and "
                               f"CuPy's NCCL: {why}; use backend='mpi' (CUDA tensors then "
                               f"go through host memory)")
    elif name not in _BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; plugtorch "
                         f"supports 'mpi' (and 'gloo', which runs on MPI)")
    if is_initialized():
        raise RuntimeError("trying to initialize the default process group twice!")
    if init_method not in (None, "env://"):
        raise ValueError(f"init_process_group: init_method {init_method!r} is not "
                         f"supported; MPI takes the group from mpiexec (start the processes "
                         f"with `plugtorch run`)")
    if not is_available():
        raise RuntimeError("init_process_group: the MPI backend needs mpi4py "
                           "(pip install 'plugtorch[distributed]')")
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    me, size = comm.Get_rank(), comm.Get_size()
    for var, want, mpi in (("WORLD_SIZE", world_size, size), ("RANK", rank, me)):
        env = os.environ.get(var)
        if env is not None and int(env) != mpi:
            raise RuntimeError(f"init_process_group: {var}={env} in the environment but MPI "
                               f"says {mpi}; start the processes with `plugtorch run`")
        if want is not None and want >= 0 and want != mpi:
            raise ValueError(f"init_process_group: {var.lower()}={want} was given but MPI "
                             f"says {mpi}")
    if timeout is None:
        timeout = default_pg_timeout
    GroupMember.WORLD = ProcessGroup(comm, range(size), timeout,
                                     "nccl" if name == "nccl" else "mpi")
    from ._collectives import barrier
    barrier()            # every rank is here, or a clear timeout


def destroy_process_group(group=None):
    """Leave `group`, or (None) every group including the default one."""
    from ._nccl import forget
    forget(group)
    if group is None or group is GroupMember.WORLD:
        GroupMember.WORLD = None
    elif group.comm is not None:
        group.comm.Free()
        group.comm = None


def _world():
    if GroupMember.WORLD is None:
        raise RuntimeError("Default process group has not been initialized, please make "
                           "sure to call init_process_group.")
    return GroupMember.WORLD


def resolve(group):
    return _world() if group is None else group


def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False):
    """A group of the given global `ranks` (default: all). Every rank of the default
    group must call it, members or not; on a non-member the group's get_rank is -1."""
    world = _world()
    ranks = sorted(range(world.size()) if ranks is None else set(ranks))
    for r in ranks:
        if not 0 <= r < world.size():
            raise ValueError(f"new_group: rank {r} is outside the world of size "
                             f"{world.size()}")
    comm = world.comm.Create(world.comm.Get_group().Incl(ranks))
    from mpi4py import MPI
    return ProcessGroup(None if comm == MPI.COMM_NULL else comm, ranks,
                        timeout or world.timeout, world.backend)


def get_rank(group=None):
    """This process's rank in `group` (default: the default group); -1 outside it."""
    return resolve(group).rank()


def get_world_size(group=None):
    """The number of ranks in `group` (default: the default group)."""
    return resolve(group).size()


def get_backend(group=None):
    return resolve(group).backend


def get_process_group_ranks(group):
    return list(resolve(group).ranks)


def get_global_rank(group, group_rank):
    ranks = resolve(group).ranks
    if not 0 <= group_rank < len(ranks):
        raise ValueError(f"get_global_rank: group rank {group_rank} is not in a group of "
                         f"{len(ranks)} ranks")
    return ranks[group_rank]


def group_rank(group, rank, what):
    """The rank inside `group` of global `rank`."""
    try:
        return group.ranks.index(rank)
    except ValueError:
        raise ValueError(f"{what}: rank {rank} is not part of the group (its global ranks "
                         f"are {group.ranks})") from None
