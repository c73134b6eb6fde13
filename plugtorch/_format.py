"""repr of tensors, like PyTorch's."""
import numpy as np

from . import _dtype as D


def _fmt_floats(a):
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return lambda v: _special(v) or f"{v}", 0
    amax, amin = np.abs(finite).max(), np.abs(finite).min()
    ints = np.all(finite == np.round(finite))
    if ints and amax < 1e8:
        return (lambda v: _special(v) or f"{v:.0f}."), 0
    if amax >= 1e8 or (amin > 0 and amin < 1e-4) or (amin > 0 and amax / amin > 1000):
        return (lambda v: _special(v) or f"{v:.4e}"), 0
    return (lambda v: _special(v) or f"{v:.4f}"), 0


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def tensor_repr(t):
    from ._tensor import host_array
    a = np.asarray(host_array(t))
    dt = t._dtype
    if a.size == 0:
        body = "[]"
    else:
        if dt.kind == 2:
            fmt, _ = _fmt_floats(a.astype(np.float64))
            formatter = {"float_kind": fmt}
        elif dt is D.bool:
            formatter = {"bool": lambda v: "True" if v else "False"}
        else:
            formatter = {"int": lambda v: str(v)}
        body = np.array2string(a, separator=", ", formatter=formatter, prefix="tensor(",
                               threshold=1000, edgeitems=3, max_line_width=80)
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    default = {D.get_default_dtype(), D.int64, D.bool}
    if dt not in default or a.size == 0 and dt is not D.get_default_dtype():
        extras.append(f"dtype=plugtorch.{dt.name}")
    if a.size == 0 and len(t._shape) != 1:
        extras.insert(0, f"size={tuple(t._shape)}")
    if t._node is not None:
        extras.append(f"grad_fn=<{t._node.name}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
