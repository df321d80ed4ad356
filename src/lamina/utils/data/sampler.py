"""Samplers: which dataset indices a ``DataLoader`` visits, and in what order (``torch.utils.data`` semantics).

Random samplers draw from a ``lamina.Generator``; without one, ``RandomSampler`` draws a fresh seed from lamina's
default generator each time it is iterated, so ``lamina.manual_seed`` makes every epoch's order reproducible.
"""

import itertools
import math
import numbers

import numpy as np

from lamina.backend.random import Generator, _rng
from lamina.tensor import Tensor

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]


def _positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


def _check_bool(value, name, owner):
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} should be a boolean value, but got {name}={value!r}")


def _fresh_generator():
    """A generator seeded from lamina's default one (what ``RandomSampler`` uses when given none)."""
    seed = int(_rng(None).integers(0, 2**63 - 1, dtype=np.int64))
    return Generator().manual_seed(seed)


class Sampler:
    """Base class: an iterable over dataset indices (or over lists of indices, for batch samplers)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """Indices 0, 1, ..., len(data_source) - 1 in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices: a permutation (repeated when ``num_samples > len``) or, with replacement, uniform draws.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw with replacement. Default: False.
        num_samples: how many indices per epoch. Default: len(data_source).
        generator: a ``lamina.Generator``; by default a fresh seed is drawn from lamina's default generator
            at every iteration.

    Example:
        >>> list(RandomSampler(range(4), generator=lamina.Generator().manual_seed(0)))
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        _check_bool(replacement, "replacement", "RandomSampler")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None:
            _positive_int(num_samples, "num_samples", "RandomSampler")
        elif len(data_source) == 0:
            raise ValueError("RandomSampler: num_samples should be a positive integer value, but got num_samples=0 "
                             "(the dataset is empty)")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        rng = (self.generator if self.generator is not None else _fresh_generator())._rng
        if self.replacement:
            yield from rng.integers(0, n, size=self.num_samples, dtype=np.int64).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from rng.permutation(n).tolist()
        rest = self.num_samples % n
        if rest:
            yield from rng.permutation(n)[:rest].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (a new permutation each epoch)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        perm = _rng(self.generator).permutation(len(self.indices))
        if isinstance(self.indices, (np.ndarray, Tensor)):
            yield from np.asarray(self.indices)[perm].tolist()
        else:
            for i in perm.tolist():
                yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Indices drawn with probabilities proportional to ``weights`` (need not sum to one).

    Args:
        weights: one non-negative weight per index (1-D sequence, array or tensor).
        num_samples: how many indices to draw per epoch.
        replacement: draw with replacement. Default: True.
        generator: a ``lamina.Generator``. Default: lamina's default generator.
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _positive_int(num_samples, "num_samples", "WeightedRandomSampler")
        _check_bool(replacement, "replacement", "WeightedRandomSampler")
        w = np.asarray(weights._data if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw num_samples={num_samples} without replacement from "
                             f"{np.count_nonzero(w)} indices of non-zero weight")
        self.weights = Tensor._make(w, False, None, 0)
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        w = self.weights._data
        draws = _rng(self.generator).choice(w.size, size=self.num_samples, replace=self.replacement, p=w / w.sum())
        yield from draws.tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of ``batch_size`` (the last one shorter unless ``drop_last``).

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        self.batch_size = _positive_int(batch_size, "batch_size", "BatchSampler")
        _check_bool(drop_last, "drop_last", "BatchSampler")
        self.sampler = sampler
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
