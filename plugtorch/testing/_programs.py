"""Random op programs for differential testing (tests/test_differential.py).

A program is a few lines of PyTorch-style source: leaf tensors made from literal values
(empty dims, 0-d, NaN/inf, every dtype), views of them (transposes, stepped slices,
expands), then 1-4 steps, each an op drawn from the families below applied to earlier
values. The same text runs with ``torch`` bound to plugtorch on any device or to PyTorch,
so a failing program is its own reproducer.

`programs(dtypes)` is a hypothesis strategy. While drawing, each step is run on the cpu
backend to learn its result's shape and dtype (so later steps get valid dims and indices)
and the program ends at the first step that raises: that error is then what every side must
reproduce. `run(program, lib, device)` executes it (forward, then the gradient of a weighted
sum of its float outputs) and `compare(ours, theirs, ...)` lists the divergences.

Values are chosen so that exact arithmetic is exact on every side (multiples of 1/4 and a
few large or special values); a value computed by an op that rounds (exp, div, mean, ...)
is marked inexact, and ops that are discontinuous in their input (floor, comparisons,
argmax, casts to integers, ...) only take exact values, so that a last-bit difference
between two correct implementations cannot become a large one.
"""
import math
import warnings

import numpy as np
from hypothesis import strategies as st

import plugtorch
from .. import _dtype as D
from ..backends import BINARY, UNARY
from ..ops import OPS
from ._compare import mismatch, tolerances

ALL_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
              "float64")
FLOATS = ("float16", "float32", "float64")
INTS = ("uint8", "int8", "int16", "int32", "int64")
MAX_STEPS = 4
MAX_NUMEL = 24

# ----------------------------------------------------------------------------- values

_FLOAT_POOL = (0.0, -0.0, 0.25, -0.5, 0.75, 1.0, -1.0, 1.5, -2.0, 2.5, 3.0, -4.0, 8.0)
_FLOAT_SPECIAL = (math.nan, math.inf, -math.inf, 1000.0, -0.25)


def _int_pool(name, special):
    info = np.iinfo(name)
    small = tuple(v for v in range(-3, 6) if info.min <= v <= info.max)
    return small + ((int(info.min), int(info.max)) if special else ())


def _pool(dtype, special):
    if dtype == "bool":
        return (False, True)
    if dtype in INTS:
        return _int_pool(dtype, special)
    return _FLOAT_POOL + (_FLOAT_SPECIAL if special else ())


def _literal(v):
    """Python source for one element."""
    if isinstance(v, (bool, np.bool_)):
        return repr(bool(v))
    if isinstance(v, (int, np.integer)):
        return repr(int(v))
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)


def _nested(values, shape):
    if not shape:
        return _literal(values[0])
    step = len(values) // shape[0] if shape[0] else 0
    return "[" + ", ".join(_nested(values[i * step:(i + 1) * step], shape[1:])
                           for i in range(shape[0])) + "]"


# ----------------------------------------------------------------------------- programs

class Val:
    """What the generator knows about a value: its name, the cpu result's shape and dtype,
    whether it is exactly computed, whether it requires grad, and its cpu values."""
    __slots__ = ("name", "shape", "dtype", "exact", "grad", "host")

    def __init__(self, name, t, exact):
        self.name, self.shape, self.dtype = name, tuple(t.shape), t.dtype.name
        self.exact, self.grad = exact, bool(t.requires_grad)
        self.host = t.detach().cpu().numpy()

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def finite(self):
        return self.dtype not in FLOATS or bool(np.isfinite(self.host).all())


class Step:
    """One line (or a few) of the program, defining `var`."""
    __slots__ = ("family", "op", "code", "var", "operands")

    def __init__(self, family, op, code, var, operands):
        self.family, self.op, self.code, self.var, self.operands = family, op, code, var, operands


class Program:
    """Leaf lines, steps, and the names of the float leaves requiring grad."""

    def __init__(self):
        self.leaves = []        # source lines making leaves and their views
        self.grad_leaves = []   # names of leaves created with requires_grad=True
        self.steps = []
        self.raises = False     # whether the last step raised on the cpu backend

    def source(self, device="cpu", backward=True):
        """The program as a runnable snippet (``torch`` is plugtorch or PyTorch)."""
        lines = ["nan, inf = float('nan'), float('inf')", f"DEV = {device!r}"]
        lines += self.leaves + [s.code for s in self.steps]
        if backward and not self.raises and self.grad_leaves:
            lines.append(_loss_source(self))
            lines.append("loss.backward()  # compare " +
                         ", ".join(f"{b}.grad" for b in self.grad_leaves))
        return "\n".join(lines)

    def __repr__(self):
        return "\n" + self.source()


