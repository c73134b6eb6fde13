"""Shared machinery of op implementations: argument checks, broadcasting, dtype promotion,
output allocation, kernel calls and autograd recording.

Everything a user can get wrong is checked here, before any kernel runs, so every backend
reports the same error for the same bad input.
"""
import warnings

import numpy as np

from .. import _capture
from .. import _dtype as D
from .._tensor import Tensor, _wrap, empty_like_meta, host_array, numel_of
from ..autograd import graph
from ..autograd.grad_mode import STATE
from .._dispatch import kernel as _kernel, run  # noqa: F401  (run: ops call C.run)
from ..backends.api import cast as cast_meta  # noqa: F401  (t converted to dtype, no autograd)


# ----------------------------------------------------------------------------- checks

def check_devices(op, *tensors):
    dev = None
    for t in tensors:
        if t is None:
            continue
        d = t._storage.device
        if dev is None:
            dev = d
        elif d != dev:
            raise RuntimeError(f"{op}: expected all tensors to be on the same device, but found "
                               f"at least two devices, {dev} and {d}!")
    return dev


def broadcast_shapes(op, *shapes):
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(-ndim, 0):
        size = 1
        for k, s in enumerate(shapes):
            if -i > len(s):
                continue
            n = s[i]
            if n != 1:
                if size != 1 and n != size:
                    first = next(j for j, t in enumerate(shapes) if -i <= len(t) and t[i] == size)
                    def name(j):
                        return "abcdefgh"[j] if j < 8 else f"#{j}"
                    raise RuntimeError(
                        f"{op}: shapes {' and '.join(str(tuple(x)) for x in shapes)} cannot be "
                        f"broadcast: the size of tensor {name(first)} ({size}) must match the "
                        f"size of tensor {name(k)} ({n}) at non-singleton dimension "
                        f"{ndim + i}")
                size = n
        out.append(size)
    return tuple(out)


def expand_meta(t, shape):
    """A stride-0 broadcast view of t with `shape` (no autograd; kernel inputs only)."""
    if t._shape == shape:
        return t
    pad = len(shape) - len(t._shape)
    strides = [0] * pad
    for i, (n, s) in enumerate(zip(t._shape, t._stride)):
        strides.append(s if n == shape[pad + i] else 0)
    return _wrap(t._storage, shape, tuple(strides), t._offset)


def scalar_for(v, dtype):
    """A Python number as an operand of a kernel computing in `dtype`: an int outside an
    integer dtype's range wraps around (two's complement), as in PyTorch; one that does not
    fit in 64 bits is an OverflowError."""
    if dtype.kind == 2:
        return float(v)
    if dtype.kind == 1:
        v = int(v)
        lo, hi = _INT_RANGE[dtype]
        if not lo <= v <= hi:
            if not -2**63 <= v < 2**64:
                raise OverflowError(f"Python integer {v} does not fit in 64 bits")
            span = hi - lo + 1
            v = (v - lo) % span + lo
        return v
    return bool(v)


_INT_RANGE = {d: (int(np.iinfo(d.np).min), int(np.iinfo(d.np).max))
              for d in (D.uint8, D.int8, D.int16, D.int32, D.int64)}


def check_values(values, check):
    """Run `check(values as numpy)`, which raises for bad input: at once when `values` is in
    host memory, else at the next host read (NOTE [deferred index checks]). While a step is
    captured the check is an entry of the trace (NOTE [step capture])."""
    rec = _capture.ACTIVE
    if rec is not None and not rec.depth:
        rec.call("check", check_values, (values, check))
        return
    if values._storage.backend.host_memory:
        check(host_array(values))     # not .numpy(): any backend may keep host memory
    else:
        from .. import _deferred
        _deferred.defer(values, check)


