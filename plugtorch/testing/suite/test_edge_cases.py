"""Edge cases of indexing, in-place writes, integer arithmetic and autograd, each with its
expected value written out (closed forms, or numpy), the same on every backend."""
import numpy as np
import pytest

import plugtorch
from plugtorch.testing import assert_values, to_host


# ----------------------------------------------------------------------------- indexing

@pytest.mark.parametrize("key", [
    lambda i: (slice(None), i, slice(None, None, 2)),
    lambda i: (0, i),
    lambda i: (Ellipsis, i, slice(1, 2)),
    lambda i: (None, slice(None), i),
], ids=["slice-index-step", "int-index", "ellipsis", "newaxis"])
def test_indexing_an_expanded_input_gives_each_element_one_gradient(device, key):
    """Basic + advanced indexing of an expanded tensor: the gradient of the expanded tensor is
    one per selected element, then summed over the expanded dim by expand's backward."""
    base_np = np.array([[[1.0, 2.0]]], np.float32)
    base = plugtorch.tensor(base_np, device=device, requires_grad=True)
    idx = plugtorch.tensor([0, 2, 2], device=device)
    a = base.expand(1, 4, 2)
    a[key(idx)].sum().backward()
    # the same key on a fresh (non-overlapping) copy: ones where selected, counted
    ones = np.zeros((1, 4, 2), np.float32)
    np.add.at(ones, key(np.array([0, 2, 2])), 1.0)
    assert_values(base.grad, ones.sum(axis=1, keepdims=True))


# ----------------------------------------------------------------------------- clamp

@pytest.mark.parametrize("lo, hi, grads", [
    # input [-1, .5, 1, 2]: (d/dx, d/dmin, d/dmax), as PyTorch defines them
    ([0.0] * 4, [1.0] * 4, ([0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1])),
    ([1.0] * 4, [0.0] * 4, ([0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1])),   # min > max: all max
    ([1.0] * 4, [1.0] * 4, ([0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1])),
    ([0.0] * 4, None, ([0, 1, 1, 1], [1, 0, 0, 0], None)),
    (None, [1.0] * 4, ([1, 1, 1, 0], None, [0, 0, 0, 1])),
], ids=["ordered", "min-above-max", "equal", "min-only", "max-only"])
def test_clamp_gradients_with_tensor_bounds(device, lo, hi, grads):
    x = plugtorch.tensor([-1.0, 0.5, 1.0, 2.0], device=device, requires_grad=True)
    bounds = [None if b is None else plugtorch.tensor(b, device=device, requires_grad=True)
              for b in (lo, hi)]
    out = plugtorch.clamp(x, *bounds)
    lo_np = -np.inf if lo is None else np.array(lo)
    hi_np = np.inf if hi is None else np.array(hi)
    assert_values(out, np.minimum(np.maximum([-1.0, 0.5, 1.0, 2.0], lo_np), hi_np))
    out.sum().backward()
    for t, expected in zip([x] + bounds, grads):
        if expected is not None:
            assert_values(t.grad, np.array(expected, np.float32))


def test_clamp_promotes_over_all_three_operands(device):
    f64 = plugtorch.float64
    out = plugtorch.clamp(plugtorch.zeros(1, device=device),
                          plugtorch.tensor(0.1, dtype=f64, device=device),
                          plugtorch.ones(1, dtype=f64, device=device))
    assert out.dtype is f64 and to_host(out).tolist() == [0.1]
    out = plugtorch.tensor([1, 5], device=device).clamp(min=1.5)
    assert out.dtype is plugtorch.float32 and to_host(out).tolist() == [1.5, 5.0]


def test_clamp_inplace_checks_dtype_and_shape(device):
    with pytest.raises(RuntimeError, match="Float can't be cast to the desired output type"):
        plugtorch.tensor([1, 2], dtype=plugtorch.int8, device=device).clamp_(max=1.5)
    for requires_grad in (False, True):
        x = plugtorch.zeros(3, device=device, requires_grad=requires_grad).clone()
        with pytest.raises(RuntimeError, match=r"clamp_: output with shape \[3\] doesn't match "
                                               r"the broadcast shape \[2, 3\]"):
            x.clamp_(min=plugtorch.zeros(2, 3, device=device))


