"""Every nn.Module class; each submodule lists its classes in __all__."""
from . import module, container, linear, activation, dropout, sparse, flatten  # noqa: F401
from . import conv, pooling, normalization, upsampling  # noqa: F401
from . import loss, rnn, transformer  # noqa: F401

__all__ = []
for _m in (module, container, linear, activation, dropout, sparse, flatten, conv, pooling,
           normalization, upsampling, loss, rnn, transformer):
    for _name in _m.__all__:
        globals()[_name] = getattr(_m, _name)
        __all__.append(_name)
del _m
