"""Resampling layers: Upsample, UpsamplingNearest2d, UpsamplingBilinear2d, PixelShuffle,
PixelUnshuffle."""
from .. import functional as F
from .module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle",
           "PixelUnshuffle"]


class Upsample(Module):
    """Resizes (N, C, *spatial) inputs by interpolation; see nn.functional.interpolate.

    Args:
        size: the output's spatial size; or give scale_factor.
        scale_factor: multiplier(s) for the spatial size.
        mode: 'nearest', 'nearest-exact', 'linear', 'bilinear', 'trilinear' or 'area'.
            Default: 'nearest'.
        align_corners: for the linear modes, align the corner pixels' centres.
        recompute_scale_factor: sample with the scale recomputed from the sizes.

    Shape:
        - Input: (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        - Output: the same with each spatial size floor(size * scale_factor) or `size`.

    Example:
        >>> import plugtorch as torch
        >>> m = torch.nn.Upsample(scale_factor=2, mode="bilinear")
        >>> m
        Upsample(scale_factor=2.0, mode='bilinear')
        >>> m(torch.randn(1, 3, 4, 5)).shape
        plugtorch.Size([1, 3, 8, 10])
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W) inputs (Upsample with mode='nearest').

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.UpsamplingNearest2d(scale_factor=2)(torch.ones(1, 1, 2, 2)).shape
        plugtorch.Size([1, 1, 4, 4])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of (N, C, H, W) inputs with align_corners=True.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.UpsamplingBilinear2d(size=(3, 3))(torch.ones(1, 1, 2, 2)).shape
        plugtorch.Size([1, 1, 3, 3])
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """Rearranges (*, C r^2, H, W) into (*, C, H r, W r) (sub-pixel convolution's upscale).

    Args:
        upscale_factor: r.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.PixelShuffle(3)(torch.randn(1, 9, 4, 4)).shape
        plugtorch.Size([1, 1, 12, 12])
    """

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """The inverse of PixelShuffle: (*, C, H r, W r) into (*, C r^2, H, W).

    Args:
        downscale_factor: r.

    Example:
        >>> import plugtorch as torch
        >>> torch.nn.PixelUnshuffle(3)(torch.randn(1, 1, 12, 12)).shape
        plugtorch.Size([1, 9, 4, 4])
    """

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"
