"""Check derivatives against finite differences: gradcheck (first order) and gradgradcheck
(second order).

Both compare full Jacobians: the numerical one by central differences, one input element
at a time, and the analytical one row by row, one backward pass per output element
(a vector-Jacobian product with a one-hot vector). Use float64 inputs: in float32 the
finite differences are too noisy for the default tolerances.
"""
import warnings

import numpy as np

from .._tensor import Tensor, from_numpy_on, host_array
from . import grad_mode
from .engine import grad as _grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck / gradgradcheck when a derivative is wrong."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _diff_inputs(inputs):
    return [i for i, x in enumerate(inputs)
            if isinstance(x, Tensor) and x._rg and x._dtype.is_floating_point]


def _host64(t):
    return np.array(host_array(t.detach()), dtype=np.float64)


def _outputs(func, inputs):
    return [o for o in _as_tuple(func(*inputs))]


def _numerical(func, inputs, diff, n_out_elems, eps):
    """J[i][k]: d(output k, flattened) / d(input i, flattened), by central differences."""
    jac = {}
    for i in diff:
        x = inputs[i]
        base = np.array(host_array(x.detach()), copy=True)
        cols = []
        for j in range(base.size):
            vals = []
            for step in (eps, -eps):
                arr = base.copy()
                arr.flat[j] += step
                t = from_numpy_on(arr, x._storage.device, x._storage.backend)
                t._rg = x._rg
                args = list(inputs)
                args[i] = t
                outs = _outputs(func, args)
                vals.append([_host64(o).ravel() if isinstance(o, Tensor) else None
                             for o in outs])
            cols.append([None if p is None else (p - m) / (2 * eps)
                         for p, m in zip(*vals)])
        for k, n in enumerate(n_out_elems):
            if n is None:
                continue
            m = np.zeros((base.size, n))
            for j, col in enumerate(cols):
                m[j] = col[k]
            jac[(i, k)] = m
    return jac


def _analytical(outputs, inputs, diff, check_grad_dtypes):
    """The same Jacobians from autograd, one backward per output element."""
    xs = [inputs[i] for i in diff]
    jac = {}
    for k, o in enumerate(outputs):
        if not isinstance(o, Tensor) or not o._dtype.is_floating_point:
            continue
        n = o.numel()
        rows = {i: np.zeros((inputs[i].numel(), n)) for i in diff}
        if o._rg:
            np_dtype = host_array(o.detach()).dtype
            for m in range(n):
                flat = np.zeros(n, dtype=np_dtype)
                flat[m] = 1
                onehot = from_numpy_on(flat.reshape(o._shape), o._storage.device,
                                       o._storage.backend)
                gs = _grad((o,), xs, (onehot,), retain_graph=True, allow_unused=True)
                for i, g in zip(diff, gs):
                    if g is None:
                        continue
                    x = inputs[i]
                    if g._shape != x._shape:
                        raise GradcheckError(f"Gradient has incorrect shape: got "
                                             f"{tuple(g._shape)} for input {i} of shape "
                                             f"{tuple(x._shape)}")
                    if check_grad_dtypes and g._dtype is not x._dtype:
                        raise GradcheckError(f"Gradient has dtype mismatch: got {g._dtype} for "
                                             f"input {i} of dtype {x._dtype}")
                    rows[i][:, m] = _host64(g).ravel()
        for i in diff:
            jac[(i, k)] = rows[i]
    return jac


