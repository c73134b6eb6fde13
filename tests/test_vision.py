"""plugtorch.vision: transforms against numpy, the IDX reader and MNIST on files written here,
the Digits split, and the models' shapes, parameter counts, names and gradients."""
import gzip
import hashlib
import io
import os
import struct
import sys
import urllib.error

import numpy as np
import pytest

import plugtorch as torch
from plugtorch import nn
from plugtorch.vision import datasets, models, transforms as T


# ----------------------------------------------------------------------------- transforms

def test_to_tensor_uint8_gray_and_color():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, size=(5, 7), dtype=np.uint8)
    t = T.ToTensor()(gray)
    assert t.dtype == torch.float32 and tuple(t.shape) == (1, 5, 7)
    np.testing.assert_allclose(t.numpy()[0], gray / 255.0, rtol=1e-6)
    color = rng.integers(0, 256, size=(4, 3, 3), dtype=np.uint8)
    t = T.ToTensor()(color)
    assert tuple(t.shape) == (3, 4, 3)
    np.testing.assert_allclose(t.numpy(), color.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    assert t.is_contiguous()


def test_to_tensor_float_is_not_rescaled_and_bad_inputs():
    img = np.array([[0.5, 2.0]], dtype=np.float64)
    np.testing.assert_array_equal(T.ToTensor()(img).numpy(), [[[0.5, 2.0]]])
    with pytest.raises(TypeError, match="numpy array or PIL Image"):
        T.ToTensor()([[1, 2]])
    with pytest.raises(TypeError, match="already a tensor"):
        T.ToTensor()(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="2 or 3 dimensional"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))


def test_to_tensor_pil_image():
    Image = pytest.importorskip("PIL.Image")
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_allclose(T.ToTensor()(Image.fromarray(arr)).numpy()[0], arr / 255.0)


def test_normalize_matches_numpy_per_channel():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    mean, std = (0.1, -0.2, 0.3), (0.5, 2.0, 0.25)
    ref = (x.astype(np.float64) - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    src = torch.from_numpy(x.copy())
    out = T.Normalize(mean, std)(src)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(src.numpy(), x)        # not in place by default
    batch = torch.from_numpy(np.stack([x, 2 * x]))          # (..., C, H, W) works too
    np.testing.assert_allclose(T.normalize(batch, mean, std).numpy()[1],
                               (2 * x - np.array(mean)[:, None, None])
                               / np.array(std)[:, None, None], rtol=1e-5, atol=1e-5)


def test_normalize_inplace_and_errors():
    x = torch.ones(1, 2, 2)
    out = T.Normalize((0.5,), (0.25,), inplace=True)(x)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), np.full((1, 2, 2), 2.0))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.0,), (0.0,))(torch.ones(1, 2, 2))
    with pytest.raises(TypeError, match="Tensor Image"):
        T.Normalize((0.0,), (1.0,))(np.ones((1, 2, 2)))
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0.0,), (1.0,))(torch.ones(1, 2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        T.Normalize((0.0,), (1.0,))(torch.ones(2, 2))


def test_compose_applies_in_order_and_lambda():
    pipeline = T.Compose([T.Lambda(lambda v: v + 1), T.Lambda(lambda v: v * 10)])
    assert pipeline(2) == 30
    assert "Lambda()" in repr(pipeline)
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


def test_random_horizontal_flip():
    t = torch.arange(6, dtype=torch.float32).reshape(1, 2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(t).numpy(),
                                  t.numpy()[..., ::-1])
    assert T.RandomHorizontalFlip(0.0)(t) is t
    img = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(img), img[:, ::-1])
    flip = T.RandomHorizontalFlip(0.5)
    torch.manual_seed(3)
    first = [bool((flip(t) != t).any()) for _ in range(20)]
    torch.manual_seed(3)
    assert [bool((flip(t) != t).any()) for _ in range(20)] == first
    assert 0 < sum(first) < 20
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        T.RandomHorizontalFlip(1.5)


# ----------------------------------------------------------------------------- IDX / MNIST

_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
          np.float64: 0x0E}


