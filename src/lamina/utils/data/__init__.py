"""``lamina.utils.data``: datasets, samplers, ``DataLoader`` and splits, with ``torch.utils.data``'s names."""

from lamina.utils.data._worker import WorkerInfo, get_worker_info
from lamina.utils.data.collate import default_collate, default_convert
from lamina.utils.data.dataloader import DataLoader
from lamina.utils.data.dataset import ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset
from lamina.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from lamina.utils.data.splits import random_split, stratified_split

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset",
           "WeightedRandomSampler", "WorkerInfo", "default_collate", "default_convert", "get_worker_info",
           "random_split", "stratified_split"]
