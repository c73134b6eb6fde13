"""`plugtorch.testing.assert_close`: PyTorch's tensor comparison, for programs and test suites
written against `torch.testing.assert_close`.

Both sides are tensors, Python scalars, or sequences / mappings of them (compared item by
item). Tensors must agree in shape, and by default in dtype and device; values must satisfy
|actual - expected| <= atol + rtol * |expected| with PyTorch's default tolerances per dtype
(NaN equal to NaN only with `equal_nan`). The failure messages are PyTorch's.
(plugtorch's own suites compare tensors with numpy references through `assert_values`.)
"""
import collections.abc
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ._compare import to_host

__all__ = ["assert_close"]

# dtype -> (rtol, atol) when neither is given (integers and bool compare exactly)
_DEFAULT = {D.float16: (1e-3, 1e-5), D.float32: (1.3e-6, 1e-5), D.float64: (1e-7, 1e-7)}


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise AssertionError unless `actual` and `expected` are close (see the module doc).

    Example:
        >>> import plugtorch
        >>> from plugtorch.testing import assert_close
        >>> assert_close(plugtorch.tensor([1.0, 2.0]), plugtorch.tensor([1.0, 2.0 + 1e-7]))
    """
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {'rtol' if rtol is None else 'atol'}.")
    _compare(actual, expected, [], dict(rtol=rtol, atol=atol, equal_nan=equal_nan,
                                        check_device=check_device, check_dtype=check_dtype,
                                        check_stride=check_stride, msg=msg))


def _compare(actual, expected, path, opts):
    if isinstance(actual, Tensor) or isinstance(expected, Tensor):
        if not (isinstance(actual, Tensor) and isinstance(expected, Tensor)):
            raise TypeError(f"No comparison pair was able to handle inputs of type "
                            f"{type(actual)} and {type(expected)}.")
        return _tensors(actual, expected, path, opts)
    if isinstance(actual, (bool, int, float)) and isinstance(expected, (bool, int, float)):
        return _scalars(actual, expected, path, opts)
    if isinstance(actual, collections.abc.Mapping) and \
            isinstance(expected, collections.abc.Mapping):
        if set(actual) != set(expected):
            _fail(f"The keys of the mappings do not match:\nactual: {sorted(map(str, actual))}"
                  f"\nexpected: {sorted(map(str, expected))}", path, opts)
        for key in expected:
            _compare(actual[key], expected[key], path + [repr(key)], opts)
        return
    if isinstance(actual, collections.abc.Sequence) and not isinstance(actual, str) and \
            isinstance(expected, collections.abc.Sequence) and not isinstance(expected, str):
        if len(actual) != len(expected):
            _fail(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}",
                  path, opts)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, path + [str(i)], opts)
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and "
                    f"{type(expected)}.")


def _fail(text, path, opts):
    if opts["msg"] is not None:
        text = opts["msg"] if isinstance(opts["msg"], str) else opts["msg"](text)
    elif path:
        text += f"\n\nThe failure occurred for item {''.join(f'[{p}]' for p in path)}"
    raise AssertionError(text)


def _tolerances(dtype, opts):
    if opts["rtol"] is not None:
        return opts["rtol"], opts["atol"]
    return _DEFAULT.get(dtype, (0.0, 0.0))


def _tensors(a, e, path, opts):
    if a.shape != e.shape:
        _fail(f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}.", path,
              opts)
    if opts["check_device"] and a.device != e.device:
        _fail(f"The values for attribute 'device' do not match: {a.device} != {e.device}.",
              path, opts)
    if opts["check_dtype"] and a.dtype is not e.dtype:
        _fail(f"The values for attribute 'dtype' do not match: {a.dtype} != {e.dtype}.", path,
              opts)
    if opts["check_stride"] and a.stride() != e.stride():
        _fail(f"The values for attribute 'stride()' do not match: {a.stride()} != "
              f"{e.stride()}.", path, opts)
    dtype = D.promote_types(a.dtype, e.dtype) if a.dtype is not e.dtype else a.dtype
    rtol, atol = _tolerances(dtype, opts)
    av, ev = to_host(a).astype(np.float64), to_host(e).astype(np.float64)
    close = _close(av, ev, rtol, atol, opts["equal_nan"])
    if close.all():
        return
    exact = rtol == 0 and atol == 0
    n, bad = close.size, int((~close).sum())
    if not a.shape:      # PyTorch reports a 0-d tensor as a scalar
        x, y = av.reshape(()).item(), ev.reshape(()).item()
        if dtype.kind != 2:
            x, y = int(x), int(y)
        return _scalar_failure(x, y, rtol, atol, path, opts)
    work = np.float64 if dtype is D.float64 else np.float32     # the differences as PyTorch
    av, ev = av.astype(work), ev.astype(work)                    # computes them
    with np.errstate(all="ignore"):
        diff = np.array(np.abs(av - ev))
        rel = np.array(diff / np.abs(ev))
    diff[close], rel[close] = 0, 0
    i_abs = np.unravel_index(int(np.argmax(np.where(np.isnan(diff), np.inf, diff))), av.shape)
    i_rel = np.unravel_index(int(np.argmax(np.where(np.isnan(rel), np.inf, rel))), av.shape)
    integral = dtype.kind != 2
    fmt_abs = int(diff[i_abs]) if integral and np.isfinite(diff[i_abs]) else float(diff[i_abs])
    allowed_abs = "" if exact else f" (up to {atol} allowed)"
    allowed_rel = "" if exact else f" (up to {rtol} allowed)"
    _fail(f"Tensor-likes are not {'equal' if exact else 'close'}!\n\n"
          f"Mismatched elements: {bad} / {n} ({100 * bad / n:.1f}%)\n"
          f"Greatest absolute difference: {fmt_abs} at index {tuple(map(int, i_abs))}"
          f"{allowed_abs}\n"
          f"Greatest relative difference: {float(rel[i_rel])} at index "
          f"{tuple(map(int, i_rel))}{allowed_rel}", path, opts)


def _close(a, e, rtol, atol, equal_nan):
    with np.errstate(all="ignore"):
        ok = np.abs(a - e) <= atol + rtol * np.abs(e)
    ok |= a == e                                   # equal infinities
    if equal_nan:
        ok |= np.isnan(a) & np.isnan(e)
    return ok


def _scalars(a, e, path, opts):
    if opts["check_dtype"] and type(a) is not type(e):
        _fail(f"The (d)types do not match: {type(a)} != {type(e)}.", path, opts)
    dtype = D.float64 if isinstance(a, float) or isinstance(e, float) else D.int64
    rtol, atol = _tolerances(dtype, opts)
    if bool(_close(np.float64(a), np.float64(e), rtol, atol, opts["equal_nan"])):
        return
    _scalar_failure(a, e, rtol, atol, path, opts)


def _scalar_failure(a, e, rtol, atol, path, opts):
    exact = rtol == 0 and atol == 0
    diff = abs(a - e)
    rel = diff / abs(e) if e else math.inf
    up_abs = "" if exact else f" (up to {atol} allowed)"
    up_rel = "" if exact else f" (up to {rtol} allowed)"
    _fail(f"Scalars are not {'equal' if exact else 'close'}!\n\nExpected {e} but got {a}.\n"
          f"Absolute difference: {diff}{up_abs}\nRelative difference: {rel}{up_rel}", path,
          opts)
