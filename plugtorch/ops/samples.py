"""Sample inputs for the conformance suite: numpy arrays per dtype, by op family.

A sample generator is `fn(dtype, rng) -> list[Sample]`. Arrays are numpy arrays of the
requested dtype; the suite turns them into tensors (also as non-contiguous copies), runs the
op on a backend, and compares with the op's numpy reference computed in float64.
"""
import numpy as np

from .. import _dtype as D
from ._decl import Sample

SHAPES = [(), (5,), (3, 4), (2, 3, 4), (0, 3)]
BROADCAST = [((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (3,)), ((3, 4), ())]


def array(shape, dtype, rng, domain=None):
    """Random values of `dtype` suited to `domain`."""
    if dtype is D.bool:
        return rng.random(shape) < 0.5
    if dtype.kind == 1:
        lo, hi = (0, 10) if dtype is D.uint8 else (-9, 10)
        if domain in ("positive", "nonzero", "nonzero_b", "pow"):
            lo = 1
        if domain == "pow":
            hi = 4
        return rng.integers(lo, hi, size=shape).astype(dtype.np)
    if domain == "positive":
        x = rng.uniform(0.2, 2.0, size=shape)
    elif domain in ("nonzero", "nonzero_b"):
        x = rng.uniform(0.3, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    elif domain == "small":
        x = rng.uniform(-1.0, 1.0, size=shape)
    elif domain == "pow":
        x = rng.uniform(0.5, 2.0, size=shape)
    elif domain == "nonint":
        x = rng.uniform(-3, 3, size=shape)
        x = np.where(np.abs(x - np.round(x)) < 0.1, x + 0.25, x)
        x = np.where(np.abs(np.abs(x - np.trunc(x)) - 0.5) < 0.05, x + 0.1, x)
    else:
        x = rng.uniform(-2.0, 2.0, size=shape)
    return np.asarray(x, dtype=dtype.np)


def unary(domain=None):
    def gen(dtype, rng):
        return [Sample(array(s, dtype, rng, domain), grad=(0,)) for s in SHAPES]
    return gen


def binary(domain=None):
    def gen(dtype, rng):
        out = []
        for s in SHAPES:
            a = array(s, dtype, rng, "pow" if domain == "pow" else None)
            b = array(s, dtype, rng, domain)
            out.append(Sample(a, b, grad=(0, 1)))
        for sa, sb in BROADCAST:
            a = array(sa, dtype, rng, "pow" if domain == "pow" else None)
            b = array(sb, dtype, rng, domain)
            out.append(Sample(a, b, grad=(0, 1), name="broadcast"))
        scalar = {0: True, 1: 3, 2: 1.5}[dtype.kind]
        out.append(Sample(array((3, 2), dtype, rng, "pow" if domain == "pow" else None), scalar,
                          grad=(0,), name="scalar"))
        return out
    return gen


def clamp():
    def gen(dtype, rng):
        lo, hi = (2, 6) if dtype.kind == 1 else (-0.5, 0.7)
        return [Sample(array(s, dtype, rng), lo, hi, grad=(0,)) for s in SHAPES[:4]]
    return gen


def where():
    def gen(dtype, rng):
        out = []
        for s in SHAPES:
            c = rng.random(s) < 0.5
            out.append(Sample(c, array(s, dtype, rng), array(s, dtype, rng), grad=(1, 2)))
        c = rng.random((3, 1)) < 0.5
        out.append(Sample(c, array((4,), dtype, rng), array((3, 4), dtype, rng), grad=(1, 2),
                          name="broadcast"))
        if dtype is D.bool:     # where(condition): the indices of the true elements
            out.append(Sample(rng.random((3, 4)) < 0.5, name="condition_only"))
        return out
    return gen


def ref_where(c, a=None, b=None):
    return np.nonzero(c) if a is None and b is None else np.where(c, a, b)


def extended(gen, extra):
    """The samples of `gen` followed by those of `extra`."""
    return lambda dtype, rng: list(gen(dtype, rng)) + list(extra(dtype, rng))


# ----------------------------------------------------------------------------- add/sub/div/pow

def ref_alpha(fn):
    """numpy reference of add/sub: fn(a, alpha * b)."""
    return lambda a, b, alpha=1: fn(a, b) if alpha == 1 else fn(a, np.multiply(b, alpha))


def alpha_samples(dtype, rng):
    if dtype is D.bool:
        return []
    alpha = 2 if dtype.kind == 1 else -1.5
    return [Sample(array((3, 4), dtype, rng), array((4,), dtype, rng), alpha=alpha, grad=(0, 1),
                   name="alpha")]


def ref_div(a, b, rounding_mode=None):
    q = np.true_divide(a, b)
    return {None: q, "trunc": np.trunc(q), "floor": np.floor(q)}[rounding_mode]


def rounding_samples(dtype, rng):
    if dtype is D.bool:
        return []
    return [Sample(array((3, 4), dtype, rng), array((3, 4), dtype, rng, "nonzero_b"),
                   rounding_mode=mode, grad=(0, 1), name=mode) for mode in ("trunc", "floor")]


def pow_samples(dtype, rng):
    base = 2 if dtype.kind == 1 else 1.5
    return [Sample(array((3, 4), dtype, rng, "pow"), 2, grad=(0,), name="square"),
            Sample(base, array((4,), dtype, rng, "pow"), grad=(1,), name="scalar_base")]
