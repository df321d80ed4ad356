"""MNIST and Fashion-MNIST from IDX files in a local folder (lamina never downloads)."""

import os

import numpy as np

from lamina.datasets._base import ImageClassification
from lamina.datasets.idx import read_idx

__all__ = ["MNIST", "FashionMNIST"]


def _find(folders, prefix, kind, ndim):
    stems = [f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"]
    for folder in folders:
        for stem in stems:
            for name in (stem, stem + ".gz"):
                p = os.path.join(folder, name)
                if os.path.isfile(p):
                    return p
    return None


class MNIST(ImageClassification):
    """MNIST read from its four IDX files in a local folder: 60,000 train / 10,000 test 28x28 digit images.

    The files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``, each optionally ``.gz``) are looked for in ``root/MNIST/raw`` (torchvision's
    layout), ``root/MNIST``, ``root/raw`` and ``root``. Images come as float32 in [0, 1], shape (1, 28, 28);
    ``data`` keeps the uint8 images and ``targets`` the int64 labels.

    Args:
        root: the folder holding the files.
        train: read the train files (True) or the t10k test files (False). Default: True.
        transform: applied to each image tensor.
        target_transform: applied to each label.
        download: must stay False: lamina has no network access; put the files in ``root`` yourself.

    Example:
        >>> train = MNIST("~/data", train=True)
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        name = type(self).__name__
        if download:
            raise ValueError(f"{name}: lamina does not download data; copy the IDX files into {root!r} "
                             f"(or {os.path.join(str(root), name, 'raw')!r}) and use download=False")
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        folders = [os.path.join(self.root, name, "raw"), os.path.join(self.root, name), os.path.join(self.root, "raw"),
                   self.root]
        prefix = "train" if train else "t10k"
        paths = {}
        for kind, ndim in (("images", 3), ("labels", 1)):
            paths[kind] = _find(folders, prefix, kind, ndim)
            if paths[kind] is None:
                raise FileNotFoundError(f"{name}: missing file {prefix}-{kind}-idx{ndim}-ubyte (or .gz) in any of "
                                        f"{folders}")
        images, labels = read_idx(paths["images"]), read_idx(paths["labels"])
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"{name}: {paths['images']} should hold uint8 images of shape (N, H, W), got "
                             f"{images.dtype} of shape {images.shape}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"{name}: {paths['labels']} should hold one label per image ({images.shape[0]}), got "
                             f"shape {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise ValueError(f"{name}: {paths['labels']} holds labels outside 0..{len(self.classes) - 1}")
        super().__init__(images, labels, 255, transform, target_transform, "Train" if train else "Test")
        self.files = paths


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando's clothing images) from its IDX files: same format and file names as ``MNIST``,
    looked for in ``root/FashionMNIST/raw``, ``root/FashionMNIST``, ``root/raw`` and ``root``."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
