"""The autograd engine: backward, grad, hooks, grad modes, in-place and view rules, double
backward, and that the graph is freed by reference counting alone.

References are closed-form derivatives computed with numpy in float64.
"""
import gc
import threading
import tracemalloc
import weakref

import numpy as np
import pytest

import plugtorch as torch
from plugtorch import autograd

RETAIN_MSG = "Specify retain_graph=True"


def T(a, rg=True, dtype=torch.float64):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=dtype, requires_grad=rg)


def N(t):
    return np.array(t.detach().numpy(), dtype=np.float64)


def close(t, ref, tol=1e-10):
    np.testing.assert_allclose(N(t), np.asarray(ref, dtype=np.float64), rtol=tol, atol=tol)


X3 = np.array([0.3, -1.2, 2.1])


# ----------------------------------------------------------------------------- backward basics

def test_backward_accumulates_over_calls():
    x = T(X3)
    (x * x).sum().backward()
    close(x.grad, 2 * X3)
    (x * x * x).sum().backward()
    close(x.grad, 2 * X3 + 3 * X3 ** 2)
    x.grad = None
    x.sin().sum().backward()
    close(x.grad, np.cos(X3))


def test_backward_with_gradient_for_non_scalar():
    x = T(X3)
    v = np.array([1.0, -2.0, 0.5])
    (x * x).backward(T(v, rg=False))
    close(x.grad, 2 * X3 * v)


def test_non_scalar_backward_without_gradient_raises():
    x = T(X3)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (x * 2).backward()


def test_gradient_shape_mismatch_raises():
    x = T(X3)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(T([1.0, 2.0], rg=False))