def _fail(msg, raise_exception):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_backward_ad=True, fast_mode=False, masked=None):
    """Check the gradients of `func` at `inputs` against central finite differences.

    Every tensor input with requires_grad=True is checked against every floating output:
    the analytical Jacobian (from autograd) must match the numerical one elementwise within
    `atol + rtol * |numerical|`.

    Args:
        func: a function of `inputs` returning a tensor or a tuple of tensors.
        inputs: a tensor or a tuple of arguments (non-tensors are passed through).
        eps: finite-difference step.
        atol, rtol: absolute and relative tolerance.
        raise_exception: raise GradcheckError on failure (else return False).
        nondet_tol: allowed difference between two backward passes with the same input.
        check_grad_dtypes: also require each gradient to have its input's dtype.

    Returns:
        True when every Jacobian matches.

    Example:
        >>> import plugtorch as torch
        >>> x = torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True)
        >>> torch.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
        True
    """
    inputs = _as_tuple(inputs)
    diff = _diff_inputs(inputs)
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of them have requires_grad=True.")
    for i in diff:
        if inputs[i]._dtype.name != "float64":
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          f"point ({inputs[i]._dtype}). This check will likely fail if all the "
                          f"inputs are not of double precision floating point.", stacklevel=2)
    with grad_mode.enable_grad():
        outputs = _outputs(func, inputs)
        n_elems = [o.numel() if isinstance(o, Tensor) and o._dtype.is_floating_point else None
                   for o in outputs]
        analytical = _analytical(outputs, inputs, diff, check_grad_dtypes)
        numerical = _numerical(func, inputs, diff, n_elems, eps)
        if nondet_tol >= 0 and any(isinstance(o, Tensor) and o._rg for o in outputs):
            again = _analytical(_outputs(func, inputs), inputs, diff, False)
            for key, a in analytical.items():
                if np.abs(again[key] - a).max(initial=0.0) > nondet_tol:
                    return _fail(f"Backward is not reentrant, i.e., running backward with the "
                                 f"same input and grad_output multiple times gives different "
                                 f"values, although analytical gradient matches numerical "
                                 f"gradient. The tolerance for nondeterminism was {nondet_tol}.",
                                 raise_exception)
    for (i, k), n in sorted(numerical.items()):
        a = analytical[(i, k)]
        if not np.all(np.abs(a - n) <= atol + rtol * np.abs(n)):
            worst = np.unravel_index(np.argmax(np.abs(a - n) - rtol * np.abs(n)), n.shape)
            with np.printoptions(precision=6, suppress=True, linewidth=100):
                msg = (f"Jacobian mismatch for output {k} with respect to input {i},\n"
                       f"numerical:{n}\nanalytical:{a}\n"
                       f"largest difference at (input element {worst[0]}, output element "
                       f"{worst[1]}): numerical {n[worst]:.6g}, analytical {a[worst]:.6g} "
                       f"(atol={atol}, rtol={rtol})")
            return _fail(msg, raise_exception)
    return True


def gradgradcheck(func, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  fast_mode=False, masked=None):
    """Check second derivatives: gradcheck of the map (inputs, v) -> v^T J(inputs), built
    with create_graph=True.

    Args:
        func, inputs, eps, atol, rtol, raise_exception: as in gradcheck.
        grad_outputs: the vectors v, one per output; random (fixed seed) when omitted.

    Example:
        >>> import plugtorch as torch
        >>> x = torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True)
        >>> torch.autograd.gradgradcheck(lambda t: t.exp() * t, (x,))
        True
    """
    inputs = _as_tuple(inputs)
    diff = _diff_inputs(inputs)
    if not diff:
        raise ValueError("gradgradcheck expects at least one input tensor to require gradient")
    with grad_mode.enable_grad():
        outputs = _outputs(func, inputs)
    diff_out = [k for k, o in enumerate(outputs)
                if isinstance(o, Tensor) and o._dtype.is_floating_point and o._rg]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = []
        for k in diff_out:
            o = outputs[k]
            v = rng.standard_normal(o._shape).astype(host_array(o.detach()).dtype)
            t = from_numpy_on(v, o._storage.device, o._storage.backend)
            t._rg = True
            grad_outputs.append(t)
    grad_outputs = tuple(_as_tuple(grad_outputs))
    if len(grad_outputs) != len(diff_out):
        raise ValueError(f"gradgradcheck: expected {len(diff_out)} grad_outputs (one per "
                         f"differentiable output), got {len(grad_outputs)}")
    n_in = len(inputs)

    def first_derivative(*args):
        xs, vs = args[:n_in], args[n_in:]
        outs = _outputs(func, xs)
        wrt = [xs[i] for i in diff]
        return _grad(tuple(outs[k] for k in diff_out), wrt, vs, create_graph=True,
                     materialize_grads=True)

    return gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_grad_dtypes=check_grad_dtypes)
