"""repr of tensors, laid out the way PyTorch prints them.

NOTE [tensor repr]
The values are fetched to the host once (one transfer on device backends) and formatted
there. One formatter serves the whole tensor, so columns line up:

- integers and bools print as `str(v)`; floats pick one of three modes from the non-zero
  finite values: integral values print as `3.` (int mode); if max/min > 1000, max > 1e8,
  or (non-integral) min < 1e-4, every value prints in `{:.4e}` (sci mode); else `{:.4f}`.
- every element is right-aligned to the widest one; rows wrap at `linewidth` characters.
- over `threshold` elements, only `edgeitems` per edge of each dim are shown, with `...`;
  the format is chosen from the shown values only.
- suffixes (device, dtype when not inferable from the values, size of empty tensors,
  grad_fn / requires_grad) follow the data, on a new line when the line would be too long.
"""
import contextlib
import math

import numpy as np

from . import _dtype as D

__all__ = ["set_printoptions", "get_printoptions", "printoptions"]


class _Options:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


PRINT_OPTS = _Options()

_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Set how tensors print (as PyTorch's set_printoptions).

    Args:
        precision: digits after the decimal point (default 4).
        threshold: element count above which output is summarized (default 1000).
        edgeitems: items shown at each edge of a summarized dim (default 3).
        linewidth: characters per line before wrapping (default 80).
        profile: "default", "short" or "full": resets the four options above.
        sci_mode: True/False forces scientific notation on/off; None decides per tensor.

    Example:
        >>> import plugtorch as torch
        >>> torch.set_printoptions(precision=2); torch.tensor([1.2345])
        tensor([1.23])
        >>> torch.set_printoptions(profile="default")
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of "
                             f"{sorted(_PROFILES)}, got {profile!r}")
        for k, v in _PROFILES[profile].items():
            setattr(PRINT_OPTS, k, v)
    for k, v in (("precision", precision), ("threshold", threshold),
                 ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if v is not None:
            setattr(PRINT_OPTS, k, v)
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    """The current print options as a dict (keys as set_printoptions' arguments)."""
    return {k: getattr(PRINT_OPTS, k)
            for k in ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")}


@contextlib.contextmanager
def printoptions(**kwargs):
    """Context manager: print options set for the duration of a `with` block."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


# ----------------------------------------------------------------------------- formatting

class _Formatter:
    """One element format for a whole tensor (NOTE [tensor repr])."""

    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode, self.sci_mode, self.width = True, False, 1
        vals = values.reshape(-1)
        if not floating:
            self.width = max((len(str(v)) for v in vals.tolist()), default=1)
            return
        vals = vals.astype(np.float64)
        nz = vals[np.isfinite(vals) & (vals != 0)]
        if nz.size == 0:
            return
        mag = np.abs(nz)
        lo, hi = mag.min(), mag.max()
        p = PRINT_OPTS.precision
        self.int_mode = bool(np.all(nz == np.ceil(nz)))
        if self.int_mode:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
            fmt = f"{{:.{p}e}}" if self.sci_mode else "{:.0f}."
        else:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
            fmt = f"{{:.{p}e}}" if self.sci_mode else f"{{:.{p}f}}"
        self.width = max(len(fmt.format(v)) for v in nz.tolist())
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode

    def format(self, v):
        if not self.floating:
            s = str(v)
        elif self.sci_mode:
            s = f"{v:{self.width}.{PRINT_OPTS.precision}e}"
        elif self.int_mode:
            s = f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        else:
            s = f"{v:.{PRINT_OPTS.precision}f}"
        return s.rjust(self.width)


def _summarized(a):
    """The values a summarized print shows: edgeitems from each end of every dim."""
    e = PRINT_OPTS.edgeitems
    for axis, n in enumerate(a.shape):
        if n > 2 * e:
            keep = np.r_[0:e, n - e:n]
            a = np.take(a, keep, axis=axis)
    return a


def _vector(a, indent, summarize, fmt):
    e = PRINT_OPTS.edgeitems
    per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / (fmt.width + 2))))
    if summarize and not e:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * e:
        data = ([fmt.format(v) for v in a[:e].tolist()] + [" ..."] +
                [fmt.format(v) for v in a[-e:].tolist()])
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a, indent, summarize, fmt):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, summarize, fmt)
    e = PRINT_OPTS.edgeitems
    n = a.shape[0]
    if summarize and n > 2 * e:
        rows = ([_nested(a[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."] +
                [_nested(a[i], indent + 1, summarize, fmt) for i in range(n - e, n)])
    else:
        rows = [_nested(a[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def format_values(a, indent):
    """The bracketed body for host array `a` (float16 values print as float32)."""
    if a.size == 0:
        return "[]"
    if a.dtype == np.float16:
        a = a.astype(np.float32)
    summarize = a.size > PRINT_OPTS.threshold
    floating = a.dtype.kind == "f"
    fmt = _Formatter(_summarized(a) if summarize else a, floating)
    return _nested(a, indent, summarize, fmt)


def _add_suffixes(text, suffixes, indent):
    parts = [text]
    last = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            parts.append(", " + s)
            last += len(s) + 2
    return "".join(parts) + ")"


def _default_device():
    from . import _default_device as default
    from ._tensor import resolve_device
    try:
        return resolve_device(default[0])[0]
    except Exception:
        return None


def tensor_repr(t, tensor_contents=None):
    """PyTorch's repr of tensor t: `tensor([1., 2.], dtype=plugtorch.float64)`.

    Example:
        >>> import plugtorch as torch
        >>> torch.tensor([[1, 20], [300, 4]])
        tensor([[  1,  20],
                [300,   4]])
    """
    from ._tensor import Tensor, host_array
    name = type(t).__name__
    prefix = "tensor(" if type(t) is Tensor or name == "Parameter" else name + "("
    indent = len(prefix)
    dt = t._dtype
    suffixes = []
    dev = t._storage.device
    default = _default_device()
    if default is None or dev.type != default.type or (
            dev.index is not None and default.index is not None and dev.index != default.index):
        suffixes.append(f"device='{dev}'")
    n = t.numel()
    if n == 0:
        if t.dim() != 1:
            suffixes.append(f"size={tuple(t._shape)}")
        if dt is not D.get_default_dtype():
            suffixes.append(f"dtype={dt}")
        body = "[]"
    else:
        if dt not in (D.get_default_dtype(), D.int64, D.bool):
            suffixes.append(f"dtype={dt}")
        body = format_values(np.asarray(host_array(t)), indent)
    if tensor_contents is not None:
        body = tensor_contents
    node = t._node
    if node is not None:
        suffixes.append(f"grad_fn=<{node.name}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
