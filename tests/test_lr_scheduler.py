"""Learning-rate schedulers: lr sequences vs closed forms and PyTorch, state dicts, errors.

Schedulers only touch Python floats in the parameter groups, so these tests run on the CPU.
"""
import math
import warnings
from bisect import bisect_right

import pytest

import plugtorch
from plugtorch.optim import lr_scheduler

BASE = [0.1, 0.02]   # two parameter groups with their own learning rates
EPOCHS = 25


def _optimizer(lib, name="SGD", **kw):
    groups = [{"params": [lib.zeros(2, requires_grad=True)], "lr": lr} for lr in BASE]
    return getattr(lib.optim, name)(groups, lr=BASE[0], **kw)


def _lrs(sched, opt, n=EPOCHS, key="lr"):
    """The value of `key` in every group before each of `n` epochs."""
    seq = []
    for _ in range(n):
        seq.append([g[key] for g in opt.param_groups])
        opt.step()
        sched.step()
    return seq


def _closed(n, fn):
    return [[fn(base, e) for base in BASE] for e in range(n)]


def _close(a, b, tol=1e-12):
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == pytest.approx(y, rel=tol, abs=tol), f"epoch {i}: {x} != {y}"


# (scheduler, kwargs, closed form lr(base, epoch))
CLOSED_FORMS = [
    ("StepLR", dict(step_size=4, gamma=0.5), lambda b, e: b * 0.5 ** (e // 4)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 12], gamma=0.3),
     lambda b, e: b * 0.3 ** bisect_right([3, 7, 7, 12], e)),
    ("ExponentialLR", dict(gamma=0.9), lambda b, e: b * 0.9 ** e),
    ("CosineAnnealingLR", dict(T_max=8), lambda b, e: b * (1 + math.cos(math.pi * e / 8)) / 2),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.01),
     lambda b, e: 0.01 + (b - 0.01) * (1 + math.cos(math.pi * e / 6)) / 2),
    ("LambdaLR", dict(lr_lambda=lambda e: 1 / (1 + e)), lambda b, e: b / (1 + e)),
]
CF_IDS = [f"{c[0]}-{i}" for i, c in enumerate(CLOSED_FORMS)]


@pytest.mark.parametrize("name, kw, form", CLOSED_FORMS, ids=CF_IDS)
def test_schedule_matches_closed_form(name, kw, form):
    opt = _optimizer(plugtorch)
    sched = getattr(lr_scheduler, name)(opt, **kw)
    # the cosine runs past T_max: the recursive form keeps following the cosine
    _close(_lrs(sched, opt), _closed(EPOCHS, form), tol=1e-9)
    assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
    assert sched.last_epoch == EPOCHS


TORCH_CASES = [(n, kw) for n, kw, _ in CLOSED_FORMS] + [
    ("LambdaLR", dict(lr_lambda=[lambda e: 0.95 ** e, lambda e: 1 + e % 3])),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=EPOCHS)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=EPOCHS, anneal_strategy="linear",
                        pct_start=0.4, div_factor=10.0, final_div_factor=100.0)),
    ("OneCycleLR", dict(max_lr=0.8, epochs=5, steps_per_epoch=5, three_phase=True,
                        base_momentum=0.8, max_momentum=0.9)),
]


@pytest.mark.parametrize("name, kw", TORCH_CASES, ids=[f"{c[0]}-{i}" for i, c in
                                                       enumerate(TORCH_CASES)])
def test_schedule_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    extra = dict(momentum=0.9) if name == "OneCycleLR" else {}
    ours_opt, theirs_opt = _optimizer(plugtorch, **extra), _optimizer(torch, **extra)
    ours = getattr(lr_scheduler, name)(ours_opt, **kw)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **kw)
    _close(_lrs(ours, ours_opt), _lrs(theirs, theirs_opt))
    if name == "OneCycleLR":
        ours_opt2, theirs_opt2 = _optimizer(plugtorch, **extra), _optimizer(torch, **extra)
        ours = getattr(lr_scheduler, name)(ours_opt2, **kw)
        theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt2, **kw)
        _close(_lrs(ours, ours_opt2, key="momentum"), _lrs(theirs, theirs_opt2, key="momentum"))


def test_cosine_follows_a_hand_changed_lr_like_torch():
    torch = pytest.importorskip("torch")
    seqs = []
    for lib, mod in ((plugtorch, lr_scheduler), (torch, torch.optim.lr_scheduler)):
        opt = _optimizer(lib)
        sched = mod.CosineAnnealingLR(opt, T_max=5, eta_min=0.001)
        seq = []
        for e in range(12):
            if e == 3:
                opt.param_groups[0]["lr"] *= 0.5     # the recursive form keeps this change
            seq.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        seqs.append(seq)
    _close(*seqs)


