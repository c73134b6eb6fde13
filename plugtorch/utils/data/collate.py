"""Turning a list of samples into a batch (`default_collate`) or one sample's numpy arrays
into tensors (`default_convert`)."""
import collections.abc
import copy
import numbers

import numpy as np

__all__ = ["default_collate", "default_convert"]

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def _rebuild_like(elem, values, fallback):
    """`values` in a container of elem's type when that type can be built from them."""
    if isinstance(elem, collections.abc.MutableMapping):
        clone = copy.copy(elem)        # keeps e.g. a defaultdict's factory
        clone.update(values)
        return clone
    try:
        return type(elem)(values)
    except TypeError:
        return fallback(values)


def default_convert(data):
    """Convert numpy arrays and numpy scalars inside `data` to tensors, keeping the rest.

    The collate function of a DataLoader with ``batch_size=None``.

    Example:
        >>> import numpy as np
        >>> from plugtorch.utils.data import default_convert
        >>> default_convert({"x": np.arange(2), "y": "label"})
        {'x': tensor([0, 1]), 'y': 'label'}
    """
    from ... import Tensor, as_tensor
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)) and not isinstance(data, (np.str_,
                                                                         np.bytes_)):
        if data.dtype.kind in "SaUO":
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        converted = {k: default_convert(v) for k, v in data.items()}
        return _rebuild_like(data, converted, dict)
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_like(data, [default_convert(d) for d in data], list)
    return data


def default_collate(batch):
    """Stack a list of samples into a batch, recursively, as PyTorch does.

    - tensors are stacked along a new first dimension;
    - numpy arrays and numpy scalars become tensors, then are stacked;
    - Python floats become a float64 tensor, ints an int64 tensor, bools a bool tensor;
    - strings and bytes are kept as a list;
    - dicts give a dict of batches; namedtuples a namedtuple of batches; tuples and lists a
      list of batches (every sample must have the same length).

    Args:
        batch: a list of samples, all of the same structure.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.utils.data import default_collate
        >>> default_collate([(torch.ones(2), 1), (torch.zeros(2), 0)])
        [tensor([[1., 1.],
                [0., 0.]]), tensor([1, 0])]
    """
    from ... import Tensor, as_tensor, stack, tensor, float64
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, (np.str_,
                                                                         np.bytes_)):
        if elem.dtype.kind in "SaUO":
            raise TypeError(_ERR.format(elem.dtype))
        if isinstance(elem, np.ndarray) and elem.ndim:
            return default_collate([as_tensor(b) for b in batch])
        return as_tensor(np.asarray(batch))
    if isinstance(elem, bool):
        return tensor(batch)
    if isinstance(elem, float):
        return tensor(batch, dtype=float64)
    if isinstance(elem, numbers.Integral):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {k: default_collate([d[k] for d in batch]) for k in elem}
        return _rebuild_like(elem, collated, dict)
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed          # a list, as PyTorch returns for tuples
        return _rebuild_like(elem, transposed, list)
    raise TypeError(_ERR.format(type(elem)))
