"""Every op, declared once. Importing this package attaches the tensor methods."""
from ._decl import OPS, Op, declare, Sample  # noqa: F401
from . import _core  # noqa: F401
from . import (pointwise, binary, ternary, views, creation, reduction, linalg,  # noqa: F401
               indexing, shape_ops, random, composite)

MODULES = [pointwise, binary, ternary, views, creation, reduction, linalg, indexing, shape_ops,
           random, composite]