@pytest.mark.parametrize("name, kw", [("CosineAnnealingLR", dict(T_max=6, eta_min=0.01)),
                                      ("StepLR", dict(step_size=3)),
                                      ("ExponentialLR", dict(gamma=0.8))])
def test_resume_with_last_epoch_like_torch(name, kw):
    torch = pytest.importorskip("torch")
    seqs = []
    for lib, mod in ((plugtorch, lr_scheduler), (torch, torch.optim.lr_scheduler)):
        opt = _optimizer(lib)
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"] * 2
        seqs.append(_lrs(getattr(mod, name)(opt, last_epoch=4, **kw), opt, n=10))
    _close(*seqs)


def _one_cycle_closed(step, total, max_lr, pct, div, final_div, anneal):
    """PyTorch's two-phase 1cycle schedule written out (phase ends at pct*total - 1)."""
    lo, top = max_lr / div, max_lr
    end1 = pct * total - 1
    if step <= end1:
        a, b, x = lo, top, step / end1
    else:
        a, b, x = top, lo / final_div, (step - end1) / (total - 1 - end1)
    if anneal == "linear":
        return a + (b - a) * x
    return b + (a - b) * (1 + math.cos(math.pi * x)) / 2


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_closed_form_and_adam_betas(anneal):
    opt = _optimizer(plugtorch, "Adam", betas=(0.9, 0.99))
    sched = lr_scheduler.OneCycleLR(opt, max_lr=2.0, total_steps=20, pct_start=0.25,
                                    anneal_strategy=anneal, div_factor=20.0,
                                    final_div_factor=50.0)
    seq, betas = [], []
    for _ in range(20):
        seq.append(opt.param_groups[1]["lr"])
        betas.append(opt.param_groups[1]["betas"])
        opt.step()
        sched.step()
    _close(seq, [_one_cycle_closed(s, 20, 2.0, 0.25, 20.0, 50.0, anneal) for s in range(20)])
    # beta1 goes opposite to the lr, between max_momentum 0.95 and base_momentum 0.85
    assert betas[0] == pytest.approx((0.95, 0.99)) and betas[4][0] == pytest.approx(0.85)
    assert betas[-1][0] == pytest.approx(0.95) and all(b[1] == 0.99 for b in betas)
    with pytest.raises(ValueError, match="Tried to step 21 times"):
        opt.step()
        sched.step()


def test_reduce_lr_on_plateau_by_hand():
    opt = _optimizer(plugtorch)
    sched = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1,
                                           min_lr=[0.03, 0.0], threshold=0.1)
    metrics = [10, 9.5, 9.2, 9.1, 9.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0]
    # rel threshold: an improvement needs metric < best * 0.9; best = 10 from the first step.
    # Bad steps 1, 2, 3 -> 3 > patience at step 3: reduce; step 4 is bad but in cooldown;
    # 8.0 at step 5 improves; bad 6, 7, 8 -> reduce at step 8 (group 0 stops at min_lr 0.03)
    want = [[0.1, 0.02]] * 3 + [[0.05, 0.01]] * 5 + [[0.03, 0.005]] * 4
    got = []
    for m in metrics:
        sched.step(m)
        got.append(sched.get_last_lr())
    assert got == [pytest.approx(w) for w in want]
    assert sched.last_epoch == len(metrics)


@pytest.mark.parametrize("kw", [dict(mode="max", threshold_mode="abs", threshold=0.5,
                                     patience=1), dict(mode="min", patience=0, eps=0.05),
                                dict(mode="max", cooldown=2, patience=0, factor=0.3)])
def test_reduce_lr_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    metrics = [1.0, 1.2, 1.3, 1.3, 1.9, 1.1, 1.0, 2.5, 2.4, 2.4, 2.6, 2.6, 2.0]
    seqs = []
    for lib, mod in ((plugtorch, lr_scheduler), (torch, torch.optim.lr_scheduler)):
        opt = _optimizer(lib)
        sched = mod.ReduceLROnPlateau(opt, **kw)
        seq = []
        for m in metrics:
            sched.step(m)
            seq.append(sched.get_last_lr())
        seqs.append(seq)
    assert seqs[0] == seqs[1]


