"""``DataLoader``: batches from a dataset, in the main process or in parallel worker processes.

``num_workers=0`` fetches in the main process. With ``num_workers > 0`` each worker is a real process
(``multiprocessing``, 'fork' on Linux by default) that receives lists of indices, fetches and collates the batch
and sends it back; up to ``prefetch_factor * num_workers`` batches are in flight, and batches are yielded in the
order of the sampler, so the result is identical to ``num_workers=0``.
"""

import itertools
import math
import multiprocessing
import os
import pickle
import threading
import time
from multiprocessing import connection as mp_connection

from lamina.backend.random import _rng
from lamina.utils.data import _worker
from lamina.utils.data._worker import (
    ExceptionWrapper,
    _IterableDatasetStopIteration,
    _IterableFetcher,
    _MapFetcher,
    _ResumeIteration,
)
from lamina.utils.data.collate import default_collate, default_convert
from lamina.utils.data.dataset import IterableDataset
from lamina.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

_SHUTDOWN_GRACE = 2.0  # seconds a worker gets to finish its current batch and exit before it is terminated


class _InfiniteConstantSampler(Sampler):
    """The 'sampler' of an IterableDataset: the dataset decides what comes next, so it only counts."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Iterate over a dataset in (shuffled) batches, optionally with parallel worker processes.

    Args:
        dataset: a map-style ``Dataset`` (or anything with ``__getitem__``/``__len__``) or an ``IterableDataset``.
        batch_size: samples per batch; ``None`` turns batching off. Default: 1.
        shuffle: reshuffle at every epoch (a ``RandomSampler``). Default: False.
        sampler: a ``Sampler`` (or iterable of indices) deciding the order; excludes ``shuffle``.
        batch_sampler: yields lists of indices; excludes ``batch_size``, ``shuffle``, ``sampler``, ``drop_last``.
        num_workers: worker processes; 0 loads in the main process. Default: 0.
        collate_fn: merges a list of samples into a batch. Default: ``default_collate``.
        pin_memory: accepted for compatibility; ignored.
        drop_last: drop the last batch when it is smaller than ``batch_size``. Default: False.
        timeout: seconds to wait for a batch from the workers before raising (0: wait for ever). Default: 0.
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding it.
        multiprocessing_context: a start method name ('fork', 'spawn', 'forkserver') or a context.
        generator: a ``lamina.Generator`` for shuffling and worker seeds. Default: lamina's default generator,
            so ``lamina.manual_seed`` makes shuffling reproducible.
        prefetch_factor: batches loaded in advance per worker. Default: 2 when ``num_workers > 0``.
        persistent_workers: keep the workers alive between epochs. Default: False.

    Each worker seeds lamina's default generator and Python's ``random`` with ``base_seed + worker_id``, where
    ``base_seed`` is drawn from ``generator`` when the epoch's iterator is created.

    Example:
        >>> loader = DataLoader(TensorDataset(lamina.randn(100, 3), lamina.arange(100)), batch_size=32,
        ...                     shuffle=True, num_workers=2)
        >>> for x, y in loader: ...
    """

    _locked_attrs = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")
    __initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device=""):
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be a non-negative integer; use num_workers=0 "
                             f"to disable multiprocessing (got {num_workers!r})")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative (got {timeout})")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing; let "
                             "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int) or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor option should be a positive integer (got "
                             f"{prefetch_factor!r})")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = "iterable"
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, but got "
                                     f"{name}={value!r}")
        else:
            self._dataset_kind = "map"
            shuffle = bool(shuffle)

        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually exclusive "
                             "with drop_last")

        if sampler is None:
            if self._dataset_kind == "iterable":
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._iterator = None
        self.__initialized = True

    def __setattr__(self, attr, val):
        if self.__initialized and attr in self._locked_attrs:
            raise ValueError(f"{attr} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def multiprocessing_context(self):
        return self.__mp_ctx

    @multiprocessing_context.setter
    def multiprocessing_context(self, ctx):
        if isinstance(ctx, str):
            methods = multiprocessing.get_all_start_methods()
            if ctx not in methods:
                raise ValueError(f"DataLoader: multiprocessing_context option should specify a valid start method in "
                                 f"{methods!r}, but got multiprocessing_context={ctx!r}")
            ctx = multiprocessing.get_context(ctx)
        elif ctx is not None and not hasattr(ctx, "Process"):
            raise TypeError(f"DataLoader: multiprocessing_context option should be a start method name or a "
                            f"multiprocessing context, but got {ctx!r}")
        self.__mp_ctx = ctx

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None or self._iterator._shutdown:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self):
        if self._dataset_kind == "iterable":
            length = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)


def _reap(workers, index_queues):
    deadline = time.monotonic() + _SHUTDOWN_GRACE
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
        if w.is_alive():
            w.terminate()
            w.join()
    for q in index_queues:
        q.close()