# ----------------------------------------------------------------------------- overlap

@pytest.mark.parametrize("write", [
    lambda e: e.add_(1), lambda e: e.mul_(2), lambda e: e.exp_(), lambda e: e.clamp_(0, 1),
    lambda e: e.copy_(plugtorch.ones(3, device=e.device)), lambda e: e.uniform_(),
    lambda e: e.relu_(),
], ids=["add_", "mul_", "exp_", "clamp_", "copy_", "uniform_", "relu_"])
def test_inplace_write_into_an_expanded_tensor_is_refused(device, write):
    base = plugtorch.tensor([1.0], device=device)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor "
                                           "refers to a single memory location"):
        write(base.expand(3))
    assert to_host(base).tolist() == [1.0]


def test_filling_an_expanded_tensor_is_allowed(device):
    """Writes that give every element the same value are allowed, as in PyTorch."""
    base = plugtorch.tensor([1.0], device=device)
    base.expand(3).fill_(4.0)
    assert to_host(base).tolist() == [4.0]
    base.expand(3).zero_()
    assert to_host(base).tolist() == [0.0]


# ----------------------------------------------------------------------------- in-place autograd

def _leaf(values, device):
    return plugtorch.tensor(values, device=device, requires_grad=True)


@pytest.mark.parametrize("overwrite", [
    lambda out, v: out.__setitem__(slice(None), v),
    lambda out, v: out.copy_(v),
    lambda out, v: out.__setitem__(Ellipsis, v),
], ids=["setitem-all", "copy_", "setitem-ellipsis"])
def test_fully_overwritten_input_gets_a_zero_gradient(device, overwrite):
    """PyTorch gives zeros (not None) to a tensor whose every element was overwritten."""
    a, v = _leaf([1.0, 2.0], device), _leaf([3.0, 4.0], device)
    out = a.clone()
    overwrite(out, v)
    (out * plugtorch.tensor([2.0, 3.0], device=device)).sum().backward()
    assert a.grad is not None and to_host(a.grad).tolist() == [0.0, 0.0]
    assert to_host(v.grad).tolist() == [2.0, 3.0]


@pytest.mark.parametrize("op", ["ge_", "lt_", "eq_", "ne_"])
def test_inplace_comparison_gives_zero_gradients(device, op):
    a, b = _leaf([1.0, 2.0], device), _leaf([1.5, 1.0], device)
    out = a.clone()
    getattr(out, op)(b)
    (out * 2).sum().backward()
    assert to_host(a.grad).tolist() == [0.0, 0.0]
    assert b.grad is not None and to_host(b.grad).tolist() == [0.0, 0.0]


# ----------------------------------------------------------------------------- integer arithmetic

@pytest.mark.parametrize("divide", [
    lambda x, y: x // y, lambda x, y: x % y, lambda x, y: plugtorch.fmod(x, y),
    lambda x, y: plugtorch.div(x, y, rounding_mode="trunc"),
    lambda x, y: plugtorch.div(x, y, rounding_mode="floor"),
    lambda x, y: x.clone().floor_divide_(y), lambda x, y: x.clone().remainder_(y),
], ids=["floordiv", "mod", "fmod", "div-trunc", "div-floor", "floor_divide_", "remainder_"])
@pytest.mark.parametrize("divisor", ["tensor", "number"])
def test_integer_division_by_zero_raises(device, divide, divisor):
    """RuntimeError('ZeroDivisionError') as PyTorch: at once on host memory, at the next host
    read on a device (as the index checks)."""
    x = plugtorch.tensor([5, -3, 7], device=device)
    y = plugtorch.tensor([2, 0, 1], device=device) if divisor == "tensor" else 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        to_host(divide(x, y))
    # the error does not linger: the next read is clean, and nonzero divisors are fine
    ok = divide(x, plugtorch.tensor([2, -2, 3], device=device))
    a, b = np.array([5, -3, 7]), np.array([2, -2, 3])
    assert to_host(ok).tolist() in (list(a // b), list(a % b), list(np.fmod(a, b)),
                                    list(np.trunc(a / b).astype(int)))
    # true division of integers is float division: inf and nan, no error
    assert to_host(x / 0).tolist()[:2] == [np.inf, -np.inf]


@pytest.mark.parametrize("subtract", [
    lambda x: x - True, lambda x: x.sub_(True), lambda x: True - x,
    lambda x: x - plugtorch.tensor([True, False, True], device=x.device),
], ids=["sub-bool", "isub-bool", "rsub-bool", "sub-bool-tensor"])
def test_subtraction_with_a_bool_is_refused(device, subtract):
    x = plugtorch.tensor([1, 2, 3], device=device)
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor "
                                           "is not supported"):
        subtract(x)
    assert to_host(x).tolist() == [1, 2, 3]


