"""`plugtorch.special`: special functions under PyTorch's `torch.special` names.

Each is a declared op (`plugtorch/ops/special.py`, `ops/pointwise.py`, ...) or an alias of
one, so it runs on every backend with its gradient.

Example:
    >>> import plugtorch
    >>> plugtorch.special.expit(plugtorch.tensor([0.]))
    tensor([0.5000])
"""
from .ops.composite import log_softmax, logsumexp, softmax
from .ops.pointwise import erf, exp2, expm1, log1p, sigmoid as expit
from .ops.special import (digamma, entr, erfc, erfinv, i0, lgamma as gammaln, logit, ndtr,
                          ndtri, sinc, xlogy)

psi = digamma

__all__ = ["expit", "logit", "erf", "erfc", "erfinv", "expm1", "exp2", "log1p", "xlogy",
           "gammaln", "digamma", "psi", "i0", "sinc", "entr", "softmax", "log_softmax",
           "logsumexp", "ndtr", "ndtri"]
