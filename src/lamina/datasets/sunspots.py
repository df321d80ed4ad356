"""Yearly sunspot numbers (1700-2008, statsmodels) as a windowed forecasting dataset."""

import math
import numbers

import numpy as np

from lamina.datasets._base import check_split, require
from lamina.tensor import Tensor
from lamina.utils.data.dataset import Dataset

__all__ = ["Sunspots"]


class Sunspots(Dataset):
    """Forecast the next ``horizon`` yearly sunspot numbers from the previous ``window`` ones.

    The series (309 years, ``statsmodels.datasets.sunspots``) is cut chronologically into train / val / test
    parts by ``fractions``. A sample belongs to the part that holds all of its target years; its inputs may
    reach back into earlier parts (the past is known when forecasting). With ``normalize`` the whole series is
    standardised with the mean and standard deviation of the train part only (``mean``, ``std``;
    ``inverse_transform`` maps predictions back to sunspot numbers).

    Args:
        split: 'train', 'val' or 'test'. Default: 'train'.
        window: input length in years. Default: 20.
        horizon: years to forecast. Default: 1.
        fractions: (train, val, test) shares of the years, summing to 1. Default: (0.7, 0.15, 0.15).
        normalize: standardise with the train statistics. Default: True.
        transform: applied to each input tensor.
        target_transform: applied to each target tensor.

    Shape:
        input (window, 1) float32, target (horizon,) float32: ready for ``nn.LSTM(1, ..., batch_first=True)``.

    Needs statsmodels (``pip install statsmodels`` or ``pip install lamina[data]``).

    Example:
        >>> x, y = Sunspots(split="train", window=12)[0]
        >>> x.shape, y.shape
        ((12, 1), (1,))
    """

    splits = ("train", "val", "test")

    def __init__(self, split="train", window=20, horizon=1, fractions=(0.7, 0.15, 0.15), normalize=True,
                 transform=None, target_transform=None):
        check_split(split, self.splits, "Sunspots")
        for name, v in (("window", window), ("horizon", horizon)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"Sunspots: {name} must be a positive integer, got {v!r}")
        fractions = tuple(float(f) for f in fractions)
        if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
            raise ValueError(f"Sunspots: fractions must be three non-negative shares (train, val, test) summing "
                             f"to 1, got {fractions}")
        sm = require("statsmodels.datasets.sunspots", "statsmodels", "lamina.datasets.Sunspots")
        frame = sm.load_pandas().data
        series = frame["SUNACTIVITY"].to_numpy(dtype=np.float64)
        years = frame["YEAR"].to_numpy().astype(np.int64)
        n = len(series)
        n_train, n_val = math.floor(n * fractions[0]), math.floor(n * fractions[1])
        bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, n)}
        train_part = series[:n_train]
        self.mean = float(train_part.mean()) if normalize else 0.0
        self.std = float(train_part.std()) if normalize else 1.0
        values = ((series - self.mean) / self.std).astype(np.float32)

        lo, hi = bounds[split]
        # a window starting at t has inputs t .. t+window-1 and targets t+window .. t+window+horizon-1
        starts = np.arange(max(lo - window, 0), hi - window - horizon + 1)
        if starts.size == 0:
            raise ValueError(f"Sunspots: the {split} part covers years {lo}..{hi} of {n}; too short for "
                             f"window={window} and horizon={horizon}")
        span = np.arange(window + horizon)
        rows = values[starts[:, None] + span]
        self.split, self.window, self.horizon = split, window, horizon
        self.series = Tensor._make(series.astype(np.float32), False, None, 0)
        self.years = Tensor._make(years, False, None, 0)
        self.target_years = Tensor._make(years[starts + window], False, None, 0)  # first forecast year per sample
        self.data = Tensor._make(np.ascontiguousarray(rows[:, :window, None]), False, None, 0)
        self.targets = Tensor._make(np.ascontiguousarray(rows[:, window:]), False, None, 0)
        self.transform, self.target_transform = transform, target_transform

    def inverse_transform(self, values):
        """Map normalised values (tensor or array) back to sunspot numbers."""
        if isinstance(values, Tensor):
            return values * self.std + self.mean
        return np.asarray(values) * self.std + self.mean

    def __getitem__(self, index):
        key = (int(index), Ellipsis)
        x = Tensor._make(self.data._data[key], False, None, 0)
        y = Tensor._make(self.targets._data[key], False, None, 0)
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def _gather_batch(self, indices):
        if self.transform is not None or self.target_transform is not None:
            return None
        idx = np.asarray(indices, dtype=np.int64)
        return [Tensor._make(t._data[idx], False, None, 0) for t in (self.data, self.targets)]

    def __len__(self):
        return self.data.shape[0]

    def __repr__(self):
        return (f"Dataset Sunspots\n    Number of datapoints: {len(self)}\n    Split: {self.split}\n"
                f"    window={self.window}, horizon={self.horizon}, mean={self.mean:.3f}, std={self.std:.3f}")