def _idx_bytes(arr):
    """An IDX file written straight from the format's definition."""
    arr = np.asarray(arr)
    head = bytes([0, 0, _CODES[arr.dtype.type], arr.ndim])
    head += b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _write(path, data, gz):
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if gz else data)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", list(_CODES), ids=lambda d: d.__name__)
def test_read_idx_round_trip(tmp_path, gz, dtype):
    rng = np.random.default_rng(2)
    arr = (rng.standard_normal((3, 4, 2)) * 50).astype(dtype)
    path = tmp_path / "x-idx"
    _write(path, _idx_bytes(arr), gz)
    out = datasets.read_idx(str(path))
    assert out.dtype == np.dtype(dtype) and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


def test_read_idx_rejects_bad_files(tmp_path):
    good = _idx_bytes(np.arange(10, dtype=np.uint8).reshape(2, 5))
    cases = {"truncated": (good[:-1], "truncated"),
             "short_header": (good[:6], "truncated"),
             "magic": (b"\x01\x02\x08\x02" + good[4:], "not an IDX file"),
             "type": (b"\x00\x00\x07\x02" + good[4:], "not an IDX file"),
             "empty": (b"", "not an IDX file")}
    for name, (data, msg) in cases.items():
        path = tmp_path / name
        _write(path, data, gz=False)
        with pytest.raises(RuntimeError, match=msg):
            datasets.read_idx(str(path))
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(RuntimeError, match="corrupted or truncated gzip"):
        datasets.read_idx(str(path))


