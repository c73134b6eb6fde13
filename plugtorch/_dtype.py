"""dtypes and PyTorch's type-promotion rules."""
import numpy as np

__all__ = ["dtype", "float16", "float32", "float64", "int8", "int16", "int32", "int64",
           "uint8", "bool", "result_type", "promote_types", "get_default_dtype",
           "set_default_dtype", "can_cast"]


class dtype:
    """A tensor element type. Compare with `is`; every dtype is a singleton."""
    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_signed", "kind", "_rank")

    def __init__(self, name, np_dtype, kind, rank):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.kind = kind                      # 0 bool, 1 integer, 2 floating
        self.is_floating_point = kind == 2
        self.is_signed = kind == 2 or (kind == 1 and self.np.kind == "i")
        self._rank = rank

    def __repr__(self):
        return "plugtorch." + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))

    @property
    def is_complex(self):
        return False


bool = dtype("bool", np.bool_, 0, 0)
uint8 = dtype("uint8", np.uint8, 1, 1)
int8 = dtype("int8", np.int8, 1, 2)
int16 = dtype("int16", np.int16, 1, 3)
int32 = dtype("int32", np.int32, 1, 4)
int64 = dtype("int64", np.int64, 1, 5)
float16 = dtype("float16", np.float16, 2, 6)
float32 = dtype("float32", np.float32, 2, 7)
float64 = dtype("float64", np.float64, 2, 8)

ALL = (bool, uint8, int8, int16, int32, int64, float16, float32, float64)
FLOATING = (float16, float32, float64)
INTEGRAL = (uint8, int8, int16, int32, int64)
NUMERIC = INTEGRAL + FLOATING
_NAMES = {d.name: d for d in ALL}
_NAMES.update(half=float16, float=float32, double=float64, short=int16, int=int32, long=int64)
_FROM_NP = {d.np: d for d in ALL}


def _by_name(name):
    return _NAMES[name]


def from_numpy_dtype(np_dtype):
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(f"can't convert numpy array of dtype {np.dtype(np_dtype)}; the supported "
                        f"dtypes are {', '.join(str(d.np) for d in ALL)}") from None


def to_dtype(obj):
    """Accept a plugtorch dtype, a numpy dtype, a Python type or a name."""
    if isinstance(obj, dtype):
        return obj
    if obj is float:
        return _default_float[0]
    if obj is int:
        return int64
    if obj is _pybool:
        return bool
    if isinstance(obj, str):
        d = _NAMES.get(obj.replace("plugtorch.", "").replace("torch.", ""))
        if d is not None:
            return d
    try:
        return from_numpy_dtype(obj)
    except Exception:
        raise TypeError(f"{obj!r} is not a dtype") from None


_pybool = type(True)
_default_float = [float32]


def get_default_dtype():
    return _default_float[0]


def set_default_dtype(d):
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type, got {d}")
    _default_float[0] = d


_ORDER = ALL  # by rank


def _promote(a, b):
    if a is b:
        return a
    if a.kind != b.kind:
        return a if a.kind > b.kind else b
    if a.kind == 1:
        # uint8 with a signed type: the smallest signed type holding both
        if a is uint8 or b is uint8:
            other = b if a is uint8 else a
            return int16 if other is int8 else other
    return a if a._rank > b._rank else b


_PROMOTE = {(a, b): _promote(a, b) for a in ALL for b in ALL}


def promote_types(a, b):
    return _PROMOTE[(a, b)]


def scalar_dtype(v):
    if isinstance(v, _pybool):
        return bool
    if isinstance(v, int):
        return int64
    if isinstance(v, float):
        return _default_float[0]
    raise TypeError(f"expected a number, got {type(v).__name__}")


def result_type(*operands):
    """PyTorch's promotion: dimensioned tensors beat 0-d tensors beat Python scalars,
    unless a lower tier holds a higher category (bool < integer < floating)."""
    tiers = [None, None, None]  # dimensioned, zero-dim, scalar
    for o in operands:
        if o is None:
            continue
        d = getattr(o, "_dtype", None)
        if d is not None:
            t = 0 if o._shape else 1
        else:
            d = scalar_dtype(o)
            t = 2
        tiers[t] = d if tiers[t] is None else _PROMOTE[(tiers[t], d)]
    out = None
    for d in tiers:
        if d is None:
            continue
        if out is None:
            out = d
        elif d.kind > out.kind:
            out = d
    return out


def can_cast(src, dst):
    """May an in-place result of dtype `src` be stored in a tensor of dtype `dst`?"""
    return src.kind <= dst.kind


_SCALAR_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short",
                 "int32": "Int", "int64": "Long", "float16": "Half", "float32": "Float",
                 "float64": "Double"}


def scalar_name(d):
    """PyTorch's name of a scalar type, as its error messages use it ("Float", "Long")."""
    return _SCALAR_NAMES[d.name]
