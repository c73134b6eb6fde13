"""`plugtorch demo`: train a small CNN on scikit-learn's 8x8 handwritten digits.

    plugtorch demo [--device cpu|opencl] [--epochs N] [--batch-size B] [--lr LR]
                   [--checkpoint PATH] [--seed S] [--csv PATH] [--plot PATH]

A complete PyTorch-style training script on any backend: a `Digits` dataset with transforms,
a `DataLoader`, a CNN, cross-entropy, Adam with a cosine learning-rate schedule, a progress
bar, per-epoch train loss / test accuracy / seconds, and a checkpoint (model, optimizer and
scheduler state, epoch) written with `plugtorch.save` after every epoch. On a device backend
it says when kernels are compiled on first use and reports the first epoch apart from the
steady time per epoch. ``--csv`` and ``--plot`` write the per-epoch curves as a table and as
a PNG (matplotlib: ``pip install "plugtorch[plot]"``). The progress bar is tqdm's when tqdm
is installed (the ``demo`` extra installs it), else a built-in one. Exits with status 1 when
the final test accuracy is below 95%, so a broken training stack fails loudly. Needs
scikit-learn (``pip install "plugtorch[demo]"``), which ships the data: nothing is
downloaded.
"""
import argparse
import csv
import os
import statistics
import sys
import tempfile
import time

import plugtorch as torch
from plugtorch import nn
from plugtorch.nn import functional as F

__all__ = ["DigitsCNN", "ProgressBar", "train", "evaluate", "write_csv", "plot_history",
           "main"]

TARGET_ACCURACY = 0.95
DEFAULTS = {"device": "cpu", "epochs": 8, "batch_size": 32, "lr": 3e-3, "seed": 0,
            "checkpoint": os.path.join(tempfile.gettempdir(), "plugtorch-digits-cnn.pt")}
# mean and std of the training images' pixels after ToTensor (values in [0, 1])
DIGITS_MEAN, DIGITS_STD = 0.3059, 0.3765


class DigitsCNN(nn.Module):
    """A small CNN for ``1x8x8`` images: two conv-ReLU-pool stages and a two-layer MLP.

    Args:
        num_classes (int): outputs. Default: 10.

    Shape:
        - Input: ``(N, 1, 8, 8)``
        - Output: ``(N, num_classes)`` logits

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.demo import DigitsCNN
        >>> DigitsCNN()(torch.randn(2, 1, 8, 8)).shape
        plugtorch.Size([2, 10])
    """

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16x4x4
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32x2x2
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class ProgressBar:
    """A one-line text progress bar for the batches of an epoch.

    On a terminal the line is redrawn in place (at most ~10 times a second); when the stream
    is not a terminal (a log file, CI) nothing is drawn per batch and the caller's epoch
    summary is the only line, so logs stay readable.

    Args:
        total (int): number of batches.
        prefix (str): text before the bar, e.g. ``"epoch 1/5"``.
        stream (file): where to draw. Default: ``sys.stdout``.
        width (int): characters of the bar itself. Default: 24.

    Example:
        >>> import io
        >>> from plugtorch.demo import ProgressBar
        >>> bar = ProgressBar(4, "epoch 1/1", stream=io.StringIO())
        >>> bar.update(2, loss=0.5); bar.close()
    """

    def __init__(self, total, prefix="", stream=None, width=24):
        self.total, self.prefix, self.width = total, prefix, width
        self.stream = stream if stream is not None else sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.live = bool(isatty and isatty())
        self._last = 0.0

    def update(self, done, loss=None):
        """Show `done` of `total` batches and, if given, the current loss (a float, or a
        callable returning one, called only when the line is actually redrawn)."""
        if not self.live:
            return
        now = time.perf_counter()
        if done < self.total and now - self._last < 0.1:
            return
        self._last = now
        loss = loss() if callable(loss) else loss
        frac = done / self.total if self.total else 1.0
        filled = int(round(frac * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        text = f"\r{self.prefix} [{bar}] {100 * frac:3.0f}% {done}/{self.total}"
        if loss is not None:
            text += f" loss {loss:.4f}"
        self.stream.write(text)
        self.stream.flush()

    def close(self):
        """Erase the bar so the caller's summary line takes its place."""
        if self.live:
            self.stream.write("\r" + " " * (len(self.prefix) + self.width + 40) + "\r")
            self.stream.flush()


class _TqdmBar:
    """`ProgressBar`'s interface drawn by tqdm, which draws only on a terminal
    (``disable=None``) and, like `ProgressBar`, reads the loss at most ~10 times a second."""

    def __init__(self, tqdm, total, prefix, stream):
        self.bar = tqdm(total=total, desc=prefix, file=stream, leave=False, disable=None,
                        dynamic_ncols=True)
        self._last = 0.0

    def update(self, done, loss=None):
        if self.bar.disable:
            return
        now = time.perf_counter()
        if loss is not None and (done == self.bar.total or now - self._last >= 0.1):
            self._last = now
            loss = loss() if callable(loss) else loss
            self.bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self):
        self.bar.close()


def _progress_bar(total, prefix, stream):
    try:
        from tqdm import tqdm
    except ImportError:
        return ProgressBar(total, prefix, stream=stream)
    return _TqdmBar(tqdm, total, prefix, stream)


def _loaders(batch_size, seed):
    from .vision import datasets, transforms
    tf = transforms.Compose([transforms.ToTensor(),
                             transforms.Normalize((DIGITS_MEAN,), (DIGITS_STD,))])
    train_set = datasets.Digits(train=True, transform=tf)
    test_set = datasets.Digits(train=False, transform=tf)
    g = torch.Generator().manual_seed(seed)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True,
                                               generator=g)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=256)
    return train_loader, test_loader


