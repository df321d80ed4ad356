"""``lamina.profiler``: where the time goes, op by op, forward and backward.

    with lamina.profiler.profile(profile_memory=True) as prof:
        loss = model(x).sum(); loss.backward()
    print(prof.table(sort_by="total"))          # like torch.profiler's key_averages().table()
    prof.export_chrome_trace("trace.json")      # open in chrome://tracing or ui.perfetto.dev

Every op application (forward) and every node's backward is timed with
``time.perf_counter_ns``; ``record_function("name")`` marks a region of your own
code.  With ``profile_memory=True`` the peak of NumPy's allocations is traced
with ``tracemalloc`` (NumPy reports its buffers to it), which slows Python down:
leave it off when you time.
"""

import json
import os
import threading
import time
import tracemalloc
from collections import defaultdict

from lamina.autograd.grad_mode import state


class _Stat:
    __slots__ = ("count", "total_ns", "max_ns")

    def __init__(self):
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0


class profile:  # noqa: N801 - PyTorch's name
    """Record every op's forward and backward time and count (and optionally peak memory) inside the block."""

    def __init__(self, profile_memory=False, record_events=True):
        self.profile_memory = profile_memory
        self.record_events = record_events
        self.stats = defaultdict(_Stat)
        self.events = []
        self.peak_memory_bytes = None
        self.clock = time.perf_counter_ns
        self._t_start = 0
        self._t_end = 0
        self._tid = threading.get_ident()

    def __enter__(self):
        if state.profiler is not None:
            raise RuntimeError("lamina.profiler.profile: a profiler is already active")
        if self.profile_memory:
            self._started_tracemalloc = not tracemalloc.is_tracing()
            if self._started_tracemalloc:
                tracemalloc.start()
            tracemalloc.reset_peak()
            self._mem_base = tracemalloc.get_traced_memory()[0]
        self._t_start = self.clock()
        state.profiler = self
        return self

    def __exit__(self, *exc):
        state.profiler = None
        self._t_end = self.clock()
        if self.profile_memory:
            self.peak_memory_bytes = max(tracemalloc.get_traced_memory()[1] - self._mem_base, 0)
            if self._started_tracemalloc:
                tracemalloc.stop()
        return False

    def record(self, name, phase, t0, t1):
        key = (name, phase)
        s = self.stats[key]
        d = t1 - t0
        s.count += 1
        s.total_ns += d
        if d > s.max_ns:
            s.max_ns = d
        if self.record_events:
            self.events.append((name, phase, t0, d))

    # ------------------------------------------------------------------ reports

    def key_averages(self):
        """Rows (name, phase, count, total ms, mean us, max us), sorted by total time."""
        rows = [(n, ph, s.count, s.total_ns / 1e6, s.total_ns / s.count / 1e3, s.max_ns / 1e3)
                for (n, ph), s in self.stats.items()]
        rows.sort(key=lambda r: -r[3])
        return rows

    def total_ms(self):
        return (self._t_end - self._t_start) / 1e6

    def table(self, sort_by="total", row_limit=30):
        """A text table of ops sorted by total time (or "count", "mean", "max", "name")."""
        rows = self.key_averages()
        keys = {"total": lambda r: -r[3], "count": lambda r: -r[2], "mean": lambda r: -r[4], "max": lambda r: -r[5],
                "name": lambda r: r[0]}
        if sort_by not in keys:
            raise ValueError(f"profile.table: sort_by must be one of {', '.join(keys)}, got {sort_by!r}")
        rows.sort(key=keys[sort_by])
        recorded = sum(r[3] for r in rows) or 1.0
        head = f"{'op':<28} {'phase':<9} {'count':>7} {'total ms':>10} {'%':>6} {'mean us':>10} {'max us':>10}"
        lines = [head, "-" * len(head)]
        for n, ph, c, tot, mean, mx in rows[:row_limit]:
            lines.append(f"{n:<28} {ph:<9} {c:>7} {tot:>10.3f} {100 * tot / recorded:>5.1f}% {mean:>10.1f} {mx:>10.1f}")
        lines.append("-" * len(head))
        lines.append(f"ops total {recorded:.3f} ms of {self.total_ms():.3f} ms wall time in the block")
        if self.peak_memory_bytes is not None:
            lines.append(f"peak memory allocated in the block: {self.peak_memory_bytes / 2**20:.2f} MiB")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def export_chrome_trace(self, path):
        """Write the recorded events in the Trace Event format (chrome://tracing, Perfetto)."""
        pid = os.getpid()
        evs = [{"name": n, "cat": ph, "ph": "X", "ts": (t0 - self._t_start) / 1e3, "dur": d / 1e3, "pid": pid,
                "tid": 0 if ph == "forward" else 1, "args": {"phase": ph}} for n, ph, t0, d in self.events]
        meta = [{"name": "thread_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": "forward"}},
                {"name": "thread_name", "ph": "M", "pid": pid, "tid": 1, "args": {"name": "backward"}}]
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump({"traceEvents": meta + evs, "displayTimeUnit": "ms"}, f)
        os.replace(tmp, path)
        return path


class record_function:  # noqa: N801 - PyTorch's name
    """Time a region of user code as one named row of the active profiler (no-op when none is active)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self._prof = state.profiler
        if self._prof is not None:
            self._t0 = self._prof.clock()
        return self

    def __exit__(self, *exc):
        if self._prof is not None:
            self._prof.record(self.name, "user", self._t0, self._prof.clock())
        return False