@pytest.mark.parametrize("make", [
    lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=20),
    lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1),
    lambda o: lr_scheduler.LambdaLR(o, lambda e: 0.9 ** e),
], ids=["StepLR", "CosineAnnealingLR", "OneCycleLR", "ReduceLROnPlateau", "LambdaLR"])
def test_state_dict_round_trip_resumes_identically(make):
    def run(sched, opt, n, start):
        out = []
        for e in range(start, start + n):
            opt.step()
            sched.step(float(e % 3)) if isinstance(sched, lr_scheduler.ReduceLROnPlateau) \
                else sched.step()
            out.append(sched.get_last_lr())
        return out

    opt_a = _optimizer(plugtorch, momentum=0.9)
    sched_a = make(opt_a)
    run(sched_a, opt_a, 6, 0)
    saved_sched, saved_opt = sched_a.state_dict(), opt_a.state_dict()
    assert "optimizer" not in saved_sched
    opt_b = _optimizer(plugtorch, momentum=0.9)
    sched_b = make(opt_b)
    opt_b.load_state_dict(saved_opt)
    sched_b.load_state_dict(saved_sched)
    assert run(sched_b, opt_b, 8, 6) == run(sched_a, opt_a, 8, 6)


def test_lambda_state_dict_keeps_callable_objects_state():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = _optimizer(plugtorch)
    sched = lr_scheduler.LambdaLR(opt, [Decay(0.5), lambda e: 1.0])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"rate": 0.5}, None]
    sd["lr_lambdas"][0]["rate"] = 0.25
    sched.load_state_dict(sd)
    opt.step()
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.1 * 0.25, 0.02])


def test_step_with_epoch_uses_closed_form_and_warns():
    opt = _optimizer(plugtorch)
    sched = lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.1)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(6)
    assert sched.get_last_lr() == pytest.approx([0.001, 0.0002])


def test_warns_when_scheduler_steps_before_optimizer():
    opt = _optimizer(plugtorch)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = _optimizer(plugtorch)
    sched2 = lr_scheduler.ExponentialLR(opt2, gamma=0.5)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_resuming_needs_initial_lr_and_keeps_it():
    opt = _optimizer(plugtorch)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)
    lr_scheduler.StepLR(opt, step_size=2)
    opt.param_groups[0]["lr"] = 0.7
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert sched.base_lrs == BASE     # initial_lr is set once, by the first scheduler


@pytest.mark.parametrize("make, error, message", [
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0), ValueError,
     "either total_steps OR"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError,
     "positive integer total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=1), ValueError,
     "pct_start"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=5, anneal_strategy="x"),
     ValueError, "anneal_strategy"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=[1.0], total_steps=5), ValueError,
     "max_lr must have the same length"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), ValueError, "mode up is unknown"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError,
     "expected 2 min_lrs"),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0]), ValueError,
     "Expected 2 lr_lambdas"),
    (lambda o: lr_scheduler.StepLR("sgd", 2), TypeError, "str is not an Optimizer"),
])
def test_invalid_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make(_optimizer(plugtorch))


def test_one_cycle_needs_momentum_or_betas():
    opt = _optimizer(plugtorch, "Adagrad")
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=5)
    lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=5, cycle_momentum=False)


# ----------------------------------------------------------------------------- more schedulers

def _tri(e, half):
    """Distance-based triangle wave in [0, 1]: 0 at e = 0, 1 at e = half, period 2 half."""
    x = e % (2 * half)
    return x / half if x <= half else 2 - x / half


MORE_CLOSED = [
    ("ConstantLR", dict(factor=0.25, total_iters=6), lambda b, e: b * (0.25 if e < 6 else 1)),
    ("LinearLR", dict(start_factor=0.2, end_factor=0.9, total_iters=10),
     lambda b, e: b * (0.2 + 0.7 * min(e, 10) / 10)),
    ("PolynomialLR", dict(total_iters=12, power=2.0),
     lambda b, e: b * (1 - min(e, 12) / 12) ** 2),
    ("CosineAnnealingWarmRestarts", dict(T_0=7, eta_min=0.001),
     lambda b, e: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * (e % 7) / 7)) / 2),
]


@pytest.mark.parametrize("name, kw, form", MORE_CLOSED, ids=[c[0] for c in MORE_CLOSED])
def test_more_schedules_match_closed_form(name, kw, form):
    opt = _optimizer(plugtorch)
    sched = getattr(lr_scheduler, name)(opt, **kw)
    _close(_lrs(sched, opt, n=60), _closed(60, form), tol=1e-9)
    assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]