@pytest.mark.parametrize("dtype, op, scalar, expected", [
    ("uint8", "add", -3, [9, 253]),
    ("uint8", "add", 300, [56, 44]),
    ("int8", "mul", 1000, [-32, 0]),
    ("int16", "sub", 40000, [25548, 25536]),
    ("int32", "add", 2**40, [12, 0]),
])
def test_python_int_outside_the_dtype_range_wraps(device, dtype, op, scalar, expected):
    """As in PyTorch (and C): the number is taken modulo 2**bits of the tensor's dtype."""
    x = plugtorch.tensor([12, 0], dtype=getattr(plugtorch, dtype), device=device)
    out = getattr(plugtorch, op)(x, scalar)
    assert out.dtype is x.dtype and to_host(out).tolist() == expected


def test_integer_power_with_negative_exponents(device):
    base = plugtorch.tensor([1, -1, -1, 2, 0, -2, 3], device=device)
    exp = plugtorch.tensor([-1, -1, -2, -1, -1, -2, -3], device=device)
    assert to_host(base ** exp).tolist() == [1, -1, 1, 0, 0, 0, 0]
    assert to_host(2 ** plugtorch.tensor([-1, 0, 3], device=device)).tolist() == [0, 1, 8]
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        base ** -1


# ----------------------------------------------------------------------------- 0-d and empty

def test_flip_and_movedim_of_a_0d_tensor(device):
    x = plugtorch.tensor(3.0, device=device)
    for out in (x.flip(0), x.flip(-1), plugtorch.movedim(x, 0, 0), plugtorch.movedim(x, -1, 0)):
        assert out.shape == () and to_host(out).tolist() == 3.0
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.flip(1)


def test_detach_of_a_view_can_be_written_in_place(device):
    """detach() leaves the graph: in-place writes are allowed and seen by the storage."""
    a = plugtorch.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    d = a[1:].detach()
    d.add_(1)
    assert not d.requires_grad and to_host(a.detach()).tolist() == [1.0, 3.0, 4.0]


@pytest.mark.parametrize("make", [
    lambda z: z(0, 3).t(), lambda z: z(3, 0)[:, ::2], lambda z: z(2, 0, 3).transpose(0, 2),
    lambda z: z(4, 3)[4:], lambda z: z(0),
], ids=["t", "step", "transpose", "tail", "flat"])
def test_empty_tensors_are_contiguous(device, make):
    t = make(lambda *s: plugtorch.zeros(*s, device=device))
    assert t.numel() == 0 and t.is_contiguous()


@pytest.mark.parametrize("view", [
    lambda a: a.as_strided((0, 3), (3, 1), 6), lambda a: a.as_strided((0,), (1,), 6),
    lambda a: a[2:], lambda a: a[:, 3:].t(), lambda a: a.narrow(0, 2, 0),
], ids=["as_strided-2d", "as_strided-1d", "slice", "slice-t", "narrow"])
def test_backward_through_an_empty_view_at_the_end_of_its_base(device, view):
    a = plugtorch.zeros(2, 3, device=device, requires_grad=True)
    (view(a) * 2).sum().backward()
    assert to_host(a.grad).tolist() == [[0.0] * 3] * 2


