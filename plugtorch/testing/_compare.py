"""Comparing results with references: tolerances per dtype, host copies, readable failures."""
import numpy as np

from .. import _dtype as D

# float32 tolerances come from the op declaration (Op.atol/Op.rtol); the other float
# dtypes scale them by roughly their machine epsilon relative to float32's
_SCALE = {"float16": 1000.0, "float32": 1.0, "float64": 1e-6}


def tolerances(dtype, atol=1e-5, rtol=1.3e-5):
    """(atol, rtol) for comparing a result of `dtype` with a float64 reference.

    Args:
        dtype: the result's dtype (plugtorch or numpy); integers and bools compare exactly.
        atol, rtol: the float32 tolerances, e.g. an op's declared `atol`/`rtol`.

    Example:
        >>> from plugtorch.testing import tolerances
        >>> tolerances("float32"), tolerances("int64")
        ((1e-05, 1.3e-05), (0.0, 0.0))
    """
    name = dtype.name if isinstance(dtype, D.dtype) else np.dtype(dtype).name
    scale = _SCALE.get(name)
    if scale is None:
        return 0.0, 0.0
    return atol * scale, rtol * scale


def to_host(x):
    """A numpy copy of a tensor's values (any device), or np.asarray of anything else."""
    from .._tensor import Tensor
    if isinstance(x, Tensor):
        return np.array(x.detach().cpu().numpy(), copy=True)
    return np.asarray(x)


def mismatch(actual, expected, atol, rtol):
    """None when `actual` matches `expected` (same shape, values within tolerance, NaN
    where NaN), else a message naming the worst element."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        return f"shape mismatch: got {actual.shape}, expected {expected.shape}"
    if actual.size == 0:
        return None
    if actual.dtype.kind in "biu" and expected.dtype.kind in "biuf" and not (atol or rtol):
        exp = expected.astype(actual.dtype) if expected.dtype.kind != "f" else expected
        bad = actual != exp
        if not bad.any():
            return None
        i = np.unravel_index(np.argmax(bad), bad.shape)
        return (f"{int(bad.sum())} of {bad.size} elements differ (exact comparison); first at "
                f"{tuple(int(k) for k in i)}: got {actual[i]!r}, expected {exp[i]!r}")
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):   # inf - inf, NaN: handled below
        err = np.where((a == e) | (np.isnan(a) & np.isnan(e)), 0.0, np.abs(a - e))
    err = np.where(np.isnan(err), np.inf, err)
    limit = atol + rtol * np.abs(np.where(np.isfinite(e), e, 0.0))
    bad = err > limit
    if not bad.any():
        return None
    i = np.unravel_index(np.argmax(np.where(bad, err - limit, -np.inf)), bad.shape)
    return (f"{int(bad.sum())} of {bad.size} elements differ beyond atol={atol:g}, "
            f"rtol={rtol:g}; worst at {tuple(int(k) for k in i)}: got {a[i]!r}, expected "
            f"{e[i]!r} (|diff| {err[i]:.3g})")


def assert_values(actual, expected, *, atol=None, rtol=None, msg=""):
    """Assert that a tensor (or array) equals `expected` within dtype-aware tolerances.

    Args:
        actual: a plugtorch tensor on any device, or array-like.
        expected: array-like reference values (compared in float64).
        atol, rtol: override the tolerances chosen from `actual`'s dtype.
        msg: prefix for the failure message.

    Example:
        >>> import plugtorch
        >>> from plugtorch.testing import assert_values
        >>> assert_values(plugtorch.tensor([1.0, 2.0]).exp(), [2.718282, 7.389056])
    """
    a = to_host(actual)
    d_atol, d_rtol = tolerances(a.dtype)
    err = mismatch(a, np.asarray(expected), d_atol if atol is None else atol,
                   d_rtol if rtol is None else rtol)
    if err is not None:
        raise AssertionError(f"{msg}: {err}" if msg else err)
