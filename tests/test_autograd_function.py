"""Custom autograd.Function, Variable, gradcheck and gradgradcheck.

References: closed-form derivatives in numpy float64, and deliberately wrong Functions that
gradcheck must reject.
"""
import gc
import warnings
import weakref

import numpy as np
import pytest

import plugtorch as torch
from plugtorch import autograd
from plugtorch.autograd import Function, gradcheck, gradgradcheck
from plugtorch.autograd.function import once_differentiable
from plugtorch.autograd.gradcheck import GradcheckError

A = np.array([0.4, -1.3, 2.2])


def T(a, rg=True, dtype=torch.float64):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=dtype, requires_grad=rg)


def N(t):
    return np.array(t.detach().numpy(), dtype=np.float64)


def close(t, ref, tol=1e-10):
    np.testing.assert_allclose(N(t), np.asarray(ref, dtype=np.float64), rtol=tol, atol=tol)


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


class Exp(Function):
    """Saves its own output: the node must not keep the output tensor alive."""

    @staticmethod
    def forward(ctx, x):
        r = x.exp()
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        return g * r


class ScaleShift(Function):
    """y = x * k + b with a non-tensor k and an optional tensor b."""

    @staticmethod
    def forward(ctx, x, k, b):
        ctx.k = k
        ctx.seen_needs = ctx.needs_input_grad
        ctx.seen_grad_mode = torch.is_grad_enabled()
        return x * k + b

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None, g


# ----------------------------------------------------------------------------- Function basics

def test_custom_function_forward_backward_and_name():
    x = T(A)
    y = Cube.apply(x)
    close(y, A ** 3)
    assert y.requires_grad and not y.is_leaf
    assert y.grad_fn.name() == "CubeBackward"
    assert type(y.grad_fn).__name__ == "CubeBackward"
    assert "<CubeBackward object" in repr(y.grad_fn)
    assert "grad_fn=<CubeBackward>" in repr(y)
    (node, _), = y.grad_fn.next_functions
    assert node.name() == "AccumulateGrad" and node.variable is x
    (y * 2).sum().backward()
    close(x.grad, 6 * A ** 2)


def test_non_tensor_args_needs_input_grad_and_no_grad_forward():
    x, b = T(A), T([1.0, 2.0, 3.0], rg=False)
    y = ScaleShift.apply(x, 2.5, b)
    assert y.grad_fn.seen_needs == (True, False, False)
    assert y.grad_fn.seen_grad_mode is False
    assert y.grad_fn.k == 2.5                 # arbitrary attributes on ctx
    y.sum().backward()
    close(x.grad, [2.5, 2.5, 2.5])
    assert b.grad is None
    b2 = T([1.0, 2.0, 3.0])
    ScaleShift.apply(x, 2.0, b2).sum().backward()
    close(b2.grad, [1, 1, 1])


def test_no_graph_when_nothing_requires_grad_or_under_no_grad():
    y = Cube.apply(T(A, rg=False))
    assert not y.requires_grad and y.grad_fn is None
    with torch.no_grad():
        y = Cube.apply(T(A))
    assert not y.requires_grad


def test_multiple_outputs_and_materialized_grads():
    class SinCos(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, gs, gc_):
            (x,) = ctx.saved_tensors
            ctx.got = (N(gs), N(gc_))
            return gs * x.cos() - gc_ * x.sin()

    x = T(A)
    s, c = SinCos.apply(x)
    assert s.grad_fn is c.grad_fn
    (s * 2 + c * 3).sum().backward()
    close(x.grad, 2 * np.cos(A) - 3 * np.sin(A))
    x.grad = None
    s, c = SinCos.apply(x)
    node = s.grad_fn
    s.sum().backward()                        # c unused: its grad arrives as zeros
    np.testing.assert_allclose(node.got[1], np.zeros(3))
    close(x.grad, np.cos(A))


def test_set_materialize_grads_false_gives_none():
    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            ctx.got = (g1 is None, g2 is None)
            out = g1 if g1 is not None else 0
            return out + (g2 * 2 if g2 is not None else 0)

    x = T(A)
    a, b = Two.apply(x)
    node = a.grad_fn
    b.sum().backward()
    assert node.got == (True, False)
    close(x.grad, [2, 2, 2])


def test_mark_non_differentiable():
    class SortLike(Function):
        @staticmethod
        def forward(ctx, x):
            mask = (x > 0).to(x.dtype)
            ctx.mark_non_differentiable(mask)
            return x * 2, mask

        @staticmethod
        def backward(ctx, g, gmask):
            ctx.gmask = N(gmask)
            return g * 2

    x = T(A)
    y, mask = SortLike.apply(x)
    assert y.requires_grad and not mask.requires_grad and mask.grad_fn is None
    node = y.grad_fn
    y.sum().backward()
    np.testing.assert_allclose(node.gmask, np.zeros(3))
    close(x.grad, [2, 2, 2])