def evaluate(model, loader, device):
    """Fraction of the samples of `loader` that `model` classifies correctly."""
    model.eval()
    correct, total = None, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            hits = (model(x).argmax(dim=1) == y).sum()
            correct = hits if correct is None else correct + hits
            total += y.shape[0]
    return correct.item() / total if total else 0.0


def train(device="cpu", epochs=DEFAULTS["epochs"], batch_size=DEFAULTS["batch_size"],
          lr=DEFAULTS["lr"], checkpoint=DEFAULTS["checkpoint"], seed=DEFAULTS["seed"],
          stream=None, capture=False):
    """Train `DigitsCNN` on the 8x8 digits; print progress to `stream`; save a checkpoint.

    Args:
        device (str): where to train ("cpu", "opencl", ...).
        epochs (int): passes over the 1,437 training images.
        batch_size (int): images per step.
        lr (float): Adam's initial learning rate (cosine-annealed to 0 over the epochs).
        checkpoint (str or None): file written after every epoch with ``{"epoch", "model",
            "optimizer", "scheduler", "test_accuracy", "config"}`` (state dicts); None
            writes nothing.
        seed (int): seeds the initialisation and the shuffling.
        stream (file): where to print. Default: ``sys.stdout``.
        capture (bool): replay recorded training steps (``plugtorch.compile(...,
            mode="reduce-overhead")``, docs/capture.md), with Adam's ``capturable=True``;
            the recording is redone after each change of the learning rate.

    Returns:
        dict with ``model``, ``history`` (one dict per epoch: ``epoch``, ``train_loss``,
        ``test_accuracy``, ``seconds``), ``accuracy`` (final) and ``checkpoint``.

    Example:
        >>> import io
        >>> from plugtorch.demo import train
        >>> result = train(epochs=1, checkpoint=None, stream=io.StringIO())
        >>> sorted(result), len(result["history"]), result["accuracy"] > 0.5
        (['accuracy', 'checkpoint', 'history', 'model'], 1, True)
    """
    out = stream if stream is not None else sys.stdout
    torch.manual_seed(seed)
    train_loader, test_loader = _loaders(batch_size, seed)
    model = DigitsCNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, capturable=capture)
    # the learning rate decays to 0 along a half cosine: large steps early, then small ones
    # that settle the weights, so the last epoch's accuracy does not jitter
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    config = {"device": str(device), "epochs": epochs, "batch_size": batch_size, "lr": lr,
              "seed": seed}
    print(f"plugtorch demo: DigitsCNN on 8x8 digits ({len(train_loader.dataset)} train, "
          f"{len(test_loader.dataset)} test) on {device}: {epochs} epochs, batch "
          f"{batch_size}, Adam lr {lr}, seed {seed}", file=out, flush=True)
    # backends other than numpy's compile each kernel the first time it runs
    compiles = torch.device(device).type != "cpu"
    if compiles:
        print(f"compiling {torch.device(device).type} kernels on first use: the first epoch "
              "takes longer", file=out, flush=True)
    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach()
    if capture:
        step = torch.compile(step, mode="reduce-overhead")
    history, acc = [], 0.0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        bar = _progress_bar(len(train_loader), f"epoch {epoch}/{epochs}", out)
        # the loss sum stays on the device: reading it every step would make every step
        # wait for the device; it is read once per epoch (and when the bar is redrawn)
        loss_sum, seen = None, 0
        for i, (x, y) in enumerate(train_loader, 1):
            x, y = x.to(device), y.to(device)
            loss = step(x, y)
            batch_loss = loss * y.shape[0]
            loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
            seen += y.shape[0]
            bar.update(i, loss=lambda: loss.item())
        bar.close()
        scheduler.step()
        if capture:
            step.reset()          # the learning rate is a constant of a recording
        train_loss = loss_sum.item() / seen
        acc = evaluate(model, test_loader, device)
        seconds = time.perf_counter() - start
        history.append({"epoch": epoch, "train_loss": train_loss, "test_accuracy": acc,
                        "seconds": seconds})
        print(f"epoch {epoch:>{len(str(epochs))}}/{epochs}  train loss {train_loss:.4f}  "
              f"test accuracy {100 * acc:6.2f}%  {seconds:.2f} s", file=out, flush=True)
        if checkpoint:
            torch.save({"epoch": epoch, "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "test_accuracy": acc,
                        "config": config}, checkpoint)
    if epochs > 1:
        steady = statistics.median(h["seconds"] for h in history[1:])
        note = " (includes kernel compilation)" if compiles else ""
        print(f"first epoch {history[0]['seconds']:.2f} s{note}, steady {steady:.2f} s "
              "per epoch", file=out)
    if checkpoint:
        print(f"checkpoint saved to {checkpoint}", file=out)
    return {"model": model, "history": history, "accuracy": acc, "checkpoint": checkpoint}


