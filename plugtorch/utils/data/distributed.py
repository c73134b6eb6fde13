"""DistributedSampler: each rank's share of a dataset's indices."""
import math

from .sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """The indices rank `rank` of `num_replicas` visits: every `num_replicas`-th index of
    the (optionally shuffled) index list, starting at `rank`.

    The list is padded by repeating its first indices until it divides evenly, so every
    rank gets ``ceil(len(dataset) / num_replicas)`` indices; with ``drop_last=True`` the
    tail is dropped instead, giving ``floor(len(dataset) / num_replicas)`` each. These are
    PyTorch's partitioning and padding rules. With ``shuffle=True`` the list is a
    permutation drawn from a plugtorch.Generator seeded with ``seed + epoch``: the same on
    every rank and every backend, but not the order PyTorch draws (its generator differs).
    Call ``set_epoch(epoch)`` before each epoch for a new order.

    Args:
        dataset: the dataset (only its length is used).
        num_replicas, rank: default: the default process group's size and this rank.
        shuffle: permute the indices (default True).
        seed: the permutation's seed, the same on every rank (default 0).
        drop_last: drop the tail instead of padding.

    Example:
        >>> from plugtorch.utils.data import DistributedSampler
        >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
        [1, 3, 0]
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_available() or not dist.is_initialized():
                raise RuntimeError("DistributedSampler: give num_replicas and rank, or call "
                                   "plugtorch.distributed.init_process_group first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be positive, got "
                             f"{num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = n // num_replicas
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            from ... import Generator, randperm
            g = Generator().manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[:self.total_size]
        elif indices:
            pad = self.total_size - n
            indices += (indices * math.ceil(pad / n))[:pad]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use the permutation of `epoch` (seed + epoch) from the next iteration on."""
        self.epoch = epoch