def _loss_source(program):
    return ("loss = sum((v * weight(v)).sum() for v in [" +
            ", ".join(s.var for s in program.steps) + "] if is_float_grad(v))"
            "  # weight(v): ((i * 7 + 1) % 4 - 1.5) / 2 at flat index i")


def _namespace(lib, device):
    def weight(v):
        n = v.numel()
        w = ((np.arange(n) * 7 + 1) % 4 - 1.5) / 2
        return lib.tensor(w.tolist(), dtype=v.dtype, device=device).reshape(tuple(v.shape))

    def is_float_grad(v):
        return isinstance(v, lib.Tensor) and v.dtype.is_floating_point and v.requires_grad

    return {"torch": lib, "DEV": device, "nan": math.nan, "inf": math.inf, "weight": weight,
            "is_float_grad": is_float_grad}


class _Gen:
    """State of one program being drawn: the program and its cpu namespace."""

    def __init__(self, draw, dtypes):
        self.draw, self.dtypes = draw, dtypes
        self.prog = Program()
        self.ns = _namespace(plugtorch, "cpu")
        self.vals = []          # Val of every tensor value a step may use
        self.n = 0

    def fresh(self, prefix="v"):
        self.n += 1
        return f"{prefix}{self.n}"

    def pick(self, pred=lambda v: True, exact=False, op=None):
        """An earlier value satisfying `pred` (and exact if `exact`); mostly one of a dtype
        the declared op `op` accepts, sometimes any (dtype errors must agree too)."""
        cands = [v for v in self.vals if pred(v) and (v.exact or not exact)]
        if op is not None and self.draw(st.integers(0, 7)):
            declared = {d.name for d in OPS[op].dtypes}
            cands = [v for v in cands if v.dtype in declared] or cands
        return self.draw(st.sampled_from(cands)) if cands else None

    def run(self, code, var):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(code, self.ns)
        return self.ns[var]

    # -- leaves

    def leaf(self, shape=None, dtype=None, layout=None):
        draw = self.draw
        if dtype is None:       # floats half the time: they have gradients
            floats = [d for d in self.dtypes if d in FLOATS]
            dtype = draw(st.sampled_from(floats if floats and draw(st.booleans())
                                         else self.dtypes))
        if shape is None:
            shape = draw(shapes())
        shape = tuple(shape)
        numel = math.prod(shape)
        if layout is None:
            layouts = ["contiguous"]
            if len(shape) >= 2:
                layouts.append("transposed")
            if shape and shape[-1] > 0:
                layouts.append("stepped")
            if any(n != 1 for n in shape):
                layouts.append("expanded")
            if shape:
                layouts.append("offset")
            layout = draw(st.sampled_from(layouts))
        base_shape, view = list(shape), ""
        if layout == "transposed":
            base_shape[-1], base_shape[-2] = shape[-2], shape[-1]
            view = ".transpose(-1, -2)"
        elif layout == "stepped":
            base_shape[-1] = 2 * shape[-1]
            view = "[..., ::2]"
        elif layout == "offset":
            base_shape[0] += 1
            view = "[1:]"
        elif layout == "expanded":
            dims = [i for i, n in enumerate(shape) if n != 1]
            d = draw(st.sampled_from(dims))
            base_shape[d] = 1
            view = f".expand({tuple(shape)})"
        base_shape = tuple(base_shape)
        base_numel = math.prod(base_shape)
        special = dtype in FLOATS + INTS and draw(st.integers(0, 3)) == 0
        values = draw(st.lists(st.sampled_from(_pool(dtype, special)),
                               min_size=base_numel, max_size=base_numel))
        grad = dtype in FLOATS and draw(st.integers(0, 3)) > 0
        base = self.fresh("b")
        args = f"dtype=torch.{dtype}, device=DEV" + (", requires_grad=True" if grad else "")
        if base_numel == 0 or (not base_shape and False):
            make = f"torch.zeros({base_shape}, {args})"
        else:
            make = f"torch.tensor({_nested(values, base_shape)}, {args})"
        lines = [f"{base} = {make}"]
        name = base
        if view:
            name = self.fresh("x")
            lines.append(f"{name} = {base}{view}")
        code = "\n".join(lines)
        t = self.run(code, name)
        self.prog.leaves.append(code)
        if grad:
            self.prog.grad_leaves.append(base)
        v = Val(name, t, exact=True)
        self.vals.append(v)
        return v

    def partner(self, a):
        """A new leaf whose shape broadcasts with `a`'s (maybe a's own shape)."""
        shape = list(a.shape)
        drop = self.draw(st.integers(0, len(shape)))
        shape = shape[drop:]
        for i in range(len(shape)):
            if self.draw(st.integers(0, 3)) == 0:
                shape[i] = 1
        same = self.draw(st.booleans()) and a.dtype in self.dtypes
        return self.leaf(shape=tuple(shape), dtype=a.dtype if same else None)

    def operand2(self, a, allow_scalar=True):
        """The second operand of a binary op: (source, Val or None)."""
        kind = self.draw(st.sampled_from(("existing", "partner", "scalar") if allow_scalar
                                          else ("existing", "partner")))
        if kind == "existing":
            b = self.pick(lambda v: v is not a and _broadcasts(v.shape, a.shape))
            if b is not None:
                return b.name, b
        if kind == "scalar":
            return _literal(self.draw(scalars(a.dtype))), None
        b = self.partner(a)
        return b.name, b

    # -- steps

    def step(self):
        family = self.draw(st.sampled_from(sorted(FAMILIES)))
        made = FAMILIES[family](self)
        if made is None:
            return False
        op, expr, operands, exact = made
        var = self.fresh()
        code = expr if "\n" in expr or expr.startswith("{var}") else f"{var} = {expr}"
        code = code.replace("{var}", var)
        try:
            t = self.run(code, var)
        except Exception:   # noqa: BLE001 - the error is the outcome every side must give
            self.prog.steps.append(Step(family, op, code, var, operands))
            self.prog.raises = True
            return True
        self.prog.steps.append(Step(family, op, code, var, operands))
        for k, r in enumerate(t if isinstance(t, (tuple, list)) else [t]):
            if isinstance(r, plugtorch.Tensor):
                name = var if isinstance(t, plugtorch.Tensor) else f"{var}[{k}]"
                self.vals.append(Val(name, r, exact and all(o.exact for o in operands)))
        return True


