import json

import pytest

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


def test_table_is_sorted_by_total_time_and_other_keys(tmp_path):
    x = lamina.randn(64, 64, requires_grad=True)
    with profiler.profile() as prof:
        for _ in range(5):
            y = (x @ x).relu()
        y.sum().backward()
        for _ in range(20):
            lamina.randn(2).exp()
    rows = prof.key_averages()
    totals = [r[3] for r in rows]
    assert totals == sorted(totals, reverse=True)
    counts = {(r[0], r[1]): r[2] for r in rows}
    assert counts[("Matmul", "forward")] == 5 and counts[("Exp", "forward")] == 20
    assert counts[("Relu", "backward")] == 1  # only the last y's graph was run backward

    def names(text):
        body = text.splitlines()[2:-2]
        return [line.split()[0] for line in body]

    by_total = names(prof.table())
    assert by_total[0] == rows[0][0]
    by_count = prof.table(sort_by="count")
    assert names(by_count)[0] == "Exp"
    assert names(prof.table(sort_by="name")) == sorted(names(prof.table(sort_by="name")))
    assert len(names(prof.table(row_limit=2))) == 2
    with pytest.raises(ValueError, match="sort_by"):
        prof.table(sort_by="speed")


def test_chrome_trace_events_are_complete_and_ordered(tmp_path):
    x = lamina.randn(16, 16, requires_grad=True)
    with profiler.profile() as prof:
        (x * 2).sum().backward()
    trace = json.load(open(prof.export_chrome_trace(str(tmp_path / "t.json"))))
    assert trace["displayTimeUnit"] == "ms"
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert [(e["name"], e["cat"]) for e in spans] == [("Mul", "forward"), ("Sum", "forward"), ("Sum", "backward"),
                                                      ("Mul", "backward")]
    assert all(e["ts"] >= 0 and e["pid"] == spans[0]["pid"] for e in spans)
    assert [e["ts"] for e in spans] == sorted(e["ts"] for e in spans)
    assert {e["tid"] for e in spans if e["cat"] == "backward"} == {1}
    meta = [e for e in trace["traceEvents"] if e["ph"] == "M"]
    assert {m["args"]["name"] for m in meta} == {"forward", "backward"}
    with pytest.raises(RuntimeError, match="already active"):
        with profiler.profile():
            with profiler.profile():
                pass
