"""What lamina's datasets share: optional-package imports, fixed splits, and the image-dataset body."""

import importlib

import numpy as np

from lamina.backend.random import Generator
from lamina.tensor import Tensor
from lamina.utils.data.dataset import Dataset

SPLIT_SEED = 0  # every fixed train/test split is drawn from Generator().manual_seed(SPLIT_SEED)


def require(module, pip_name, owner):
    """Import an optional package, or raise an ImportError that says which ``pip install`` adds it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{owner} needs the optional package '{pip_name}': pip install {pip_name} "
                          f"(or pip install lamina[data])") from None


def fixed_stratified_split(labels, test_fraction, train):
    """Sorted indices of the train (or test) part of a stratified split with the fixed seed."""
    from lamina.utils.data.splits import stratified_split

    parts = stratified_split(np.asarray(labels), (1 - test_fraction, test_fraction),
                             generator=Generator().manual_seed(SPLIT_SEED))
    return np.sort(np.asarray(parts[0 if train else 1].indices, dtype=np.int64))


def check_split(split, allowed, owner):
    if split not in allowed:
        raise ValueError(f"{owner}: split must be one of {', '.join(map(repr, allowed))}, got {split!r}")
    return split


class ImageClassification(Dataset):
    """Images kept compactly (``data``: (N, H, W) integers) and served as float32 (1, H, W) in [0, 1].

    ``dataset[i]`` is ``(image, label)`` with ``image`` a float32 tensor of shape (1, H, W) (then
    ``transform(image)``) and ``label`` a Python int (then ``target_transform(label)``); ``targets`` holds all
    labels as an int64 tensor. Without transforms, a ``DataLoader`` gathers whole batches at once.
    """

    classes = []

    def __init__(self, data, targets, scale, transform=None, target_transform=None, split_name=""):
        self.data = Tensor._make(np.ascontiguousarray(data), False, None, 0)
        self.targets = Tensor._make(np.asarray(targets, dtype=np.int64), False, None, 0)
        self.transform = transform
        self.target_transform = target_transform
        self._scale = np.float32(scale)
        self._split_name = split_name

    def _images(self, idx):
        # float32 all the way: 1/scale as a float32 division, as torchvision's ToTensor does for uint8
        return Tensor._make(self.data._data[idx, None].astype(np.float32) / self._scale, False, None, 0)

    def __getitem__(self, index):
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {len(self)} samples")
        img = Tensor._make(self.data._data[index][None].astype(np.float32) / self._scale, False, None, 0)
        label = int(self.targets._data[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return img, label

    def _gather_batch(self, indices):
        if self.transform is not None or self.target_transform is not None:
            return None  # per-sample transforms: the DataLoader goes sample by sample
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"{type(self).__name__}: batch indices out of range for {len(self)} samples")
        return [self._images(idx), Tensor._make(self.targets._data[idx], False, None, 0)]

    def __len__(self):
        return self.data.shape[0]

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if self._split_name:
            lines.append(f"    Split: {self._split_name}")
        for name in ("transform", "target_transform"):
            if getattr(self, name) is not None:
                lines.append(f"    {name}: {getattr(self, name)!r}")
        return "\n".join(lines)
