"""Fit y = 3x^2 - 2x + 1 with plugtorch tensors and autograd (gradient descent by hand).

    python examples/autograd_demo.py [--device cpu] [--steps 500]
"""
import argparse

import plugtorch as torch


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=500)
    args = p.parse_args()

    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 256, device=args.device)
    y = 3 * x ** 2 - 2 * x + 1 + 0.05 * torch.randn(256, device=args.device)
    coef = torch.zeros(3, device=args.device, requires_grad=True)
    powers = torch.stack([x ** 2, x, torch.ones_like(x)], dim=1)      # (256, 3)
    lr = 0.5
    for step in range(args.steps + 1):
        pred = powers @ coef
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            coef -= lr * coef.grad
        coef.grad = None
        if step % 100 == 0:
            print(f"step {step:4d}  loss {loss.item():.5f}")
    a, b, c = coef.tolist()
    print(f"fitted: {a:.3f} x^2 + {b:.3f} x + {c:.3f}   (true: 3 x^2 - 2 x + 1)")
    assert abs(a - 3) < 0.1 and abs(b + 2) < 0.1 and abs(c - 1) < 0.1, "did not converge"


if __name__ == "__main__":
    main()
