"""The `out=` argument on the backend under test (NOTE [out=] in plugtorch/ops/_out.py):
the value written is the op's own result (checked against numpy float64 where it is not
obvious), `out` is returned and keeps its storage, resizing, dtype, device and autograd
rules, tuple outs."""
import warnings

import numpy as np
import pytest

import plugtorch
from plugtorch.testing import assert_values, to_host
from plugtorch.testing.suite._common import widest_float

A = np.array([[0.5, -1.25, 2.0], [3.0, 0.75, -0.5]])
B = np.array([[1.5, 2.0, -0.25], [0.5, -3.0, 1.0]])
M = np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 0.25]])


def _f(a, device):
    return plugtorch.tensor(a, dtype=widest_float(device), device=device)


def _i(a, device):
    return plugtorch.tensor(a, dtype=plugtorch.int64, device=device)


# name -> (args built on the device, numpy float64 reference or None: the out-less result)
CASES = {
    "add": (lambda d: (_f(A, d), _f(B, d)), {"alpha": 2}, A + 2 * B),
    "sub": (lambda d: (_f(A, d), 1.5), {}, A - 1.5),
    "mul": (lambda d: (_f(A, d), _f(B, d)), {}, A * B),
    "div": (lambda d: (_f(A, d), _f(B, d)), {"rounding_mode": "floor"}, np.floor(A / B)),
    "pow": (lambda d: (_f(np.abs(A), d), 2.0), {}, np.abs(A) ** 2),
    "eq": (lambda d: (_f(A, d), _f(A[::-1].copy(), d)), {}, A == A[::-1]),
    "lt": (lambda d: (_f(A, d), _f(B, d)), {}, A < B),
    "logical_and": (lambda d: (_f(A, d), _f(B, d)), {}, np.logical_and(A, B)),
    "bitwise_xor": (lambda d: (_i([[5, 3], [7, 0]], d), _i([[1, 1], [2, 9]], d)), {},
                    np.array([[4, 2], [5, 9]])),
    "clamp": (lambda d: (_f(A, d), -0.5, 1.0), {}, np.clip(A, -0.5, 1.0)),
    "where": (lambda d: (_f(A, d) > 0, _f(A, d), _f(B, d)), {}, np.where(A > 0, A, B)),
    "sin": (lambda d: (_f(A, d),), {}, np.sin(A)),
    "exp": (lambda d: (_f(A, d),), {}, np.exp(A)),
    "sum": (lambda d: (_f(A, d), 1), {}, A.sum(1)),
    "mean": (lambda d: (_f(A, d), 0), {"keepdim": True}, A.mean(0, keepdims=True)),
    "prod": (lambda d: (_f(A, d), 1), {}, A.prod(1)),
    "amax": (lambda d: (_f(A, d), 0), {}, A.max(0)),
    "argmax": (lambda d: (_f(A, d), 1), {}, A.argmax(1)),
    "norm": (lambda d: (_f(A, d),), {}, np.sqrt((A ** 2).sum())),
    "logsumexp": (lambda d: (_f(A, d), 1), {}, np.log(np.exp(A).sum(1))),
    "cumsum": (lambda d: (_f(A, d), 1), {}, A.cumsum(1)),
    "std": (lambda d: (_f(A, d), 1), {}, A.std(1, ddof=1)),
    "all": (lambda d: (_f(A, d) > -2,), {}, np.array(True)),
    "mm": (lambda d: (_f(A, d), _f(M, d)), {}, A @ M),
    "matmul": (lambda d: (_f(A, d), _f(M, d)), {}, A @ M),
    "bmm": (lambda d: (_f(A[None], d), _f(M[None], d)), {}, (A @ M)[None]),
    "addmm": (lambda d: (_f(np.ones((2, 2)), d), _f(A, d), _f(M, d)), {"alpha": 2},
              1 + 2 * (A @ M)),
    "dot": (lambda d: (_f(A[0], d), _f(B[0], d)), {}, A[0] @ B[0]),
    "mv": (lambda d: (_f(A, d), _f(M[:, 0], d)), {}, A @ M[:, 0]),
    "outer": (lambda d: (_f(A[0], d), _f(M[0], d)), {}, np.outer(A[0], M[0])),
    "cat": (lambda d: ([_f(A, d), _f(B, d)], 1), {}, np.concatenate([A, B], 1)),
    "stack": (lambda d: ([_f(A, d), _f(B, d)],), {}, np.stack([A, B])),
    "hstack": (lambda d: ([_f(A, d), _f(B, d)],), {}, np.hstack([A, B])),
    "vstack": (lambda d: ([_f(A, d), _f(B, d)],), {}, np.vstack([A, B])),
    "gather": (lambda d: (_f(A, d), 1, _i([[2, 0], [1, 1]], d)), {},
               np.array([[2.0, 0.5], [0.75, 0.75]])),
    "index_select": (lambda d: (_f(A, d), 1, _i([2, 0], d)), {}, A[:, [2, 0]]),
    "take": (lambda d: (_f(A, d), _i([5, 0], d)), {}, A.ravel()[[5, 0]]),
    "tril": (lambda d: (_f(A, d),), {}, np.tril(A)),
}


