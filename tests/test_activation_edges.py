"""Activation gradients at the kinks follow PyTorch's conventions."""
import plugtorch as pt
from plugtorch.nn import functional as F


def test_hardtanh_and_relu6_pass_no_gradient_at_the_bounds():
    x = pt.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    y = F.hardtanh(x)
    y.sum().backward()
    assert y.tolist() == [-1.0, -1.0, 0.0, 1.0, 1.0]
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    z = pt.tensor([-1.0, 0.0, 3.0, 6.0, 7.0], requires_grad=True)
    F.relu6(z).sum().backward()
    assert z.grad.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]


def test_relu_gradient_is_zero_at_zero():
    x = pt.tensor([-1.0, 0.0, 1.0], requires_grad=True)
    x.relu().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]
