"""The `plugtorch demo` training run: a short run in-process on cpu learns, writes a
checkpoint that restores the model exactly, and the command reports and exits as documented:
progress bars, the kernel-compilation notice and steady epoch time, the CSV and the plot."""
import csv
import io
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import pytest

import plugtorch as torch
from plugtorch import demo

pytest.importorskip("sklearn", reason="the demo's digits ship with scikit-learn "
                                      '(pip install "plugtorch[demo]")')


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("demo") / "digits.pt")
    out = io.StringIO()
    result = demo.train(device="cpu", epochs=2, batch_size=64, checkpoint=path, seed=1,
                        stream=out)
    return result, out.getvalue(), path


def test_short_run_learns(short_run):
    result, text, _ = short_run
    losses = [h["train_loss"] for h in result["history"]]
    assert len(losses) == 2 and losses[1] < losses[0]
    # a 10-class problem starts near ln(10) = 2.30; two epochs must get well below it
    assert losses[1] < 1.5
    assert result["accuracy"] > 0.5
    assert "epoch 1/2" in text and "epoch 2/2" in text and "test accuracy" in text
    assert "\r" not in text          # not a terminal: one line per epoch, no bar redraws


def test_captured_run_trains_like_the_eager_one(short_run):
    """--capture: replayed steps (capturable Adam, re-recorded after each learning-rate
    change) follow the eager run up to float32 rounding of Adam's bias corrections."""
    import warnings
    from plugtorch.graphs import CaptureWarning
    from plugtorch._counters import COUNTERS
    replays = COUNTERS[("capture", "replays")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptureWarning)      # every full batch is captured
        captured = demo.train(device="cpu", epochs=2, batch_size=64, checkpoint=None, seed=1,
                              stream=io.StringIO(), capture=True)
    # 22 full batches an epoch: 1 eager, 2 recorded, 19 replayed
    assert COUNTERS[("capture", "replays")] - replays == 2 * 19
    eager = short_run[0]
    for a, b in zip(eager["history"], captured["history"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=0.01)


def test_checkpoint_restores_the_model(short_run):
    result, _, path = short_run
    ckpt = torch.load(path)          # weights_only: plain state dicts and numbers
    assert ckpt["epoch"] == 2 and ckpt["config"]["batch_size"] == 64
    assert ckpt["test_accuracy"] == result["accuracy"]
    fresh = demo.DigitsCNN()
    fresh.load_state_dict(ckpt["model"])
    fresh.eval()
    trained = result["model"].eval()
    x = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), trained(x).numpy())
    opt = torch.optim.Adam(fresh.parameters(), lr=1.0)
    opt.load_state_dict(ckpt["optimizer"])
    assert opt.param_groups[0]["lr"] == pytest.approx(ckpt["scheduler"]["_last_lr"][0])
    assert len(opt.state) == len(list(fresh.parameters()))


def test_progress_bar_draws_on_a_terminal_only():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    bar = demo.ProgressBar(4, "epoch 1/3", stream=tty, width=8)
    bar.update(1, loss=lambda: 2.5)
    bar.update(4, loss=0.25)         # the last batch is always drawn
    bar.close()
    text = tty.getvalue()
    assert "epoch 1/3 [##......]  25% 1/4 loss 2.5000" in text
    assert "[########] 100% 4/4 loss 0.2500" in text
    pipe = io.StringIO()
    bar = demo.ProgressBar(4, "epoch 1/3", stream=pipe)
    bar.update(4, loss=lambda: pytest.fail("loss read although nothing is drawn"))
    bar.close()
    assert pipe.getvalue() == ""


