"""Every op, declared once. Importing this package attaches the tensor methods."""
from ._decl import OPS, Op, declare, Sample  # noqa: F401
from . import _core  # noqa: F401
from . import (pointwise, binary, ternary, views, slicing, creation, reduction,  # noqa: F401
               extrema, linalg, indexing, gather_scatter, masked, shape_ops, random, sampling,
               composite, sequence, counting, grid)

MODULES = [pointwise, binary, ternary, views, slicing, creation, reduction, extrema, linalg,
           indexing, gather_scatter, masked, shape_ops, random, sampling, composite,
           sequence, counting, grid]
