"""Op declarations: each op is declared once, with everything the frontend and the
conformance suite need to know about it.

An `Op` names the frontend function, the input dtypes it accepts, its numpy reference and
the sample inputs the conformance suite runs it on. Derivatives live beside each op's
forward in the op modules and are written with frontend ops, so every backend gets
autograd (double backward included) without writing any.

Every public function of the ops modules and of `nn.functional` is either declared here
(`fn` is then exactly the public callable), an `Alias` of a declared op, or listed in
`NOT_OPS`; tests/test_declarations.py keeps it so.
"""

__all__ = ["Op", "OPS", "declare", "Sample", "Alias", "ALIASES", "declare_alias", "NOT_OPS",
           "DEVICE", "seeded", "XFail"]

OPS = {}

#: other public names of declared ops: public path (e.g. "clip", "nn.functional.relu_")
#: -> Alias. The suite checks each gives its target's result; it does not rerun the matrix.
ALIASES = {}

#: public names of the ops modules that are not ops (nothing to run on a device)
NOT_OPS = frozenset({
    # random-number state: generator objects and seeding, no tensor computation
    "Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
    "set_rng_state",
    # memory-format constants: accepted by memory_format= arguments, change nothing
    "memory_format", "contiguous_format", "channels_last", "channels_last_3d",
    "preserve_format",
    # host interop: shares a numpy array's memory, so always a cpu tensor
    "from_numpy",
})


class Placeholder:
    """A sample argument the suite fills in for the device under test (see DEVICE, seeded)."""
    __slots__ = ()

    def on(self, device):
        """The value the op gets on `device`."""
        raise NotImplementedError

    def for_reference(self):
        """The value the numpy reference gets (OMIT: a keyword argument is left out)."""
        raise NotImplementedError


OMIT = object()


class _Device(Placeholder):
    """The device under test, e.g. `Sample(3, device=DEVICE)` for a factory; the reference
    is called without it."""
    __slots__ = ()

    def on(self, device):
        return device

    def for_reference(self):
        return OMIT

    def __repr__(self):
        return "DEVICE"


DEVICE = _Device()


class seeded(Placeholder):
    """A fresh Generator on the device under test, seeded with `seed` (so every backend draws
    the same counters); the reference gets the seed."""
    __slots__ = ("seed",)

    def __init__(self, seed):
        self.seed = int(seed)

    def on(self, device):
        from .._generator import Generator
        return Generator(device).manual_seed(self.seed)

    def for_reference(self):
        return self.seed

    def __repr__(self):
        return f"seeded({self.seed})"


class XFail:
    """A known failure of one op: the suite expects the cells it covers to fail, and fails
    them when they pass (so the entry is removed once the bug is fixed).

    Args:
        reason: why it fails (shown as the xfail reason).
        backends: backend names it applies to (None: every backend).
        dtypes: dtype names it applies to (None: every declared dtype).
        checks: the suite checks it applies to, of "contiguous", "noncontiguous",
            "broadcast" and "gradient" (None: every check).
        match: a text each failure it covers contains, e.g. a sample's name.
    """
    __slots__ = ("reason", "backends", "dtypes", "checks", "match")

    def __init__(self, reason, backends=None, dtypes=None, checks=None, match=None):
        self.reason, self.backends, self.dtypes = reason, backends, dtypes
        self.checks, self.match = checks, match

    def applies(self, device, dtype, check):
        return ((self.backends is None or device in self.backends) and
                (self.dtypes is None or dtype.name in self.dtypes) and
                (self.checks is None or check in self.checks))

    def covers(self, message):
        return self.match is None or self.match in message

    def __repr__(self):
        return f"XFail({self.reason!r})"


class Sample:
    """One sample input: positional args (numpy arrays become tensors, a Placeholder becomes
    its value on the device under test, other values pass through), keyword args, and which
    positions the gradient is checked for."""
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
        name: the public name (`plugtorch.<name>` or `plugtorch.nn.functional.<name>`).
        fn: the public callable itself.
        ref: numpy reference: called with the sample's args as float64/int numpy arrays.
        samples: samples(dtype, rng) -> list of Sample.
        dtypes: input dtypes the op accepts.
        grad: whether the op is differentiable (checked by finite differences).
        atol/rtol: extra tolerance for float32 comparisons with the float64 reference.
        primitive: the backend primitive this op runs on, if it is one.
        overridable: for a composite op a backend may replace with its own kernel, the
            kernel's parameters (e.g. "out x dim"); None when backends may not override it.
        values: whether result values are compared (False: shapes and dtypes only, as for
            `empty`, whose values are whatever memory held).
        any_layout: whether the result depends on the input values only (False for
            as_strided, which reads storage: only contiguous inputs are run).
        xfail: known failures (XFail entries) the suite expects.
        aliases: the names of its aliases (filled in by declare_alias).
    """

    def __init__(self, name, fn, *, ref=None, samples=None, dtypes=(), grad=True,
                 atol=1e-5, rtol=1.3e-5, primitive=None, nondeterministic_grad=False,
                 overridable=None, values=True, any_layout=True, xfail=()):
        self.name = name
        self.fn = fn
        self.ref = ref
        self.samples = samples
        self.dtypes = tuple(dtypes)
        self.grad = grad
        self.atol, self.rtol = atol, rtol
        self.primitive = primitive
        self.nondeterministic_grad = nondeterministic_grad
        self.overridable = overridable
        self.values = values
        self.any_layout = any_layout
        self.xfail = tuple(xfail)
        self.aliases = []

    def __repr__(self):
        return f"Op({self.name})"

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def declare(name, fn, **kw):
    if name in OPS:
        raise ValueError(f"op {name!r} is declared twice")
    op = OPS[name] = Op(name, fn, **kw)
    if op.overridable:
        from .._dispatch import OVERRIDABLE
        OVERRIDABLE[name] = tuple(op.overridable.split())
    return op


class Alias:
    """Another public name of a declared op.

    Attributes:
        name: its public path below `plugtorch` ("clip", "nn.functional.relu_").
        target: the name of the op it gives the result of.
        fn: the public callable.
        inplace: whether it writes the result into its first argument and returns it.
    """
    __slots__ = ("name", "target", "fn", "inplace")

    def __init__(self, name, target, fn, inplace=False):
        self.name, self.target, self.fn, self.inplace = name, target, fn, inplace

    def __repr__(self):
        return f"Alias({self.name} -> {self.target}{', in place' if self.inplace else ''})"


def declare_alias(name, target, fn, *, inplace=False):
    """Record `fn`, public as `name`, as giving op `target`'s result (written into its first
    argument when `inplace`)."""
    if name in ALIASES or name in OPS:
        raise ValueError(f"{name!r} is declared twice")
    if target not in OPS:
        raise ValueError(f"alias {name!r}: no declared op {target!r}")
    alias = ALIASES[name] = Alias(name, target, fn, inplace)
    OPS[target].aliases.append(name)
    return alias
