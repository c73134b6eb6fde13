"""DistributedDataParallel: data-parallel training over a plugtorch.distributed process group.

NOTE [DDP gradient buckets]
At construction rank 0's parameters and buffers are broadcast, so every rank starts from
the same model. The parameters that require grad are split, in reverse order (the order
backward usually reaches them), into buckets of one device and dtype of up to
`bucket_cap_mb`. Each parameter gets a post-accumulate-grad hook; when every parameter of a
bucket has its gradient, the bucket's gradients are flattened into one tensor and averaged
over the ranks with an asynchronous all_reduce, while backward goes on with the remaining
parameters. The hook that completes the last bucket waits for all of them and writes the
averages back into each `.grad`. Under `no_sync()` the hooks do nothing, so gradients
accumulate locally until the next synchronised backward averages the sum.

With find_unused_parameters=True, forward walks the output's autograd graph and marks the
parameters it does not reach as ready at once (contributing their current gradient, or
zeros); a parameter that no rank used keeps `.grad` None. Without it, a parameter that gets
no gradient leaves the reduction unfinished, which the next forward reports.
"""
import contextlib

from ... import distributed as dist
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training: one process per rank, each with its share
    of the batch; gradients are averaged over the ranks during backward (NOTE [DDP
    gradient buckets]), so every rank takes the same optimizer step.

    Args:
        module: the model. Its parameters may be on any device.
        device_ids, output_device: accepted for PyTorch compatibility; the module runs on
            the device its parameters are on.
        broadcast_buffers: broadcast rank 0's buffers (e.g. BatchNorm statistics) at
            every forward (default True).
        process_group: the group to average over (default: the default group).
        bucket_cap_mb: the size of a gradient bucket in MiB (default 25).
        find_unused_parameters: allow parameters that get no gradient in an iteration.

    Attributes:
        module: the wrapped module; state_dict keys carry a ``module.`` prefix, as in
            PyTorch.

    Example, in a script started by ``plugtorch run --nproc-per-node 2``::

        dist.init_process_group("mpi")
        model = DistributedDataParallel(nn.Linear(4, 2))
        model(x).sum().backward()        # each .grad: the average over the ranks
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        self.module = module
        self.process_group = dist._group.resolve(process_group)
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self._src = self.process_group.ranks[0]
        self._sync_state(list(module.parameters()) + list(module.buffers()))
        named = {}
        for name, p in module.named_parameters():
            if p.requires_grad and id(p) not in named:
                named[id(p)] = (name, p)
        self._names = [n for n, _ in named.values()]
        self._params = [p for _, p in named.values()]
        self._buckets = _buckets(self._params, (bucket_cap_mb or 25) * 2 ** 20)
        self._bucket_of = {i: b for b, idx in enumerate(self._buckets) for i in idx}
        self._handles = [p.register_post_accumulate_grad_hook(self._hook(i))
                         for i, p in enumerate(self._params)]
        self._armed = False

    def _sync_state(self, tensors):
        works = [dist.broadcast(t, self._src, self.process_group, async_op=True)
                 for t in tensors]
        for w in works:
            if w is not None:
                w.wait()

    def forward(self, *inputs, **kwargs):
        if self._armed and self._hooked:
            missing = [self._names[i] for i in range(len(self._params))
                       if i not in self._ready]
            raise RuntimeError(
                f"DistributedDataParallel: expected to have finished reduction in the prior "
                f"iteration before starting a new one; these parameters received no "
                f"gradient: {', '.join(missing)}. Pass find_unused_parameters=True if some "
                f"parameters take no part in computing the loss")
        if self.broadcast_buffers and self.process_group.size() > 1:
            self._sync_state(list(self.module.buffers()))
        out = self.module(*inputs, **kwargs)
        from ...autograd import grad_mode
        if self.require_backward_grad_sync and grad_mode.STATE.enabled:
            self._prepare(out)
        else:
            self._armed = False
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this context backward leaves gradients un-averaged (they accumulate
        locally); the first backward after it averages the accumulated sum."""
        prev, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = prev

    # -- the reduction -------------------------------------------------------------------
    def _prepare(self, out):
        self._armed = True
        self._hooked = 0
        self._ready = set()
        self._left = [len(idx) for idx in self._buckets]
        self._works = [None] * len(self._buckets)
        self._used = None
        if self.find_unused_parameters:
            reached = _reached_leaves(out)
            self._used = [id(p) in reached for p in self._params]
            for i, used in enumerate(self._used):
                if not used:
                    self._mark_ready(i)

    def _hook(self, i):
        def hook(param):
            if self._armed and i not in self._ready:
                self._hooked += 1
                self._mark_ready(i)
        return hook

    def _mark_ready(self, i):
        from ... import cat, zeros_like
        self._ready.add(i)
        b = self._bucket_of[i]
        self._left[b] -= 1
        if self._left[b]:
            return
        grads = [self._params[j].grad if self._params[j].grad is not None
                 else zeros_like(self._params[j]) for j in self._buckets[b]]
        flat = cat([g.detach().reshape(-1) for g in grads])
        self._works[b] = (flat, dist.all_reduce(flat, dist.ReduceOp.AVG, self.process_group,
                                                async_op=True))
        if all(w is not None for w in self._works):
            self._finalize()

    def _finalize(self):
        self._armed = False
        used = None
        if self._used is not None:
            from ... import tensor
            used = tensor([float(u) for u in self._used])
            dist.all_reduce(used, dist.ReduceOp.MAX, self.process_group)
            used = used.tolist()
        for idx, (flat, work) in zip(self._buckets, self._works):
            if work is not None:
                work.wait()
            at = 0
            for j in idx:
                p = self._params[j]
                part = flat[at:at + p.numel()].reshape(p.shape)
                at += p.numel()
                if p.grad is not None:
                    p.grad.detach().copy_(part)
                elif used is None or used[j]:
                    p.grad = part.clone()


def _buckets(params, cap):
    """Parameter indices in reverse order, split into buckets of one (device, dtype) and at
    most `cap` bytes (a larger parameter gets a bucket of its own)."""
    buckets, open_ = [], {}
    for i in reversed(range(len(params))):
        p = params[i]
        key = (p.device, p.dtype)
        size = p.numel() * p.dtype.itemsize
        b = open_.get(key)
        if b is None or (b[1] + size > cap and b[0]):
            b = open_[key] = [[], 0]
            buckets.append(b[0])
        b[0].append(i)
        b[1] += size
    return buckets


def _reached_leaves(out):
    """The ids of the leaf tensors that backward from the tensors in `out` can reach."""
    from ...autograd.graph import Node
    stack, seen, leaves = [], set(), set()

    def collect(o):
        if isinstance(o, (list, tuple)):
            for x in o:
                collect(x)
        elif isinstance(o, dict):
            for x in o.values():
                collect(x)
        elif getattr(o, "_node", None) is not None:
            stack.append(o._node)
        elif getattr(o, "requires_grad", False):
            leaves.add(id(o))
    collect(out)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for e in node.edges:
            if e is None:
                continue
            if isinstance(e[0], Node):
                stack.append(e[0])
            else:
                leaves.add(id(e[0]))
    return leaves