def _broadcasts(s1, s2):
    for a, b in zip(reversed(s1), reversed(s2)):
        if a != b and a != 1 and b != 1:
            return False
    return True


@st.composite
def shapes(draw, max_ndim=3):
    ndim = draw(st.integers(0, max_ndim))
    dims = draw(st.lists(st.sampled_from((0, 1, 2, 3, 2, 3, 4)), min_size=ndim, max_size=ndim))
    while math.prod(dims) > MAX_NUMEL:
        dims[dims.index(max(dims))] -= 1
    return tuple(dims)


def scalars(dtype):
    """Python scalars to pair with a tensor of `dtype` (of any kind: promotion is tested)."""
    return st.sampled_from((2, -1, 0, 3, 1.5, -0.5, 2.0, True, False, 0.25)) if \
        dtype != "bool" else st.sampled_from((True, False, 2, 1.5))


@st.composite
def programs(draw, dtypes=ALL_DTYPES):
    """A random Program over leaves of `dtypes` (a hypothesis strategy)."""
    g = _Gen(draw, tuple(dtypes))
    g.leaf()
    target = draw(st.integers(1, MAX_STEPS))
    tries = 0
    while len(g.prog.steps) < target and not g.prog.raises and tries < 3 * MAX_STEPS:
        tries += 1
        g.step()
    return g.prog


# ----------------------------------------------------------------------------- op families
# Each family function draws one op and returns (op name, expression, operand Vals,
# whether the result is exact given exact operands), or None when nothing fits. The
# expression may define {var} itself over several lines.

# unary ops of the declared op table: the backend primitives and composites over them
_UNARY_COMPOSITE = ("square", "exp2", "log2", "log10", "sinh", "cosh", "atan", "asin", "acos",
                    "nan_to_num", "erf", "rsqrt")
UNARY_OPS = tuple(sorted(set(n for n, o in OPS.items() if o.primitive in UNARY) |
                         set(_UNARY_COMPOSITE)))
_EXACT_UNARY = {"neg", "abs", "relu", "floor", "ceil", "round", "trunc", "sign", "square",
                "logical_not", "isnan", "isinf", "isfinite", "bitwise_not", "nan_to_num"}
# results that jump where the input crosses a point: only exact inputs
_STEP_UNARY = {"floor", "ceil", "round", "trunc", "sign", "logical_not", "bitwise_not",
               "nan_to_num"}
BINARY_OPS = tuple(sorted(n for n in BINARY if n in OPS))
_EXACT_BINARY = {"add", "sub", "mul", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge",
                 "bitwise_and", "bitwise_or", "bitwise_xor", "logical_and", "logical_or",
                 "logical_xor", "fmod", "remainder", "floor_divide"}
_SMOOTH_BINARY = {"add", "sub", "mul", "div", "atan2", "maximum", "minimum"}
_OPERATORS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floor_divide": "//",
              "remainder": "%", "pow": "**", "bitwise_and": "&", "bitwise_or": "|",
              "bitwise_xor": "^", "eq": "==", "lt": "<", "ge": ">="}
