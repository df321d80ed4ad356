"""Dropout layers: ``Dropout``, ``Dropout1d``, ``Dropout2d``, ``Dropout3d``, ``AlphaDropout``, ``FeatureAlphaDropout``.

Active in training mode only (``model.eval()`` makes them the identity); masks come from lamina's seeded generator.
"""

from lamina.nn.functional.dropout import (
    _check_p,
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
)
from lamina.nn.modules.module import Module

__all__ = ["AlphaDropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    """Shared constructor and repr: ``p`` (probability of zeroing) and ``inplace``."""

    _fn = None

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _check_p(p)
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes each element with probability p during training and scales the kept ones by 1/(1-p).

    Args:
        p: probability of an element to be zeroed. Default: 0.5
        inplace: overwrite the input. Default: False

    Shape:
        input (*) -> output (*), the same shape

    Example:
        >>> nn.Dropout(0.2)(lamina.randn(20, 16)).shape
        (20, 16)
    """

    _fn = staticmethod(dropout)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of (N, C, L) or (C, L) input with probability p during training (scaled by 1/(1-p)).

    Example:
        >>> nn.Dropout1d(0.2)(lamina.randn(20, 16, 32)).shape
        (20, 16, 32)
    """

    _fn = staticmethod(dropout1d)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of (N, C, H, W) input with probability p during training (scaled by 1/(1-p)).

    Example:
        >>> nn.Dropout2d(0.2)(lamina.randn(20, 16, 32, 32)).shape
        (20, 16, 32, 32)
    """

    _fn = staticmethod(dropout2d)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability p during training.

    Example:
        >>> nn.Dropout3d(0.2)(lamina.randn(2, 4, 3, 5, 5)).shape
        (2, 4, 3, 5, 5)
    """

    _fn = staticmethod(dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout for self-normalising (SELU) networks: keeps zero mean and unit variance of standardised inputs.

    Dropped units take SELU's negative saturation value; an affine map then restores the statistics.

    Example:
        >>> nn.AlphaDropout(0.2)(lamina.randn(20, 16)).shape
        (20, 16)
    """

    _fn = staticmethod(alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels of (N, C, *) input.

    Example:
        >>> nn.FeatureAlphaDropout(0.2)(lamina.randn(20, 16, 4, 4)).shape
        (20, 16, 4, 4)
    """

    _fn = staticmethod(feature_alpha_dropout)
