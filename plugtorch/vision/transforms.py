"""Image transforms: Compose, ToTensor, Normalize, Lambda, RandomHorizontalFlip.

A transform is any callable taking one sample and returning the transformed sample; `Compose`
chains them. Images enter as numpy arrays (``HxW`` or ``HxWxC``, as read from disk) or as PIL
images when PIL happens to be installed, and leave `ToTensor` as float ``CxHxW`` tensors.
PIL is never imported here: an object is treated as a PIL image only if ``PIL.Image`` was
already imported by the caller, so this module works without it.
"""
import sys

import numpy as np

from .._tensor import Tensor
from ..ops.creation import as_tensor, from_numpy

__all__ = ["Compose", "ToTensor", "Normalize", "Lambda", "RandomHorizontalFlip", "to_tensor",
           "normalize"]


def _is_pil_image(obj):
    image = sys.modules.get("PIL.Image")
    return image is not None and isinstance(obj, image.Image)


class Compose:
    """Apply several transforms one after another.

    Args:
        transforms (list): the transforms, applied in order.

    Example:
        >>> import numpy as np
        >>> from plugtorch.vision.transforms import Compose, ToTensor, Normalize
        >>> t = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
        >>> t(np.full((2, 2), 255, dtype=np.uint8))
        tensor([[[1., 1.],
                 [1., 1.]]])
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        body = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


def to_tensor(pic):
    """Convert an image (numpy ``HxW`` / ``HxWxC`` array or PIL image) to a ``CxHxW`` tensor.

    uint8 images are scaled from [0, 255] to float32 in [0, 1]; bool images become 0.0/1.0;
    other dtypes keep their values (floats as float32, as PyTorch's `ToTensor` leaves
    non-byte images unscaled). A 2-D image gets a channel dimension of size 1.
    """
    if _is_pil_image(pic):
        pic = np.asarray(pic)
    if isinstance(pic, Tensor):
        raise TypeError("to_tensor: pic should be a numpy array or PIL Image, got a Tensor "
                        "(it is already a tensor; drop ToTensor from the pipeline)")
    if not isinstance(pic, np.ndarray):
        raise TypeError(f"to_tensor: pic should be a numpy array or PIL Image, "
                        f"got {type(pic).__name__}")
    if pic.ndim not in (2, 3):
        raise ValueError(f"to_tensor: pic should be 2 or 3 dimensional (HxW or HxWxC), "
                         f"got {pic.ndim} dimensions with shape {pic.shape}")
    if pic.ndim == 2:
        pic = pic[:, :, None]
    # the conversion is host-side data loading: one contiguous float32 array, then one tensor
    chw = pic.transpose(2, 0, 1)
    if pic.dtype == np.uint8:
        arr = chw.astype(np.float32) / np.float32(255)
    else:
        arr = chw.astype(np.float32)
    return from_numpy(np.ascontiguousarray(arr))


class ToTensor:
    """Convert a numpy image (``HxW`` or ``HxWxC``) or PIL image to a float ``CxHxW`` tensor.

    uint8 pixel values in [0, 255] become float32 values in [0, 1]; see `to_tensor`.

    Example:
        >>> import numpy as np
        >>> from plugtorch.vision.transforms import ToTensor
        >>> ToTensor()(np.array([[0, 255]], dtype=np.uint8))
        tensor([[[0., 1.]]])
    """

    def __call__(self, pic):
        return to_tensor(pic)

    def __repr__(self):
        return f"{type(self).__name__}()"


def _check_image(tensor):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.dim() < 3:
        raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tuple(tensor.shape)}")


def _constants(mean, std, dtype, device):
    """mean and std as ``(C, 1, 1)`` tensors of `dtype` on `device`."""
    # checked on the host, in the image's dtype, before anything reaches a device
    std_host = np.asarray(std, dtype=dtype.np)
    if (std_host == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {dtype}, "
                         f"leading to division by zero.")
    mean_host = np.asarray(mean, dtype=dtype.np)
    if mean_host.ndim == 1:
        mean_host = mean_host.reshape(-1, 1, 1)
    if std_host.ndim == 1:
        std_host = std_host.reshape(-1, 1, 1)
    return (as_tensor(mean_host, dtype=dtype, device=device),
            as_tensor(std_host, dtype=dtype, device=device))


def _apply(tensor, mean, std, inplace):
    if inplace:
        return tensor.sub_(mean).div_(std)
    return (tensor - mean) / std


def normalize(tensor, mean, std, inplace=False):
    """Normalize a float tensor image ``(..., C, H, W)`` channel by channel:
    ``(x - mean[c]) / std[c]``. See `Normalize`."""
    _check_image(tensor)
    mean, std = _constants(mean, std, tensor.dtype, tensor.device)
    return _apply(tensor, mean, std, inplace)


class Normalize:
    """Normalize a tensor image with per-channel mean and standard deviation.

    ``output[c] = (input[c] - mean[c]) / std[c]``, for a float tensor of shape
    ``(..., C, H, W)``. Works on any device: the constants go to the image's device.

    Args:
        mean (sequence): means, one per channel (or one for all).
        std (sequence): standard deviations, one per channel (or one for all).
        inplace (bool): modify the input tensor instead of returning a new one.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.vision.transforms import Normalize
        >>> Normalize((0.5,), (0.25,))(torch.ones(1, 1, 2))
        tensor([[[2., 2.]]])
    """

    def __init__(self, mean, std, inplace=False):
        self.mean = tuple(mean) if not isinstance(mean, (int, float)) else (mean,)
        self.std = tuple(std) if not isinstance(std, (int, float)) else (std,)
        self.inplace = inplace
        self._cache = {}  # (dtype, device) -> constant tensors, made once per place

    def __call__(self, tensor):
        _check_image(tensor)
        key = (tensor.dtype, str(tensor.device))
        if key not in self._cache:
            self._cache[key] = _constants(self.mean, self.std, tensor.dtype, tensor.device)
        return _apply(tensor, *self._cache[key], self.inplace)

    def __repr__(self):
        return f"{type(self).__name__}(mean={list(self.mean)}, std={list(self.std)})"


class Lambda:
    """Use a user function as a transform.

    Args:
        lambd (callable): the function, called on each sample.

    Example:
        >>> from plugtorch.vision.transforms import Lambda
        >>> Lambda(lambda x: x * 2)(3)
        6
    """

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, x):
        return self.lambd(x)

    def __repr__(self):
        return f"{type(self).__name__}()"


class RandomHorizontalFlip:
    """Flip an image left-right with probability `p`.

    Works on tensors (last dimension is the width) and numpy images (``HxW`` / ``HxWxC``:
    the width is dimension 1). The coin is drawn from plugtorch's global random stream, so
    `plugtorch.manual_seed` makes the flips reproducible.

    Args:
        p (float): probability of flipping. Default: 0.5.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.vision.transforms import RandomHorizontalFlip
        >>> RandomHorizontalFlip(p=1.0)(torch.tensor([[[1., 2., 3.]]]))
        tensor([[[3., 2., 1.]]])
    """

    def __init__(self, p=0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p should be in [0, 1], got {p}")
        self.p = p

    def __call__(self, img):
        from ..ops.random import rand
        if rand(1).item() >= self.p:
            return img
        if isinstance(img, Tensor):
            return img.flip(-1)
        if _is_pil_image(img):
            return img.transpose(sys.modules["PIL.Image"].FLIP_LEFT_RIGHT)
        if isinstance(img, np.ndarray):
            return np.ascontiguousarray(img[:, ::-1])
        raise TypeError(f"RandomHorizontalFlip: expected a Tensor, numpy array or PIL Image, "
                        f"got {type(img).__name__}")

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"