for _n in UNARY_OPS + BINARY_OPS:
    assert _n in OPS, _n


def _unary(g):
    name = g.draw(st.sampled_from(UNARY_OPS))
    x = g.pick(exact=name in _STEP_UNARY, op=name)
    if x is None:
        return None
    form = g.draw(st.sampled_from(("fn", "method")))
    expr = f"torch.{name}({x.name})" if form == "fn" else f"{x.name}.{name}()"
    return name, expr, [x], name in _EXACT_UNARY


def _binary(g):
    name = g.draw(st.sampled_from(BINARY_OPS))
    a = g.pick(exact=name not in _SMOOTH_BINARY, op=name)
    if a is None:
        return None
    src, b = g.operand2(a)
    if b is not None and name not in _SMOOTH_BINARY and not b.exact:
        return None
    form = g.draw(st.sampled_from(("fn", "method", "operator", "reflected")))
    op = _OPERATORS.get(name)
    if form == "operator" and op:
        expr = f"{a.name} {op} {src}"
    elif form == "reflected" and op and b is None:
        expr = f"{src} {op} {a.name}"
    elif form == "method":
        expr = f"{a.name}.{name}({src})"
    else:
        expr = f"torch.{name}({a.name}, {src})"
    return name, expr, [a] + ([b] if b else []), name in _EXACT_BINARY


def _dim(g, x, allow_none=True, tuples=True):
    """A dim argument for x: None, an int (maybe negative, maybe out of range) or a tuple."""
    n = x.ndim
    choices = ["int"] + (["none"] if allow_none else []) + (["tuple"] if tuples and n else [])
    kind = g.draw(st.sampled_from(choices))
    if kind == "none":
        return None
    span = max(n, 1)
    if kind == "int":
        if g.draw(st.integers(0, 9)) == 0:      # out of range: an error on every side
            return span
        return g.draw(st.integers(-span, span - 1))
    dims = g.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=n, unique=True))
    return tuple(dims)


_REDUCTIONS = {
    # name: (takes a tuple of dims, result exact for exact input, needs exact input)
    "sum": (True, True, False), "prod": (False, True, False), "amax": (True, True, False),
    "amin": (True, True, False), "any": (True, True, True), "all": (True, True, True),
    "mean": (True, False, False), "std": (True, False, False), "var": (True, False, False),
    "logsumexp": (True, False, False), "argmax": (False, True, True),
    "argmin": (False, True, True), "max": (False, True, True), "min": (False, True, True),
    "count_nonzero": (True, True, True), "cumsum": (False, True, False),
    "cumprod": (False, True, False), "softmax": (False, False, False),
    "log_softmax": (False, False, False), "norm": (True, False, False),
}


def _reduction(g):
    name = g.draw(st.sampled_from(sorted(_REDUCTIONS)))
    tuples, exact, needs_exact = _REDUCTIONS[name]
    x = g.pick(exact=needs_exact, op=name)
    if x is None:
        return None
    must_dim = name in ("cumsum", "cumprod", "softmax", "log_softmax", "logsumexp")
    dim = _dim(g, x, allow_none=not must_dim, tuples=tuples)
    args = [x.name]
    if dim is not None:
        args.append(f"dim={dim!r}")
    if name not in ("cumsum", "cumprod", "softmax", "log_softmax", "count_nonzero") and \
            dim is not None and g.draw(st.booleans()):
        args.append("keepdim=True")
    if name in ("std", "var") and g.draw(st.booleans()):
        args.append("correction=0")
    return name, f"torch.{name}({', '.join(args)})", [x], exact


