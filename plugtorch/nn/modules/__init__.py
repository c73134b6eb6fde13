"""Every nn.Module class; each submodule lists its classes in __all__.

NOTE [module paths]
Each class is importable from the file PyTorch defines it in (torch.nn.modules.batchnorm.
BatchNorm2d is plugtorch.nn.modules.batchnorm.BatchNorm2d), and its __module__ names that
file, so pickles and `type(m).__module__` checks see PyTorch's paths. Where plugtorch writes a
class in another file, the PyTorch-named module re-exports it and `_PYTORCH_HOMES` below sets
its __module__.
"""
from . import module, container, linear, activation, dropout, sparse, flatten  # noqa: F401
from . import conv, pooling, normalization, upsampling  # noqa: F401
from . import loss, rnn, transformer  # noqa: F401
from . import batchnorm, instancenorm, pixelshuffle  # noqa: F401  (PyTorch's module paths)

__all__ = []
for _m in (module, container, linear, activation, dropout, sparse, flatten, conv, pooling,
           normalization, upsampling, loss, rnn, transformer):
    for _name in _m.__all__:
        globals()[_name] = getattr(_m, _name)
        __all__.append(_name)

_PYTORCH_HOMES = {
    activation: ("MultiheadAttention",),
    batchnorm: ("_NormBase", "_BatchNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d"),
    instancenorm: ("_InstanceNorm", "InstanceNorm1d", "InstanceNorm2d"),
    pixelshuffle: ("PixelShuffle", "PixelUnshuffle"),
    rnn: ("RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"),
}
for _m, _names in _PYTORCH_HOMES.items():
    for _name in _names:
        getattr(_m, _name).__module__ = _m.__name__
del _m, _name, _names