def test_warm_restarts_with_growing_periods_closed_form():
    # T_0 = 3, T_mult = 2: periods of 3, 6, 12, ... epochs, starting at 0, 3, 9, 21, 45
    opt = _optimizer(plugtorch)
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)
    starts = [0, 3, 9, 21, 45, 93]

    def form(b, e):
        i = bisect_right(starts, e) - 1
        return b * (1 + math.cos(math.pi * (e - starts[i]) / (3 * 2 ** i))) / 2
    _close(_lrs(sched, opt, n=60), _closed(60, form), tol=1e-9)


def test_warm_restarts_fractional_epochs():
    opt = _optimizer(plugtorch)
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.0)
    for epoch, t_cur, t_i in ((0.5, 0.5, 2), (2.5, 0.5, 4), (7.25, 1.25, 8), (1.0, 1.0, 2)):
        opt.step()
        sched.step(epoch)
        assert sched.last_epoch == math.floor(epoch)
        want = [b * (1 + math.cos(math.pi * t_cur / t_i)) / 2 for b in BASE]
        assert sched.get_last_lr() == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="Expected non-negative epoch"):
        sched.step(-1)


def test_cyclic_triangular_closed_form_and_momentum():
    opt = _optimizer(plugtorch, momentum=0.9)
    sched = lr_scheduler.CyclicLR(opt, base_lr=[0.01, 0.002], max_lr=[0.1, 0.02],
                                  step_size_up=4, base_momentum=0.8, max_momentum=0.95)
    got_lr, got_m = [], []
    for _ in range(50):
        got_lr.append([g["lr"] for g in opt.param_groups])
        got_m.append([g["momentum"] for g in opt.param_groups])
        opt.step()
        sched.step()
    want_lr = [[lo + (hi - lo) * _tri(e, 4) for lo, hi in ((0.01, 0.1), (0.002, 0.02))]
               for e in range(50)]
    want_m = [[0.95 - 0.15 * _tri(e, 4)] * 2 for e in range(50)]
    _close(got_lr, want_lr)
    _close(got_m, want_m)


CHAIN_MAKERS = {
    "Sequential-warmup-cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5),
            m.CosineAnnealingLR(o, T_max=20, eta_min=0.001)], milestones=[5]),
    "Sequential-three": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.5, total_iters=3), m.ExponentialLR(o, gamma=0.9),
            m.StepLR(o, step_size=4, gamma=0.5)], milestones=[6, 20]),
    "Chained": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.3, total_iters=4), m.ExponentialLR(o, gamma=0.95),
         m.PolynomialLR(o, total_iters=40, power=0.5)]),
    "Sequential-cyclic-restarts": lambda m, o: m.SequentialLR(
        o, [m.MultiStepLR(o, [2, 5], gamma=0.5),
            m.CosineAnnealingWarmRestarts(o, T_0=6, T_mult=2, eta_min=0.001)],
        milestones=[10]),
}

MORE_TORCH = [(n, kw) for n, kw, _ in MORE_CLOSED] + [
    ("ConstantLR", dict()), ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=30)),
    ("PolynomialLR", dict(total_iters=40, power=0.7)),
    ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=3, eta_min=0.0005)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=3)),
    ("CyclicLR", dict(base_lr=[0.01, 0.001], max_lr=0.2, step_size_up=4, mode="triangular2")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=6, mode="exp_range",
                      gamma=0.97)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3,
                      scale_fn=lambda c: 1 / c, scale_mode="cycle")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3,
                      scale_fn=lambda i: 0.99 ** i, scale_mode="iterations",
                      cycle_momentum=False)),
] + [(k, None) for k in CHAIN_MAKERS]


def _make_more(lib, name, kw, opt_name="SGD"):
    mod = lib.optim.lr_scheduler
    opt = _optimizer(lib, opt_name, **(dict(momentum=0.9) if opt_name == "SGD" else {}))
    sched = CHAIN_MAKERS[name](mod, opt) if kw is None else getattr(mod, name)(opt, **kw)
    return opt, sched


@pytest.mark.parametrize("name, kw", MORE_TORCH, ids=[f"{c[0]}-{i}" for i, c in
                                                      enumerate(MORE_TORCH)])
