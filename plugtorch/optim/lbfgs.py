"""LBFGS: limited-memory BFGS, optionally with a strong-Wolfe line search.

NOTE [LBFGS reads scalars back]
Unlike the other optimizers, L-BFGS decides as it goes: whether a curvature pair is kept,
how far the line search moves and when to stop all depend on dot products and norms. Each
of those is computed on the parameters' device and read back as a Python float (as
PyTorch does); the vectors themselves (directions, gradients, history) stay on the device.
"""
import math

from ..autograd.grad_mode import enable_grad, no_grad
from ..ops.shape_ops import cat
from .optimizer import Optimizer

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    r"""L-BFGS, PyTorch's algorithm (after minFunc), on all parameters as one flat vector.

    Each `step` runs up to `max_iter` iterations: a search direction from the two-loop
    recursion over the last `history_size` curvature pairs :math:`(s, y)` (a pair is kept
    when :math:`y^\top s > 10^{-10}`), then a move along it, by ``lr`` (the first
    iteration ever by :math:`\min(1, 1/\lVert g\rVert_1)\,lr`), or by a step that satisfies
    the strong Wolfe conditions (:math:`c_1 = 10^{-4}`, :math:`c_2 = 0.9`) found by
    bracketing and cubic interpolation (Nocedal & Wright, Algorithms 3.5 and 3.6).

    An iteration stops the step when the gradient's largest entry is at most
    `tolerance_grad`, when the direction is no longer one of descent, when the move or the
    change of the loss falls below `tolerance_change`, or when `max_eval` evaluations of
    the closure have been spent. See NOTE [LBFGS reads scalars back].

    Args:
        params (iterable): the tensors to optimize (one parameter group only).
        lr (float): learning rate (step length of the moves without line search).
            Default: 1.
        max_iter (int): iterations per `step`. Default: 20.
        max_eval (int, optional): closure evaluations per `step`.
            Default: ``max_iter * 5 // 4``.
        tolerance_grad (float): stop when the gradient's max-norm is this small.
            Default: 1e-7.
        tolerance_change (float): stop when the move or the loss change is this small.
            Default: 1e-9.
        history_size (int): number of curvature pairs kept. Default: 100.
        line_search_fn (str, optional): ``"strong_wolfe"`` or None (fixed steps).

    State (in ``state[first parameter]``, PyTorch's keys): ``"func_evals"``, ``"n_iter"``,
    ``"d"``, ``"t"``, ``"old_dirs"``, ``"old_stps"``, ``"ro"``, ``"H_diag"``,
    ``"prev_flat_grad"``, ``"prev_loss"`` and ``"al"``.

    Example:
        >>> import plugtorch
        >>> w = plugtorch.tensor([3.0, -1.0], requires_grad=True)
        >>> opt = plugtorch.optim.LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - 1) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> w
        tensor([1., 1.], requires_grad=True)
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    # --------------------------------------------------------------- the flat vector

    @property
    def _params(self):
        return self.param_groups[0]["params"]

    def _flat_grad(self):
        return cat([p.new_zeros(p.numel()) if p.grad is None else p.grad.reshape(-1)
                    for p in self._params], 0)

    def _move(self, t, d):
        """params += t * d, each parameter from its slice of the flat vector `d`."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset:offset + n].view(p.shape), alpha=t)
            offset += n

    def _evaluate_at(self, closure, t, d):
        """Loss and flat gradient at params + t * d; the parameters are then restored."""
        saved = [p.clone() for p in self._params]
        self._move(t, d)
        loss = float(closure())
        grad = self._flat_grad()
        for p, x in zip(self._params, saved):
            p.copy_(x)
        return loss, grad

    # --------------------------------------------------------------- the step

    def step(self, closure):
        """Run up to `max_iter` L-BFGS iterations.

        Args:
            closure (callable): re-evaluates the model (zeroing and recomputing the
                gradients) and returns the loss; required.

        Returns:
            the loss `closure` returned at the starting point.
        """
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise RuntimeError("only 'strong_wolfe' is supported")

        def evaluate():
            with enable_grad():
                return closure()

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with no_grad():
            first_loss = evaluate()
            loss = float(first_loss)
            evals = 1
            state["func_evals"] += 1
            g = self._flat_grad()
            if g.abs().max().item() <= tol_grad:
                return first_loss

            d, t = state.get("d"), state.get("t")
            dirs, stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
            h_diag, g_prev = state.get("H_diag"), state.get("prev_flat_grad")
            loss_prev = state.get("prev_loss")
            for it in range(1, max_iter + 1):
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    d, dirs, stps, ro, h_diag = g.neg(), [], [], [], 1
                else:
                    y = g - g_prev
                    s = d * t
                    ys = y.dot(s).item()
                    if ys > 1e-10:          # keep the pair only where curvature is positive
                        if len(dirs) == history_size:
                            del dirs[0], stps[0], ro[0]
                        dirs.append(y)
                        stps.append(s)
                        ro.append(1.0 / ys)
                        h_diag = ys / y.dot(y).item()
                    al = state.setdefault("al", [None] * history_size)
                    d = _two_loop(g, dirs, stps, ro, h_diag, al)
                g_prev = g.clone()
                loss_prev = loss
                if state["n_iter"] == 1:
                    t = min(1.0, 1.0 / g.abs().sum().item()) * lr
                else:
                    t = lr
                gtd = g.dot(d).item()
                if gtd > -tol_change:       # not a descent direction
                    break

                used = 0
                if group["line_search_fn"] is not None:
                    loss, g, t, used = _strong_wolfe(
                        lambda step: self._evaluate_at(evaluate, step, d), t, d, loss, g,
                        gtd, tolerance_change=tol_change, max_ls=max_eval - evals)
                    self._move(t, d)
                    converged = g.abs().max().item() <= tol_grad
                else:
                    self._move(t, d)
                    converged = False
                    if it != max_iter:      # the last move's loss is the next step's start
                        loss = float(evaluate())
                        g = self._flat_grad()
                        converged = g.abs().max().item() <= tol_grad
                        used = 1
                evals += used
                state["func_evals"] += used

                if it == max_iter or evals >= max_eval or converged:
                    break
                if (d * t).abs().max().item() <= tol_change:
                    break
                if abs(loss - loss_prev) < tol_change:
                    break

            state.update(d=d, t=t, old_dirs=dirs, old_stps=stps, ro=ro, H_diag=h_diag,
                         prev_flat_grad=g_prev, prev_loss=loss_prev)
        return first_loss