# ----------------------------------------------------------------------------- error classes

@pytest.mark.parametrize("src_shape", [(2,), (2, 2, 2)])
@pytest.mark.parametrize("op", ["scatter_", "scatter_add_"])
def test_scatter_src_of_another_rank_is_refused(device, op, src_shape):
    x = plugtorch.zeros(3, 3, device=device)
    with pytest.raises(RuntimeError, match="Index tensor must have the same number of "
                                           "dimensions as src tensor"):
        getattr(x, op)(0, plugtorch.tensor([[0, 1]], device=device),
                       plugtorch.ones(*src_shape, device=device))
    assert to_host(x).tolist() == [[0.0] * 3] * 3


@pytest.mark.parametrize("op, error", [
    (lambda x, i: x.gather(0, i.reshape(1, 1)), RuntimeError),
    (lambda x, i: x.scatter(0, i.reshape(1, 1), 1.0), RuntimeError),
    (lambda x, i: x.scatter_add(0, i.reshape(1, 1), x[:1, :1]), RuntimeError),
    (lambda x, i: x.index_select(0, i), IndexError),
    (lambda x, i: x[i], IndexError),
], ids=["gather", "scatter", "scatter_add", "index_select", "getitem"])
def test_out_of_range_index_error_classes(device, op, error):
    """PyTorch's classes: RuntimeError for gather/scatter, IndexError for index_select and
    indexing -- at the op on the host, at the next host read on a device."""
    x = plugtorch.zeros(3, 3, device=device)
    with pytest.raises(error, match="index 5 is out of bounds for dimension 0 with size 3"):
        to_host(op(x, plugtorch.tensor([5], device=device)))


def test_conversion_error_classes(device):
    x = plugtorch.zeros(3, device=device)
    with pytest.raises(ValueError, match="only one element tensors can be converted"):
        float(x)
    with pytest.raises(ValueError, match="only one element tensors can be converted"):
        int(x)
    with pytest.raises(RuntimeError, match="a Tensor with 3 elements cannot be converted"):
        x.item()
    empty = plugtorch.zeros(0, 3, device=device)
    for op in ("amin", "amax"):
        with pytest.raises(RuntimeError, match=f"{op}\\(\\): Expected reduction dim to be "
                                               f"specified for input.numel\\(\\) == 0"):
            getattr(empty, op)()
        with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
            getattr(empty, op)(0)


# ----------------------------------------------------------------------------- found by the
# randomized differential test (tests/test_differential.py)

def test_lerp_is_two_sided(device):
    """input + w*(end-input) for |w| < 0.5, else end - (end-input)*(1-w): exact at both ends
    and PyTorch's inf/NaN for infinite operands."""
    inf = float("inf")
    start = plugtorch.tensor([inf, -2.0, 0.0, 1.0], device=device)
    end = plugtorch.tensor([1.0, inf, 10.0, 3.0], device=device)
    out = to_host(plugtorch.lerp(start, end, 0.5))
    assert out[0] == inf and np.isnan(out[1]) and out[2:].tolist() == [5.0, 2.0]
    w = plugtorch.tensor([0.25, 0.75, 1.0, 0.0], device=device)
    assert to_host(plugtorch.lerp(start, end, w))[2:].tolist() == [10.0, 1.0]


def test_atan2_gradient_at_the_origin_is_zero(device):
    x = plugtorch.tensor([0.0, 2.5], device=device, requires_grad=True)
    y = plugtorch.tensor([0.0, 0.0], device=device, requires_grad=True)
    plugtorch.atan2(x, y).sum().backward()
    assert to_host(x.grad).tolist() == [0.0, 0.0]
    assert_values(y.grad, np.array([0.0, -0.4], np.float32))


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_gradient_with_nan_and_ties(device, op):
    """The winner gets the gradient, a tie splits it, and with a NaN both operands get it."""
    x = plugtorch.tensor([float("nan"), 1.0, 2.0, 3.0], device=device, requires_grad=True)
    y = plugtorch.tensor([0.0, 1.0, 5.0, 0.0], device=device, requires_grad=True)
    w = plugtorch.tensor([1.0, 2.0, 3.0, 4.0], device=device)
    (getattr(plugtorch, op)(x, y) * w).sum().backward()
    x_wins = [0.0, 0.0, 4.0] if op == "maximum" else [0.0, 3.0, 0.0]
    y_wins = [0.0, 3.0, 0.0] if op == "maximum" else [0.0, 0.0, 4.0]
    assert to_host(x.grad).tolist() == [1.0, 1.0] + x_wins[1:]
    assert to_host(y.grad).tolist() == [1.0, 1.0] + y_wins[1:]


