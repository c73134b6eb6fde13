"""plugtorch: a PyTorch-style deep-learning framework whose backends are plugins.

Write PyTorch code with ``import plugtorch as torch``; pick a device with ``.to("opencl")``.
"""
__version__ = "0.1.0"

_default_device = ["cpu"]

from ._dtype import (dtype, float16, float32, float64, int8, int16, int32, int64, uint8,  # noqa
                     bool, get_default_dtype, set_default_dtype, promote_types)
from ._dtype import result_type as _result_type  # noqa: E402
from ._device import device  # noqa: E402
from ._size import Size  # noqa: E402
from ._tensor import Tensor, OutOfMemoryError  # noqa: E402
from . import backends  # noqa: E402
from . import autograd  # noqa: E402
from .autograd import (no_grad, enable_grad, set_grad_enabled, inference_mode,  # noqa: E402
                       is_grad_enabled)
from . import ops  # noqa: E402
from . import debug  # noqa: E402
from . import nn, optim, utils, special, linalg  # noqa: E402
from . import cuda, accelerator, testing  # noqa: E402
from . import graphs  # noqa: E402
from .graphs import compile  # noqa: E402
from .serialization import save, load  # noqa: E402
from ._interop import from_dlpack  # noqa: E402
from ._format import set_printoptions, get_printoptions, printoptions  # noqa: E402
from ._threads import set_num_threads, get_num_threads  # noqa: E402

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64

for _m in ops.MODULES:
    for _name in _m.__all__:
        globals()[_name] = getattr(_m, _name)
del _m, _name
globals().update(ops.decomp.TOP_LEVEL)   # inverse, det, logdet, slogdet, svd, qr, ...

from .backends import hookimpl  # noqa: E402
from ._legacy import LEGACY_TYPES as _LEGACY_TYPES, set_default_tensor_type  # noqa: E402

globals().update(_LEGACY_TYPES)          # FloatTensor, LongTensor, … (NOTE [legacy type names])
for _name in ops._tensor_methods.TORCH_INPLACE:
    globals()[_name] = getattr(Tensor, _name)
del _name


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def result_type(tensor1, tensor2):
    return _result_type(tensor1, tensor2)


def is_floating_point(input):
    return input._dtype.is_floating_point


def set_default_device(device):
    """Make `device` the default for factories that get no device= argument."""
    from ._tensor import resolve_device
    resolve_device(device)
    _default_device[0] = device if device is not None else "cpu"


def get_default_device():
    from ._tensor import resolve_device
    return resolve_device(None)[0]