def test_mark_dirty_in_place_on_non_leaf():
    class MulInPlace(Function):
        @staticmethod
        def forward(ctx, x, k):
            x.mul_(k)
            ctx.mark_dirty(x)
            ctx.k = k
            return x

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    x = T(A)
    h = x.sin()
    out = MulInPlace.apply(h, 3.0)
    assert out is h and h.grad_fn.name() == "MulInPlaceBackward"
    close(h, 3 * np.sin(A))
    (h * h).sum().backward()                  # d/dx (3 sin x)^2 = 18 sin x cos x
    close(x.grad, 18 * np.sin(A) * np.cos(A))
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        MulInPlace.apply(T(A), 2.0)


def test_mark_dirty_through_a_view():
    class AddOne(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = T(A)
    y = x * 2
    AddOne.apply(y.narrow(0, 0, 2))
    close(y, [2 * A[0] + 1, 2 * A[1] + 1, 2 * A[2]])
    (y * y).sum().backward()
    close(x.grad, 4 * N(y))


def test_dirty_input_not_returned_raises():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="marked as dirty"):
        Bad.apply(T(A) * 1)


def test_input_returned_as_is_becomes_a_new_tensor():
    class Ident(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    x = T(A)
    y = Ident.apply(x)
    assert y is not x and x.is_leaf and x.grad_fn is None
    y.sum().backward()
    close(x.grad, [5, 5, 5])


def test_setup_context_style():
    class Square(Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = T(A)
    Square.apply(x).sum().backward()
    close(x.grad, 2 * A)


# ----------------------------------------------------------------------------- saved tensors

def test_saved_tensors_freed_after_backward():
    x = T(A)
    y = Cube.apply(x)
    node = y.grad_fn
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Specify retain_graph=True"):
        node.saved_tensors
    with pytest.raises(RuntimeError, match="Specify retain_graph=True"):
        y.sum().backward()


def test_retain_graph_keeps_saved_tensors():
    x = T(A)
    y = Cube.apply(x)
    y.sum().backward(retain_graph=True)
    assert len(y.grad_fn.saved_tensors) == 1
    y.sum().backward()
    close(x.grad, 6 * A ** 2)


def test_saved_input_modified_in_place_raises():
    x = T(A)
    h = x * 1
    y = Cube.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_output_modified_in_place_raises():
    x = T(A)
    y = Exp.apply(x)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_output_double_backward_and_no_cycle():
    x = T(A)
    y = Exp.apply(x)
    (g,) = autograd.grad(y.sum(), x, create_graph=True)
    (h,) = autograd.grad(g.sum(), x)
    close(g, np.exp(A))
    close(h, np.exp(A))
    was = gc.isenabled()
    gc.disable()
    try:
        y = Exp.apply(x)
        ref = weakref.ref(y.grad_fn)
        del y
        assert ref() is None, "the node of a Function that saved its output leaked"
    finally:
        if was:
            gc.enable()


def test_save_for_backward_rejects_non_tensors():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 1

    with pytest.raises(TypeError, match="argument 1 is of type int"):
        Bad.apply(T(A))


# ----------------------------------------------------------------------------- wrong backward

def test_wrong_number_of_grads_names_function():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    y = TooFew.apply(T(A), T(A))
    with pytest.raises(RuntimeError, match=r"TooFewBackward returned an incorrect number of "
                                           r"gradients \(expected 2, got 1\)"):
        y.sum().backward()


def test_extra_trailing_none_grads_are_allowed():
    class Extra(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None, None

    x = T(A)
    Extra.apply(x).sum().backward()
    close(x.grad, [2, 2, 2])


def test_wrong_grad_shape_names_function_and_index():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return torch.ones(5, dtype=torch.float64)

    with pytest.raises(RuntimeError, match=r"BadShapeBackward returned an invalid gradient at "
                                           r"index 0 - got \[5\]"):
        BadShape.apply(T(A)).backward()


def test_broadcastable_grad_is_summed_to_input_shape():
    class Bcast(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return torch.ones(2, 3, dtype=torch.float64) * g

    x = T(A)
    Bcast.apply(x).backward()
    close(x.grad, [2, 2, 2])


def test_grad_returned_from_ctx_is_not_aliased_into_dot_grad():
    class Const(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.g = torch.ones(3, dtype=torch.float64)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return ctx.g

    x = T(A)
    y = Const.apply(x)
    keep = y.grad_fn.g
    y.sum().backward()
    Const.apply(x).sum().backward()           # accumulates in place into x.grad
    close(x.grad, [2, 2, 2])
    close(keep, [1, 1, 1])


def test_legacy_instance_call_raises():
    with pytest.raises(RuntimeError, match="Legacy autograd function"):
        Cube()(T(A))


def test_once_differentiable():
    class OnceCube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not torch.is_grad_enabled()
            return 3 * x * x * g

    x = T(A)
    OnceCube.apply(x).sum().backward()
    close(x.grad, 3 * A ** 2)
    (g,) = autograd.grad(OnceCube.apply(x).sum(), x, create_graph=True)
    close(g, 3 * A ** 2)
    assert not g.requires_grad               # as PyTorch: incoming grads had no graph
    v = T([1.0, 1.0, 1.0])
    (g,) = autograd.grad(OnceCube.apply(x), x, grad_outputs=v, create_graph=True)
    assert g.grad_fn.name() == "DelayedError"
    with pytest.raises(RuntimeError, match="differentiate twice a function that was marked "
                                           "with @once_differentiable"):
        g.sum().backward()


def test_hooks_and_retain_grad_compose_with_function():
    x = T(A)
    y = Cube.apply(x)
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    (y * 3).sum().backward()
    close(y.grad, [6, 6, 6])                  # retain_grad sees what hooks return (PyTorch 2)
    close(x.grad, 6 * 3 * A ** 2)


def test_variable_is_a_tensor():
    t = torch.ones(3)
    v = autograd.Variable(t, requires_grad=True)
    assert isinstance(v, torch.Tensor) and isinstance(t, autograd.Variable)
    assert v.requires_grad and v.is_leaf and not t.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        autograd.Variable(torch.tensor([1, 2]), requires_grad=True)


# ----------------------------------------------------------------------------- gradcheck

@pytest.mark.parametrize("f", [
    lambda a, b: a * b,
    lambda a, b: a / b,
    lambda a, b: (a ** b).sin(),
    lambda a, b: ((a.exp() * b).tanh().sum(), a.sigmoid() - b.sqrt()),
    lambda a, b: Cube.apply(a) + Exp.apply(b),
    lambda a, b: (a.reshape(3, 1) * b.reshape(1, 3)).permute(1, 0).narrow(0, 1, 2),
])
def test_gradcheck_and_gradgradcheck_pass_on_correct_derivatives(f):
    a, b = T([0.5, 1.2, 0.9]), T([1.1, 0.7, 1.6])
    assert gradcheck(f, (a, b))
    assert gradgradcheck(f, (a, b))


class WrongCube(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * x * x + y * 2

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return 3 * x * x * g, g * 2.5        # d/dy is 2, not 2.5


def test_gradcheck_reports_the_wrong_input_with_both_jacobians():
    x, y = T(A), T(A)
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongCube.apply, (x, y))
    msg = str(info.value)
    assert "Jacobian mismatch for output 0 with respect to input 1" in msg
    assert "numerical:" in msg and "analytical:" in msg
    assert "2.5" in msg and "2." in msg
    assert gradcheck(WrongCube.apply, (x, y), raise_exception=False) is False
    assert gradcheck(WrongCube.apply, (x, y.detach()))      # input 1 not checked


def test_gradcheck_catches_a_small_error():
    class Off(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.cos() * 1.01

    assert not gradcheck(Off.apply, (T(A),), raise_exception=False)


def test_gradcheck_checks_cross_terms():
    class NoCross(Function):        # y_i = x_0 * x_i; backward forgets d y_i / d x_0, i > 0
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x.narrow(0, 0, 1)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.narrow(0, 0, 1)

    assert not gradcheck(NoCross.apply, (T(A),), raise_exception=False)


def test_gradcheck_warns_for_float32_and_needs_a_differentiable_input():
    x = T(A, dtype=torch.float32)
    with pytest.warns(UserWarning, match="not of double precision"):
        gradcheck(lambda t: t * 2, (x,), atol=1e-2, rtol=1e-2, eps=1e-3)
    with pytest.raises(ValueError, match="requires_grad=True"):
        gradcheck(lambda t: t * 2, (T(A, rg=False),))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(lambda t: t * 2, (T(A),))


def test_gradcheck_non_tensor_arguments_pass_through():
    assert gradcheck(lambda t, k: (t * k).exp(), (T(A), 0.5))


def test_gradgradcheck_catches_non_differentiable_backward():
    class DetachedBackward(Function):   # first derivative right, second wrong
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x.detach() * x.detach() * g

    x = T(A)
    assert gradcheck(DetachedBackward.apply, (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradgradcheck(DetachedBackward.apply, (x,))
    assert gradgradcheck(Cube.apply, (x,))


def test_gradgradcheck_with_given_grad_outputs():
    x = T(A)
    v = T([1.0, -2.0, 0.5])
    assert gradgradcheck(lambda t: t.tanh() * t, (x,), (v,))


def test_grad_fn_types_are_named_after_the_op():
    x = torch.ones(3, requires_grad=True)
    y = (x * 3).relu()
    assert type(y.grad_fn).__name__ == "ReluBackward0"
    assert type(y.grad_fn.next_functions[0][0]).__name__ == "MulBackward0"
    assert isinstance(y.grad_fn, torch.autograd.graph.Node)


def test_input_returned_as_non_differentiable_output_does_not_require_grad():
    class PassThrough(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_non_differentiable(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = torch.ones(2, requires_grad=True)
    assert not PassThrough.apply(x).requires_grad