def _view(g):
    x = g.pick()
    if x is None:
        return None
    n, shape, draw = x.ndim, x.shape, g.draw
    span = max(n, 1)
    d = draw(st.integers(-span, span - 1))
    kinds = ["transpose", "permute", "reshape", "flatten", "unsqueeze", "squeeze", "flip",
             "movedim", "contiguous", "clone", "detach", "roll", "repeat", "view", "expand",
             "narrow", "select", "split", "unbind", "diagonal", "tril", "t", "unflatten",
             "to", "ravel", "chunk"]
    kind = draw(st.sampled_from(kinds))
    exact = True
    if kind == "transpose":
        expr = f"{x.name}.transpose({d}, {draw(st.integers(-span, span - 1))})"
    elif kind == "permute":
        expr = f"{x.name}.permute({tuple(draw(st.permutations(range(n))))})"
    elif kind in ("reshape", "view"):
        dims = list(draw(shapes(max_ndim=3)))
        numel = math.prod(shape)
        if draw(st.integers(0, 3)):             # usually a valid shape
            dims = _factor(numel, draw)
            if dims and draw(st.booleans()):
                dims[draw(st.integers(0, len(dims) - 1))] = -1
        expr = f"{x.name}.{kind}({tuple(dims)})"
    elif kind == "flatten":
        expr = f"torch.flatten({x.name}, {d})"
    elif kind == "unsqueeze":
        expr = f"{x.name}.unsqueeze({draw(st.integers(-n - 1, n))})"
    elif kind == "squeeze":
        expr = f"{x.name}.squeeze({d})" if draw(st.booleans()) else f"{x.name}.squeeze()"
    elif kind == "flip":
        expr = f"torch.flip({x.name}, {_dim(g, x, allow_none=False) if n else (0,)!r})"
    elif kind == "movedim":
        expr = f"torch.movedim({x.name}, {d}, {draw(st.integers(-span, span - 1))})"
    elif kind in ("contiguous", "clone", "detach", "t", "ravel"):
        expr = f"{x.name}.{kind}()"
    elif kind == "roll":
        expr = f"torch.roll({x.name}, {draw(st.integers(-3, 3))}, {d})"
    elif kind == "repeat":
        reps = tuple(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n + 1)))
        expr = f"{x.name}.repeat({reps})"
    elif kind == "expand":
        target = tuple(draw(st.sampled_from((k, 2, -1))) if k == 1 else
                       draw(st.sampled_from((k, -1))) for k in shape)
        expr = f"{x.name}.expand({(2,) + target if draw(st.booleans()) else target})"
    elif kind == "narrow":
        size = shape[d] if n else 0
        start = draw(st.integers(-size, max(size, 1)))
        expr = f"{x.name}.narrow({d}, {start}, {draw(st.integers(0, max(size, 1)))})"
    elif kind == "select":
        size = shape[d] if n else 1
        expr = f"{x.name}.select({d}, {draw(st.integers(-size, size))})"
    elif kind in ("split", "chunk"):
        expr = (f"torch.{kind}({x.name}, {draw(st.integers(1, 3))}, dim={d})"
                f"[{draw(st.integers(0, 1))}]")
    elif kind == "unbind":
        expr = f"torch.unbind({x.name}, {d})[{draw(st.integers(-1, 1))}]"
    elif kind == "diagonal":
        expr = f"torch.diagonal({x.name}, {draw(st.integers(-1, 1))})"
    elif kind == "tril":
        expr = f"torch.{draw(st.sampled_from(('tril', 'triu')))}({x.name}, " \
               f"{draw(st.integers(-1, 1))})"
    elif kind == "unflatten":
        size = shape[d] if n else 1
        expr = f"{x.name}.unflatten({d}, {tuple(_factor(size, draw) or [size])})"
    else:   # to: casts; a float value cast to an integer dtype must be exact and in range
        target = draw(st.sampled_from(g.dtypes))
        if x.dtype in FLOATS and target not in FLOATS:
            info = np.iinfo(target) if target != "bool" else None
            host = x.host.astype(np.float64)
            if not x.exact or not x.finite or (info and host.size and (
                    host.min() < info.min or host.max() > info.max)):
                return None
        exact = target in FLOATS and (x.dtype not in FLOATS or
                                      FLOATS.index(target) >= FLOATS.index(x.dtype))
        exact = exact or target not in FLOATS
        expr = f"{x.name}.to(torch.{target})"
    return kind, expr, [x], exact


def _factor(numel, draw):
    """A random shape with `numel` elements (up to 3 dims)."""
    dims = []
    rest = numel
    for _ in range(draw(st.integers(0, 2))):
        divs = [k for k in range(1, rest + 1) if rest % k == 0] if rest else [0, 1, 2]
        k = draw(st.sampled_from(divs))
        dims.append(k)
        rest = rest // k if k else rest
    if rest != 1 or not dims or numel == 0:
        dims.append(rest if numel else draw(st.sampled_from((0, 1, 2))))
    return dims


