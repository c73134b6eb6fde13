"""Every Tensor method that is not in the class body of `plugtorch._tensor.Tensor`, in one
place: `Tensor.<name>` is the callable on the right. Most are the op of the same name
(`x.exp()` is `plugtorch.exp(x)`); the rest are one-liners here.

`bind()` runs once, when `plugtorch.ops` is imported; nothing else adds attributes to Tensor.
"""
import numpy as np

from .. import _dtype as D
from .. import _interop as I
from .. import _legacy as L
from .._tensor import Tensor
from ..autograd import _methods as A
from ..autograd.grad_mode import STATE
from . import (binary as B, composite as CO, counting as CN, creation as CR, extrema as EX,
               gather_scatter as GS, grid as GR, indexing as IX, linalg as LA, masked as MK,
               pointwise as P, reduction as R, sampling as SM, sequence as SQ,
               shape_ops as SH, slicing as SL, special as SP, ternary as T3, views as V)
from ._core import check_inplace
from ._matrix import diag, trace

__all__ = ["METHODS", "TORCH_INPLACE", "bind"]


def _same(module, names):
    """Methods that are the module's function of the same name."""
    return {n: getattr(module, n) for n in names.split()}


# ----------------------------------------------------------------------------- one-liners

def __invert__(self):
    return P.logical_not(self) if self._dtype is D.bool else P.bitwise_not(self)


def view_as(self, other):
    return V.view(self, other._shape)


def reshape_as(self, other):
    return V.reshape(self, other._shape)


def expand_as(self, other):
    return V.expand(self, other._shape)


def _T(self):
    return V.permute(self, tuple(reversed(range(len(self._shape)))))


def _mT(self):
    return V.transpose(self, -2, -1)


def _set_data(self, value):
    if not isinstance(value, Tensor):
        raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
    self._set_geometry(value._storage, value._shape, value._stride, value._offset)


def _cast(dtype):
    def method(self, memory_format=None):
        return CR.to(self, dtype)
    method.__name__ = dtype.name if dtype is not D.int32 else "int"
    return method


def cpu(self, memory_format=None):
    return CR.to(self, "cpu")


def cuda(self, device=None, non_blocking=False):
    if device is None:
        device = "cuda"
    elif isinstance(device, int):
        device = f"cuda:{device}"
    return CR.to(self, device, non_blocking=non_blocking)


def type_as(self, other):
    return CR.to(self, other._dtype)


def _inplace_of(fn, name):
    def method(self, *args, **kwargs):
        check_inplace(name, self)
        out = fn(self, *args, **kwargs)
        if not D.can_cast(out._dtype, self._dtype):
            raise RuntimeError(f"{name}: result type {D.scalar_name(out._dtype)} can't be cast "
                               f"to the desired output type {D.scalar_name(self._dtype)}")
        return self.copy_(out)
    method.__name__ = name
    return method


def _inplace_view(fn, name):
    """x.t_(), x.squeeze_(0), …: the view op's result becomes x's own shape and strides, and
    (recording grad) its history, so x now is that view of its old value."""
    def method(self, *args, **kwargs):
        if STATE.enabled and self._rg and self._node is None:
            raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in "
                               f"an in-place operation.")
        v = fn(self, *args, **kwargs)
        self._set_geometry(self._storage, v._shape, v._stride, v._offset)
        if v._node is not None:
            self._node, self._output_nr, self._vnode = v._node, v._output_nr, v._vnode
        return self
    method.__name__ = name
    return method


def _t_checked(self):
    if len(self._shape) > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is "
                           f"{len(self._shape)}D")
    return V.t(self)


def resize_(self, *size):
    if self._rg:
        raise RuntimeError("resize_: cannot resize variables that require grad")
    return CR.resize_(self, *size)


def resize_as_(self, other, memory_format=None):
    return resize_(self, other._shape)


def where(self, condition, other):
    return B.where(condition, self, other)