def _call(name, device, out):
    args, kwargs, _ = CASES[name]
    return getattr(plugtorch, name)(*args(device), out=out, **kwargs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_out_value_identity_and_storage(device, name):
    args, kwargs, ref = CASES[name]
    expected = getattr(plugtorch, name)(*args(device), **kwargs)
    assert_values(to_host(expected).astype(np.float64), ref, atol=1e-5, rtol=1e-5)
    out = plugtorch.empty(expected.shape, dtype=expected.dtype, device=device)
    storage, data = out._storage, out._storage.data
    r = _call(name, device, out)
    assert r is out
    assert out._storage is storage and out._storage.data is data   # written in place
    assert out.dtype is expected.dtype and out.shape == expected.shape
    assert to_host(out).tolist() == to_host(expected).tolist()


@pytest.mark.parametrize("name", ["add", "mm", "sum", "cat", "argmax"])
def test_out_of_another_shape_is_resized(device, name):
    expected = _call(name, device, None)
    out = plugtorch.zeros(7, dtype=expected.dtype, device=device)
    view = out.view(7)
    with pytest.warns(UserWarning, match=rf"{name}: An output with one or more elements was "
                                         rf"resized since it had shape \[7\], which does not "
                                         rf"match the required output shape"):
        r = _call(name, device, out)
    assert r is out and out.shape == expected.shape
    assert to_host(out).tolist() == to_host(expected).tolist()
    # the resized out still shares its storage with the tensors that shared it before
    assert view._storage is out._storage
    empty = plugtorch.empty(0, dtype=expected.dtype, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _call(name, device, empty) is empty
    assert to_host(empty).tolist() == to_host(expected).tolist()


def test_out_may_be_a_strided_view_or_an_input(device):
    x = _f(A, device)
    big = plugtorch.zeros(3, 2, dtype=x.dtype, device=device)
    out = big.t()                                       # (2, 3), not contiguous
    assert plugtorch.mul(x, 2, out=out) is out
    assert_values(to_host(big), (2 * A).T)
    y = _f(A, device)
    assert plugtorch.add(y, y, out=y) is y              # out is an input
    assert_values(to_host(y), 2 * A)
    z = _f(np.arange(6.0).reshape(2, 3), device)
    plugtorch.sub(z.flip(1), 1, out=z)                  # out overlaps a view of the input
    assert_values(to_host(z), np.arange(6.0).reshape(2, 3)[:, ::-1] - 1)


def test_out_expanded_is_refused(device):
    out = plugtorch.zeros(1, 3, dtype=widest_float(device), device=device).expand(2, 3)
    with pytest.raises(RuntimeError, match="add: unsupported operation: more than one element"):
        plugtorch.add(_f(A, device), 1, out=out)


def test_out_castable_dtypes(device):
    wide = widest_float(device)
    x32 = plugtorch.tensor(A, dtype=plugtorch.float32, device=device)
    out = plugtorch.empty(0, dtype=wide, device=device)
    assert plugtorch.add(x32, 1, out=out) is out and out.dtype is wide
    assert_values(to_host(out), A + 1, atol=1e-6, rtol=1e-6)
    ints = _i([[1, 2], [3, 4]], device)
    fout = plugtorch.empty(0, dtype=plugtorch.float32, device=device)
    plugtorch.mul(ints, 3, out=fout)                    # int result into a float out
    assert to_host(fout).tolist() == [[3.0, 6.0], [9.0, 12.0]]
    bout = plugtorch.empty(0, dtype=plugtorch.int64, device=device)
    plugtorch.gt(x32, 0, out=bout)                      # bool result into an int out
    assert to_host(bout).tolist() == [[1, 0, 1], [1, 1, 0]]


@pytest.mark.parametrize("call", [
    lambda d, o: plugtorch.add(_f(A, d), 1, out=o),
    lambda d, o: plugtorch.sum(_f(A, d), 0, out=o),
    lambda d, o: plugtorch.cat([_f(A, d), _f(B, d)], out=o),
], ids=["add", "sum", "cat"])
def test_out_not_castable_raises(device, call):
    out = plugtorch.empty(0, dtype=plugtorch.int64, device=device)
    src = "Double" if widest_float(device) is plugtorch.float64 else "Float"
    with pytest.raises(RuntimeError, match=f"result type {src} can't be cast to the desired "
                                           f"output type Long"):
        call(device, out)
    assert out.shape == (0,)                            # untouched


@pytest.mark.parametrize("name", ["mm", "index_select", "argmax", "where", "clamp"])
def test_out_exact_dtype_ops_refuse_another_dtype(device, name):
    expected = _call(name, device, None)
    other = plugtorch.int32 if expected.dtype is not plugtorch.int32 else plugtorch.int64
    out = plugtorch.empty(0, dtype=other, device=device)
    with pytest.raises(RuntimeError, match=f"{name}: Expected out tensor to have dtype "
                                           f"{expected.dtype}, but got {other} instead"):
        _call(name, device, out)


def test_out_must_be_a_tensor(device):
    with pytest.raises(TypeError, match=r"add\(\): argument 'out' must be Tensor, not list"):
        plugtorch.add(_f(A, device), 1, out=[1, 2])
    with pytest.raises(TypeError, match=r"max\(\): argument 'out' must be tuple of Tensors"):
        plugtorch.max(_f(A, device), 0, out=plugtorch.empty(0, device=device))


def test_out_on_another_device_raises(device):
    if device == "cpu":
        pytest.skip("needs a second device: covered on every other backend")
    x = _f(A, device)
    out = plugtorch.empty(2, 3, dtype=x.dtype)
    with pytest.raises(RuntimeError, match=f"add: Expected out tensor to have device "
                                           f"{x.device}, but got cpu instead"):
        plugtorch.add(x, 1, out=out)


def test_out_refuses_autograd(device):
    x = _f(A, device).requires_grad_()
    msg = (r"\(\): functions with out=\.\.\. arguments don't support automatic "
           r"differentiation, but one of the arguments requires grad\.")
    with pytest.raises(RuntimeError, match="add" + msg):
        plugtorch.add(x, 1, out=plugtorch.empty(0, dtype=x.dtype, device=device))
    with pytest.raises(RuntimeError, match="cat" + msg):
        plugtorch.cat([_f(A, device), x], out=plugtorch.empty(0, dtype=x.dtype, device=device))
    leaf = plugtorch.empty(2, 3, dtype=x.dtype, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="mul" + msg):
        plugtorch.mul(_f(A, device), 2, out=leaf)
    with plugtorch.no_grad():
        assert plugtorch.mul(x, 2, out=leaf) is leaf
    assert_values(to_host(leaf.detach()), 2 * A)


@pytest.mark.parametrize("name, args, fields", [
    ("max", (1,), ("values", "indices")),
    ("min", (0,), ("values", "indices")),
    ("sort", (1,), ("values", "indices")),
    ("topk", (2,), ("values", "indices")),
    ("cummax", (1,), ("values", "indices")),
])
def test_tuple_out(device, name, args, fields):
    x = _f(A, device)
    expected = getattr(plugtorch, name)(x, *args)
    values = plugtorch.empty(0, dtype=x.dtype, device=device)
    indices = plugtorch.empty(5, dtype=plugtorch.int64, device=device)
    with pytest.warns(UserWarning, match="resized"):
        r = getattr(plugtorch, name)(x, *args, out=(values, indices))
    assert r[0] is values and r[1] is indices and r._fields == fields
    for got, want in zip(r, expected):
        assert to_host(got).tolist() == to_host(want).tolist()
    with pytest.raises(RuntimeError, match=f"{name}: Expected out tensor to have dtype "
                                           f"plugtorch.int64, but got {x.dtype} instead"):
        getattr(plugtorch, name)(x, *args, out=(values, plugtorch.empty(0, device=device,
                                                                          dtype=x.dtype)))


def test_factories_take_dtype_and_device_from_out(device):
    out = plugtorch.empty(0, dtype=plugtorch.int64, device=device)
    assert plugtorch.zeros(2, 3, out=out) is out
    assert out.dtype is plugtorch.int64 and out.device == plugtorch.empty(0, device=device).device
    assert to_host(out).tolist() == [[0] * 3] * 2
    assert to_host(plugtorch.ones(4, out=out)).tolist() == [1] * 4
    assert to_host(plugtorch.full((2,), 7, out=out)).tolist() == [7, 7]
    assert to_host(plugtorch.arange(1, 9, 3, out=out)).tolist() == [1, 4, 7]
    assert to_host(plugtorch.eye(2, out=out)).tolist() == [[1, 0], [0, 1]]
    f = plugtorch.empty(7, dtype=widest_float(device), device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # factories resize silently
        assert plugtorch.linspace(0, 1, 5, out=f) is f
    assert_values(to_host(f), np.linspace(0, 1, 5))
    with pytest.raises(RuntimeError, match=r"zeros: dtype Float does not match dtype of out "
                                           r"parameter \(Long\)"):
        plugtorch.zeros(2, dtype=plugtorch.float32, out=out)


def test_random_factories_with_out_draw_the_same_numbers(device):
    wide = widest_float(device)
    for name, args in [("rand", (2, 3)), ("randn", (4,)), ("randint", (3, 9, (5,))),
                       ("randperm", (6,))]:
        fn = getattr(plugtorch, name)
        dtype = plugtorch.int64 if name in ("randint", "randperm") else wide
        g = plugtorch.Generator(device).manual_seed(7)
        want = fn(*args, generator=g, dtype=dtype, device=device)
        out = plugtorch.empty(0, dtype=dtype, device=device)
        g = plugtorch.Generator(device).manual_seed(7)
        assert fn(*args, generator=g, out=out) is out
        assert out.dtype is dtype and to_host(out).tolist() == to_host(want).tolist()


def test_tensor_methods_take_no_out(device):
    x = _f(A, device)
    out = plugtorch.empty(0, dtype=x.dtype, device=device)
    with pytest.raises(TypeError, match="out"):
        x.add(x, out=out)
    with pytest.raises(TypeError, match="out"):
        x.sum(0, out=out)
    with pytest.raises(TypeError, match="out"):
        x.mm(x.t(), out=out)
