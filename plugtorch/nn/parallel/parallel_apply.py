"""parallel_apply: run modules on their inputs, one thread each."""
import threading

from ... import _deferred
from ..._tensor import Tensor
from ...autograd import grad_mode

__all__ = ["parallel_apply"]


def _first_device(obj):
    if isinstance(obj, Tensor):
        return obj.device
    items = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) \
        else ()
    for v in items:
        d = _first_device(v)
        if d is not None:
            return d
    return None


def parallel_apply(modules, inputs, kwargs_tup=None, devices=None):
    """`[modules[i](*inputs[i], **kwargs_tup[i]) for i ...]`, the calls run in threads.

    Each thread runs with the caller's grad mode. An exception raised by a module is raised
    here again, with a note naming the replica and its device. Checks a device defers to the
    next host read (NOTE [deferred index checks]) are handed over to the calling thread, so
    they raise at its next host read, as they would without threads.

    Args:
        modules: the modules (replicas), one per input.
        inputs: one argument tuple per module (a single non-tuple argument is wrapped).
        kwargs_tup: one dict of keyword arguments per module, or None.
        devices: accepted for PyTorch's signature; each module runs where its tensors are.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.parallel import parallel_apply
        >>> lin = torch.nn.Linear(2, 1, bias=False)
        >>> [o.shape for o in parallel_apply([lin, lin], [torch.zeros(3, 2), torch.zeros(1, 2)])]
        [plugtorch.Size([3, 1]), plugtorch.Size([1, 1])]
    """
    if len(modules) != len(inputs):
        raise ValueError(f"parallel_apply: got {len(modules)} modules but {len(inputs)} inputs")
    if kwargs_tup is None:
        kwargs_tup = ({},) * len(modules)
    elif len(kwargs_tup) != len(modules):
        raise ValueError(f"parallel_apply: got {len(modules)} modules but {len(kwargs_tup)} "
                         f"keyword-argument dicts")
    enabled, inference = grad_mode.STATE.enabled, grad_mode.STATE.inference
    results = [None] * len(modules)

    def work(i, module, args, kwargs):
        grad_mode.STATE.enabled, grad_mode.STATE.inference = enabled, inference
        if not isinstance(args, (list, tuple)):
            args = (args,)
        try:
            out = module(*args, **kwargs)
            results[i] = (True, out, _deferred.LOCAL.pending)
        except BaseException as e:             # noqa: B036 -- re-raised by the caller
            results[i] = (False, e, _deferred.LOCAL.pending)
        _deferred.LOCAL.pending = []

    jobs = list(zip(range(len(modules)), modules, inputs, kwargs_tup))
    if len(jobs) == 1:
        work(*jobs[0])
    else:
        threads = [threading.Thread(target=work, args=job) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    outputs = []
    for i, (ok, value, pending) in enumerate(results):
        for check in pending:
            _deferred.defer(*check)
        if not ok:
            device = _first_device((inputs[i], kwargs_tup[i]))
            where = f" on device {device}" if device is not None else ""
            note = f"(raised in replica {i}{where}, in parallel_apply)"
            if hasattr(value, "add_note"):
                value.add_note(note)
            else:       # Python 3.10: PEP 678's attribute itself (tracebacks show it from 3.11)
                value.__notes__ = [*getattr(value, "__notes__", ()), note]
            raise value
        outputs.append(value)
    return outputs