def _fake_mnist(root, n_train=6, n_test=4, gz_train=True, gz_test=False):
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    rng = np.random.default_rng(4)
    arrays = {}
    for prefix, n, gz in (("train", n_train, gz_train), ("t10k", n_test, gz_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        arrays[prefix] = (images, labels)
        for kind, arr in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            name = f"{prefix}-{kind}" + (".gz" if gz else "")
            _write(os.path.join(raw, name), _idx_bytes(arr), gz)
    return arrays


def test_mnist_reads_gz_and_raw_files(tmp_path):
    arrays = _fake_mnist(str(tmp_path))
    train = datasets.MNIST(tmp_path, train=True)
    test = datasets.MNIST(tmp_path, train=False, transform=T.ToTensor(),
                          target_transform=lambda y: y * 100)
    assert len(train) == 6 and len(test) == 4
    img, label = train[2]
    np.testing.assert_array_equal(img, arrays["train"][0][2])
    assert label == int(arrays["train"][1][2]) and isinstance(label, int)
    img, label = test[1]
    assert tuple(img.shape) == (1, 28, 28)
    np.testing.assert_allclose(img.numpy()[0], arrays["t10k"][0][1] / 255.0, rtol=1e-6)
    assert label == 100 * int(arrays["t10k"][1][1])
    assert train.data.dtype == torch.uint8 and tuple(train.data.shape) == (6, 28, 28)
    np.testing.assert_array_equal(train.targets.numpy(), arrays["train"][1])
    loader = torch.utils.data.DataLoader(test, batch_size=3)
    x, y = next(iter(loader))
    assert tuple(x.shape) == (3, 1, 28, 28) and tuple(y.shape) == (3,)


def test_mnist_missing_files_error_names_directory_and_files(tmp_path):
    with pytest.raises(RuntimeError) as err:
        datasets.MNIST(tmp_path / "nowhere")
    msg = str(err.value)
    assert os.path.join(str(tmp_path / "nowhere"), "MNIST", "raw") in msg
    for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert name in msg
    assert "download=True" in msg


def test_mnist_download_offline_fails_fast_with_clear_error(tmp_path, monkeypatch):
    calls = []

    def offline(url, timeout=None):
        calls.append((url, timeout))
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(datasets.urllib.request, "urlopen", offline)
    with pytest.raises(RuntimeError, match="could not download train-images") as err:
        datasets.MNIST(tmp_path, download=True)
    assert "MNIST" in str(err.value) and "copy them into" in str(err.value)
    # each mirror asked once, with a finite timeout; no retries of dead mirrors
    assert len(calls) == len(datasets.MNIST.mirrors)
    assert all(t is not None and t <= 30 for _, t in calls)
    assert not [p for p in os.listdir(tmp_path / "MNIST" / "raw")]  # no partial files


def test_mnist_download_checks_md5(tmp_path, monkeypatch):
    source = tmp_path / "source"
    _fake_mnist(str(source))
    files = {}
    for name in os.listdir(source / "MNIST" / "raw"):
        data = (source / "MNIST" / "raw" / name).read_bytes()
        files[name if name.endswith(".gz") else name + ".gz"] = (
            data if name.endswith(".gz") else gzip.compress(data))
    resources = tuple((n, hashlib.md5(files[n]).hexdigest())
                      for n, _ in datasets.MNIST.resources)
    bad = {"t10k-labels-idx1-ubyte.gz"}

    def serve(url, timeout=None):
        name = url.rsplit("/", 1)[1]
        return io.BytesIO(b"garbage" if name in bad else files[name])

    monkeypatch.setattr(datasets.urllib.request, "urlopen", serve)
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    with pytest.raises(RuntimeError, match="MD5 mismatch"):
        datasets.MNIST(tmp_path / "dl", download=True)
    raw = tmp_path / "dl" / "MNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(set(files) - bad)  # good ones kept, no .part
    bad.clear()
    ds = datasets.MNIST(tmp_path / "dl", train=False, download=True)
    ref = datasets.MNIST(source, train=False)
    np.testing.assert_array_equal(ds.data.numpy(), ref.data.numpy())


# ----------------------------------------------------------------------------- Digits

def test_digits_fixed_split_covers_the_data():
    sk = pytest.importorskip("sklearn.datasets")
    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    assert (len(train), len(test)) == (1437, 360)
    full = sk.load_digits()
    images = np.concatenate([train.data.numpy(), test.data.numpy()])
    labels = np.concatenate([train.targets.numpy(), test.targets.numpy()])
    expected = np.rint(full.images * 255 / 16).astype(np.uint8)
    # the two splits together are the whole data set, each (image, label) exactly once
    def multiset(imgs, ys):
        return sorted((int(y), img.tobytes()) for img, y in zip(imgs, ys))
    assert multiset(images, labels) == multiset(expected, full.target)
    again = datasets.Digits(train=False)
    np.testing.assert_array_equal(again.data.numpy(), test.data.numpy())
    x, y = datasets.Digits(train=False, transform=T.ToTensor())[0]
    assert tuple(x.shape) == (1, 8, 8) and 0.0 <= x.min().item() and x.max().item() <= 1.0
    assert y == int(test.targets[0].item())


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    monkeypatch.setattr(datasets, "_DIGITS", [])
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'plugtorch\[demo\]'):
        datasets.Digits()


# ----------------------------------------------------------------------------- models

def _count(model):
    return sum(p.numel() for p in model.parameters())


def _forward_backward(model, x):
    """Forward, a scalar loss, backward; every parameter must get a finite gradient."""
    out = model(x)
    (out * out).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert np.isfinite(p.grad.numpy()).all(), name
    return out


def test_lenet_parameter_count_and_shapes():
    # classic LeNet-5: conv 1->6 5x5, conv 6->16 5x5, fc 400->120->84->10
    classic = 6 * 25 + 6 + 16 * 6 * 25 + 16 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10
    assert classic == 61706
    torch.manual_seed(0)
    for net, side in ((models.LeNet(), 28), (models.LeNet(image_size=32, padding=0), 32)):
        assert _count(net) == classic
        out = _forward_backward(net, torch.randn(2, 1, side, side))
        assert tuple(out.shape) == (2, 10)
    net = models.LeNet(num_classes=3, in_channels=3, image_size=16, padding=0)
    assert tuple(net(torch.randn(1, 3, 16, 16)).shape) == (1, 3)
    with pytest.raises(ValueError, match="too small"):
        models.LeNet(image_size=8, padding=0)


def test_vgg_layout_count_and_gradients():
    torch.manual_seed(0)
    net = models.VGG([8, "M", 16, "M"], num_classes=5, in_channels=1, hidden=12, pool_size=2)
    convs = (1 * 9 * 8 + 8) + (8 * 9 * 16 + 16)
    mlp = (16 * 4 * 12 + 12) + (12 * 12 + 12) + (12 * 5 + 5)
    assert _count(net) == convs + mlp
    names = [n for n, _ in net.named_parameters()]
    assert names == ["features.0.weight", "features.0.bias", "features.3.weight",
                     "features.3.bias", "classifier.0.weight", "classifier.0.bias",
                     "classifier.3.weight", "classifier.3.bias", "classifier.6.weight",
                     "classifier.6.bias"]
    out = _forward_backward(net, torch.randn(2, 1, 8, 8))
    assert tuple(out.shape) == (2, 5)
    bn = models.vgg_small(num_classes=4, batch_norm=True)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.modules()) == 4
    assert tuple(bn(torch.randn(2, 3, 8, 8)).shape) == (2, 4)
    with pytest.raises(ValueError, match="unknown cfg"):
        models.VGG("Z")


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return models.resnet18()