def wrap_dims(op, dims, ndim):
    """Normalise `dims` (None, int or sequence) to a sorted tuple of non-negative dims."""
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int):
        dims = (dims,)
    out = []
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool):
            raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dims!r}")
        if not lo <= d <= hi:
            raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                             f"[{lo}, {hi}], but got {d})")
        d = d + ndim if d < 0 else d
        if ndim == 0:
            d = 0
        if d in out:
            raise RuntimeError(f"{op}: dim {d} appears multiple times in the list of dims")
        out.append(d)
    return tuple(sorted(out))


def needs_grad(*tensors):
    if not STATE.enabled:
        return False
    for t in tensors:
        if t is not None and t.__class__ is not int and getattr(t, "_rg", False):
            return True
    return False


def new_empty(shape, dtype, like):
    return empty_like_meta(like, shape=shape, dtype=dtype)


# ----------------------------------------------------------------------------- gradients

def sum_to(g, shape):
    """Reduce a broadcast gradient back to `shape`."""
    if g._shape == shape:
        return g
    lead = len(g._shape) - len(shape)
    dims = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and g._shape[i + lead] != 1)
    if dims:
        g = g.sum(dims, keepdim=True)
    if lead:
        g = g.reshape(shape)
    return g


def record(backward, name, inputs, out, params=None, saved=(), save_out=False):
    return graph.record(backward, name, inputs, out, params, saved, save_out)


# ----------------------------------------------------------------------------- in place

def check_inplace(op, self, same_value=False):
    """The rules for writing into `self`: it must not repeat an element in memory (an
    expanded tensor) -- unless every element gets the same value (`same_value`: fill_,
    masked_fill_, index_put_), as in PyTorch -- and autograd's rules for leaves and views."""
    if not same_value and any(s == 0 and n > 1 for n, s in zip(self._shape, self._stride)):
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the "
                           f"written-to tensor refers to a single memory location (shape "
                           f"{list(self._shape)}, stride {list(self._stride)}). Please clone() "
                           f"the tensor before performing the operation.")
    if STATE.enabled and self._rg and self._node is None:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an "
                           f"in-place operation.")
    base = self._base
    if STATE.enabled and base is not None and base._rg and base._node is None:
        raise RuntimeError(f"{op}: a view of a leaf Variable that requires grad is being used "
                           f"in an in-place operation.")


def overlaps(a, b):
    """Could writing a change b's values at a different position (same storage, other view)?"""
    return (a._storage is b._storage and
            (a._shape != b._shape or a._stride != b._stride or a._offset != b._offset))


def commit_inplace(op, self, result, others=(), overwrites=False):
    """Write `result` (an out-of-place value with its own history) into `self`, and make
    self's history (and its base's, when self is a view) lead to result.

    As in PyTorch, every differentiable input of the in-place op gets a gradient, zeros where
    it does not affect the result: `overwrites` says result does not depend on self's old
    value (copy_, `x[:] = v`), `others` are the op's other tensor inputs (for a result that is
    not differentiable, e.g. ge_).

    NOTE [in-place autograd]
    An in-place op on a tensor that takes part in autograd is computed out of place first
    (on a clone of self, so a derivative that needs self's old value still has it), then
    copied into self's storage. self's grad_fn becomes result's. When self is a view of a
    base that requires grad, the base gets a CopySlices node: its gradient is the incoming
    gradient with the view's region replaced by what flows back through result.
    """
    from .slicing import copy_slices
    _kernel("copy", self)(self, expand_meta(result, self._shape))
    self._storage.version += 1
    base = self._base
    # a constant written into a tensor that takes part in autograd still changes its history
    tracked = self._rg or (base is not None and base._rg)
    # an integer tensor never joins the graph (copy_ of a float that requires grad into it)
    if not (STATE.enabled and self._dtype.is_floating_point and
            (result._rg or tracked)):
        return self
    r = result if result._dtype is self._dtype else result.to(self._dtype)
    if r._shape != self._shape:
        r = r.expand(self._shape)
    if base is not None:
        copy_slices(base, self, r)
    elif not r._rg:   # overwritten by a constant: zero gradient to the old value (and others)
        inputs = (_old_self(self),) + tuple(t for t in others if getattr(t, "_rg", False))
        graph.record(lambda n, g: tuple(g.new_zeros(shape) for shape in n.params),
                     "CopyBackwards", inputs, self, params=tuple(t._shape for t in inputs))
    elif overwrites and tracked:   # zero to the old value, the gradient to what replaced it
        graph.record(lambda n, g: (g.new_zeros(g._shape), g), "CopyBackwards",
                     (_old_self(self), r), self)
    else:
        self._rg = True
        self._node = r._node
        self._output_nr = r._output_nr
        if r._node is None:   # result is a leaf (e.g. copy_ from a leaf): identity node
            graph.record(lambda n, g: (g,), "CopyBackwards", (r,), self)
    return self


