"""``lamina.transforms``: image transforms with torchvision's names, on one image (C, H, W) or a batch (N, C, H, W).

    from lamina import transforms as T
    augment = T.Compose([T.RandomCrop(28, padding=2), T.RandomRotation(10), T.Normalize((0.1307,), (0.3081,))])
    batch = augment(images)          # (N, 1, 28, 28): parameters drawn per image, applied in one pass

``lamina.transforms.functional`` has the deterministic operations (hflip, rotate, affine, crop, pad, erase...).
"""

from lamina.transforms import functional
from lamina.transforms.transforms import (
    Compose,
    GaussianNoise,
    InterpolationMode,
    Lambda,
    Normalize,
    RandomAffine,
    RandomCrop,
    RandomErasing,
    RandomHorizontalFlip,
    RandomRotation,
    RandomVerticalFlip,
    ToTensor,
)

__all__ = ["Compose", "GaussianNoise", "InterpolationMode", "Lambda", "Normalize", "RandomAffine", "RandomCrop",
           "RandomErasing", "RandomHorizontalFlip", "RandomRotation", "RandomVerticalFlip", "ToTensor",
           "functional"]