def test_backward_on_tensor_without_graph_raises():
    x = T(X3, rg=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()
    y = T(X3)
    with torch.no_grad():
        z = (y * 2).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        z.backward()


def test_second_backward_through_freed_graph_raises():
    x = T(X3)
    y = x.exp().sum()
    y.backward()
    with pytest.raises(RuntimeError, match=RETAIN_MSG):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = T(X3)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    close(x.grad, 2 * np.exp(X3))


def test_diamond_graph_sums_paths():
    x = T(X3)
    y = x * 2
    z = (y * y + y.exp()).sum()   # z = 4x^2 + e^{2x}
    z.backward()
    close(x.grad, 8 * X3 + 2 * np.exp(2 * X3))


def test_multiple_roots():
    x = T(X3)
    a, b = x * x, x.sin()
    autograd.backward([a.sum(), b], [None, T([1.0, 2.0, 3.0], rg=False)])
    close(x.grad, 2 * X3 + np.cos(X3) * [1, 2, 3])


def test_backward_inputs_only_accumulates_into_inputs():
    x, w = T(X3), T([0.5, 1.5, -1.0])
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    close(w.grad, X3)
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (x * w).sum().backward(inputs=[])


def test_backward_inputs_non_leaf():
    x = T(X3)
    h = x * 3
    (h * h).sum().backward(inputs=[h])
    close(h.grad, 2 * 3 * X3)
    assert x.grad is None


def test_leaf_grad_never_aliases_user_gradient():
    x = T(X3)
    v = T([1.0, 1.0, 1.0], rg=False)
    x.backward(v)
    close(x.grad, [1, 1, 1])
    v.add_(5)
    close(x.grad, [1, 1, 1])
    x.backward(T([1.0, 1.0, 1.0], rg=False))
    close(x.grad, [2, 2, 2])
    close(v, [6, 6, 6])


def test_two_leaves_of_one_add_get_separate_grads():
    a, b = T(X3), T(X3 * 2)
    (a + b).sum().backward()
    a.grad.add_(10)              # in-place on one .grad must not change the other
    close(b.grad, [1, 1, 1])
    (a + b).sum().backward()
    close(a.grad, [12, 12, 12])
    close(b.grad, [2, 2, 2])


def test_grad_of_expand_is_not_a_broadcast_view():
    x = T([2.0])
    y = x.expand(3).sum()
    y.backward()
    close(x.grad, [3])
    x.grad.add_(1)
    close(x.grad, [4])


# ----------------------------------------------------------------------------- autograd.grad

def test_grad_returns_without_touching_dot_grad():
    x = T(X3)
    (g,) = autograd.grad((x ** 3).sum(), x)
    close(g, 3 * X3 ** 2)
    assert x.grad is None
    assert not g.requires_grad


def test_grad_allow_unused_and_materialize():
    x, u = T(X3), T(X3)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        autograd.grad((x * 2).sum(), [x, u])
    gx, gu = autograd.grad((x * 2).sum(), [x, u], allow_unused=True)
    close(gx, [2, 2, 2])
    assert gu is None
    gx, gu = autograd.grad((x * 2).sum(), [x, u], materialize_grads=True)
    close(gu, [0, 0, 0])


def test_grad_with_grad_outputs():
    x = T(X3)
    v = np.array([3.0, -1.0, 2.0])
    (g,) = autograd.grad(x.sin(), x, grad_outputs=T(v, rg=False))
    close(g, np.cos(X3) * v)


def test_grad_input_that_does_not_require_grad_raises():
    x = T(X3)
    c = T(X3, rg=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        autograd.grad((x * c).sum(), c)


def test_grad_does_not_fire_hooks_of_other_leaves():
    x, w = T(X3), T(X3)
    fired = []
    w.register_hook(lambda g: fired.append(1))
    (gx,) = autograd.grad((x * w).sum(), x)
    close(gx, X3)
    assert fired == [] and w.grad is None


def test_grad_wrt_intermediate_keeps_the_graph_below():
    x = T(X3)
    h = x.exp()
    y = (h.sin()).sum()
    (gh,) = autograd.grad(y, h)
    close(gh, np.cos(np.exp(X3)))
    # exp's node was not needed, so it was neither run nor freed
    h.sum().backward()
    close(x.grad, np.exp(X3))


# ----------------------------------------------------------------------------- version counter

def test_saved_tensor_modified_in_place_raises():
    x = T(X3)
    h = x * 1
    y = h.sin()                # saves h
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_output_modified_in_place_raises():
    x = T(X3)
    y = x.exp()                # saves its output
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_version_counter_counts_writes():
    x = T(X3, rg=False)
    v0 = x._version
    x.add_(1)
    x.mul_(2)
    assert x._version == v0 + 2
    assert x.detach()._version == x._version    # detach shares the counter


# ----------------------------------------------------------------------------- retain_grad, hooks

def test_retain_grad_on_non_leaf():
    x = T(X3)
    y = x * 3
    z = x * 4
    y.retain_grad()
    (y * y + z).sum().backward()
    close(y.grad, 2 * 3 * X3)
    assert z.grad is None
    assert y.retains_grad and not z.retains_grad
    x.retain_grad()            # a leaf: no-op
    close(x.grad, 18 * X3 + 4)


def test_hook_on_leaf_replaces_grad():
    x = T(X3)
    seen = []
    h = x.register_hook(lambda g: (seen.append(N(g)), g * 10)[1])
    (x * x).sum().backward()
    close(x.grad, 20 * X3)
    np.testing.assert_allclose(seen[0], 2 * X3)
    h.remove()
    x.grad = None
    (x * x).sum().backward()
    close(x.grad, 2 * X3)


def test_hook_on_non_leaf_changes_upstream_grad():
    x = T(X3)
    y = x * 2
    y.register_hook(lambda g: g * 0 + 1)      # pretend dL/dy = 1
    (y * y).sum().backward()
    close(x.grad, [2, 2, 2])


def test_hook_returning_none_observes_only():
    x = T(X3)
    y = x.exp()
    seen = []
    y.register_hook(lambda g: seen.append(N(g)))
    (y * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3, 3, 3])
    close(x.grad, 3 * np.exp(X3))


def test_register_hook_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        T(X3, rg=False).register_hook(lambda g: g)


def test_post_accumulate_grad_hook():
    x = T(X3)
    calls = []
    x.register_post_accumulate_grad_hook(lambda t: calls.append(N(t.grad)))
    (x * 2).sum().backward()
    np.testing.assert_allclose(calls[0], [2, 2, 2])


def test_a_leaf_accumulates_as_soon_as_its_last_gradient_arrives():
    """Post-accumulate hooks run during backward, not after it (what lets
    DistributedDataParallel reduce gradients while backward goes on): the last layer's
    weight is final before the first layer's output gets its gradient."""
    w1 = torch.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    w2 = torch.tensor(np.full((4, 2), 0.5, np.float32), requires_grad=True)
    x = torch.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    h = (x @ w1).relu()
    events = []
    h.register_hook(lambda g: events.append("h"))
    w2.register_post_accumulate_grad_hook(lambda t: events.append(("w2", N(t.grad).sum())))
    w1.register_post_accumulate_grad_hook(lambda t: events.append("w1"))
    (h @ w2).sum().backward()
    hsum = (np.arange(6).reshape(2, 3) @ np.ones((3, 4))).sum(axis=0)
    assert events == [("w2", pytest.approx(2 * hsum.sum())), "h", "w1"]
    # a leaf reached along two paths waits for both
    a = torch.tensor(np.ones(3, np.float32), requires_grad=True)
    got = []
    a.register_post_accumulate_grad_hook(lambda t: got.append(N(t.grad)))
    ((a * 2).sum() + (a.exp() * 0).sum() + (a * a).sum()).backward()
    assert len(got) == 1
    np.testing.assert_allclose(got[0], [4, 4, 4])


def test_node_hooks_and_prehooks():
    x = T(X3)
    y = x * 5
    seen = {}

    def hook(grad_inputs, grad_outputs):
        seen["in"], seen["out"] = N(grad_inputs[0]), N(grad_outputs[0])
        return (grad_inputs[0] * 2, grad_inputs[1])

    y.grad_fn.register_hook(hook)
    y.grad_fn.register_prehook(lambda gouts: (gouts[0] + 1,))
    y.sum().backward()
    np.testing.assert_allclose(seen["out"], [2, 2, 2])     # 1 + prehook's 1
    np.testing.assert_allclose(seen["in"], [10, 10, 10])
    close(x.grad, [20, 20, 20])


def test_next_functions_and_names():
    x, w = T(X3), T(X3)
    y = (x * w).exp().sum()
    assert y.grad_fn.name().startswith("SumBackward")
    (exp_node, k), = y.grad_fn.next_functions
    assert exp_node.name() == "ExpBackward0" and k == 0
    (mul_node, _), = exp_node.next_functions
    leaves = mul_node.next_functions
    assert [n.name() for n, _ in leaves] == ["AccumulateGrad", "AccumulateGrad"]
    assert leaves[0][0].variable is x and leaves[1][0].variable is w
    z = x * T(X3, rg=False)
    assert z.grad_fn.next_functions[1] == (None, 0)
    assert "ExpBackward0" in repr(exp_node)
    assert x.grad_fn is None and x.is_leaf and not y.is_leaf


# ----------------------------------------------------------------------------- detach

def test_detach_shares_storage_and_leaves_graph():
    x = T(X3)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    with torch.no_grad():
        d.add_(1)
    close(y, 2 * X3 + 1)


def test_detach_in_place():
    x = T(X3)
    y = x * 2
    y.detach_()
    assert y.is_leaf and not y.requires_grad
    b = x * 1
    v = b.narrow(0, 0, 2)
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        v.detach_()


# ----------------------------------------------------------------------------- grad modes

def test_no_grad_context_and_decorators():
    x = T(X3)
    with torch.no_grad():
        assert not (x * 2).requires_grad
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()

    @torch.no_grad()
    def f(t):
        return t * 2

    @torch.no_grad
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    assert f.__name__ == "f" and g.__name__ == "g"
    assert torch.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = T(X3)
    with torch.no_grad():
        with torch.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad

    @torch.enable_grad()
    def f(t):
        return t * 2

    with torch.no_grad():
        assert f(x).requires_grad


def test_set_grad_enabled_as_function_context_and_decorator():
    x = T(X3)
    try:
        torch.set_grad_enabled(False)
        assert not (x * 2).requires_grad
    finally:
        torch.set_grad_enabled(True)
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @torch.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert torch.is_grad_enabled()           # decorating did not switch the mode
    assert not f(x).requires_grad
    assert torch.is_grad_enabled()


def test_inference_mode():
    x = T(X3)
    with torch.inference_mode():
        assert not (x * 2).requires_grad
        assert autograd.grad_mode.is_inference_mode_enabled()
    assert not autograd.grad_mode.is_inference_mode_enabled()

    @torch.inference_mode()
    def f(t):
        return t * 2

    @torch.inference_mode
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    assert (x * 2).requires_grad


def test_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with torch.no_grad():
            raise ValueError
    assert torch.is_grad_enabled()


def test_decorated_generator_runs_in_mode():
    x = T(X3)

    @torch.no_grad()
    def gen():
        yield (x * 2).requires_grad
        yield (x * 3).requires_grad

    it = gen()
    assert next(it) is False
    assert (x * 2).requires_grad            # the caller is back in grad mode
    assert next(it) is False


def test_grad_mode_is_per_thread():
    out = []
    with torch.no_grad():
        th = threading.Thread(target=lambda: out.append(torch.is_grad_enabled()))
        th.start()
        th.join()
    assert out == [True]


# ----------------------------------------------------------------------------- requires_grad

def test_requires_grad_rules():
    i = torch.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        i.requires_grad_()
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        i.requires_grad = True
    assert not i.requires_grad
    i.requires_grad = False                   # allowed
    x = T(X3, rg=False)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad = False
    assert not x.requires_grad
    y = T(X3) * 2
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
        y.requires_grad_(False)
    y.requires_grad = True                    # a no-op on a non-leaf
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        torch.zeros(2, dtype=torch.int64, requires_grad=True)


def test_integer_results_do_not_require_grad():
    x = T(X3)
    assert not (x > 0).requires_grad


# ----------------------------------------------------------------------------- in place

def test_in_place_on_leaf_requiring_grad_raises():
    x = T(X3)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.narrow(0, 0, 1).mul_(2)
    with torch.no_grad():
        x.add_(1)                             # allowed: how optimizers update weights
    close(x, X3 + 1)


def test_in_place_on_non_leaf_closed_form():
    x = T(X3)
    y = x * 2
    y.add_(1)
    y.mul_(x)                                 # y = (2x + 1) x
    y.sum().backward()
    close(x.grad, 4 * X3 + 1)
    assert y.grad_fn.name() == "MulBackward0"


def test_in_place_unary_chain_closed_form():
    x = T(X3)
    y = x * 1
    y.sin_()
    y.exp_()                                  # y = exp(sin x)
    (y * 3).sum().backward()
    close(x.grad, 3 * np.exp(np.sin(X3)) * np.cos(X3))


def test_in_place_with_itself_as_saved_operand_raises():
    # as PyTorch: mul_ saves `other`, which the write then changes
    x = T(X3)
    y = x + 1
    y.mul_(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    y = x + 1
    y.mul_(y.clone())                         # (x+1)^2
    y.sum().backward()
    close(x.grad, 2 * (X3 + 1))


def test_in_place_with_grad_only_in_other_operand():
    x = T(X3)
    a = T([1.0, 2.0, 3.0], rg=False)
    a.add_(x * x)                             # a leaf without grad joins the graph
    assert a.requires_grad and not a.is_leaf
    a.sum().backward()
    close(x.grad, 2 * X3)
    i = torch.zeros(3, dtype=torch.int64)
    i.copy_(x)                                # an integer tensor never joins the graph
    assert not i.requires_grad and i.grad_fn is None


def test_in_place_through_select_view():
    x = T(X3)
    y = x * 1
    y.select(0, 0).mul_(2)
    w = np.array([1.0, 10.0, 100.0])
    (y * T(w, rg=False)).sum().backward()
    close(x.grad, [2, 10, 100])
    close(y, [2 * X3[0], X3[1], X3[2]])


def test_in_place_through_narrow_view_with_tensor_operand():
    x = T(X3)
    y = x * 1
    y.narrow(0, 0, 2).mul_(x.narrow(0, 1, 2))  # y = [x0 x1, x1 x2, x2]
    w = np.array([1.0, 10.0, 100.0])
    (y * T(w, rg=False)).sum().backward()
    x0, x1, x2 = X3
    close(x.grad, [x1, x0 + 10 * x2, 10 * x1 + 100])


def test_in_place_through_2d_column_view():
    a = np.arange(12.0).reshape(3, 4) / 7 - 0.5
    x = T(a)
    y = x.sin()                               # saves x, not its output
    col = y.select(1, 2)
    col.mul_(y.select(1, 0).clone())          # y[:, 2] = sin(x2) sin(x0)
    w = np.arange(1.0, 13.0).reshape(3, 4)
    (y * T(w, rg=False)).sum().backward()
    s, c = np.sin(a), np.cos(a)
    ref = w * c
    ref[:, 2] = w[:, 2] * c[:, 2] * s[:, 0]
    ref[:, 0] = w[:, 0] * c[:, 0] + w[:, 2] * s[:, 2] * c[:, 0]
    close(x.grad, ref)


def test_in_place_through_view_of_view():
    x = T(np.arange(6.0).reshape(2, 3) / 4)
    y = x * 1
    y.narrow(1, 1, 2).select(0, 1).pow_(2)     # y[1, 1:3] squared
    y.sum().backward()
    ref = np.ones((2, 3))
    ref[1, 1:] = 2 * N(x)[1, 1:]
    close(x.grad, ref)


def test_view_made_before_base_changed_in_place():
    # the view's history follows its base's (PyTorch regenerates a view's grad_fn)
    x = T(X3)
    y = x * 1
    v = y.narrow(0, 0, 2)
    y.mul_(2)
    v.sum().backward()
    close(x.grad, [2, 2, 0])
    x.grad = None
    y = x * 1
    v = y.narrow(0, 0, 2)
    w = y.narrow(0, 1, 2)
    w.mul_(3)                                 # through another view: y = [x0, 3x1, 3x2]
    (v * v).sum().backward()
    close(x.grad, [2 * X3[0], 18 * X3[1], 0])
    y = x * 1
    e = y.expand(2, 3)
    y.select(0, 0).mul_(3)
    with pytest.raises(RuntimeError, match="make the view again"):
        e.sum().backward()


def test_function_returning_a_view_of_its_input():
    class FirstTwo(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.narrow(0, 0, 2)

        @staticmethod
        def backward(ctx, g):
            z = g.new_zeros((3,))
            z.narrow(0, 0, 2).copy_(g * 7)
            return z

    x = T(X3)
    y = FirstTwo.apply(x * 1)
    assert y.grad_fn.name() == "FirstTwoBackward"
    y.sum().backward()
    close(x.grad, [7, 7, 0])


def test_in_place_then_saved_base_use_raises():
    x = T(X3)
    y = x * 1
    z = y.exp()                               # saves its output, not y
    s = y.sin()                               # saves y
    y.narrow(0, 0, 1).mul_(2)
    z.sum().backward()                        # fine
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()


# ----------------------------------------------------------------------------- double backward

def _second(f, a):
    """d^2/dx^2 of sum(f(x)) elementwise, via grad(create_graph) twice."""
    x = T(a)
    (g,) = autograd.grad(f(x).sum(), x, create_graph=True)
    assert g.requires_grad
    (h,) = autograd.grad(g.sum(), x)
    return g, h


A = np.array([0.4, 1.3, 2.2])


@pytest.mark.parametrize("name,f,d1,d2", [
    ("exp", lambda x: x.exp(), np.exp, np.exp),
    ("sin", lambda x: x.sin(), np.cos, lambda a: -np.sin(a)),
    ("tanh", lambda x: x.tanh(), lambda a: 1 - np.tanh(a) ** 2,
     lambda a: -2 * np.tanh(a) * (1 - np.tanh(a) ** 2)),
    ("sigmoid", lambda x: x.sigmoid(), lambda a: (s := 1 / (1 + np.exp(-a))) * (1 - s),
     lambda a: (s := 1 / (1 + np.exp(-a))) * (1 - s) * (1 - 2 * s)),
    ("mul", lambda x: x * x * x, lambda a: 3 * a ** 2, lambda a: 6 * a),
    ("div", lambda x: 1 / x, lambda a: -1 / a ** 2, lambda a: 2 / a ** 3),
    ("div2", lambda x: x / (x + 1), lambda a: 1 / (a + 1) ** 2, lambda a: -2 / (a + 1) ** 3),
    ("pow_scalar", lambda x: x ** 3.5, lambda a: 3.5 * a ** 2.5, lambda a: 8.75 * a ** 1.5),
    ("pow_tensor", lambda x: x ** x, lambda a: a ** a * (np.log(a) + 1),
     lambda a: a ** a * ((np.log(a) + 1) ** 2 + 1 / a)),
    ("rpow", lambda x: 2.0 ** x, lambda a: 2 ** a * np.log(2), lambda a: 2 ** a * np.log(2) ** 2),
])
def test_double_backward_elementwise(name, f, d1, d2):
    g, h = _second(f, A)
    close(g, d1(A), 1e-9)
    close(h, d2(A), 1e-9)


def test_double_backward_mixed_partial_of_mul_and_div():
    x, y = T(A), T(A + 1)
    (gx,) = autograd.grad((x * x * y).sum(), x, create_graph=True)     # 2xy
    (gxy,) = autograd.grad(gx.sum(), y)                                 # 2x
    close(gxy, 2 * A)
    x, y = T(A), T(A + 1)
    (gx,) = autograd.grad((x / y).sum(), x, create_graph=True)         # 1/y
    (gxy,) = autograd.grad(gx.sum(), y)                                 # -1/y^2
    close(gxy, -1 / (A + 1) ** 2)


B = np.array([[0.3, -0.7, 1.1, 0.2], [0.9, -0.4, 0.5, -1.3], [0.1, 0.6, -0.8, 1.4]])
V = np.array([[1.0, 2.0, -1.0, 0.5], [0.3, -0.2, 0.7, 1.1], [-0.6, 0.4, 0.9, -1.5]])


@pytest.mark.parametrize("name,L,Lnp,LTnp", [
    ("sum", lambda x: x.sum(0), lambda a: a.sum(0), lambda s: np.broadcast_to(s, B.shape)),
    ("mean", lambda x: x.mean(1), lambda a: a.mean(1),
     lambda s: np.broadcast_to(s[:, None] / 4, B.shape)),
    ("expand", lambda x: x.reshape(3, 1, 4).expand(3, 2, 4), lambda a: np.broadcast_to(
        a[:, None, :], (3, 2, 4)), lambda s: s.sum(1)),
    ("reshape", lambda x: x.reshape(2, 6), lambda a: a.reshape(2, 6),
     lambda s: s.reshape(3, 4)),
    ("permute", lambda x: x.reshape(3, 2, 2).permute(2, 0, 1),
     lambda a: a.reshape(3, 2, 2).transpose(2, 0, 1), lambda s: s.transpose(1, 2, 0).reshape(3, 4)),
    ("narrow", lambda x: x.narrow(1, 1, 2), lambda a: a[:, 1:3],
     lambda s: np.pad(s, ((0, 0), (1, 1)))),
])
def test_double_backward_linear_ops(name, L, Lnp, LTnp):
    # f(x) = sum(c * L(x)^3): grad = L^T(3 c L(x)^2), Hessian-vector product
    # H v = L^T(6 c L(x) L(v))
    x = T(B)
    Lx = Lnp(B)
    c = np.linspace(0.5, 1.5, Lx.size).reshape(Lx.shape)
    f = (T(c, rg=False) * L(x) ** 3).sum()
    (g,) = autograd.grad(f, x, create_graph=True)
    close(g, LTnp(3 * c * Lx ** 2))
    (hv,) = autograd.grad(g, x, grad_outputs=T(V, rg=False))
    close(hv, LTnp(6 * c * Lx * Lnp(V)))


def test_backward_create_graph_accumulates_differentiable_grad():
    x = T(A)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    close(x.grad, 3 * A ** 2)
    (g2,) = autograd.grad(x.grad.sum(), x)
    close(g2, 6 * A)


def test_third_derivative():
    x = T(A)
    (g,) = autograd.grad(x.sin().sum(), x, create_graph=True)
    (h,) = autograd.grad(g.sum(), x, create_graph=True)
    (k,) = autograd.grad(h.sum(), x)
    close(k, -np.cos(A))


# ----------------------------------------------------------------------------- memory

def test_graph_freed_by_refcount_alone_and_memory_flat():
    rng = np.random.default_rng(0)
    w = T(rng.standard_normal(8))
    x = T(rng.standard_normal((4, 8)), rg=False)
    y = T(rng.standard_normal((4, 8)), rg=False)
    prev_refs = []

    def step():
        h = (x * w).tanh()
        loss = (h * y).sum()
        refs = [weakref.ref(loss.grad_fn), weakref.ref(h.grad_fn)]
        loss.backward()
        with torch.no_grad():
            w.sub_(w.grad * 0.01)
        w.grad = None
        return refs

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for k in range(2000):
            if k == 1000:
                tracemalloc.start()        # tracing is slow: watch the second half only
            refs = step()
            # step k's nodes are gone once step k+1 has run (locals of step k are dead)
            assert all(r() is None for r in prev_refs), f"nodes of step {k - 1} still alive"
            prev_refs = refs
            if k == 1100:
                base = tracemalloc.get_traced_memory()[0]
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    assert all(r() is None for r in prev_refs)
    assert grown < 32 * 1024, f"memory grew by {grown} bytes over 900 steps"


def test_retained_output_does_not_keep_saved_tensors_after_backward():
    x = T(X3)
    y = x.exp()
    loss = y.sum()
    loss.backward()
    node = y.grad_fn
    assert node.freed and node.saved == () and node.outs is None


# ----------------------------------------------------------------------------- PyTorch oracle

def _scenario_inplace_mix(t, x):
    y = x * 2
    y.add_(1)
    y.narrow(0, 1, 2).mul_(x.narrow(0, 0, 2).exp())
    y.select(0, 0).sub_(x.select(0, 2) * 3)
    return (y * y).sum()


def _scenario_views_2d(t, x):
    z = x.reshape(2, 3).permute(1, 0) * 1
    z.select(1, 1).mul_(z.select(1, 0).clone())
    z.narrow(0, 0, 2).add_(2)
    return (z.sin() * z).sum()


def _scenario_hooks(t, x):
    y = x.tanh()
    y.register_hook(lambda g: g * 3)
    z = y * x
    z.retain_grad()
    return (z * z).sum() + y.sum()


def _scenario_stale_views(t, x):
    y = x.sin()
    a = y.narrow(0, 0, 4)
    b = y.narrow(0, 2, 4).reshape(2, 2)
    y.mul_(x)
    b.select(0, 1).add_(a.narrow(0, 0, 2).exp())
    return (a * a).sum() + (b * y.narrow(0, 0, 4).reshape(2, 2)).sum()


@pytest.mark.parametrize("scenario", [_scenario_inplace_mix, _scenario_views_2d,
                                      _scenario_hooks, _scenario_stale_views])
def test_matches_pytorch_on_in_place_and_view_scenarios(scenario):
    ref = pytest.importorskip("torch")
    a = np.array([0.3, -0.8, 1.1, 0.5, -0.2, 0.9])
    x = T(a)
    scenario(torch, x).backward()
    rx = ref.tensor(a, dtype=ref.float64, requires_grad=True)
    scenario(ref, rx).backward()
    close(x.grad, rx.grad.numpy())


def test_hooks_fire_in_pytorchs_order_past_an_input_no_gradient_reached():
    """A derivative returning None for an input that requires grad: the engine passes that
    input's node (no gradient to run) after the current node's other edges, so leaves finish
    in the order PyTorch's engine gives (recorded from PyTorch 2.13: ['w', 'x'])."""
    class F(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return None, g

    order = []
    x = torch.ones(3, requires_grad=True)
    w = torch.ones(3, requires_grad=True)
    x.register_hook(lambda g: order.append("x"))
    w.register_hook(lambda g: order.append("w"))
    (F.apply(x * 2, w).sum() + (x * 3).sum()).backward()
    assert order == ["w", "x"]
    assert x.grad.tolist() == [3.0, 3.0, 3.0] and w.grad.tolist() == [1.0, 1.0, 1.0]