class _BaseDataLoaderIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._iterable = loader._dataset_kind == "iterable"
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._collate_fn = loader.collate_fn
        self._num_workers = loader.num_workers
        self._persistent_workers = loader.persistent_workers
        # drawn at every new iterator, before the sampler draws its own seed: with lamina.manual_seed both
        # the order and the workers' seeds are reproducible
        self._base_seed = int(_rng(loader.generator).integers(0, 2**62))
        self._fetcher_cls = _IterableFetcher if self._iterable else _MapFetcher
        self._shutdown = False

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0

    def _next_index(self):
        return next(self._sampler_iter)

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        return data

    def __len__(self):
        return len(self._index_sampler)


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._fetcher = self._fetcher_cls(self._dataset, self._auto_collation, self._collate_fn, self._drop_last)
        self._reset(loader, first_iter=True)

    def _next_data(self):
        return self._fetcher.fetch(self._next_index())


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Workers with their own task queue and result pipe; results are put back in sampler order."""

    def __init__(self, loader):
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._timeout = loader.timeout
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._generation = 0
        self._owner_pid = os.getpid()
        self._workers, self._index_queues, self._conns = [], [], []
        try:
            for worker_id in range(self._num_workers):
                index_queue = ctx.Queue()
                index_queue.cancel_join_thread()  # never block interpreter exit on tasks for a dead worker
                reader, writer = ctx.Pipe(duplex=False)
                w = ctx.Process(target=_worker._worker_loop, daemon=True, args=(
                    self._iterable, self._dataset, index_queue, writer, self._auto_collation, self._collate_fn,
                    self._drop_last, self._base_seed, loader.worker_init_fn, worker_id, self._num_workers))
                w.start()
                writer.close()  # the worker holds the only writing end: its death shows as EOF here
                self._workers.append(w)
                self._index_queues.append(index_queue)
                self._conns.append(reader)
        except BaseException:
            self._shutdown_workers()
            raise
        self._conn_worker = {id(c): i for i, c in enumerate(self._conns)}
        self._reset(loader, first_iter=True)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0  # next task index to send
        self._rcvd_idx = 0  # next task index to yield
        self._task_info = {}  # task index -> (worker_id,) while in flight, (worker_id, data) once arrived early
        self._workers_status = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            self._generation += 1
            for q in self._index_queues:
                q.put(_ResumeIteration(self._generation))
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self):
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_cycle)
            if self._workers_status[worker_id]:
                break
        else:
            return  # every worker's stream has ended
        self._index_queues[worker_id].put((self._generation, self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._send_idx += 1

    def _receive(self):
        """The next message of the current generation from any worker (waits; raises on timeout or a dead worker)."""
        start = time.monotonic()
        while True:
            wait_s = _worker.STATUS_CHECK_INTERVAL
            if self._timeout > 0:
                left = self._timeout - (time.monotonic() - start)
                if left <= 0:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
                wait_s = min(wait_s, left)
            ready = mp_connection.wait(self._conns + [w.sentinel for w in self._workers], timeout=wait_s)
            conns = [r for r in ready if id(r) in self._conn_worker]
            for conn in conns or [self._conns[i] for i, w in enumerate(self._workers) if w.sentinel in ready]:
                try:
                    message = pickle.loads(conn.recv_bytes())
                except (EOFError, OSError):
                    self._raise_dead_worker(self._conn_worker[id(conn)])
                if message[0] == self._generation:
                    return message
                break  # a stale message of an abandoned epoch: keep waiting

    def _raise_dead_worker(self, worker_id):
        w = self._workers[worker_id]
        w.join(timeout=1)
        self._shutdown_workers()
        raise RuntimeError(f"DataLoader worker {worker_id} (pid {w.pid}) exited unexpectedly with exit code "
                           f"{w.exitcode}") from None

    def _next_data(self):
        while True:
            if self._shutdown:
                raise StopIteration
            while self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) == 2 or self._workers_status[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]  # sent to a worker whose stream ended: it will not answer
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:
                return self._process(self._task_info.pop(self._rcvd_idx)[1])
            _, idx, data = self._receive()
            if isinstance(data, _IterableDatasetStopIteration):
                self._workers_status[data.worker_id] = False
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                self._task_info[idx] += (data,)
                continue
            del self._task_info[idx]
            return self._process(data)

    def _process(self, data):
        self._rcvd_idx += 1
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _shutdown_workers(self, wait=True):
        """Stop the workers: each gets ``None`` and exits; one that does not within a grace period is terminated.

        ``wait=False`` (from ``__del__``, which the garbage collector may run in any thread, even a queue's
        feeder thread) leaves the joining to a background thread so that nothing blocks there.
        """
        if self._shutdown or os.getpid() != self._owner_pid:
            return  # a forked child holding a copy of this iterator must not touch the parent's workers
        self._shutdown = True
        for q in self._index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for c in self._conns:
            c.close()  # a worker blocked sending a batch nobody will read gets a broken pipe and exits
        if wait:
            _reap(self._workers, self._index_queues)
        else:
            threading.Thread(target=_reap, args=(self._workers, self._index_queues), daemon=True).start()

    def __del__(self):
        try:
            self._shutdown_workers(wait=False)
        except Exception:
            pass
