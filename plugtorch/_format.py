"""repr of tensors, laid out the way PyTorch prints them.

NOTE [tensor repr]
The values shown are fetched to the host once (one transfer on device backends) and
formatted there. A summarized tensor (over `threshold` elements) is never read whole: the
edge items of each long dim are cut out as views on the tensor's device and joined there
(`_edges`), so printing `zeros(1).expand(10**6, 10**6)` reads 36 elements. One formatter
serves the whole tensor, so columns line up:

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


def _cut_dims(shape):
    """Per dim, whether a summarized print shows only its edge items."""
    e = PRINT_OPTS.edgeitems
    return tuple(n > 2 * e for n in shape)


def _edges(t, cut, dim=0):
    """The edge items of tensor t along every `cut` dim (each such dim becomes 2 *
    edgeitems long), cut out as views and joined on t's device: only the elements a
    summarized print shows are ever copied."""
    while dim < len(cut) and not cut[dim]:
        dim += 1
    if dim == len(cut):
        return t
    e, n = PRINT_OPTS.edgeitems, t._shape[dim]
    return _cat([_edges(t.narrow(dim, 0, e), cut, dim + 1),
                  _edges(t.narrow(dim, n - e, e), cut, dim + 1)], dim)


def _cat(parts, dim):
    from .ops.shape_ops import cat
    return cat(parts, dim)


def _vector(a, indent, cut, fmt):
    e = PRINT_OPTS.edgeitems
    per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / (fmt.width + 2))))
    if cut[0] and not e:
        data = ["..."]
    elif cut[0]:
        data = ([fmt.format(v) for v in a[:e].tolist()] + [" ..."] +
                [fmt.format(v) for v in a[-e:].tolist()])
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a, indent, cut, fmt):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, cut, fmt)
    e, n = PRINT_OPTS.edgeitems, a.shape[0]
    rows = [_nested(a[i], indent + 1, cut[1:], fmt) for i in range(n)]
    if cut[0]:
        rows = rows[:e] + ["..."] + rows[e:]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def format_values(a, indent, cut=None):
    """The bracketed body for host array `a` (float16 values print as float32). `cut`:
    for a summarized print, which dims of `a` hold only their edge items (see `_edges`);
    by default `a` holds every value and is summarized here when over the threshold."""
    if a.size == 0 and not any(cut or ()):
        return "[]"
    if a.dtype == np.float16:
        a = a.astype(np.float32)
    if cut is None:
        cut = (False,) * a.ndim
        if a.size > PRINT_OPTS.threshold:
            cut = _cut_dims(a.shape)
            e = PRINT_OPTS.edgeitems
            for axis in (i for i, c in enumerate(cut) if c):
                a = np.take(a, np.r_[0:e, a.shape[axis] - e:a.shape[axis]], axis=axis)
    fmt = _Formatter(a, a.dtype.kind == "f")
    return _nested(a, indent, cut, fmt)


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
        cut = _cut_dims(t._shape) if n > PRINT_OPTS.threshold else (False,) * t.dim()
        shown = _edges(t.detach(), cut) if any(cut) else t
        body = format_values(np.asarray(host_array(shown)), indent, cut)
    if tensor_contents is not None:
        body = tensor_contents
    node = t._node
    if node is not None:
        suffixes.append(f"grad_fn=<{node.name}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
