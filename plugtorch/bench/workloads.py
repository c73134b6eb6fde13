"""The benchmark workloads, written once for any PyTorch-style module object.

A workload's `setup(torch, device, **params)` builds its inputs with `torch` (plugtorch, or
PyTorch for comparison) on `device` and returns the callable that is timed. Inputs and
weights come from a seeded numpy generator, so one workload computes the same values on
every backend and in PyTorch; the callable returns its last result (a tensor) so that can be
checked. `quick` holds the tiny sizes of a `--quick` run.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


@dataclass(frozen=True)
class Workload:
    name: str                   # format string over the params, e.g. "matmul-{n}"
    group: str                  # what it measures: overhead, elementwise, matmul, training...
    setup: Callable             # setup(torch, device, **params) -> callable to time
    params: dict
    quick: dict = field(default_factory=dict)     # params overridden by a quick run
    flops: Optional[Callable] = None              # flops(**params): work of one call
    nbytes: Optional[Callable] = None             # nbytes(**params): memory moved by one call

    def sized(self, quick=False):
        """(name, params) of this workload at full or quick size."""
        params = {**self.params, **(self.quick if quick else {})}
        return self.name.format(**{k: _short(v) for k, v in params.items()}), params


def _short(v):
    """16777216 -> '16M', 4096 -> '4K'; other values unchanged."""
    if isinstance(v, int) and v >= 1024:
        for unit, size in (("M", 1 << 20), ("K", 1 << 10)):
            if v % size == 0:
                return f"{v // size}{unit}"
    return v


def _rng():
    return np.random.default_rng(0)


def _randn(torch, device, rng, *shape):
    return torch.tensor(rng.standard_normal(shape, dtype=np.float32), device=device)


def _labels(torch, device, rng, n, classes):
    return torch.tensor(rng.integers(0, classes, n), device=device)


# ----------------------------------------------------------------------------- overhead

def _tiny_add(torch, device, n, reps):
    rng = _rng()
    a, b = _randn(torch, device, rng, n), _randn(torch, device, rng, n)

    def run():
        for _ in range(reps):
            c = a + b
        return c
    return run


def _tiny_fwd_bwd(torch, device, n):
    rng = _rng()
    a, b = _randn(torch, device, rng, n), _randn(torch, device, rng, n)
    a.requires_grad_()

    def run():
        a.grad = None
        (a * b).sum().backward()
        return a.grad
    return run


# ----------------------------------------------------------------------------- large ops

def _add(torch, device, n):
    rng = _rng()
    a, b = _randn(torch, device, rng, n), _randn(torch, device, rng, n)
    return lambda: a + b


def _sum(torch, device, n):
    a = _randn(torch, device, _rng(), n)
    return lambda: a.sum()


def _amax_rows(torch, device, m, n):
    a = _randn(torch, device, _rng(), m, n)
    return lambda: a.amax(1)


def _matmul(torch, device, n):
    rng = _rng()
    a, b = _randn(torch, device, rng, n, n), _randn(torch, device, rng, n, n)
    return lambda: a @ b


def _conv2d(torch, device, b, cin, cout, hw, k):
    rng = _rng()
    x = _randn(torch, device, rng, b, cin, hw, hw)
    w = _randn(torch, device, rng, cout, cin, k, k)
    return lambda: torch.nn.functional.conv2d(x, w, padding=k // 2)


def _softmax(torch, device, b, classes):
    x = _randn(torch, device, _rng(), b, classes)
    return lambda: torch.softmax(x, 1)


def _cross_entropy(torch, device, b, classes):
    rng = _rng()
    x = _randn(torch, device, rng, b, classes)
    y = _labels(torch, device, rng, b, classes)
    x.requires_grad_()

    def run():
        x.grad = None
        torch.nn.functional.cross_entropy(x, y).backward()
        return x.grad
    return run


# ----------------------------------------------------------------------------- training steps

def _init(torch, model, rng):
    """Set every parameter from `rng`, so each framework starts from the same weights."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = tuple(p.shape)
            if len(shape) > 1:
                w = rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))
            else:   # biases 0; normalization scales 1
                w = np.ones(shape) if name.endswith("weight") else np.zeros(shape)
            p.copy_(torch.tensor(w.astype(np.float32)))


def _train_step(torch, device, model, x, y):
    """A callable doing one SGD step of `model` on (x, y); it returns the loss."""
    rng = _rng()
    _init(torch, model, rng)
    model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def run():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return run


def _captured(torch, run):
    """`run` captured by plugtorch's step capture (plugtorch.compile(mode="reduce-overhead"),
    NOTE [step capture]); PyTorch runs it eagerly, the reference the capture is measured
    against (its reduce-overhead mode is CUDA graphs, which a CPU lacks)."""
    if torch.__name__ != "plugtorch":
        return run
    return torch.compile(run, mode="reduce-overhead")


def _mlp_captured(torch, device, b, hidden):
    return _captured(torch, _mlp(torch, device, b, hidden))


def _lenet_captured(torch, device, b):
    return _captured(torch, _lenet(torch, device, b))