def _index(g):
    draw = g.draw
    kind = draw(st.sampled_from(("basic", "basic", "int_tensor", "bool_mask", "gather",
                                 "index_select", "take", "masked_fill", "masked_select")))
    x = g.pick(op=kind if kind in OPS else None)
    if x is None:
        return None
    n, shape = x.ndim, x.shape
    if kind == "basic":
        parts = []
        for k in range(draw(st.integers(1, max(n, 1)))):
            size = shape[k] if k < n else 1
            part = draw(st.sampled_from(("int", "slice", "none", "ellipsis", "all")))
            if part == "int":
                parts.append(str(draw(st.integers(-size, size))))
            elif part == "slice":
                parts.append(f"{draw(st.integers(-size - 1, size + 1))}:"
                             f"{draw(st.integers(-size - 1, size + 1))}:"
                             f"{draw(st.integers(1, 3))}")
            else:
                parts.append({"none": "None", "ellipsis": "...", "all": ":"}[part])
        return "getitem", f"{x.name}[{', '.join(parts)}]", [x], True
    size = shape[0] if n else 1
    if kind == "int_tensor":
        idx = draw(st.lists(st.integers(-size, size), min_size=0, max_size=4))
        src = f"torch.tensor({idx}, dtype=torch.int64, device=DEV)"
        rest = ", 1:" if n > 1 and draw(st.booleans()) else ""
        return "index", f"{x.name}[{src}{rest}]", [x], True
    if kind == "bool_mask":
        mask = draw(st.lists(st.booleans(), min_size=size, max_size=size)) if n else \
            draw(st.booleans())
        return "mask", f"{x.name}[torch.tensor({mask}, device=DEV)]", [x], True
    if kind in ("gather", "index_select"):
        d = draw(st.integers(-max(n, 1), max(n, 1) - 1))
        size = shape[d] if n else 1
        if kind == "index_select":
            idx = draw(st.lists(st.integers(0, size), min_size=0, max_size=4))
            src = f"torch.tensor({idx}, dtype=torch.int64, device=DEV)"
            return kind, f"torch.index_select({x.name}, {d}, {src})", [x], True
        ishape = tuple(min(k, draw(st.integers(0, 2))) if i != (d % max(n, 1)) else
                       draw(st.integers(0, 3)) for i, k in enumerate(shape))
        idx = draw(st.lists(st.integers(0, max(size - 1, 0)), min_size=math.prod(ishape),
                            max_size=math.prod(ishape)))
        src = (f"torch.tensor({_nested(idx, ishape)}, dtype=torch.int64, device=DEV)"
               if math.prod(ishape) else f"torch.zeros({ishape}, dtype=torch.int64, device=DEV)")
        return kind, f"torch.gather({x.name}, {d}, {src})", [x], True
    if kind == "take":
        numel = math.prod(shape)
        idx = draw(st.lists(st.integers(-numel, numel), min_size=0, max_size=4))
        src = f"torch.tensor({idx}, dtype=torch.int64, device=DEV)"
        return kind, f"torch.take({x.name}, {src})", [x], True
    m = g.pick(lambda v: v.dtype == "bool" and _broadcasts(v.shape, x.shape))
    if m is None:
        m = g.leaf(shape=x.shape, dtype="bool", layout="contiguous")
    if kind == "masked_select":
        return kind, f"torch.masked_select({x.name}, {m.name})", [x, m], True
    value = _literal(draw(scalars(x.dtype)))
    return kind, f"{x.name}.masked_fill({m.name}, {value})", [x, m], True


_INPLACE_UNARY = ("neg_", "abs_", "exp_", "zero_", "relu_", "floor_", "sqrt_", "sigmoid_")
_INPLACE_BINARY = ("add_", "sub_", "mul_", "div_", "copy_", "clamp_", "maximum")


def _inplace(g):
    """clone a value, then write into it (or into a view of it) in place."""
    x = g.pick()
    if x is None:
        return None
    draw = g.draw
    view = draw(st.sampled_from(("", "", "[1:]", "[..., ::2]", ".transpose(0, -1)", "[0]")))
    if x.ndim == 0 and view:
        view = ""
    kind = draw(st.sampled_from(("unary", "binary", "setitem", "fill", "clamp",
                                 "masked_fill", "index_put")))
    lines = [f"{{var}} = {x.name}.clone()"]
    operands = [x]
    target = "{var}" + view
    if kind == "unary":
        name = draw(st.sampled_from(_INPLACE_UNARY))
        lines.append(f"{target}.{name}()")
        exact = name in ("neg_", "abs_", "zero_", "relu_", "floor_")
    elif kind in ("binary", "setitem"):
        name = draw(st.sampled_from(_INPLACE_BINARY)) if kind == "binary" else "setitem"
        src, b = g.operand2(x, allow_scalar=name not in ("copy_", "maximum"))
        if name == "maximum":       # an out= form would be another API: use the operator
            lines.append(f"{target}[...] = torch.maximum({target}, {src})")
        elif name == "clamp_":
            lines.append(f"{target}.clamp_(min={src})")
        elif name == "setitem":
            lines.append(f"{target}[...] = {src}" if draw(st.booleans()) else
                         f"{{var}}[{draw(st.integers(-1, 1))}] = {src}")
        else:
            lines.append(f"{target}.{name}({src})")
        operands += [b] if b else []
        exact = name != "div_"
    elif kind == "fill":
        lines.append(f"{target}.fill_({_literal(draw(scalars(x.dtype)))})")
        exact = True
    elif kind == "clamp":
        lo, hi = draw(scalars(x.dtype)), draw(scalars(x.dtype))
        lines.append(f"{target}.clamp_({_literal(lo)}, {_literal(hi)})")
        exact = True
    elif kind == "masked_fill":
        lines.append(f"{target}.masked_fill_({target} > 0, {_literal(draw(scalars(x.dtype)))})")
        if not x.exact:
            return None
        exact = True
    else:
        size = x.shape[0] if x.ndim else 1
        idx = draw(st.lists(st.integers(-size, size), min_size=0, max_size=3))
        acc = draw(st.booleans())
        lines.append(f"{{var}}.index_put_((torch.tensor({idx}, dtype=torch.int64, "
                     f"device=DEV),), torch.tensor({_literal(draw(scalars(x.dtype)))}, "
                     f"device=DEV).to({{var}}.dtype), accumulate={acc})")
        exact = True
    return "inplace_" + kind, "\n".join(lines), operands, exact


