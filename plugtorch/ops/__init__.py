"""Every op, declared once. Importing this package attaches the tensor methods
(`_tensor_methods.py`, the one place that does)."""
from ._decl import (OPS, Op, declare, Sample, ALIASES, declare_alias, NOT_OPS,  # noqa: F401
                    DEVICE, seeded, XFail)
from . import _core  # noqa: F401
from . import (pointwise, binary, ternary, views, slicing, creation, reduction,  # noqa: F401
               extrema, linalg, indexing, gather_scatter, masked, shape_ops, random, sampling,
               composite, sequence, counting, grid, special, norms, decomp)
from . import _tensor_methods
_tensor_methods.bind()
from . import decompositions  # noqa: F401  (registers the optional primitives' decompositions)
# declarations of the ops their modules do not declare, then the aliases of declared ops
from . import _decl_layout, _decl_factories, _decl_misc, _aliases  # noqa: F401

MODULES = [pointwise, binary, ternary, views, slicing, creation, reduction, extrema, linalg,
           indexing, gather_scatter, masked, shape_ops, random, sampling, composite,
           sequence, counting, grid, special]
# out= on the public functions that take it (after the methods, which do not)
from . import _out  # noqa: E402
_out.install(MODULES, OPS, ALIASES)
