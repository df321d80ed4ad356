"""Datasets: map-style (``__getitem__`` + ``__len__``) and iterable, plus the standard combinators.

Batch fetching: ``TensorDataset`` and ``Subset`` implement ``__getitems__`` (a list of samples for a list of
indices, as in PyTorch 2.x). Beyond that, a dataset may define ``_gather_batch(indices)`` returning the batch
already collated (the list of tensors ``default_collate`` would build, or None when it cannot, e.g. under a
transform); with the default ``collate_fn`` the ``DataLoader`` then gathers a batch with one fancy index per
tensor and no per-sample Python work. ``TensorDataset``, ``Subset`` of one, and lamina's datasets do.
"""

import bisect
import numbers

import numpy as np

from lamina.creation import as_tensor
from lamina.tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset"]


class Dataset:
    """A map from keys (usually ``0 .. len-1``) to samples. Subclasses define ``__getitem__`` and ``__len__``.

    ``dataset_a + dataset_b`` is their ``ConcatDataset``.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"Subclasses of Dataset should implement __getitem__ ({type(self).__name__} "
                                  f"does not)")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__``.

    With ``num_workers > 0`` every worker iterates its own copy; use ``get_worker_info()`` inside ``__iter__``
    to give each worker a different shard.
    """

    def __iter__(self):
        raise NotImplementedError(f"Subclasses of IterableDataset should implement __iter__ ({type(self).__name__} "
                                  f"does not)")

    def __add__(self, other):
        return ChainDataset([self, other])


def _as_index_array(indices):
    if isinstance(indices, Tensor):
        return np.asarray(indices._data, dtype=np.int64)
    return np.asarray(indices, dtype=np.int64)


def _take(t, idx):
    """Rows ``idx`` (an int64 array) of tensor ``t`` in one fancy index; through autograd when ``t`` needs it."""
    if t.requires_grad:
        return t[Tensor._make(idx, False, None, 0)]
    return Tensor._make(t._data[t.xp.asarray(idx)], False, None, 0)


class TensorDataset(Dataset):
    """Samples are the ``index``-th rows of the given tensors: ``dataset[i] == (t1[i], t2[i], ...)``.

    Args:
        *tensors: tensors (or arrays) with the same size in dimension 0.

    Example:
        >>> ds = TensorDataset(lamina.randn(100, 3), lamina.randint(0, 2, (100,)))
        >>> x, y = ds[0]
    """

    def __init__(self, *tensors):
        tensors = tuple(t if isinstance(t, Tensor) else as_tensor(t) for t in tensors)
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if None in sizes or any(s != sizes[0] for s in sizes):
            raise ValueError(f"TensorDataset: Size mismatch between tensors; sizes in dimension 0 are {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            n = len(self)
            if not -n <= index < n:
                raise IndexError(f"TensorDataset: index {index} is out of bounds for a dataset of size {n}")
            key = (int(index), Ellipsis)  # Ellipsis keeps a 0-d row an array, not a NumPy scalar
            return tuple(t[index] if t.requires_grad else Tensor._make(t._data[key], False, None, 0)
                         for t in self.tensors)
        return tuple(t[index] for t in self.tensors)

    def _index_array(self, indices):
        idx = _as_index_array(indices)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"TensorDataset: batch indices out of bounds for a dataset of size {n}")
        return idx

    def _gather_batch(self, indices):
        idx = self._index_array(indices)
        return [_take(t, idx) for t in self.tensors]

    def __getitems__(self, indices):
        if any(t.requires_grad for t in self.tensors):
            return [self[int(i)] for i in self._index_array(indices)]
        cols = [c._data for c in self._gather_batch(indices)]  # one gather per tensor, then views per row
        return [tuple(Tensor._make(c[k, ...], False, None, 0) for c in cols) for k in range(len(cols[0]))]

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``subset[i] == dataset[indices[i]]``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def _map(self, indices):
        if isinstance(self.indices, (np.ndarray, Tensor)):
            return _as_index_array(self.indices)[_as_index_array(indices)].tolist()
        return [self.indices[i] for i in indices]

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[self._map(idx)]
        if isinstance(self.indices, Tensor):
            return self.dataset[int(self.indices._data[idx])]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        inner = self._map(indices)
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems(inner)
        return [self.dataset[i] for i in inner]

    def _gather_batch(self, indices):
        gather = getattr(self.dataset, "_gather_batch", None)
        return gather(self._map(indices)) if callable(gather) else None

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets one after another."""

    @staticmethod
    def cumsum(sequence):
        r, s = [], 0
        for e in sequence:
            s += len(e)
            r.append(s)
        return r

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset (use ChainDataset)")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("ConcatDataset: absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        if idx >= len(self):
            raise IndexError(f"ConcatDataset: index {idx} is out of range for a dataset of size {len(self)}")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        sample_idx = idx if d == 0 else idx - self.cumulative_sizes[d - 1]
        return self.datasets[d][sample_idx]


class ChainDataset(IterableDataset):
    """Several iterable datasets, iterated one after another."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)