def _combine(g):
    kind = g.draw(st.sampled_from(("cat", "stack", "where", "clamp", "clamp_tensor", "lerp")))
    x = g.pick(exact=kind in ("clamp", "clamp_tensor", "where"),
               op=kind.replace("_tensor", ""))
    if x is None:
        return None
    draw = g.draw
    if kind in ("cat", "stack"):
        same = kind == "stack" or draw(st.booleans())
        if same:
            y = g.leaf(shape=x.shape)
        else:
            y = g.pick(lambda v: v is not x) or g.leaf()
        d = draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1))
        return kind, f"torch.{kind}([{x.name}, {y.name}], {d})", [x, y], True
    if kind == "where":
        src, b = g.operand2(x)
        c = g.pick(lambda v: v.dtype == "bool" and v.exact) or \
            g.leaf(shape=x.shape, dtype="bool", layout="contiguous")
        if b is not None and not b.exact:
            return None
        return kind, f"torch.where({c.name}, {x.name}, {src})", [c, x] + ([b] if b else []), \
            True
    if kind == "clamp":
        lo, hi = draw(scalars(x.dtype)), draw(scalars(x.dtype))
        form = draw(st.sampled_from(("both", "min", "max")))
        args = {"both": f"{_literal(lo)}, {_literal(hi)}", "min": f"min={_literal(lo)}",
                "max": f"max={_literal(hi)}"}[form]
        return kind, f"torch.clamp({x.name}, {args})", [x], True
    if kind == "clamp_tensor":
        lo = g.partner(x)
        if not lo.exact:
            return None
        return kind, f"torch.clamp({x.name}, min={lo.name})", [x, lo], True
    y = g.partner(x)
    w = _literal(draw(st.sampled_from((0.5, 0.25, 2.0))))
    return kind, f"torch.lerp({x.name}, {y.name}, {w})", [x, y], False


FAMILIES = {"unary": _unary, "binary": _binary, "reduction": _reduction, "view": _view,
            "index": _index, "inplace": _inplace, "combine": _combine}


# ----------------------------------------------------------------------------- running

class Outcome:
    """What one side computed: per step a snapshot or the exception, the values of every
    step after the whole forward (views see later in-place writes), and leaf gradients."""

    def __init__(self):
        self.steps = []         # (snapshot, exception)
        self.final = []         # snapshot per step that succeeded
        self.grads = None       # {leaf name: array or None} or the exception of backward


def _snapshot(x, lib):
    if isinstance(x, (tuple, list)):
        return [_snapshot(v, lib) for v in x]
    if isinstance(x, lib.Tensor):
        host = x.detach().cpu()
        host = host.numpy() if lib is not plugtorch else np.asarray(host.numpy())
        return ("tensor", str(x.dtype).rsplit(".", 1)[-1], tuple(x.shape),
                np.array(host, copy=True), bool(x.requires_grad))
    return ("value", type(x).__name__, (), np.asarray(x), False)


def run(program, lib, device="cpu"):
    """Execute `program` with `torch` bound to `lib` (plugtorch or torch) on `device`."""
    ns = _namespace(lib, device)
    out = Outcome()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for line in program.leaves:
            exec(line, ns)
        for s in program.steps:
            try:
                exec(s.code, ns)
                out.steps.append((_snapshot(ns[s.var], lib), None))
            except Exception as e:  # noqa: BLE001 - compared with the other side's outcome
                out.steps.append((None, e))
                return out
        out.final = [_snapshot(ns[s.var], lib) for s in program.steps]
        if program.grad_leaves:
            try:
                exec(_loss_source(program).split("  #")[0], ns)
                loss = ns["loss"]
                if isinstance(loss, lib.Tensor) and loss.requires_grad:
                    loss.backward()
                out.grads = {b: None if ns[b].grad is None else _snapshot(ns[b].grad, lib)
                             for b in program.grad_leaves}
            except Exception as e:  # noqa: BLE001
                out.grads = e
    return out


