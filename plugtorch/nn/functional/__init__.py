"""nn.functional: the functional forms of every layer, activation and loss."""
from . import _activation, _linear, _conv, _pooling, _normalization, _loss, _misc  # noqa: F401

__all__ = []
for _m in (_activation, _linear, _conv, _pooling, _normalization, _loss, _misc):
    for _name in _m.__all__:
        globals()[_name] = getattr(_m, _name)
        __all__.append(_name)
del _m

# every function above is declared (plugtorch.ops.OPS) or an alias of a declared op
from . import (_decl_activation, _decl_loss, _decl_layers, _decl_conv,  # noqa: F401,E402
               _decl_pool)