@pytest.mark.parametrize("n", [6, 3000])          # below and above the cpu where's switch
@pytest.mark.parametrize("create_graph", [False, True])
def test_relu_gradient_is_threshold_backward(device, n, create_graph):
    """As PyTorch: the gradient passes where the output is > 0 or NaN and is exactly 0 where
    it is <= 0, also where the incoming gradient is inf or NaN (not 0 * inf)."""
    base = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1.5, 2.5, 1e-30, -1e-30])
    x = np.resize(base, n)
    g = np.resize(np.array([1.0, np.inf, np.nan, 2.0, -np.inf, np.nan, -3.0, 4.0]), n)
    xt = plugtorch.tensor(x, dtype=plugtorch.float32, device=device, requires_grad=True)
    y = xt.relu()
    (gx,) = plugtorch.autograd.grad(y, xt, plugtorch.tensor(g, dtype=plugtorch.float32,
                                                            device=device),
                                    create_graph=create_graph)
    y32 = np.maximum(x.astype(np.float32), 0)
    expected = np.where(y32 <= 0, 0.0, g).astype(np.float32)
    got = to_host(gx)
    np.testing.assert_array_equal(got, expected)
    assert not np.signbit(got[y32 <= 0]).any()


def test_shape_ops_on_0d_and_empty_inputs(device):
    s = plugtorch.tensor(5.0, device=device)
    with pytest.raises(IndexError, match="Dimension specified as 0 but tensor has no dimensions"):
        plugtorch.roll(s, 1, 0)
    assert to_host(plugtorch.roll(s, 1)).tolist() == 5.0
    picked = plugtorch.index_select(s, 0, plugtorch.tensor([0], device=device))
    assert picked.shape == () and to_host(picked).tolist() == 5.0
    with pytest.raises(RuntimeError, match="Index to scalar can have only 1 value, got 2"):
        plugtorch.index_select(s, 0, plugtorch.tensor([0, 0], device=device))
    pieces = plugtorch.chunk(plugtorch.zeros(0, 4, device=device), 3, dim=0)
    assert [tuple(p.shape) for p in pieces] == [(0, 4)] * 3


def test_clamp_of_bool_is_refused_and_clamp_inplace_keeps_its_history(device):
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        plugtorch.clamp(plugtorch.tensor([True, False], device=device), min=True)
    b = plugtorch.tensor(0.75, device=device, requires_grad=True)
    v = plugtorch.tensor([[0.5, 1.5, 0.25]], device=device).clone()
    v.clamp_(min=b)
    (v * plugtorch.tensor([1.0, 2.0, 3.0], device=device)).sum().backward()
    assert to_host(v).tolist() == [[0.75, 1.5, 0.75]] and to_host(b.grad).tolist() == 4.0


def test_float16_sums_accumulate_in_float32(device):
    """A float16 running sum would stop at 2048 (2049 is not a float16); PyTorch adds float16
    in float32 and rounds once."""
    if plugtorch.float16 not in plugtorch.empty(0, device=device)._storage.backend.dtypes:
        pytest.skip(f"float16 is not supported on {device}")
    x = plugtorch.ones(3000, 2, dtype=plugtorch.float16, device=device)
    assert to_host(x.sum(0)).tolist() == [3000.0, 3000.0]
    assert to_host(x.sum()).tolist() == 6000.0
    assert to_host(x.cumsum(0))[-1].tolist() == [3000.0, 3000.0]