def flip(self, *dims, **kwargs):
    """x.flip(0, 1) as well as x.flip((0, 1)) and x.flip(dims=[0])."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        return SH.flip(self, dims[0], **kwargs)
    return SH.flip(self, dims, **kwargs) if dims else SH.flip(self, **kwargs)


# operators: `binary` directly with the op's spec (the hot path of `a + b`)
_bin, _bin_, _S = B.binary, B.binary_, B.SPECS
_ADD, _SUB, _MUL, _DIV = _S["add"], _S["sub"], _S["mul"], _S["div"]
_FDIV, _MOD, _POW = _S["floor_divide"], _S["remainder"], _S["pow"]
_EQ, _NE, _LT, _LE, _GT, _GE = (_S[n] for n in ("eq", "ne", "lt", "le", "gt", "ge"))
_AND, _OR, _XOR = _S["bitwise_and"], _S["bitwise_or"], _S["bitwise_xor"]


def _num(o):
    return isinstance(o, (Tensor, int, float, bool, np.generic))


def __add__(s, o): return _bin(_ADD, s, o)          # noqa: E704
def __radd__(s, o): return _bin(_ADD, o, s)         # noqa: E704
def __iadd__(s, o): return _bin_(_ADD, s, o)        # noqa: E704
def __sub__(s, o): return _bin(_SUB, s, o)          # noqa: E704
def __rsub__(s, o): return _bin(_SUB, o, s)         # noqa: E704
def __isub__(s, o): return _bin_(_SUB, s, o)        # noqa: E704
def __mul__(s, o): return _bin(_MUL, s, o)          # noqa: E704
def __rmul__(s, o): return _bin(_MUL, o, s)         # noqa: E704
def __imul__(s, o): return _bin_(_MUL, s, o)        # noqa: E704
def __truediv__(s, o): return _bin(_DIV, s, o)      # noqa: E704
def __rtruediv__(s, o): return _bin(_DIV, o, s)     # noqa: E704
def __itruediv__(s, o): return _bin_(_DIV, s, o)    # noqa: E704
def __floordiv__(s, o): return _bin(_FDIV, s, o)    # noqa: E704
def __rfloordiv__(s, o): return _bin(_FDIV, o, s)   # noqa: E704
def __ifloordiv__(s, o): return _bin_(_FDIV, s, o)  # noqa: E704
def __mod__(s, o): return _bin(_MOD, s, o)          # noqa: E704
def __rmod__(s, o): return _bin(_MOD, o, s)         # noqa: E704
def __imod__(s, o): return _bin_(_MOD, s, o)        # noqa: E704
def __pow__(s, o): return B.pow(s, o)               # noqa: E704
def __rpow__(s, o): return B.pow(o, s)              # noqa: E704
def __ipow__(s, o): return _bin_(_POW, s, o)        # noqa: E704
def __eq__(s, o): return _bin(_EQ, s, o) if _num(o) else NotImplemented   # noqa: E704
def __ne__(s, o): return _bin(_NE, s, o) if _num(o) else NotImplemented   # noqa: E704
def __lt__(s, o): return _bin(_LT, s, o)            # noqa: E704
def __le__(s, o): return _bin(_LE, s, o)            # noqa: E704
def __gt__(s, o): return _bin(_GT, s, o)            # noqa: E704
def __ge__(s, o): return _bin(_GE, s, o)            # noqa: E704
def __and__(s, o): return _bin(_AND, s, o)          # noqa: E704
def __rand__(s, o): return _bin(_AND, o, s)         # noqa: E704
def __iand__(s, o): return _bin_(_AND, s, o)        # noqa: E704
def __or__(s, o): return _bin(_OR, s, o)            # noqa: E704
def __ror__(s, o): return _bin(_OR, o, s)           # noqa: E704
def __ior__(s, o): return _bin_(_OR, s, o)          # noqa: E704
def __xor__(s, o): return _bin(_XOR, s, o)          # noqa: E704
def __rxor__(s, o): return _bin(_XOR, o, s)         # noqa: E704
def __ixor__(s, o): return _bin_(_XOR, s, o)        # noqa: E704
def __matmul__(s, o): return LA.matmul(s, o)        # noqa: E704


def __rmatmul__(s, o):
    return LA.matmul(o, s) if isinstance(o, Tensor) else NotImplemented


_OPERATORS = ("add sub mul truediv floordiv mod pow and or xor".split())

# ----------------------------------------------------------------------------- the table

METHODS = {}
for _group in (
    # autograd
    _same(A, "backward requires_grad_ register_hook retain_grad "
             "register_post_accumulate_grad_hook"),
    {"retains_grad": property(lambda self: self._retains_grad)},
    # elementwise
    _same(P, "neg abs sign exp log log1p expm1 sqrt rsqrt sin cos tan tanh sigmoid relu erf "
             "floor ceil round trunc reciprocal logical_not isnan isinf isfinite bitwise_not "
             "negative absolute square exp2 log2 log10 sinh cosh atan asin acos nan_to_num"),
    {n + "_": getattr(P, n + "_") for n in P.INPLACE},
    {"fix": P.fix, "fix_": P.fix_},
    {n + "_": _inplace_of(getattr(P, n), n + "_")
     for n in "asin acos atan sinh cosh exp2 log2 log10 square nan_to_num".split()},
    {"negative_": P.neg_, "clamp_min_": _inplace_of(P._clamp_min, "clamp_min_"),
     "clamp_max_": _inplace_of(P._clamp_max, "clamp_max_")},
    _same(SP, "erfc erfinv lgamma digamma i0 sinc xlogy logit"),
    {n + "_": _inplace_of(getattr(SP, n), n + "_")
     for n in "erfc erfinv lgamma digamma i0 sinc xlogy logit".split()},
    {"__neg__": P.neg, "__abs__": P.abs, "__invert__": __invert__,
     "clamp_min": P._clamp_min, "clamp_max": P._clamp_max},
    _same(B, "add sub mul div floor_divide remainder pow maximum minimum atan2 eq ne lt le gt "
             "ge logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor fmod "
             "clamp clip subtract multiply divide true_divide greater less greater_equal "
             "less_equal not_equal rsub"),
    {n + "_": getattr(B, n + "_") for n in B.INPLACE},
    {"add_": B._add_, "sub_": B._sub_, "div_": B._div_, "clamp_": B._clamp_,
     "clip_": B._clamp_, "where": where},
    {f"__{p}{n}__": globals()[f"__{p}{n}__"] for n in _OPERATORS for p in ("", "r", "i")},
    {n: globals()[n] for n in "__eq__ __ne__ __lt__ __le__ __gt__ __ge__ __matmul__ "
                              "__rmatmul__".split()},
    _same(T3, "lerp isclose allclose equal"),
    # views and shapes
    _same(V, "view reshape flatten unflatten squeeze unsqueeze permute transpose swapaxes "
             "swapdims t movedim expand clone contiguous detach detach_ ravel"),
    {"view_as": view_as, "reshape_as": reshape_as, "expand_as": expand_as,
     "T": property(_T), "mT": property(_mT), "H": property(_T),
     "data": property(V.detach, _set_data)},
    _same(SL, "narrow select unbind split chunk diagonal as_strided"),
    _same(SH, "sort argsort topk fliplr flipud roll repeat tile tril triu"),
    {"flip": flip},
    {n + "_": _inplace_view(getattr(V, n), n + "_")
     for n in "squeeze unsqueeze transpose swapaxes swapdims".split()},
    {"t_": _inplace_view(_t_checked, "t_")},
    {"as_strided_": _inplace_view(SL.as_strided, "as_strided_")},
    {"tril_": _inplace_of(SH.tril, "tril_"), "triu_": _inplace_of(SH.triu, "triu_")},
    _same(GR, "rot90 moveaxis"),
    # creation, conversion, in-place fills
    _same(CR, "to copy_ fill_ zero_ new_full new_tensor"),
    {"resize_": resize_, "resize_as_": resize_as_},
    {"new_zeros": CR.new_method(CR.zeros), "new_ones": CR.new_method(CR.ones),
     "new_empty": CR.new_method(CR.empty), "type": L.type_method,
     "storage": L.storage, "untyped_storage": L.untyped_storage, "data_ptr": L.data_ptr,
     "cpu": cpu, "cuda": cuda, "type_as": type_as},
    {name: _cast(dt) for name, dt in (("float", D.float32), ("double", D.float64),
                                       ("half", D.float16), ("long", D.int64),
                                       ("int", D.int32), ("short", D.int16),
                                       ("char", D.int8), ("byte", D.uint8),
                                       ("bool", D.bool))},
    _same(SM, "uniform_ normal_ random_ bernoulli_ exponential_ bernoulli multinomial"),
    # reductions and scans
    _same(R, "sum mean prod all any count_nonzero cumsum"),
    _same(EX, "amax amin max min aminmax argmax argmin"),
    _same(CO, "var std norm logsumexp softmax log_softmax"),
    _same(SQ, "cumprod cummax cummin diff repeat_interleave is_nonzero"),
    _same(CN, "bincount unique unique_consecutive"),
    # linear algebra
    _same(LA, "addmm baddbmm matmul mm bmm mv dot inner outer ger cross"),
    {"diag": diag, "trace": trace},
    # indexing
    {"__getitem__": IX.getitem, "__setitem__": IX.setitem},
    _same(IX, "index_put index_put_"),
    _same(GS, "gather scatter scatter_ scatter_add scatter_add_ scatter_reduce index_select "
              "index_add index_add_ take"),
    _same(MK, "masked_fill masked_fill_ masked_select nonzero argwhere"),
    # interop
    {"__dlpack__": I.__dlpack__, "__dlpack_device__": I.__dlpack_device__,
     "__array__": I.__array__},
):
    METHODS.update(_group)


# in-place methods PyTorch also offers as functions: plugtorch.exp_(x) is x.exp_()
TORCH_INPLACE = tuple(n for n in (
    "abs_ acos_ as_strided_ asin_ atan_ ceil_ clamp_ clamp_max_ "
    "clamp_min_ clip_ cos_ cosh_ detach_ erf_ erfc_ exp2_ exp_ expm1_ fill_ fix_ floor_ i0_ "
    "index_put_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_ reciprocal_ relu_ "
    "resize_as_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ trunc_ "
    "xlogy_ zero_").split() if n in METHODS)


def bind():
    """Attach every method to Tensor (an error if one would replace a class-body attribute)."""
    clash = sorted(n for n in METHODS if n in vars(Tensor) and n not in _BOUND)
    if clash:
        raise AssertionError(f"Tensor methods defined twice: {clash}")
    for name, fn in METHODS.items():
        setattr(Tensor, name, fn)
        _BOUND.add(name)


_BOUND = set()
