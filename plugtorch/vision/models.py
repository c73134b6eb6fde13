"""Classic image classifiers built from plugtorch.nn: LeNet-5, VGG-style nets, ResNet-18/34.

The layouts and parameter names follow PyTorch's model zoo (torchvision), so a state dict
saved there has the same keys here (``conv1.weight``, ``layer1.0.bn1.running_mean``,
``fc.bias``; ``features.0.weight``, ``classifier.6.bias``).
"""
from .. import nn
from ..ops.views import flatten

__all__ = ["LeNet", "VGG", "vgg_cfgs", "vgg11", "vgg_small", "BasicBlock", "ResNet",
           "resnet18", "resnet34"]


class LeNet(nn.Module):
    """LeNet-5: two 5x5 convolutions with pooling, then three fully connected layers.

    The modern variant (ReLU and max pooling instead of tanh and subsampling). With the
    defaults it takes MNIST-sized ``1x28x28`` images and pads the first convolution by 2,
    which makes the feature sizes those of the classic net on ``32x32`` input
    (``image_size=32, padding=0``); both have 61,706 parameters.

    Args:
        num_classes (int): outputs of the last layer. Default: 10.
        in_channels (int): image channels. Default: 1.
        image_size (int): height and width of the (square) input. Default: 28.
        padding (int): zero padding of the first convolution. Default: 2.

    Shape:
        - Input: ``(N, in_channels, image_size, image_size)``
        - Output: ``(N, num_classes)``

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.vision.models import LeNet
        >>> LeNet()(torch.randn(2, 1, 28, 28)).shape
        plugtorch.Size([2, 10])
    """

    def __init__(self, num_classes=10, in_channels=1, image_size=28, padding=2):
        super().__init__()
        side = ((image_size + 2 * padding - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"LeNet: image_size={image_size} with padding={padding} is too "
                             f"small: the second pooling layer would have no output "
                             f"(need image_size + 2 * padding >= 16)")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * side * side, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(flatten(self.features(x), 1))


# Feature extractors by name: numbers are 3x3 convolutions with that many output channels,
# "M" a 2x2 max pooling. "A" is VGG-11; "small" fits 32x32 (or smaller) images on a laptop.
vgg_cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "small": [32, "M", 64, "M", 128, 128, "M"],
}


class VGG(nn.Module):
    """A VGG-style network: stacks of 3x3 convolutions and max pooling, then an MLP.

    Layout as torchvision's VGG: ``features`` (convolutions, optional BatchNorm, ReLU,
    pooling), ``avgpool`` (adaptive average pooling to ``pool_size x pool_size``) and
    ``classifier`` (Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear). With
    ``cfg=vgg_cfgs["A"], pool_size=7, hidden=4096`` it is VGG-11 (132,863,336 parameters
    for 1000 classes).

    Args:
        cfg (list or str): layer list (ints are conv widths, ``"M"`` max pooling) or a key
            of `vgg_cfgs`. Default: ``"small"``.
        num_classes (int): outputs. Default: 10.
        in_channels (int): image channels. Default: 3.
        batch_norm (bool): BatchNorm2d after each convolution. Default: False.
        hidden (int): width of the two hidden linear layers. Default: 256.
        pool_size (int): side of the adaptive average pooling output. Default: 1.
        dropout (float): dropout probability in the classifier. Default: 0.5.

    Shape:
        - Input: ``(N, in_channels, H, W)``, H and W at least ``2 ** (number of "M")``
        - Output: ``(N, num_classes)``

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.vision.models import VGG
        >>> VGG("small", num_classes=10)(torch.randn(2, 3, 16, 16)).shape
        plugtorch.Size([2, 10])
    """

    def __init__(self, cfg="small", num_classes=10, in_channels=3, batch_norm=False,
                 hidden=256, pool_size=1, dropout=0.5):
        super().__init__()
        if isinstance(cfg, str):
            if cfg not in vgg_cfgs:
                raise ValueError(f"VGG: unknown cfg {cfg!r}; expected a list or one of "
                                 f"{sorted(vgg_cfgs)}")
            cfg = vgg_cfgs[cfg]
        layers, channels = [], in_channels
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            layers.append(nn.Conv2d(channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(channels * pool_size * pool_size, hidden), nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        # torchvision's initialisation: He for convolutions, N(0, 0.01) for linear layers
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


def vgg11(num_classes=1000, batch_norm=False, **kwargs):
    """VGG-11 with torchvision's layout (``pool_size=7``, ``hidden=4096``)."""
    return VGG("A", num_classes=num_classes, batch_norm=batch_norm, hidden=4096, pool_size=7,
               **kwargs)


def vgg_small(num_classes=10, **kwargs):
    """A small VGG-style net (``cfg="small"``) for 32x32 or smaller images."""
    return VGG("small", num_classes=num_classes, **kwargs)


def _conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """ResNet's basic residual block: two 3x3 convolutions with BatchNorm, plus a shortcut.

    ``out = relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x))``, where `downsample`
    (a 1x1 strided convolution and BatchNorm) matches the shortcut's shape when the block
    changes the resolution or the width, and is the identity otherwise.

    Args:
        inplanes (int): input channels.
        planes (int): output channels.
        stride (int): stride of the first convolution. Default: 1.
        downsample (Module, optional): the shortcut transform. Default: None (identity).

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.vision.models import BasicBlock
        >>> BasicBlock(4, 4)(torch.randn(1, 4, 5, 5)).shape
        plugtorch.Size([1, 4, 5, 5])
    """
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """A residual network with torchvision's layout and parameter names.

    Stem (7x7 stride-2 convolution ``conv1``, ``bn1``, ReLU, 3x3 stride-2 ``maxpool``), four
    stages ``layer1``..``layer4`` of `block` (64, 128, 256, 512 channels; stages 2-4 halve the
    resolution), global average pooling and the linear classifier ``fc``.

    Args:
        block (type): the residual block class (`BasicBlock`).
        layers (list of 4 ints): blocks per stage; ``[2, 2, 2, 2]`` is ResNet-18.
        num_classes (int): outputs. Default: 1000.
        in_channels (int): image channels. Default: 3.
        zero_init_residual (bool): start each block's last BatchNorm weight at zero, so every
            block begins as the identity. Default: False.

    Shape:
        - Input: ``(N, in_channels, H, W)`` with H, W >= 1 (32x32 or more is sensible)
        - Output: ``(N, num_classes)``

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.vision.models import ResNet, BasicBlock
        >>> ResNet(BasicBlock, [1, 1, 1, 1], num_classes=5)(torch.randn(2, 3, 32, 32)).shape
        plugtorch.Size([2, 5])
    """

    def __init__(self, block, layers, num_classes=1000, in_channels=3,
                 zero_init_residual=False):
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers should list the blocks of 4 stages, got {layers}")
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, kernel_size=1,
                          stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(flatten(self.avgpool(x), 1))


def resnet18(num_classes=1000, **kwargs):
    """ResNet-18 (11,689,512 parameters with 1000 classes); arguments as `ResNet`.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.vision.models import resnet18
        >>> resnet18(num_classes=10)(torch.randn(2, 3, 32, 32)).shape
        plugtorch.Size([2, 10])
    """
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, **kwargs)


def resnet34(num_classes=1000, **kwargs):
    """ResNet-34 (21,797,672 parameters with 1000 classes); arguments as `ResNet`."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, **kwargs)
