"""Upsampling layers: Upsample, UpsamplingNearest2d, UpsamplingBilinear2d (PyTorch's arguments and repr)."""

from lamina.nn.functional import upsampling as F
from lamina.nn.modules.module import Module

__all__ = ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]


class Upsample(Module):
    """Resizes (N, C, *spatial) to ``size`` or by ``scale_factor`` (see ``F.interpolate`` for the modes).

    Args:
        size: output spatial size (int or tuple). Give this or scale_factor.
        scale_factor: multiplier of the spatial size (float or tuple).
        mode: 'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic' or 'trilinear'. Default: 'nearest'.
        align_corners: for the linear modes, align the corner pixels' centres. Default: None (False).
        recompute_scale_factor: derive the source-index scale from the output size. Default: None.

    Example:
        >>> nn.Upsample(scale_factor=2, mode="bilinear")(lamina.randn(1, 3, 4, 4)).shape
        (1, 3, 8, 8)
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):  # noqa: A002
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour 2-D upsampling (``Upsample(mode='nearest')``)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear 2-D upsampling with align_corners=True (``Upsample(mode='bilinear', align_corners=True)``)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
