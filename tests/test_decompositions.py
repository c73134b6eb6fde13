"""The optional primitives' decompositions (plugtorch/ops/decompositions/) against the cpu
backend's native numpy kernels, on hard inputs: a backend with only the required tier must
give the same values (to rounding), the same NaN/inf/signed zeros and the same integer
wraparound."""
import numpy as np
import pytest

import plugtorch
from plugtorch import _dispatch
from plugtorch.backends import OPTIONAL

import plugtorch_minimal   # on sys.path through conftest.py

F64 = np.array([0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 2.5, 1e-300, -1e-20, 3.0, 1e15 + 0.5,
                2.0 ** 53, -(2.0 ** 60), np.inf, -np.inf, np.nan, 89.85, -89.85, 800.0, -800.0,
                1.5707963267948966, 1e-8, -1e-8])
F32 = F64.astype(np.float32)
INTS = {np.int8: [-128, -7, -1, 0, 1, 7, 127], np.uint8: [0, 1, 7, 128, 255],
        np.int64: [-(2 ** 63), -7, -1, 0, 1, 7, 2 ** 63 - 1], np.int32: [-(2 ** 31), -3, 0, 5]}


def _both(fn, *arrays, **kw):
    """fn on cpu and on minimal (strict: nothing may fall back), as numpy arrays."""
    out = []
    for device in ("cpu", "minimal"):
        with plugtorch.debug.strict(device == "minimal"):
            r = fn(*[plugtorch.tensor(a, device=device) for a in arrays], **kw)
            out.append(r.cpu().numpy() if isinstance(r, plugtorch.Tensor) else r)
    return out


def _same(cpu, minimal, rtol=0.0):
    assert cpu.dtype == minimal.dtype and cpu.shape == minimal.shape
    if rtol:
        np.testing.assert_allclose(minimal, cpu, rtol=rtol, atol=0, equal_nan=True)
    else:
        np.testing.assert_array_equal(minimal, cpu)
    if cpu.dtype.kind == "f":      # signed zeros too
        np.testing.assert_array_equal(np.signbit(minimal[cpu == 0]), np.signbit(cpu[cpu == 0]))


def test_every_optional_primitive_has_a_decomposition():
    assert set(_dispatch.DECOMPOSITIONS) == set(OPTIONAL)
    minimal = plugtorch.backends.get("minimal")
    assert all(_dispatch.resolution(n, minimal) == "decomposition" for n in OPTIONAL)


@pytest.mark.parametrize("x", [F64, F32], ids=["f64", "f32"])
@pytest.mark.parametrize("op", ["neg", "abs", "sign", "floor", "ceil", "round", "trunc",
                                "relu", "isnan", "isinf", "isfinite", "logical_not"])
def test_exact_unary(op, x):
    _same(*_both(lambda t: getattr(t, op)(), x))


@pytest.mark.parametrize("x", [F64, F32], ids=["f64", "f32"])
@pytest.mark.parametrize("op", ["sqrt", "rsqrt", "log1p", "expm1", "tanh", "sigmoid",
                                "reciprocal", "sin"])
def test_transcendental_unary(op, x):
    with np.errstate(all="ignore"):
        cpu, minimal = _both(lambda t: getattr(t, op)(), x)
    _same(cpu, minimal, rtol=4 * np.finfo(x.dtype).eps)


@pytest.mark.parametrize("dtype", list(INTS), ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", ["neg", "abs", "sign", "bitwise_not", "logical_not"])
def test_integer_unary_wraps(op, dtype):
    x = np.array(INTS[dtype], dtype)
    _same(*_both(lambda t: getattr(t, op)(), x))


@pytest.mark.parametrize("dtype", list(INTS), ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", ["bitwise_or", "bitwise_xor", "maximum", "minimum", "sub",
                                "floor_divide", "remainder", "fmod", "ne", "le", "gt", "ge"])