def test_command_exit_status_follows_accuracy(tmp_path, capsys):
    from plugtorch.__main__ import main
    out = io.StringIO()
    code = demo.main(["--epochs", "1", "--batch-size", "128", "--checkpoint",
                      str(tmp_path / "c.pt")], stream=out)
    text = out.getvalue()
    final = [line for line in text.splitlines() if line.startswith("final test accuracy")]
    acc = float(final[0].split()[3].rstrip("%")) / 100
    assert code == (0 if acc >= demo.TARGET_ACCURACY else 1)
    assert (tmp_path / "c.pt").exists()
    assert main(["demo", "--device", "nosuchdevice"]) == 2
    assert "cannot use device 'nosuchdevice'" in capsys.readouterr().err
    assert demo.main(["--epochs", "0"]) == 2


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_tqdm_bar_draws_on_a_terminal_only():
    pytest.importorskip("tqdm", reason="tqdm ships with the demo extra "
                                       '(pip install "plugtorch[demo]")')
    tty = _Tty()
    bar = demo._progress_bar(4, "epoch 1/3", tty)
    assert isinstance(bar, demo._TqdmBar)
    bar.update(1, loss=lambda: 2.5)
    time.sleep(0.15)                 # past tqdm's redraw interval
    bar.update(4, loss=0.25)
    bar.close()
    text = tty.getvalue()
    assert "epoch 1/3" in text and "4/4" in text and "loss 0.2500" in text
    pipe = io.StringIO()
    bar = demo._progress_bar(4, "epoch 1/3", pipe)
    bar.update(4, loss=lambda: pytest.fail("loss read although nothing is drawn"))
    bar.close()
    assert pipe.getvalue() == ""


def test_without_tqdm_the_builtin_bar_is_used(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert isinstance(demo._progress_bar(4, "epoch 1/3", io.StringIO()), demo.ProgressBar)


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "curves.csv"
    out = io.StringIO()
    code = demo.main(["--epochs", "3", "--batch-size", "128", "--checkpoint", "",
                      "--csv", str(path)], stream=out)
    return code, out.getvalue(), path


def test_csv_has_one_row_per_epoch(csv_run):
    code, text, path = csv_run
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "train_loss", "test_accuracy", "seconds"]
    assert [int(r[0]) for r in rows[1:]] == [1, 2, 3]
    losses = [float(r[1]) for r in rows[1:]]
    accs = [float(r[2]) for r in rows[1:]]
    assert all(0 < loss < 2.5 for loss in losses) and losses[2] < losses[0]
    assert all(0 <= a <= 1 for a in accs) and accs[2] > 0.5
    assert all(float(r[3]) > 0 for r in rows[1:])
    # the CSV holds exactly what the epoch lines print
    for r in rows[1:]:
        assert f"train loss {float(r[1]):.4f}  test accuracy {100 * float(r[2]):6.2f}%" in text
    final = text.splitlines()[-1]
    assert final.startswith(f"final test accuracy {100 * accs[2]:.2f}%")
    assert code == (0 if accs[2] >= demo.TARGET_ACCURACY else 1)


def test_steady_epoch_time_is_the_median_of_the_later_epochs(csv_run):
    _, text, path = csv_run
    with open(path, newline="") as f:
        seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    m = re.search(r"^first epoch ([\d.]+) s, steady ([\d.]+) s per epoch$", text, re.M)
    assert m, text
    assert float(m.group(1)) == pytest.approx(seconds[0], abs=0.006)
    assert float(m.group(2)) == pytest.approx(statistics.median(seconds[1:]), abs=0.006)
    assert "compil" not in text      # numpy kernels: nothing to compile on cpu


def test_opencl_says_it_compiles_kernels():
    if "opencl" not in torch.backends.available():
        pytest.skip("no OpenCL device (install pyopencl[pocl])")
    out = io.StringIO()
    demo.train(device="opencl", epochs=2, batch_size=128, checkpoint=None, stream=out)
    lines = out.getvalue().splitlines()
    notice = [i for i, line in enumerate(lines) if line.startswith("compiling opencl kernels")]
    first = [i for i, line in enumerate(lines) if line.startswith("epoch 1/2")]
    assert notice and first and notice[0] < first[0]
    assert re.search(r"^first epoch [\d.]+ s \(includes kernel compilation\), steady "
                     r"[\d.]+ s per epoch$", "\n".join(lines), re.M)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib "
                                             "(pip install 'plugtorch[plot]')")
    path = tmp_path / "curves.png"
    demo.main(["--epochs", "2", "--batch-size", "128", "--checkpoint", "",
               "--plot", str(path)], stream=io.StringIO())
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_plot_without_matplotlib_fails_before_training(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; from plugtorch import demo; "
            "sys.exit(demo.main(['--plot', sys.argv[1], '--checkpoint', '']))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "c.png")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'plugtorch[plot]'" in proc.stderr and "matplotlib" in proc.stderr
    assert proc.stdout == ""         # nothing trained, nothing printed
    assert not (tmp_path / "c.png").exists()
