"""`out=` against PyTorch as the oracle: which ops take it, which out dtypes each accepts,
the values written, and the messages (NOTE [out=] in plugtorch/ops/_out.py)."""
import warnings

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.ops import _out

torch = pytest.importorskip("torch")

A = np.array([[0.5, -1.25, 2.0], [3.0, 0.75, -0.5]], dtype=np.float32)
B = np.array([[1.5, 2.0, -0.25], [0.5, -3.0, 1.0]], dtype=np.float32)
M = np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 0.25]], dtype=np.float32)
I2 = np.array([[2, 0], [1, 1]])


def _args(t):
    return {
        "add": (t(A), t(B)), "div": (t(A), t(B)), "pow": (t(np.abs(A)), 2.0),
        "eq": (t(A), t(B)), "logical_or": (t(A), t(B)), "bitwise_and": (t(I2), t(I2)),
        "neg": (t(A),), "sqrt": (t(np.abs(A)),), "sigmoid": (t(A),), "floor": (t(A),),
        "clamp": (t(A), -0.5, 1.0), "where": (t(A) > 0, t(A), t(B)),
        "mean": (t(A), 1), "cumsum": (t(A), 0), "cumprod": (t(A), 0),
        "logsumexp": (t(A), 1), "std": (t(A), 0),
        "amax": (t(A), 0), "argmax": (t(A), 1), "norm": (t(A),), "max": (t(A),),
        "mm": (t(A), t(M)), "matmul": (t(A), t(M)), "bmm": (t(A[None]), t(M[None])),
        "addmm": (t(np.ones((2, 2), np.float32)), t(A), t(M)), "mv": (t(A), t(M[:, 0])),
        "cat": ([t(A), t(B)],), "stack": ([t(A), t(B)],), "vstack": ([t(A), t(B)],),
        "index_select": (t(A), 1, t([2, 0])), "gather": (t(A), 1, t(I2)),
    }


# (a bool cumsum/cumprod is refused by PyTorch whether or not out= is given)
@pytest.mark.parametrize("name, out_dtype", [
    (n, d) for n in sorted(_args(np.array)) for d in ("float64", "float32", "int64", "int32",
                                                     "bool")
    if not (d == "bool" and n in ("cumsum", "cumprod"))])
def test_out_dtypes_accepted_as_by_pytorch(name, out_dtype):
    theirs = torch.empty(0, dtype=getattr(torch, out_dtype))
    ours = pt.empty(0, dtype=getattr(pt, out_dtype))
    try:
        getattr(torch, name)(*_args(torch.tensor)[name], out=theirs)
    except (RuntimeError, TypeError) as e:
        with pytest.raises((RuntimeError, TypeError)):
            getattr(pt, name)(*_args(pt.tensor)[name], out=ours)
        if "result type" in str(e):
            with pytest.raises(RuntimeError, match=str(e).split(" (")[0]):
                getattr(pt, name)(*_args(pt.tensor)[name], out=ours)
        return
    assert getattr(pt, name)(*_args(pt.tensor)[name], out=ours) is ours
    assert ours.dtype.name == out_dtype
    np.testing.assert_allclose(ours.numpy().astype(np.float64),
                               theirs.numpy().astype(np.float64), rtol=1e-5, atol=1e-6)


def test_ops_taking_out_are_those_of_pytorch():
    """Every op given out= takes it in PyTorch; some that PyTorch refuses it for do not."""
    x, o = torch.ones(2, 2), torch.empty(0)
    for name in sorted(_out.CASTABLE | _out.EXACT | _out.FACTORIES):
        fn = getattr(torch, name)
        for args in ([x], [x, x], [x, 0], [x, 1, torch.zeros(2, 2, dtype=torch.long)],
                     [[x, x]], [2], [2, 2], [x, x, x]):
            for out in (o, (o, torch.empty(0, dtype=torch.long))):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        fn(*args, out=out)
                except TypeError as e:
                    assert "unexpected keyword argument 'out'" not in str(e), name
                    continue
                except Exception:   # refused for the arguments, not for out=
                    continue
                break
    for name in ("zeros_like", "ones_like", "full_like", "rand_like", "clone", "flip"):
        args = (pt.ones(2), 1.0) if name == "full_like" else \
            (pt.ones(2), (0,)) if name == "flip" else (pt.ones(2),)
        with pytest.raises(TypeError):
            getattr(pt, name)(*args, out=pt.empty(0))


def test_resize_warning_is_pytorchs():
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        torch.add(torch.ones(2, 3), 1, out=torch.empty(5))
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        pt.add(pt.ones(2, 3), 1, out=pt.empty(5))
    assert [str(w.message) for w in ours] == \
        ["add: " + str(theirs[0].message).split(" (Triggered")[0]]
    assert ours[0].category is UserWarning


def test_autograd_error_is_pytorchs():
    msgs = []
    for lib in (torch, pt):
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError) as e:
            lib.mul(x, 2, out=lib.empty(2))
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def test_tuple_outs_match_pytorch():
    for name, args in (("max", (1,)), ("sort", (0, True)), ("topk", (2,)),
                       ("cummin", (1,)), ("aminmax", ())):
        theirs = (torch.empty(0), torch.empty(0, dtype=torch.long))
        ours = (pt.empty(0), pt.empty(0, dtype=pt.int64))
        if name == "aminmax":
            theirs, ours = (torch.empty(0), torch.empty(0)), (pt.empty(0), pt.empty(0))
        rt = getattr(torch, name)(torch.tensor(A), *args, out=theirs)
        rp = getattr(pt, name)(pt.tensor(A), *args, out=ours)
        assert rp[0] is ours[0] and rp[1] is ours[1]
        assert [r.tolist() for r in rp] == [r.tolist() for r in rt], name


def test_factory_out_values_match_pytorch():
    for name, args in (("zeros", (2, 3)), ("ones", (4,)), ("full", ((2,), 7)),
                       ("arange", (1, 9, 3)), ("linspace", (0, 1, 5)), ("eye", (2, 3)),
                       ("logspace", (0, 2, 3))):
        for dtype in ("float64", "int64"):
            t = getattr(torch, name)(*args, out=torch.empty(0, dtype=getattr(torch, dtype)))
            o = pt.empty(0, dtype=getattr(pt, dtype))
            assert getattr(pt, name)(*args, out=o) is o
            assert o.dtype.name == dtype and o.tolist() == t.tolist(), (name, dtype)