def test_integer_binary(op, dtype):
    vals = INTS[dtype]
    a = np.array([v for v in vals for _ in vals], dtype)
    b = np.array([w for _ in vals for w in vals], dtype)
    if op in ("floor_divide", "remainder", "fmod"):
        keep = b != 0                       # integer division by zero: PyTorch raises
        a, b = a[keep], b[keep]
    _same(*_both(lambda x, y: getattr(plugtorch, op)(x, y), a, b))


_DIVISORS = np.array([2.0, -2.0, 0.7940738, -0.7940738, np.inf, -np.inf, 3.0, -1e-300,
                      0.040250888409165304])


@pytest.mark.parametrize("op", ["floor_divide", "remainder", "fmod"])
def test_float_division_family(op):
    a = np.repeat(np.array([1.0, -1.0, 5.5, -5.5, 0.0, -0.0, 10000.0,
                            -158352115537781.22]), len(_DIVISORS))
    b = np.tile(_DIVISORS, 8)
    with np.errstate(all="ignore"):
        _same(*_both(lambda x, y: getattr(plugtorch, op)(x, y), a, b))


@pytest.mark.parametrize("op", ["maximum", "minimum", "ne", "le", "gt", "ge", "logical_and",
                                "logical_or", "logical_xor"])
def test_float_binary_with_nan_and_scalars(op):
    a = np.array([1.0, np.nan, -0.0, np.inf, 2.0, 0.0])
    b = np.array([np.nan, 1.0, 0.0, -np.inf, 2.0, 3.0])
    fn = getattr(plugtorch, op)
    _same(*_both(fn, a, b))
    _same(*_both(lambda x: fn(x, 2.0), a))


def test_reductions_scans_and_arg():
    x = np.array([[3.0, np.nan, 1.0, 3.0], [2.0, 5.0, 5.0, -1.0], [0.0, -0.0, 4.0, 4.0]])
    for fn in (lambda t: t.argmax(1), lambda t: t.argmin(1), lambda t: t.argmax(0),
               lambda t: t.amin((0, 1)), lambda t: t.prod(0), lambda t: t.any(1),
               lambda t: t.all(0), lambda t: t.t().cumsum(0), lambda t: t.cumsum(1),
               lambda t: t.nonzero(), lambda t: (t > 1).nonzero()):
        _same(*_both(fn, x))
    ints = np.array([[7, -3, 2], [0, 9, -9]], np.int64)
    for fn in (lambda t: t.prod(1), lambda t: t.amin(0), lambda t: t.cumsum(0),
               lambda t: t[:, ::2].cumsum(1), lambda t: t.argmin(1)):
        _same(*_both(fn, ints))
    empty = np.zeros((0, 3))
    for fn in (lambda t: t.prod(0), lambda t: t.any(0), lambda t: t.all(0),
               lambda t: t.cumsum(0), lambda t: t.nonzero()):
        _same(*_both(fn, empty))
    _same(*_both(lambda t: t.nonzero(), np.array(True)))


def test_in_place_forms_never_hand_copy_overlapping_operands(registered_strict_copy):
    for dtype, op in ((np.uint8, "abs_"), (np.int64, "floor_"), (np.int32, "round_"),
                      (np.bool_, "sign_")):
        t = plugtorch.tensor(np.array([1, 0, 1], dtype), device=registered_strict_copy)
        assert getattr(t, op)().tolist() == np.array([1, 0, 1], dtype).tolist()


@pytest.fixture
def registered_strict_copy():
    """A required-tier backend whose copy kernel refuses overlapping operands."""
    def copy(out, src):
        if plugtorch.backends.buffer(out) is plugtorch.backends.buffer(src) and \
                plugtorch.backends.offset(out) == plugtorch.backends.offset(src):
            raise AssertionError("copy called with out and src overlapping")
        plugtorch_minimal.KERNELS["copy"](out, src)

    class NoAlias(plugtorch_minimal.MinimalBackend):
        name = "noaliasdev"
        kernels = dict(plugtorch_minimal.KERNELS, copy=copy)

    plugtorch.backends.register(NoAlias())
    yield "noaliasdev"
    plugtorch.backends.unregister("noaliasdev")