def _old_self(self):
    """self before an in-place write, as an autograd input: its storage and its history."""
    old = _wrap(self._storage, self._shape, self._stride, self._offset)
    old._rg, old._node, old._output_nr = self._rg, self._node, self._output_nr
    return old


def write_out(op, out, result, exact=False, warn=True):
    """Write `result` (a tensor, or a tuple of them) into `out` by PyTorch's rules and return
    `out`: same device; a dtype the result can be cast to (or the very dtype, `exact`, as for
    matmul and index results); a shape that differs is resized, with PyTorch's deprecation
    warning when out had elements (`warn`; factories resize silently). See NOTE [out=] in
    `plugtorch/ops/_out.py`."""
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)):
            raise TypeError(f"{op}(): argument 'out' must be tuple of Tensors, not "
                            f"{type(out).__name__}")
        if len(out) != len(result):
            raise TypeError(f"{op}(): argument 'out' must be a tuple of {len(result)} Tensors, "
                            f"got {len(out)}")
        for o, r in zip(out, result):
            _check_out(op, o, r, True)
        done = tuple(_write_one(op, o, r, warn) for o, r in zip(out, result))
        return type(result)(*done) if hasattr(result, "_fields") else done
    _check_out(op, out, result, exact)
    return _write_one(op, out, result, warn)


def _check_out(op, out, result, exact):
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if out._storage.device is not result._storage.device:
        raise RuntimeError(f"{op}: Expected out tensor to have device {result.device}, but got "
                           f"{out.device} instead")
    src, dst = result._dtype, out._dtype
    if exact and src is not dst:
        raise RuntimeError(f"{op}: Expected out tensor to have dtype {src}, but got {dst} "
                           f"instead")
    if not D.can_cast(src, dst):
        raise RuntimeError(f"{op}: result type {D.scalar_name(src)} can't be cast to the "
                           f"desired output type {D.scalar_name(dst)}")
    if any(s == 0 and n > 1 for n, s in zip(out._shape, out._stride)):
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the "
                           f"written-to tensor refers to a single memory location (shape "
                           f"{list(out._shape)}, stride {list(out._stride)}). Please clone() "
                           f"the tensor before performing the operation.")


def _write_one(op, out, result, warn):
    shape = result._shape
    if out._shape != shape:
        if warn and numel_of(out._shape):   # out had elements: deprecated, so a warning
            warnings.warn(
                f"{op}: An output with one or more elements was resized since it had shape "
                f"{list(out._shape)}, which does not match the required output shape "
                f"{list(shape)}. This behavior is deprecated, and in a future PyTorch release "
                f"outputs will not be resized unless they have zero elements. You can "
                f"explicitly reuse an out tensor t by resizing it, inplace, to zero elements "
                f"with t.resize_(0).", UserWarning, stacklevel=4)
        from .creation import resize_
        resize_(out, shape)
    if overlaps(out, result):
        result = result.clone()
    if numel_of(shape):
        _kernel("copy", out)(out, result)
    out._storage.version += 1
    return out
