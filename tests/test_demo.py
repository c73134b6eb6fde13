"""The `plugtorch demo` training run: a short run in-process on cpu learns, writes a
checkpoint that restores the model exactly, and the command reports and exits as documented."""
import io

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