class Divergence:
    """One difference between two sides.

    Attributes:
        kind: "outcome", "error-type", "dtype", "shape", "values", "requires_grad",
            "final" (a value changed afterwards differently), "grad", "backward".
        step: the Step it is at (None for gradients).
        message: what differs.
        dtypes: the dtypes of the step's operands (for gradients, of the leaf).
        ops, codes: the op names and source of the step, or of every step for gradients.
    """
    __slots__ = ("kind", "step", "message", "dtypes", "ops", "codes")

    def __init__(self, kind, step, message, dtypes=(), program=None):
        self.kind, self.step, self.message, self.dtypes = kind, step, message, tuple(dtypes)
        steps = [step] if step is not None else program.steps
        self.ops = {s.op for s in steps}
        self.codes = "\n".join(s.code for s in steps)

    @property
    def op(self):
        return self.step.op if self.step is not None else None

    def __repr__(self):
        where = f"at `{self.step.code.splitlines()[-1]}`" if self.step else "in backward"
        return f"{self.kind} {where}: {self.message}"


def _exc(e):
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else ''}"


def _compare_snap(a, b, scale, label):
    """Problems (kind, message) between two snapshots; `a` is ours."""
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return [("shape", f"{label}: results differ in structure")]
        return [p for k, (x, y) in enumerate(zip(a, b))
                for p in _compare_snap(x, y, scale, f"{label}[{k}]")]
    _, adt, ash, av, arg = a
    _, bdt, bsh, bv, brg = b
    if adt != bdt:
        return [("dtype", f"{label}: dtype {adt} | expected {bdt}")]
    if ash != bsh:
        return [("shape", f"{label}: shape {ash} | expected {bsh}")]
    problems = []
    if arg != brg:
        problems.append(("requires_grad", f"{label}: requires_grad {arg} | expected {brg}"))
    atol, rtol = tolerances(av.dtype)
    bad = mismatch(av, bv, scale * atol, scale * rtol)
    if bad is not None:
        problems.append(("values", f"{label}: {bad}"))
    return problems


def compare(program, ours, theirs, *, same_errors, scale=4.0):
    """Divergences of `ours` from `theirs` (two Outcomes of `program`).

    Args:
        same_errors: whether an error must be of the same class (else both raising is
            enough).
        scale: multiple of the dtype's tolerance allowed (each side rounds differently).
    """
    found = []
    for s, (mine, e1), (ref, e2) in zip(program.steps, ours.steps, theirs.steps):
        dts = [v.dtype for v in s.operands]
        if e1 is not None or e2 is not None:
            if (e1 is None) != (e2 is None):
                msg = (f"raised {_exc(e1)} | expected a result" if e1 else
                       f"returned a result | expected {_exc(e2)}")
                found.append(Divergence("outcome", s, msg, dts))
            elif same_errors and type(e1) is not type(e2):
                found.append(Divergence("error-type", s, f"raised {_exc(e1)} | expected "
                                        f"{_exc(e2)}", dts))
            return found
        for kind, msg in _compare_snap(mine, ref, scale, s.var):
            found.append(Divergence(kind, s, msg, dts))
        if found:
            return found
    for s, mine, ref in zip(program.steps, ours.final, theirs.final):
        for kind, msg in _compare_snap(mine, ref, scale, s.var + " after the program"):
            found.append(Divergence("final", s, f"{kind}: {msg}",
                                    [v.dtype for v in s.operands]))
    if found:
        return found
    g1, g2 = ours.grads, theirs.grads
    if isinstance(g1, Exception) or isinstance(g2, Exception):
        if isinstance(g1, Exception) != isinstance(g2, Exception):
            msg = (f"backward raised {_exc(g1)} | expected none" if isinstance(g1, Exception)
                   else f"backward returned | expected {_exc(g2)}")
            found.append(Divergence("backward", None, msg, program=program))
        return found
    for b in program.grad_leaves if g1 is not None and g2 is not None else ():
        x, y = g1.get(b), g2.get(b)
        if x is None or y is None:
            if (x is None) != (y is None):
                found.append(Divergence("grad", None, f"{b}.grad is "
                                        f"{'None' if x is None else 'set'} | expected "
                                        f"{'None' if y is None else 'set'}",
                                        program=program))
            continue
        for kind, msg in _compare_snap(x, y, 4 * scale, f"{b}.grad"):
            found.append(Divergence("grad", None, f"{kind}: {msg}", [x[1]], program))
    return found
