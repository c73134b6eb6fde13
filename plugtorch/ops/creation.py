"""Factories (tensor, zeros, arange, eye, …), conversions (to, copy_, float(), cpu()) and the
new_* methods."""
import math
import numbers

import numpy as np

from .. import _capture
from .. import _dtype as D
from .._device import device as Device
from .._tensor import (_unsupported_dtype, Tensor, Storage, _wrap, resolve_device, empty_on,
                       from_numpy_on, host_array, numel_of, contiguous_strides, empty_like_meta,
                       new_storage)
from ..autograd.grad_mode import STATE
from ..autograd import graph
from . import _core as C
from .._dispatch import kernel as _kernel, backend_kernel as _backend_kernel

__all__ = ["tensor", "as_tensor", "from_numpy", "asarray", "zeros", "ones", "full", "empty",
           "zeros_like", "ones_like", "full_like", "empty_like", "arange", "linspace",
           "logspace", "eye", "scalar_tensor", "empty_strided"]


def _shape_arg(op, size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        shape = tuple(int(s) if not isinstance(s, Tensor) else int(s.item()) for s in size)
    except (TypeError, ValueError):
        raise TypeError(f"{op}(): argument 'size' must be a sequence of ints, got "
                        f"{size!r}") from None
    for s in shape:
        if s < 0:
            raise RuntimeError(f"{op}: Trying to create tensor with negative dimension {s}: "
                               f"{list(shape)}")
    return shape


def _finish(t, requires_grad):
    if requires_grad:
        if not t._dtype.is_floating_point:
            raise RuntimeError("Only Tensors of floating point dtype can require gradients")
        t.requires_grad = True
    return t


def _fill(t, value):
    if numel_of(t._shape):
        _kernel("fill", t)(t, C.scalar_for(value, t._dtype))
    return t


def empty(*size, dtype=None, device=None, requires_grad=False, pin_memory=False,
          memory_format=None):
    """A tensor of the given shape with unspecified contents."""
    dev, backend = resolve_device(device)
    shape = _shape_arg("empty", size)
    t = empty_on(shape, D.to_dtype(dtype) if dtype else D.get_default_dtype(), dev, backend)
    return _finish(t, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor of shape `size` filled with fill_value (dtype inferred from it)."""
    if dtype is None:
        dtype = D.scalar_dtype(fill_value.item() if isinstance(fill_value, Tensor)
                               else fill_value)
    dev, backend = resolve_device(device)
    t = empty_on(_shape_arg("full", (size,) if isinstance(size, int) else tuple(size)),
                 D.to_dtype(dtype), dev, backend)
    return _finish(_fill(t, fill_value), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    dev, backend = resolve_device(device)
    t = empty_on(_shape_arg("zeros", size), D.to_dtype(dtype) if dtype else
                 D.get_default_dtype(), dev, backend)
    return _finish(_fill(t, 0), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    dev, backend = resolve_device(device)
    t = empty_on(_shape_arg("ones", size), D.to_dtype(dtype) if dtype else
                 D.get_default_dtype(), dev, backend)
    return _finish(_fill(t, 1), requires_grad)


def _like(name, fill):
    def fn(input, *args, dtype=None, device=None, requires_grad=False, memory_format=None):
        dt = D.to_dtype(dtype) if dtype else input._dtype
        dev, backend = resolve_device(device if device is not None else input.device)
        t = empty_on(input._shape, dt, dev, backend)
        if fill is not None:
            _fill(t, fill if fill != "arg" else args[0])
        return _finish(t, requires_grad)
    fn.__name__ = name
    return fn


zeros_like = _like("zeros_like", 0)
ones_like = _like("ones_like", 1)
empty_like = _like("empty_like", None)
full_like = _like("full_like", "arg")


def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False):
    dev, backend = resolve_device(device)
    dt = D.to_dtype(dtype) if dtype else D.get_default_dtype()
    size, stride = tuple(size), tuple(stride)
    if dt not in backend.dtypes:
        raise _unsupported_dtype(dt, dev, backend)
    n = 1 + sum((a - 1) * s for a, s in zip(size, stride)) if numel_of(size) else 0
    st = new_storage(n, dt, dev, backend)
    return _finish(_wrap(st, size, stride, 0), requires_grad)


def _infer_dtype(data):
    """PyTorch's rule for nested Python data: any float -> default float, else any int ->
    int64, else bool."""
    kind = -1
    stack = [data]
    while stack:
        v = stack.pop()
        if isinstance(v, Tensor):
            kind = max(kind, v._dtype.kind + (10 if v._dtype.kind == 2 else 0))
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, (bool, np.bool_)):
            kind = max(kind, 0)
        elif isinstance(v, (numbers.Integral,)):
            kind = max(kind, 1)
        elif isinstance(v, numbers.Real):
            kind = max(kind, 2)
        else:
            raise TypeError(f"tensor(): could not infer dtype of {type(v).__name__}")
    return {-1: D.get_default_dtype(), 0: D.bool, 1: D.int64}.get(kind, D.get_default_dtype())


def _to_array(data, dtype):
    """(numpy array, dtype) for tensor()'s non-Tensor data."""
    if isinstance(data, np.ndarray):
        dt = dtype or D.from_numpy_dtype(data.dtype)
        return np.array(data, dtype=dt.np), dt
    if dtype is None:
        if isinstance(data, np.generic):
            dtype = D.from_numpy_dtype(data.dtype)
        else:
            dtype = _infer_dtype(data)
    if isinstance(data, (list, tuple)) and any(isinstance(v, Tensor) for v in _flat(data)):
        data = _untensor(data)
    try:
        arr = np.array(data, dtype=dtype.np)
    except (ValueError, TypeError) as e:
        raise ValueError(f"tensor(): could not convert data to a {dtype.name} tensor: {e}") \
            from None
    if arr.dtype == object:
        raise TypeError("tensor(): nested sequences must be rectangular and hold numbers")
    return arr, dtype


def _flat(data):
    for v in data:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


def _untensor(data):
    if isinstance(data, Tensor):
        return host_array(data).tolist()   # a number for a 0-d tensor
    if isinstance(data, (list, tuple)):
        return [_untensor(v) for v in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of `data` (numbers, nested lists, numpy arrays, tensors).

    Example:
        >>> import plugtorch as torch
        >>> torch.tensor([[1, 2], [3, 4.5]])
        tensor([[1.0000, 2.0000],
                [3.0000, 4.5000]])
    """
    dtype = D.to_dtype(dtype) if dtype is not None else None
    if isinstance(data, Tensor):
        t = data.detach().to(device=device if device is not None else data.device,
                             dtype=dtype or data._dtype, copy=True)
        return _finish(t, requires_grad)
    arr, dt = _to_array(data, dtype)
    dev, backend = resolve_device(device)
    return _finish(from_numpy_on(arr, dev, backend), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but shares memory with a tensor or (on cpu) a numpy array when it can."""
    dtype = D.to_dtype(dtype) if dtype is not None else None
    if isinstance(data, Tensor):
        return data.to(device=device if device is not None else data.device,
                       dtype=dtype or data._dtype)
    if isinstance(data, np.ndarray):
        dev, _ = resolve_device(device)
        if dev.type == "cpu" and (dtype is None or dtype.np == data.dtype):
            return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    """A cpu tensor sharing memory with the numpy array: writes to either show in both.

    Example:
        >>> import numpy as np, plugtorch as torch
        >>> a = np.zeros(3); t = torch.from_numpy(a); t[0] = 5; a
        array([5., 0., 0.])
    """
    a = ndarray
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(a).__name__})")
    dtype = D.from_numpy_dtype(a.dtype)
    item = a.itemsize
    if any(s < 0 for s in a.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array with array.copy().)")
    if any(s % item for s in a.strides):
        raise ValueError("given numpy array strides not a multiple of the element byte size. "
                         "Copy the numpy array to reallocate the memory.")
    dev, backend = resolve_device("cpu")
    if not a.dtype.isnative:
        raise ValueError("from_numpy: non-native byte order is not supported")
    stride = tuple(s // item for s in a.strides)
    span = 1 + sum((n - 1) * s for n, s in zip(a.shape, stride)) if a.size else 0
    flat = np.lib.stride_tricks.as_strided(a, shape=(span,), strides=(item,)) if a.size else \
        np.empty(0, a.dtype)
    st = Storage(flat, backend, dev, dtype, span)
    t = _wrap(st, tuple(a.shape), stride, 0)
    t._view = a
    if _capture.ACTIVE is not None:
        _capture.record_shared(st, a)      # NOTE [step capture]
    return t


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return full((), s, dtype=dtype or D.get_default_dtype(), device=device,
                requires_grad=requires_grad)


def _not_bool(op, dtype):
    """dtype, unless it is bool: a range of values has no bool form."""
    if dtype is D.bool:
        raise TypeError(f"{op}: not implemented for {dtype}")
    return dtype


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Values start, start+step, … below end (like Python's range, for floats too)."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is None:
        dtype = D.int64 if all(isinstance(v, int) and not isinstance(v, bool)
                               for v in vals) else D.get_default_dtype()
    dtype = _not_bool("arange", D.to_dtype(dtype))
    n = int(math.ceil((end - start) / step))
    dev, backend = resolve_device(device)
    t = empty_on((n,), dtype, dev, backend)
    if n:
        _backend_kernel("arange", backend)(t, C.scalar_for(start, dtype) if dtype.kind != 2 else
                                 float(start), C.scalar_for(step, dtype) if dtype.kind != 2
                                 else float(step))
    return _finish(t, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """`steps` evenly spaced values from start to end inclusive."""
    if steps < 0:
        raise RuntimeError("linspace: number of steps must be non-negative")
    dtype = _not_bool("linspace", D.to_dtype(dtype) if dtype else D.get_default_dtype())
    dev, backend = resolve_device(device)
    if steps == 1:
        return _finish(full((1,), start, dtype=dtype, device=dev), requires_grad)
    step = (end - start) / (steps - 1) if steps > 1 else 0
    idx = arange(steps, dtype=D.float64 if dtype is D.float64 else D.float32, device=dev)
    # the second half counts down from end, as PyTorch does, so both ends are exact
    half = steps // 2
    lo = idx * step + start
    hi = end - (steps - 1 - idx) * step
    out = lo.where(idx < half, hi).to(dtype)
    return _finish(out, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    _not_bool("logspace", D.to_dtype(dtype) if dtype else None)
    return _finish((base ** linspace(start, end, steps, dtype=D.float64, device=device)).to(
        D.to_dtype(dtype) if dtype else D.get_default_dtype()), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The n×m identity matrix."""
    m = n if m is None else m
    t = zeros(n, m, dtype=dtype, device=device)
    if n and m:
        d = t.diagonal()
        _fill(d, 1)
    return _finish(t, requires_grad)


# ----------------------------------------------------------------------------- conversions

def _to_bw(n, g):
    dtype, device = n.params
    if g.device != device:
        g = g.to(device)
    return (g.to(dtype),)


def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False,
       memory_format=None):
    """Convert dtype and/or device: t.to("opencl"), t.to(torch.float64), t.to(other)."""
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a._dtype, a.device
        elif isinstance(a, (D.dtype, type)) and not isinstance(a, str):
            dtype = a
        elif isinstance(a, (str, Device)):
            device = a
        elif a is None:
            pass
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    dtype = D.to_dtype(dtype) if dtype is not None else self._dtype
    src = self._storage
    if device is None:
        dev, backend = src.device, src.backend
    else:
        dev, backend = resolve_device(device)
    if dev == src.device and dtype is self._dtype and not copy:
        return self
    if dev == src.device:
        out = empty_like_meta(self, dtype=dtype)
        _backend_kernel("copy", backend)(out, self)
    else:
        x = self if dtype is self._dtype else self.to(dtype)
        out = from_numpy_on(host_array(x), dev, backend)
    if STATE.enabled and self._rg and dtype.is_floating_point:
        graph.record(_to_bw, "ToCopyBackward0", (self,), out, params=(self._dtype, src.device))
    return out


def copy_(self, src, non_blocking=False):
    """Copy src's values into self (broadcasting src, casting its dtype, across devices)."""
    if not isinstance(src, Tensor):
        if isinstance(src, (int, float, bool)):
            return self.fill_(src)
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    C.check_inplace("copy_", self)
    if src._shape != self._shape:
        shape = C.broadcast_shapes("copy_", self._shape, src._shape)
        if shape != self._shape:
            raise RuntimeError(f"copy_: output with shape {tuple(self._shape)} doesn't match "
                               f"the broadcast shape {shape}")
    if STATE.enabled and (src._rg or self._rg):
        r = src if src.device == self.device else src.to(self.device)
        return C.commit_inplace("copy_", self, r, overwrites=True)
    if src._storage.device != self._storage.device:
        src = src.to(self.device)
    elif C.overlaps(self, src):
        src = src.clone()
    _kernel("copy", self)(self, C.expand_meta(src, self._shape))
    self._storage.version += 1
    return self


def fill_(self, value):
    C.check_inplace("fill_", self, same_value=True)
    if isinstance(value, Tensor):
        if value._shape:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {len(value._shape)} dimensions.")
        if STATE.enabled and value._rg:
            return copy_(self, value.expand(self._shape))
        value = value.item()
    base = self._base
    if STATE.enabled and (self._rg or base is not None and base._rg):
        # the overwritten values' history must end here: go through copy_'s autograd path
        return copy_(self, full((), value, dtype=self._dtype, device=self.device))
    _fill(self, value)
    self._storage.version += 1
    return self


def zero_(self):
    return fill_(self, 0)


def new_method(fn):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return fn(*size, dtype=dtype or self._dtype,
                  device=device if device is not None else self.device,
                  requires_grad=requires_grad, **kw)
    return method


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    return full(size, fill_value, dtype=dtype or self._dtype,
                device=device if device is not None else self.device,
                requires_grad=requires_grad)


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype or self._dtype,
                  device=device if device is not None else self.device,
                  requires_grad=requires_grad)


def resize_(self, *size):
    """Change the shape in place; storage grows (old contents kept) when needed."""
    shape = _shape_arg("resize_", size)
    n = numel_of(shape)
    st = self._storage
    if self._offset + n > st.numel:
        new = empty_on((self._offset + n,), self._dtype, st.device, st.backend)
        keep = st.numel   # every old element fits: the new storage is larger
        if keep:
            old = _wrap(st, (keep,), (1,), 0)
            _backend_kernel("copy", st.backend)(_wrap(new._storage, (keep,), (1,), 0), old)
        st.data, st.numel = new._storage.data, new._storage.numel
    self._set_geometry(st, shape, contiguous_strides(shape), self._offset)
    st.version += 1
    return self