def _two_loop(g, dirs, stps, ro, h_diag, al):
    """The L-BFGS direction -H g from the curvature pairs (y in `dirs`, s in `stps`) and
    the initial scaling `h_diag`; `al` receives the first loop's coefficients."""
    q = g.neg()
    for i in range(len(dirs) - 1, -1, -1):
        al[i] = stps[i].dot(q).item() * ro[i]
        q.add_(dirs[i], alpha=-al[i])
    r = q.mul_(h_diag)
    for i in range(len(dirs)):
        beta = dirs[i].dot(r).item() * ro[i]
        r.add_(stps[i], alpha=al[i] - beta)
    return r


def _cubic_min(a, fa, ga, b, fb, gb, lo=None, hi=None):
    """The minimizer of the cubic with values fa, fb and slopes ga, gb at a and b, clipped
    to [lo, hi] (default: the interval between a and b); the interval's midpoint when the
    cubic has no minimizer (Nocedal & Wright, eq. 3.59)."""
    if lo is None:
        lo, hi = min(a, b), max(a, b)
    theta = ga + gb - 3 * (fa - fb) / (a - b)
    disc = theta * theta - ga * gb
    if disc < 0:
        return (lo + hi) / 2.0
    w = math.sqrt(disc)
    if a <= b:
        x = b - (b - a) * ((gb + w - theta) / (gb - ga + 2 * w))
    else:
        x = a - (a - b) * ((ga + w - theta) / (ga - gb + 2 * w))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate, t, d, f0, g0, gtd0, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """A step length along `d` satisfying the strong Wolfe conditions.

    `evaluate(t)` gives (loss, flat gradient) at the start + t * d; f0, g0, gtd0 are the
    loss, gradient and slope at the start. Returns (loss, gradient, t, evaluations).
    Points are lists [t, f, g, slope].
    """
    d_norm = d.abs().max().item()

    def probe(step):
        f, g = evaluate(step)
        return [step, f, g, g.dot(d).item()]

    def too_high(p):                    # the sufficient-decrease (Armijo) test fails
        return p[1] > f0 + c1 * p[0] * gtd0

    def curvature_ok(p):
        return abs(p[3]) <= -c2 * gtd0

    # 1. bracketing: extrapolate until an interval holds acceptable steps (or one is found)
    prev, cur = [0, f0, g0, gtd0], probe(t)
    evals, tries, done, bracket = 1, 0, False, None
    while tries < max_ls:
        if too_high(cur) or (tries > 1 and cur[1] >= prev[1]):
            bracket = [prev, cur]
            break
        if curvature_ok(cur):
            bracket, done = [cur], True
            break
        if cur[3] >= 0:                 # the slope turned: a minimum lies behind
            bracket = [prev, cur]
            break
        step = _cubic_min(prev[0], prev[1], prev[3], cur[0], cur[1], cur[3],
                          lo=cur[0] + 0.01 * (cur[0] - prev[0]), hi=cur[0] * 10)
        prev, cur = cur, probe(step)
        evals += 1
        tries += 1
    if tries == max_ls:                 # out of evaluations: the start and the last probe
        bracket = [[0, f0, g0, None], cur]

    # 2. zoom: shrink the bracket by safeguarded cubic interpolation
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    stalled = False
    while not done and tries < max_ls:
        a, b = bracket[0][0], bracket[1][0]
        if abs(b - a) * d_norm < tolerance_change:
            break
        step = _cubic_min(bracket[0][0], bracket[0][1], bracket[0][3],
                          bracket[1][0], bracket[1][1], bracket[1][3])
        left, right = min(a, b), max(a, b)
        margin = 0.1 * (right - left)
        # keep the trial away from the ends; near an end twice in a row, force it inwards
        if min(right - step, step - left) < margin:
            if stalled or step >= right or step <= left:
                step = right - margin if abs(step - right) < abs(step - left) \
                    else left + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        cur = probe(step)
        evals += 1
        tries += 1
        if too_high(cur) or cur[1] >= bracket[low][1]:
            bracket[high] = cur
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if curvature_ok(cur):
                done = True
            elif cur[3] * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = cur
    best = bracket[low]
    return best[1], best[2], best[0], evals
