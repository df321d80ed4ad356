import json

import lamina
from lamina import profiler


def test_profiler_counts_forward_and_backward_and_exports_trace(tmp_path):
    x = lamina.randn(8, 4, requires_grad=True)
    w = lamina.randn(4, 3, requires_grad=True)
    with profiler.profile(profile_memory=True) as prof:
        with profiler.record_function("my_region"):
            y = (x @ w).tanh().sum()
        y.backward()
    rows = {(r[0], r[1]): r for r in prof.key_averages()}
    assert rows[("Matmul", "forward")][2] == 1
    assert rows[("Matmul", "backward")][2] == 1
    assert rows[("Tanh", "backward")][2] == 1
    assert rows[("my_region", "user")][2] == 1
    assert prof.peak_memory_bytes > 0
    table = prof.table()
    assert "Matmul" in table and "total ms" in table
    path = prof.export_chrome_trace(str(tmp_path / "trace.json"))
    events = json.load(open(path))["traceEvents"]
    names = {e["name"] for e in events if e["ph"] == "X"}
    assert {"Matmul", "Tanh", "Sum", "my_region"} <= names
    assert all(e["dur"] >= 0 for e in events if e["ph"] == "X")


def test_profiler_inactive_outside_block():
    with profiler.profile() as prof:
        pass
    lamina.randn(3).exp()
    assert prof.key_averages() == []
