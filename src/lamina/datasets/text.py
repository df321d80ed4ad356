"""A character-level corpus from a folder of text files, for next-character prediction."""

import glob
import os

import numpy as np

from lamina.datasets._base import check_split
from lamina.tensor import Tensor
from lamina.utils.data.dataset import Dataset

__all__ = ["TextCorpus"]


def _default_root():
    return os.path.dirname(os.__file__)  # the Python standard library's own sources: always there, offline


class TextCorpus(Dataset):
    """Character sequences from the text files of a folder: ``(x, y)`` with ``y`` = ``x`` shifted by one.

    The files matching ``pattern`` (sorted by name) are concatenated; the last ``val_fraction`` of the
    characters is the validation part. Each part is cut into consecutive, non-overlapping sequences of
    ``seq_len`` characters; the target of a sequence is the same span one character later. The vocabulary is
    every character of the whole corpus (sorted), so the train and val datasets share it.

    Args:
        root: the folder. Default: the folder of the Python standard library (its ``*.py`` sources).
        seq_len: characters per sequence. Default: 100.
        split: 'train' or 'val'. Default: 'train'.
        val_fraction: share of the corpus held out for validation. Default: 0.1.
        pattern: glob of the files to read, relative to ``root``. Default: '*.py'.
        recursive: let '**' in ``pattern`` match sub-folders. Default: False.
        max_chars: keep only the first ``max_chars`` characters of the corpus. Default: all.
        encoding: text encoding (undecodable bytes become U+FFFD). Default: 'utf-8'.
        vocab: a fixed vocabulary (a string or list of characters) instead of the corpus's own.
        transform: applied to each input sequence.
        target_transform: applied to each target sequence.

    Shape:
        x, y: (seq_len,) int64 character indices.

    Example:
        >>> train = TextCorpus(seq_len=64, max_chars=200_000)
        >>> x, y = train[0]
        >>> train.decode(x[1:]) == train.decode(y[:-1])
        True
    """

    splits = ("train", "val")

    def __init__(self, root=None, seq_len=100, split="train", val_fraction=0.1, pattern="*.py", recursive=False,
                 max_chars=None, encoding="utf-8", vocab=None, transform=None, target_transform=None):
        check_split(split, self.splits, "TextCorpus")
        if not isinstance(seq_len, int) or seq_len < 1:
            raise ValueError(f"TextCorpus: seq_len must be a positive integer, got {seq_len!r}")
        if not 0 <= val_fraction < 1:
            raise ValueError(f"TextCorpus: val_fraction must lie in [0, 1), got {val_fraction}")
        self.root = os.path.expanduser(os.fspath(root)) if root is not None else _default_root()
        files = sorted(f for f in glob.glob(os.path.join(glob.escape(self.root), pattern), recursive=recursive)
                       if os.path.isfile(f))
        if not files:
            raise FileNotFoundError(f"TextCorpus: no files matching {pattern!r} in {self.root}")
        chunks = []
        for f in files:
            with open(f, encoding=encoding, errors="replace") as fh:
                chunks.append(fh.read())
        text = "".join(chunks)
        if max_chars is not None:
            text = text[:max_chars]
        self.files = files

        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        if vocab is None:
            points = np.flatnonzero(np.bincount(codes)).astype(np.uint32)  # O(n), unlike sorting the corpus
        else:
            points = np.unique(np.frombuffer("".join(vocab).encode("utf-32-le"), dtype="<u4"))
        self.vocab = [chr(c) for c in points.tolist()]
        self.stoi = {ch: i for i, ch in enumerate(self.vocab)}
        self._points, self._table = points, None
        ids = self._lookup(codes, "the corpus")

        n_val = int(len(ids) * val_fraction)
        part = ids[:len(ids) - n_val] if split == "train" else ids[len(ids) - n_val:]
        n_seq = max((len(part) - 1) // seq_len, 0)
        if n_seq == 0:
            raise ValueError(f"TextCorpus: the {split} part has {len(part)} characters, too few for one sequence of "
                             f"seq_len={seq_len} (+1 for the target)")
        self.split, self.seq_len = split, seq_len
        self.data = Tensor._make(part, False, None, 0)  # the split's characters as indices
        self.transform, self.target_transform = transform, target_transform

    @property
    def vocab_size(self):
        return len(self.vocab)

    def _lookup(self, codes, what):
        if self._table is None:
            self._table = np.full(int(self._points[-1]) + 1 if len(self._points) else 1, -1, dtype=np.int64)
            self._table[self._points] = np.arange(len(self._points))
        ids = self._table[np.minimum(codes, len(self._table) - 1)]
        bad = (ids < 0) | (codes >= len(self._table))
        if bad.any():
            missing = sorted({chr(c) for c in codes[bad][:1000].tolist()})[:10]
            raise ValueError(f"TextCorpus: {what} has characters outside the vocabulary: {missing!r}")
        return ids

    def encode(self, text):
        """Character indices of ``text`` as an int64 tensor."""
        return Tensor._make(self._lookup(np.frombuffer(text.encode("utf-32-le"), dtype="<u4"), "the text"),
                            False, None, 0)

    def decode(self, ids):
        """The string spelled by a sequence of indices (tensor, array or list)."""
        arr = np.asarray(ids._data if isinstance(ids, Tensor) else ids, dtype=np.int64).reshape(-1)
        return self._points[arr].astype("<u4").tobytes().decode("utf-32-le")

    def _windows(self, idx):
        span = idx[:, None] * self.seq_len + np.arange(self.seq_len + 1)
        rows = self.data._data[span]
        return rows[:, :-1], rows[:, 1:]

    def __getitem__(self, index):
        index = int(index)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"TextCorpus: index {index} is out of range for {n} sequences")
        start = (index % n) * self.seq_len
        chunk = self.data._data[start:start + self.seq_len + 1]
        x = Tensor._make(chunk[:-1].copy(), False, None, 0)
        y = Tensor._make(chunk[1:].copy(), False, None, 0)
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def _gather_batch(self, indices):
        if self.transform is not None or self.target_transform is not None:
            return None
        n = len(self)
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"TextCorpus: batch indices out of range for {n} sequences")
        x, y = self._windows(idx % n)
        return [Tensor._make(np.ascontiguousarray(x), False, None, 0), Tensor._make(np.ascontiguousarray(y), False,
                                                                                     None, 0)]

    def __len__(self):
        return (self.data.shape[0] - 1) // self.seq_len

    def __repr__(self):
        return (f"Dataset TextCorpus\n    Number of datapoints: {len(self)}\n    Split: {self.split}\n"
                f"    Root location: {self.root}\n    seq_len={self.seq_len}, vocab_size={self.vocab_size}")