def test_resnet18_parameter_count_and_torchvision_names(resnet18):
    assert _count(resnet18) == 11_689_512
    sd = resnet18.state_dict()
    # 20 BatchNorms x (weight, bias, running_mean, running_var, num_batches_tracked),
    # 20 convolutions (no bias), fc weight and bias
    assert len(sd) == 20 * 5 + 20 + 2
    for key in ("conv1.weight", "bn1.running_var", "layer1.0.conv1.weight",
                "layer1.1.bn2.num_batches_tracked", "layer2.0.downsample.0.weight",
                "layer2.0.downsample.1.running_mean", "layer4.1.conv2.weight", "fc.weight",
                "fc.bias"):
        assert key in sd, key
    assert "layer1.0.downsample.0.weight" not in sd
    assert tuple(sd["layer3.0.conv1.weight"].shape) == (256, 128, 3, 3)
    assert tuple(sd["fc.weight"].shape) == (1000, 512)


def test_resnet18_forward_backward_tiny_input(resnet18):
    x = torch.randn(2, 3, 32, 32)
    out = _forward_backward(resnet18, x)
    assert tuple(out.shape) == (2, 1000)
    resnet18.zero_grad()
    resnet18.eval()
    with torch.no_grad():
        a, b = resnet18(x), resnet18(x[:1])
    resnet18.train()
    # eval mode uses running statistics: a sample's output does not depend on its batch
    np.testing.assert_allclose(a.numpy()[:1], b.numpy(), rtol=1e-4, atol=1e-5)


def test_resnet_configurable_and_zero_init_residual():
    torch.manual_seed(0)
    net = models.ResNet(models.BasicBlock, [1, 1, 1, 1], num_classes=7, in_channels=1,
                        zero_init_residual=True)
    assert all(float(m.bn2.weight.abs().sum().item()) == 0.0
               for m in net.modules() if isinstance(m, models.BasicBlock))
    assert tuple(_forward_backward(net, torch.randn(2, 1, 16, 16)).shape) == (2, 7)
    with pytest.raises(ValueError, match="4 stages"):
        models.ResNet(models.BasicBlock, [2, 2, 2])


def _to_torch(module, ref):
    """Copy `module`'s state dict into the torch module `ref` (strict: same names/shapes)."""
    tt = pytest.importorskip("torch")
    ref.load_state_dict({k: tt.from_numpy(v.numpy().copy())
                         for k, v in module.state_dict().items()}, strict=True)
    return tt


def test_basic_block_and_lenet_match_torch():
    tt = pytest.importorskip("torch")
    tnn = tt.nn

    class RefBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(4, 8, 3, 2, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(8)
            self.conv2 = tnn.Conv2d(8, 8, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(8)
            self.downsample = tnn.Sequential(tnn.Conv2d(4, 8, 1, 2, bias=False),
                                             tnn.BatchNorm2d(8))

        def forward(self, x):
            out = tt.relu(self.bn1(self.conv1(x)))
            return tt.relu(self.bn2(self.conv2(out)) + self.downsample(x))

    torch.manual_seed(0)
    down = nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8))
    ref_lenet = tnn.Sequential()
    ref_lenet.features = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(),
                                        tnn.MaxPool2d(2), tnn.Conv2d(6, 16, 5), tnn.ReLU(),
                                        tnn.MaxPool2d(2), tnn.Flatten())
    ref_lenet.classifier = tnn.Sequential(tnn.Linear(400, 120), tnn.ReLU(),
                                          tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10))
    pairs = [(models.BasicBlock(4, 8, stride=2, downsample=down), RefBlock(), (3, 4, 9, 9)),
             (models.LeNet(), ref_lenet, (2, 1, 28, 28))]
    for mine, ref, shape in pairs:
        _to_torch(mine, ref)
        x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
        xt = tt.from_numpy(x.copy()).requires_grad_()
        xp = torch.from_numpy(x.copy()).requires_grad_()
        ours, theirs = mine(xp), ref(xt)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
        (ours * ours).sum().backward()
        (theirs * theirs).sum().backward()
        np.testing.assert_allclose(xp.grad.numpy(), xt.grad.numpy(), rtol=1e-3, atol=1e-4)
