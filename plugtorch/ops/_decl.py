"""Op declarations: each op is declared once, with everything the frontend and the
conformance suite need to know about it.

An `Op` names the frontend function, the input dtypes it accepts, its numpy reference and
the sample inputs the conformance suite runs it on. Derivatives live beside each op's
forward in the op modules and are written with frontend ops, so every backend gets
autograd (double backward included) without writing any.
"""

__all__ = ["Op", "OPS", "declare", "Sample"]

OPS = {}


class Sample:
    """One sample input: positional args (numpy arrays become tensors, other values pass
    through), keyword args, and which positions the gradient is checked for."""
    __slots__ = ("args", "kwargs", "grad_args", "name")

    def __init__(self, *args, grad=None, name="", **kwargs):
        self.args = args
        self.kwargs = kwargs
        self.grad_args = grad
        self.name = name

    def __repr__(self):
        import numpy as np
        parts = [f"{a.dtype}{list(a.shape)}" if isinstance(a, np.ndarray) else repr(a)
                 for a in self.args]
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name or 'sample'}({', '.join(parts)})"


class Op:
    """A declared op.

    Attributes:
        name: the public name (`plugtorch.<name>`).
        fn: the frontend function.
        ref: numpy reference: called with the sample's args as float64/int numpy arrays.
        samples: samples(dtype, rng) -> list of Sample.
        dtypes: input dtypes the op accepts.
        grad: whether the op is differentiable (checked by finite differences).
        atol/rtol: extra tolerance for float32 comparisons with the float64 reference.
        primitive: the backend primitive this op runs on, if it is one.
    """

    def __init__(self, name, fn, *, ref=None, samples=None, dtypes=(), grad=True,
                 atol=1e-5, rtol=1.3e-5, primitive=None, nondeterministic_grad=False):
        self.name = name
        self.fn = fn
        self.ref = ref
        self.samples = samples
        self.dtypes = tuple(dtypes)
        self.grad = grad
        self.atol, self.rtol = atol, rtol
        self.primitive = primitive
        self.nondeterministic_grad = nondeterministic_grad

    def __repr__(self):
        return f"Op({self.name})"

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def declare(name, fn, **kw):
    if name in OPS:
        raise ValueError(f"op {name!r} is declared twice")
    op = OPS[name] = Op(name, fn, **kw)
    return op
