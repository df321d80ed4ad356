"""Intra-op parallelism: the batch chunks of a convolution on a small thread pool, BLAS single-threaded meanwhile.

A convolution runs as a loop over batch chunks (im2col copy, then a GEMM that fits the cache).  Letting
OpenBLAS split each of those mid-sized GEMMs over its own threads leaves the copies and scatter-adds on one
core and puts a barrier in every GEMM; when other processes compete for the cores, a thread that waits at such a
barrier for a descheduled partner stalls the whole op (measured: 2 OpenBLAS threads 4-7x slower than 1 on a
busy machine).  Instead each worker takes every ``threads``-th chunk and runs it start to finish with a
single-threaded BLAS: no barrier until the join, and the copies run in parallel too (NumPy releases the GIL in
copies, ufunc loops and BLAS calls).

The thread count is OpenBLAS's (``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS``, or the CPU count), read from the
library NumPy links; where that library cannot be found (another BLAS), chunks run one after another as before.

On an idle machine OpenBLAS's own threading is the faster of the two (measured: W3 71 ms with it, 95 ms with
the pool), so the pool is off by default.  ``LAMINA_INTRAOP=on`` turns it on; ``LAMINA_INTRAOP=auto`` engages it
only while the machine is oversubscribed (the 1-minute load average above the CPU count, checked at most once a
second).  The pool splits a convolution's weight-gradient sum into per-thread partial sums, so its results differ
from the serial path's in the last bits: ``auto`` therefore trades bit-for-bit reproducibility between runs (a
resumed run may take the other path) for speed on a busy machine, which is why it is not the default.
"""

import concurrent.futures
import ctypes
import glob
import os
import threading
import time

import numpy


def _find_openblas():
    """(get_num_threads, set_num_threads) of the OpenBLAS that NumPy links, or (None, None)."""
    here = os.path.dirname(numpy.__file__)
    paths = glob.glob(os.path.join(os.path.dirname(here), "numpy.libs", "*openblas*")) + \
        glob.glob(os.path.join(here, ".dylibs", "*openblas*"))
    names = ("scipy_openblas_{}_num_threads64_", "openblas_{}_num_threads64_", "scipy_openblas_{}_num_threads",
             "openblas_{}_num_threads")
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            get, put = getattr(lib, name.format("get"), None), getattr(lib, name.format("set"), None)
            if get is not None and put is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                put.restype, put.argtypes = None, [ctypes.c_int]
                return get, put
    return None, None


class _Pool:
    def __init__(self):
        self.get_blas, self.set_blas = _find_openblas()
        self.lock = threading.Lock()
        self.executor = None
        self.size = 0
        self.local = threading.local()
        self.mode = os.environ.get("LAMINA_INTRAOP", "off").lower()
        self._checked = -1.0
        self._busy_machine = False

    def oversubscribed(self):
        """Whether the intra-op pool should engage now (see the module docstring)."""
        if self.mode in ("on", "1", "true"):
            return True
        if self.mode != "auto":
            return False
        now = time.monotonic()
        if now - self._checked > 1.0:
            self._checked = now
            try:
                self._busy_machine = os.getloadavg()[0] > (os.cpu_count() or 1)
            except OSError:
                self._busy_machine = False
        return self._busy_machine

    def threads(self):
        if self.get_blas is None or getattr(self.local, "busy", False) or not self.oversubscribed():
            return 1
        return max(1, int(self.get_blas()))

    def _executor(self, n):
        if self.executor is None or self.size < n:
            if self.executor is not None:
                self.executor.shutdown(wait=False)
            self.executor = concurrent.futures.ThreadPoolExecutor(n, thread_name_prefix="lamina-intraop")
            self.size = n
        return self.executor

    def _run(self, fn, items):
        self.local.busy = True
        try:
            return [fn(*it) for it in items]
        finally:
            self.local.busy = False

    def map(self, fn, items):
        items = list(items)
        t = min(self.threads(), len(items))
        if t <= 1 or not self.lock.acquire(blocking=False):  # nested, or another thread holds the pool: serial
            return [fn(*it) for it in items]
        try:
            blas = self.get_blas()
            self.set_blas(1)
            try:
                ex = self._executor(t - 1)
                futures = [ex.submit(self._run, fn, items[k::t]) for k in range(1, t)]
                parts = [self._run(fn, items[0::t])] + [f.result() for f in futures]
            finally:
                self.set_blas(blas)
        finally:
            self.lock.release()
        out = [None] * len(items)
        for k, part in enumerate(parts):
            out[k::t] = part
        return out


_pool = _Pool()


def intraop_threads():
    """How many threads ``parallel_map`` uses here (1 inside a worker, or where OpenBLAS is not found)."""
    return _pool.threads()


class single_threaded_blas:  # noqa: N801 - used like a function: ``with single_threaded_blas():``
    """BLAS at one thread inside the block (restored after) while the machine is oversubscribed, for loops of
    many small GEMMs.

    A recurrent time loop runs two small GEMMs per step; split over OpenBLAS's threads each adds a barrier, and
    when another process holds a core the step waits for a descheduled partner (measured on a busy 2-core
    machine: LSTM forward 87 ms at 2 threads against 7 ms of CPU work).  Nested or concurrent use is safe:
    only the outermost block of the pool's owner changes the setting.
    """

    def __enter__(self):
        self._restore = None
        if _pool.get_blas is not None and not getattr(_pool.local, "busy", False) and _pool.oversubscribed() and \
                _pool.lock.acquire(blocking=False):
            self._restore = _pool.get_blas()
            _pool.set_blas(1)
            _pool.local.busy = True
        return self

    def __exit__(self, *exc):
        if self._restore is not None:
            _pool.local.busy = False
            _pool.set_blas(self._restore)
            _pool.lock.release()
        return False


def parallel_map(fn, items):
    """``[fn(*item) for item in items]`` with the items shared out over the intra-op threads (BLAS at 1 thread
    meanwhile); results in the items' order.  ``fn`` must only write memory that no other item writes."""
    return _pool.map(fn, items)
