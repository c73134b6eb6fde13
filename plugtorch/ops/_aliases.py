"""Other public names of declared ops (`_decl.Alias`): PyTorch's and numpy's synonyms.

The conformance suite checks that each gives its op's result on one sample
(test_ops.test_op_alias) instead of running the op's matrix again under the other name.
"""
from ._decl import declare_alias
from . import binary, creation, grid, linalg, masked, pointwise, shape_ops, special, views

declare_alias("absolute", "abs", pointwise.absolute)
declare_alias("negative", "neg", pointwise.negative)
declare_alias("clip", "clamp", binary.clip)
declare_alias("subtract", "sub", binary.subtract)
declare_alias("multiply", "mul", binary.multiply)
declare_alias("divide", "div", binary.divide)
declare_alias("true_divide", "div", binary.true_divide)
declare_alias("greater", "gt", binary.greater)
declare_alias("less", "lt", binary.less)
declare_alias("greater_equal", "ge", binary.greater_equal)
declare_alias("less_equal", "le", binary.less_equal)
declare_alias("not_equal", "ne", binary.not_equal)
declare_alias("concat", "cat", shape_ops.concat)
declare_alias("concatenate", "cat", shape_ops.concatenate)
declare_alias("swapaxes", "transpose", views.swapaxes)
declare_alias("swapdims", "transpose", views.swapdims)
declare_alias("moveaxis", "movedim", grid.moveaxis)
declare_alias("asarray", "as_tensor", creation.asarray)
declare_alias("ger", "outer", linalg.ger)
declare_alias("argwhere", "nonzero", masked.argwhere)
declare_alias("fix", "trunc", pointwise.fix)
declare_alias("special.expit", "sigmoid", pointwise.sigmoid)
declare_alias("special.gammaln", "lgamma", special.lgamma)
declare_alias("special.psi", "digamma", special.digamma)