def _mlp(torch, device, b, hidden):
    nn, rng = torch.nn, np.random.default_rng(1)
    model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                          nn.ReLU(), nn.Linear(hidden, 10))
    return _train_step(torch, device, model, _randn(torch, device, rng, b, 784),
                       _labels(torch, device, rng, b, 10))


def _lenet(torch, device, b):
    nn, rng = torch.nn, np.random.default_rng(1)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return _train_step(torch, device, model, _randn(torch, device, rng, b, 1, 28, 28),
                       _labels(torch, device, rng, b, 10))


def _resnet(torch, device, b, width, hw):
    nn, rng = torch.nn, np.random.default_rng(1)

    class Block(nn.Module):
        """conv-bn-relu-conv-bn plus the input (through a strided 1x1 conv when it shrinks)."""

        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
            self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                       nn.BatchNorm2d(cout)) if stride > 1 else nn.Identity())

        def forward(self, x):
            return (self.body(x) + self.skip(x)).relu()

    model = nn.Sequential(
        nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        Block(width, width, 1), Block(width, 2 * width, 2), Block(2 * width, 4 * width, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, 10))
    return _train_step(torch, device, model, _randn(torch, device, rng, b, 3, hw, hw),
                       _labels(torch, device, rng, b, 10))


# ----------------------------------------------------------------------------- the suite

def _matmul_at(n, quick):
    return Workload("matmul-{n}", "matmul", _matmul, {"n": n}, {"n": quick},
                    flops=lambda n: 2 * n ** 3)


WORKLOADS = [
    Workload("add-{n}-x{reps}", "overhead", _tiny_add, {"n": 10, "reps": 100}, {"reps": 10}),
    Workload("mul-sum-backward-{n}", "overhead", _tiny_fwd_bwd, {"n": 10}),
    Workload("add-{n}", "elementwise", _add, {"n": 1 << 24}, {"n": 1 << 10},
             nbytes=lambda n: 3 * 4 * n),
    Workload("sum-{n}", "reduction", _sum, {"n": 1 << 24}, {"n": 1 << 10},
             nbytes=lambda n: 4 * n),
    Workload("amax-rows-{m}x{n}", "reduction", _amax_rows, {"m": 4096, "n": 1024},
             {"m": 16, "n": 32}, nbytes=lambda m, n: 4 * m * n),
    _matmul_at(64, 8),
    _matmul_at(256, 16),
    _matmul_at(1024, 32),
    Workload("conv2d-{b}x{cin}x{hw}x{hw}-{cout}k{k}", "conv", _conv2d,
             {"b": 16, "cin": 32, "cout": 64, "hw": 32, "k": 3},
             {"b": 2, "cin": 3, "cout": 4, "hw": 8},
             flops=lambda b, cin, cout, hw, k: 2 * b * cout * hw * hw * cin * k * k),
    Workload("softmax-{b}x{classes}", "loss", _softmax, {"b": 1024, "classes": 1000},
             {"b": 8, "classes": 10}),
    Workload("cross-entropy-{b}x{classes}", "loss", _cross_entropy,
             {"b": 1024, "classes": 1000}, {"b": 8, "classes": 10}),
    Workload("mlp-train-b{b}", "training", _mlp, {"b": 128, "hidden": 256},
             {"b": 4, "hidden": 16}),
    Workload("lenet-train-b{b}", "training", _lenet, {"b": 64}, {"b": 2}),
    Workload("resnet-train-b{b}", "training", _resnet, {"b": 16, "width": 16, "hw": 32},
             {"b": 2, "width": 4, "hw": 8}),
    Workload("mlp-captured-b{b}", "capture", _mlp_captured, {"b": 128, "hidden": 256},
             {"b": 4, "hidden": 16}),
    Workload("lenet-captured-b{b}", "capture", _lenet_captured, {"b": 64}, {"b": 2}),
]


# ----------------------------------------------------------------------------- layouts

def _sum_cols(torch, device, m, n):
    a = _randn(torch, device, _rng(), m, n)
    return lambda: a.sum(0)


def _sub_bcast(torch, device, m, n):
    rng = _rng()
    a, b = _randn(torch, device, rng, m, n), _randn(torch, device, rng, m, 1)
    return lambda: a - b


def _transpose(torch, device, n):
    a = _randn(torch, device, _rng(), n, n)
    return lambda: a.t().contiguous()


# the reduction over the other dim, a broadcast operand and a transposing copy: the
# strided layouts device kernels handle apart from the contiguous ones above
WORKLOADS += [
    Workload("cols-sum-{m}x{n}", "reduction", _sum_cols, {"m": 4096, "n": 1024},
             {"m": 16, "n": 32}, nbytes=lambda m, n: 4 * m * n),
    Workload("sub-bcast-{m}x{n}", "elementwise", _sub_bcast, {"m": 4096, "n": 1024},
             {"m": 16, "n": 32}, nbytes=lambda m, n: 2 * 4 * m * n),
    Workload("transpose-{n}", "elementwise", _transpose, {"n": 2048}, {"n": 32},
             nbytes=lambda n: 2 * 4 * n * n),
]
