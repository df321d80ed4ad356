"""Small synthetic problems for the training tests."""

import numpy as np

import lamina
from lamina import nn
from lamina.utils.data import DataLoader, TensorDataset


def blobs(n=96, features=6, classes=3, seed=0):
    """Linearly separable-ish Gaussian blobs: float32 inputs, int64 labels."""
    centers = np.random.default_rng(1234).standard_normal((classes, features)) * 2.5  # same task for every seed
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.standard_normal((n, features))
    return x.astype(np.float32), y.astype(np.int64)


def dataset(n=96, seed=0):
    x, y = blobs(n, seed=seed)
    return TensorDataset(lamina.tensor(x), lamina.tensor(y))


def loader(n=96, batch_size=16, shuffle=False, seed=0, generator=None):
    return DataLoader(dataset(n, seed), batch_size=batch_size, shuffle=shuffle, generator=generator)


def model(dropout=0.0, batchnorm=False):
    layers = [nn.Linear(6, 16)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(16))
    layers.append(nn.ReLU())
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(16, 3))
    return nn.Sequential(*layers)


def weights(m):
    return {k: np.array(v.numpy(), copy=True) for k, v in m.state_dict().items()}