def _parser():
    p = argparse.ArgumentParser(
        prog="plugtorch demo",
        description="Train a small CNN on scikit-learn's 8x8 handwritten digits and report "
                    f"the test accuracy (exit status 1 below {TARGET_ACCURACY:.0%}).")
    p.add_argument("--device", default=DEFAULTS["device"],
                   help="device to train on, e.g. cpu, opencl, opencl:1 (default: cpu)")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"],
                   help=f"passes over the training set (default: {DEFAULTS['epochs']})")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"],
                   help=f"images per step (default: {DEFAULTS['batch_size']})")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"],
                   help=f"Adam learning rate (default: {DEFAULTS['lr']})")
    p.add_argument("--checkpoint", default=DEFAULTS["checkpoint"],
                   help="checkpoint file, written after every epoch "
                        f"(default: {DEFAULTS['checkpoint']}; '' for none)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help=f"random seed (default: {DEFAULTS['seed']})")
    p.add_argument("--capture", action="store_true",
                   help="replay recorded training steps instead of running them eagerly "
                        "(plugtorch.compile mode='reduce-overhead')")
    p.add_argument("--csv", metavar="PATH",
                   help="write epoch, train_loss, test_accuracy, seconds per epoch as CSV")
    p.add_argument("--plot", metavar="PATH",
                   help="write the loss and accuracy curves as a PNG (needs matplotlib)")
    return p


def write_csv(history, path):
    """Write `train`'s history as CSV: a header and one row per epoch.

    Example:
        >>> import os, tempfile
        >>> from plugtorch.demo import write_csv
        >>> path = os.path.join(tempfile.mkdtemp(), "curves.csv")
        >>> write_csv([{"epoch": 1, "train_loss": 0.5, "test_accuracy": 0.9,
        ...             "seconds": 1.5}], path)
        >>> print(open(path).read().strip())
        epoch,train_loss,test_accuracy,seconds
        1,0.5,0.9,1.5
    """
    fields = ["epoch", "train_loss", "test_accuracy", "seconds"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows({k: h[k] for k in fields} for h in history)


def plot_history(history, path):
    """Save `train`'s train loss and test accuracy per epoch as a two-panel PNG."""
    from matplotlib.figure import Figure   # no pyplot: no GUI backend, no global state
    from matplotlib.ticker import MaxNLocator
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [h["train_loss"] for h in history], marker="o")
    loss_ax.set(xlabel="epoch", ylabel="train loss", title="training loss")
    acc_ax.plot(epochs, [100 * h["test_accuracy"] for h in history], marker="o")
    acc_ax.axhline(100 * TARGET_ACCURACY, color="gray", linestyle="--", linewidth=1)
    acc_ax.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.savefig(path, format="png", dpi=100)


def main(argv=None, stream=None):
    """Run the demo from command-line arguments; return the exit status."""
    args = _parser().parse_args(argv)
    err = sys.stderr
    if args.epochs < 1 or args.batch_size < 1 or not args.lr > 0:
        print("plugtorch demo: --epochs and --batch-size must be >= 1 and --lr > 0",
              file=err)
        return 2
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("plugtorch demo: --plot needs matplotlib: pip install 'plugtorch[plot]'",
                  file=err)
            return 2
    try:
        torch.empty(1, device=args.device)
    except Exception as e:  # an unknown or unavailable device: say which, not a traceback
        print(f"plugtorch demo: cannot use device {args.device!r}: {e}\n"
              f"(`plugtorch info` lists the available backends and devices)", file=err)
        return 2
    try:
        result = train(device=args.device, epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, checkpoint=args.checkpoint or None, seed=args.seed,
                       stream=stream, capture=args.capture)
    except ImportError as e:
        print(f"plugtorch demo: {e}", file=err)
        return 2
    if args.csv:
        write_csv(result["history"], args.csv)
    if args.plot:
        plot_history(result["history"], args.plot)
    acc = result["accuracy"]
    out = stream if stream is not None else sys.stdout
    per_epoch = sum(h["seconds"] for h in result["history"]) / len(result["history"])
    verdict = "ok" if acc >= TARGET_ACCURACY else f"FAILED: below {TARGET_ACCURACY:.0%}"
    print(f"final test accuracy {100 * acc:.2f}% ({verdict}); {per_epoch:.2f} s per epoch "
          f"on {args.device}", file=out)
    return 0 if acc >= TARGET_ACCURACY else 1


if __name__ == "__main__":
    sys.exit(main())
