"""What runs inside a ``DataLoader`` worker process, and the messages it exchanges with the main process.

A worker reads tasks ``(generation, task_index, batch_indices)`` from its own ``multiprocessing`` queue, fetches
and collates the batch, and sends ``(generation, task_index, batch)`` back through its own pipe. Tensors cross
the pipe as NumPy arrays (``Tensor.__reduce_ex__``); errors cross as an ``ExceptionWrapper`` that the main process
re-raises with the worker's traceback.
"""

import os
import queue
import random
import sys
import traceback
from multiprocessing.reduction import ForkingPickler

import numpy as np

from lamina.backend.random import manual_seed
from lamina.utils.data.collate import default_collate

__all__ = ["WorkerInfo", "get_worker_info"]

# how often a waiting process checks that the other side is still alive (seconds)
STATUS_CHECK_INTERVAL = 1.0

_worker_info = None


class WorkerInfo:
    """What a worker knows about itself: ``id``, ``num_workers``, ``seed`` and its copy of the ``dataset``.

    Each worker seeds lamina's default generator and Python's ``random`` with ``seed`` (and NumPy's global
    generator with a value derived from it) before ``worker_init_fn`` runs.
    """

    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")
        super().__setattr__(key, val)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)}' for k in self.__keys)})"


def get_worker_info():
    """Inside a ``DataLoader`` worker: its ``WorkerInfo`` (id, num_workers, seed, dataset); ``None`` elsewhere.

    Example (shard an ``IterableDataset`` across workers):
        >>> info = get_worker_info()
        >>> start = 0 if info is None else info.id
        >>> step = 1 if info is None else info.num_workers
    """
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process with its formatted traceback."""

    def __init__(self, exc_info=None, where="in background"):
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyError(msg)  # KeyError would quote the message and show '\n' literally
        try:
            self.exc_type(msg)
        except Exception:  # an exception type whose constructor wants other arguments
            raise RuntimeError(msg) from None
        # raised without a local name: a frame holding its own exception would keep the iterator in a cycle
        raise self.exc_type(msg)


class _IterableDatasetStopIteration:
    """A worker's copy of an ``IterableDataset`` is exhausted."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class _ResumeIteration:
    """Start a new epoch (persistent workers): tasks of older generations are stale."""

    def __init__(self, generation):
        self.generation = generation


class _MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn

    def fetch(self, index):
        if self.auto_collation:
            if self.collate_fn is default_collate:
                gather = getattr(self.dataset, "_gather_batch", None)
                batch = gather(index) if callable(gather) else None
                if batch is not None:
                    return batch  # gathered whole: what default_collate would have built from the samples
            getitems = getattr(self.dataset, "__getitems__", None)
            data = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class _IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset_iter = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.dataset_iter))
        data = []
        for _ in index:
            try:
                data.append(next(self.dataset_iter))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def _send(conn, message, worker_id):
    """Pickle here (not in a feeder thread) so that an unpicklable batch becomes an error the main process sees."""
    try:
        payload = ForkingPickler.dumps(message)
    except Exception:
        gen, idx, data = message
        if isinstance(data, ExceptionWrapper):
            data.exc_type = RuntimeError  # the exception's class itself cannot be pickled; keep its traceback
        else:
            data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id} while sending a batch to the "
                                          f"main process")
        payload = ForkingPickler.dumps((gen, idx, data))
    conn.send_bytes(payload)


def _worker_loop(iterable, dataset, index_queue, conn, auto_collation, collate_fn, drop_last, base_seed,
                 init_fn, worker_id, num_workers):
    global _worker_info
    parent = os.getppid()
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    # NumPy's global generator too (as PyTorch does): otherwise forked workers would share its state
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
    fetcher_cls = _IterableFetcher if iterable else _MapFetcher
    where = f"in DataLoader worker process {worker_id}"
    init_error, fetcher = None, None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = fetcher_cls(dataset, auto_collation, collate_fn, drop_last)
    except Exception:
        init_error = ExceptionWrapper(where=where)
    generation, iteration_end = 0, False
    try:
        while True:
            try:
                task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent:  # the main process is gone
                    return
                continue
            if task is None:
                return
            if isinstance(task, _ResumeIteration):
                generation, iteration_end = task.generation, False
                if init_error is None and iterable:
                    try:
                        fetcher = fetcher_cls(dataset, auto_collation, collate_fn, drop_last)
                    except Exception:
                        init_error = ExceptionWrapper(where=where)
                continue
            gen, idx, index = task
            if gen != generation or iteration_end:
                continue  # a task of an abandoned epoch, or this worker's stream has ended
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if not iterable:
                        data = ExceptionWrapper(where=where)
                    else:
                        data, iteration_end = _IterableDatasetStopIteration(worker_id), True
                except Exception:
                    data = ExceptionWrapper(where=where)
            _send(conn, (gen, idx, data), worker_id)
            del data
    except (KeyboardInterrupt, BrokenPipeError, EOFError, OSError):
        return  # the main process stopped listening: nothing left to do
