"""Splitting a dataset: ``random_split`` (PyTorch's) and ``stratified_split`` (class proportions kept)."""

import math
import numbers
import warnings
from itertools import accumulate

import numpy as np

from lamina.backend.random import _rng
from lamina.tensor import Tensor
from lamina.utils.data.dataset import Dataset, Subset

__all__ = ["random_split", "stratified_split"]


def _fraction_lengths(fractions, n, owner):
    for i, frac in enumerate(fractions):
        if not 0 <= frac <= 1:
            raise ValueError(f"{owner}: Fraction at index {i} is not between 0 and 1 (got {frac})")
    lengths = [math.floor(n * frac) for frac in fractions]
    for i in range(n - sum(lengths)):  # the remainder goes round-robin, as PyTorch does
        lengths[i % len(lengths)] += 1
    return lengths


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    Args:
        dataset: a map-style dataset.
        lengths: sizes summing to ``len(dataset)``, or fractions summing to 1 (sizes are floored and the
            remainder handed out one by one from the first split on, as in PyTorch).
        generator: a ``lamina.Generator`` for the permutation. Default: lamina's default generator.

    Example:
        >>> train, val = random_split(range(10), [0.8, 0.2], generator=lamina.Generator().manual_seed(42))
        >>> len(train), len(val)
        (8, 2)
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1 and any(not isinstance(x, numbers.Integral)
                                                                    for x in lengths):
        lengths = _fraction_lengths(lengths, n, "random_split")
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this might result in an empty "
                              f"dataset.")
    if any(int(x) != x or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions summing to 1, "
                         f"got {lengths}")
    lengths = [int(x) for x in lengths]
    if sum(lengths) != n:
        raise ValueError(f"random_split: Sum of input lengths ({sum(lengths)}) does not equal the length of the "
                         f"input dataset ({n})!")
    perm = _rng(generator).permutation(n).tolist()
    return [Subset(dataset, perm[end - length:end]) for end, length in zip(accumulate(lengths), lengths)]


def _labels_of(dataset, labels):
    if labels is not None:
        return np.asarray(labels._data if isinstance(labels, Tensor) else labels)
    if not isinstance(dataset, Dataset) and not hasattr(dataset, "__getitem__"):
        raise TypeError(f"stratified_split: expected a dataset or a sequence of labels, got {type(dataset).__name__}")
    if isinstance(dataset, Tensor):
        return np.asarray(dataset._data)
    if isinstance(dataset, (np.ndarray, list, tuple, range)):
        return np.asarray(dataset)
    for attr in ("targets", "labels"):
        t = getattr(dataset, attr, None)
        if t is not None and len(t) == len(dataset):
            return np.asarray(t._data if isinstance(t, Tensor) else t)
    ys = [dataset[i][1] for i in range(len(dataset))]  # no label array to read: ask each sample for its label
    return np.asarray([y.item() if isinstance(y, Tensor) else y for y in ys])


def stratified_split(dataset_or_labels, fractions=(0.8, 0.1, 0.1), labels=None, generator=None):
    """Split into random ``Subset``s whose class proportions match those of the whole.

    Every class is shuffled and cut by ``fractions`` on its own (floor, then the leftover samples of a class
    go to the splits with the largest remainders), so each split holds ``fraction * class_count`` samples of
    every class, up to rounding by one.

    Args:
        dataset_or_labels: a dataset (labels read from ``labels=``, its ``targets``/``labels`` attribute, or
            ``dataset[i][1]``), or the labels themselves (an array, list or tensor; the Subsets then index the
            labels and their ``.indices`` are the split).
        fractions: one fraction per split, summing to 1. Default: (0.8, 0.1, 0.1).
        labels: the class label of every sample, when the dataset does not say.
        generator: a ``lamina.Generator``. Default: lamina's default generator.

    Example:
        >>> train, val, test = stratified_split(lamina.datasets.Digits(), generator=lamina.Generator().manual_seed(0))
    """
    fractions = [float(f) for f in fractions]
    if not fractions or any(not 0 <= f <= 1 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"stratified_split: fractions must lie in [0, 1] and sum to 1, got {fractions}")
    y = _labels_of(dataset_or_labels, labels)
    if y.ndim != 1:
        raise ValueError(f"stratified_split: expected one label per sample (1-D), got labels of shape {y.shape}")
    if len(y) != len(dataset_or_labels):
        raise ValueError(f"stratified_split: got {len(y)} labels for a dataset of {len(dataset_or_labels)} samples")
    rng = _rng(generator)
    fr = np.asarray(fractions)
    parts = [[] for _ in fractions]
    classes, inverse = np.unique(y, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(classes)))[:-1]
    for members in np.split(order, bounds):  # one loop step per class, not per sample
        members = members[rng.permutation(len(members))]
        exact = len(members) * fr
        counts = np.floor(exact).astype(np.int64)
        leftover = len(members) - counts.sum()
        counts[np.argsort(-(exact - counts), kind="stable")[:leftover]] += 1
        for part, chunk in zip(parts, np.split(members, np.cumsum(counts)[:-1])):
            part.append(chunk)
    out = []
    for part in parts:
        idx = np.concatenate(part) if part else np.empty(0, np.int64)
        out.append(Subset(dataset_or_labels, idx[rng.permutation(len(idx))].tolist()))
    return out