def test_more_schedules_match_torch(name, kw):
    torch = pytest.importorskip("torch")
    ours_opt, ours = _make_more(plugtorch, name, kw)
    theirs_opt, theirs = _make_more(torch, name, kw)
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-13)
    _close(_lrs(ours, ours_opt, n=60), _lrs(theirs, theirs_opt, n=60))
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
    if name == "CyclicLR" and kw.get("cycle_momentum", True):
        ours_opt, ours = _make_more(plugtorch, name, kw, "Adam")    # betas[0] cycles
        theirs_opt, theirs = _make_more(torch, name, kw, "Adam")
        beta1 = lambda opt, sched: [[b[0] for b in row] for row in _lrs(sched, opt, 30, "betas")]  # noqa: E731
        _close(beta1(ours_opt, ours), beta1(theirs_opt, theirs))


def test_warm_restarts_fractional_epochs_match_torch():
    torch = pytest.importorskip("torch")
    seqs = []
    for lib in (plugtorch, torch):
        opt = _optimizer(lib)
        sched = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2,
                                                                   eta_min=0.001)
        seq = []
        for epoch in range(12):
            for i in range(5):
                opt.step()
                sched.step(epoch + i / 5)
                seq.append(sched.get_last_lr() + [sched.T_cur, sched.T_i, sched.last_epoch])
        seqs.append(seq)
    _close(*seqs)


@pytest.mark.parametrize("name, kw", [
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, mode="triangular2")),
    ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=2)),
    ("LinearLR", dict(total_iters=9)), ("ConstantLR", dict(total_iters=7)),
    ("PolynomialLR", dict(total_iters=15, power=1.5)),
] + [(k, None) for k in CHAIN_MAKERS], ids=lambda v: v if isinstance(v, str) else "")
def test_more_state_dict_round_trip_resumes_identically(name, kw):
    opt_a, sched_a = _make_more(plugtorch, name, kw)
    _lrs(sched_a, opt_a, 7)
    saved_sched, saved_opt = sched_a.state_dict(), opt_a.state_dict()
    assert "optimizer" not in saved_sched
    opt_b, sched_b = _make_more(plugtorch, name, kw)
    opt_b.load_state_dict(saved_opt)
    sched_b.load_state_dict(saved_sched)
    assert _lrs(sched_b, opt_b, 20) == _lrs(sched_a, opt_a, 20)
    assert sched_b.get_last_lr() == sched_a.get_last_lr()


def test_cyclic_custom_scale_object_state_is_saved():
    class Halving:
        def __init__(self):
            self.base = 0.5

        def __call__(self, cycle):
            return self.base ** (cycle - 1)

    opt = _optimizer(plugtorch, momentum=0.9)
    sched = lr_scheduler.CyclicLR(opt, 0.01, 0.1, step_size_up=2, scale_fn=Halving())
    sd = sched.state_dict()
    assert sd["_scale_fn_custom"] == {"base": 0.5}
    sd["_scale_fn_custom"]["base"] = 0.25
    sched.load_state_dict(sd)
    assert sched._scale_fn_custom.base == 0.25
    plain = lr_scheduler.CyclicLR(_optimizer(plugtorch, momentum=0.9), 0.01, 0.1,
                                  scale_fn=lambda c: 1.0)
    assert plain.state_dict()["_scale_fn_custom"] is None


@pytest.mark.parametrize("make, error, message", [
    (lambda o: lr_scheduler.ConstantLR(o, factor=1.5), ValueError, "between 0 and 1"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0), ValueError, "greater than 0"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=2), ValueError, "between 0 and 1"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0), ValueError,
     "positive integer T_0"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5), ValueError,
     "integer T_mult >= 1"),
    (lambda o: lr_scheduler.CyclicLR(o, 0.1, 1.0, mode="sine"), ValueError,
     "mode is invalid"),
    (lambda o: lr_scheduler.CyclicLR(o, [0.1], 1.0), ValueError,
     "base_lr must have the same length"),
    (lambda o: lr_scheduler.SequentialLR(o, [], []), ValueError, "at least one scheduler"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)], [3]), ValueError,
     "one more than the number of milestone"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ReduceLROnPlateau(o)], []),
     ValueError, "does not support `ReduceLROnPlateau`"),
    (lambda o: lr_scheduler.ChainedScheduler(
        [lr_scheduler.StepLR(o, 2), lr_scheduler.StepLR(_optimizer(plugtorch), 2)]),
     ValueError, "belong to the same optimizer"),
    (lambda o: lr_scheduler.ChainedScheduler([]), ValueError, "at least one scheduler"),
])
def test_more_invalid_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make(_optimizer(plugtorch, momentum=0.9))


def test_cyclic_momentum_needs_momentum_or_betas():
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.CyclicLR(_optimizer(plugtorch, "Adagrad"), 0.01, 0.1)
