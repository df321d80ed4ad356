"""The benchmark harness end to end in quick mode (no timing is asserted), ``lamina bench``, and the backend
pieces the fast paths rely on (intra-op thread pool, allocator tuning)."""

import importlib.util
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import lamina
from lamina import bench
from lamina.backend import malloc, threads
from lamina.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "benchmarks", "run.py")


def _load_run():
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _env():
    path = [os.path.join(ROOT, "src")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path))


def test_run_quick_end_to_end_prints_table_and_json(tmp_path):
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, RUN, "--quick", "-w", "W2", "--json", str(out)], capture_output=True,
                       text=True, env=_env(), timeout=240)
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    res = report["results"]["W2"]
    for fw in ("lamina", "torch"):
        assert res[fw]["ms"] > 0 and res[fw]["step_mb"] >= 0, res
        assert len(res[fw]["round_ms"]) == 1
    assert report["environment"]["numpy"] == np.__version__
    lines = r.stdout.splitlines()
    row = next(line for line in lines if line.startswith("W2 "))
    ratio = res["lamina"]["ms"] / res["torch"]["ms"]
    assert f"{ratio:.2f}x" in row
    assert any(line.startswith("workload") and "ratio" in line and "mem" in line for line in lines)


def test_format_table_ratios_memory_and_gflops():
    run = _load_run()
    report = {"threads": 2, "environment": {"cpu": "TestCPU", "cpus": 2, "python": "3", "numpy": "2",
                                            "lamina": "0.1", "torch": "2"},
              "load_average": [5.0, 4.0], "matmul_peak_gflops": 100.0, "w1_gflops": 80.0,
              "results": {"W1": {"lamina": {"ms": 3.0, "cpu_ms": 4.0, "step_mb": 12.0},
                                 "torch": {"ms": 4.0, "cpu_ms": 8.0, "step_mb": 10.0}},
                          "W5": {"lamina": {"fw": "lamina", "workload": "W5", "error": "boom"},
                                 "torch": {"ms": 2.0, "step_mb": 1.0}}}}
    text = run.format_table(report, ["lamina", "torch"])
    w1 = next(line for line in text.splitlines() if line.startswith("W1 "))
    assert "0.75x" in w1 and "1.20x" in w1 and "12.0" in w1 and "0.50x" in w1
    assert "lamina failed: boom" in text
    assert "80% of that peak" in text
    assert "BUSY machine" in text and "TestCPU" in text


def test_w6_is_ten_million_parameters_and_flops():
    run = _load_run()
    step = run._build("lamina", "W6", np.random.default_rng(0))
    params = step.__self__.param_groups[0]["params"]
    assert 9.9e6 < sum(p.numel() for p in params) < 10.1e6
    assert run.w1_flops(128) == 6 * 128 * (784 * 512 + 512 * 512 + 512 * 10) - 2 * 128 * 784 * 512


@pytest.mark.parametrize("argv", [["-w", "W9"], ["--frameworks", "jax"], ["--rounds", "0"], ["--threads", "0"]])
def test_run_rejects_bad_options(argv):
    run = _load_run()
    with pytest.raises(SystemExit) as e:
        run.main(argv)
    assert e.value.code == 2


def test_lamina_bench_finds_the_checkout_and_passes_options(monkeypatch):
    assert bench.find_harness() == RUN
    calls = []

    class Done:
        returncode = 0

    monkeypatch.setattr(bench.subprocess, "run", lambda cmd: calls.append(cmd) or Done())
    assert main(["bench", "--quick", "-w", "W2,W7", "--repeats", "3", "--json", "x.json"]) == 0
    cmd = calls[0]
    assert cmd[:2] == [sys.executable, RUN]
    assert cmd[cmd.index("-w") + 1] == "W2,W7" and "--quick" in cmd and cmd[cmd.index("--repeats") + 1] == "3"
    assert cmd[cmd.index("--json") + 1] == "x.json" and "--rounds" not in cmd


def test_lamina_bench_without_a_checkout_says_so(monkeypatch, capsys):
    monkeypatch.setattr(bench, "find_harness", lambda: None)
    assert main(["bench"]) == 1
    assert "benchmarks/run.py" in capsys.readouterr().err
    assert main(["bench", "--harness", "/no/such/run.py"]) == 2
    with pytest.raises(SystemExit) as e:  # argparse's one-line error
        main(["bench", "--repeats", "0"])
    assert e.value.code == 2


@pytest.fixture
def pool_on(monkeypatch):
    monkeypatch.setattr(threads._pool, "mode", "on")


def test_intraop_pool_engages_only_on_an_oversubscribed_machine(monkeypatch):
    monkeypatch.setattr(threads._pool, "mode", "off")
    assert threads.intraop_threads() == 1
    monkeypatch.setattr(threads._pool, "mode", "auto")
    monkeypatch.setattr(threads._pool, "_checked", -1e9)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert threads.intraop_threads() == 1
    monkeypatch.setattr(threads._pool, "_checked", -1e9)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (100.0, 0.0, 0.0))
    assert threads._pool.oversubscribed()


def test_parallel_map_keeps_order_and_runs_nested_calls_serially(pool_on):
    seen = []

    def inner(i):
        return i * i

    def outer(i, j):
        seen.append(threading.current_thread().name)
        return (i, j, threads.parallel_map(inner, [(k,) for k in range(3)]))

    items = [(i, -i) for i in range(7)]
    assert threads.parallel_map(outer, items) == [(i, -i, [0, 1, 4]) for i in range(7)]
    assert threads.parallel_map(outer, []) == []
    if threads.intraop_threads() > 1:  # work was shared out, and BLAS got its thread count back
        assert len(set(seen)) > 1
        assert threads._pool.get_blas() == threads.intraop_threads()


def test_parallel_map_error_propagates_and_pool_recovers(pool_on):
    def boom(i):
        if i == 3:
            raise ValueError("chunk 3")
        return i

    with pytest.raises(ValueError, match="chunk 3"):
        threads.parallel_map(boom, [(i,) for i in range(6)])
    assert threads.parallel_map(boom, [(i,) for i in (0, 1, 2)]) == [0, 1, 2]


def test_conv_is_the_same_serial_and_threaded(monkeypatch, pool_on):
    rng = np.random.default_rng(0)
    x = lamina.tensor(rng.standard_normal((9, 5, 11, 10)).astype(np.float32), requires_grad=True)
    conv = lamina.nn.Conv2d(5, 7, 3, padding=1)
    results = []
    for serial in (False, True):
        if serial:
            monkeypatch.setattr(threads._pool, "get_blas", None)
        x.grad = None
        conv.zero_grad()
        y = conv(x)
        (y * y).sum().backward()
        results.append((y.detach().numpy().copy(), x.grad.numpy().copy(), conv.weight.grad.numpy().copy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_tune_allocator_is_idempotent():
    first = malloc.tune_allocator()
    assert malloc.tune_allocator() is first
    if sys.platform.startswith("linux") and os.path.exists("/lib/x86_64-linux-gnu/libc.so.6"):
        assert first is (os.environ.get("LAMINA_MALLOC_TUNE", "1") != "0")


def test_single_threaded_blas_sets_one_thread_and_restores(pool_on):
    before = threads.intraop_threads()
    with threads.single_threaded_blas():
        if threads._pool.get_blas is not None:
            assert threads._pool.get_blas() == 1
        assert threads.intraop_threads() == 1  # nothing inside fans out again
        with threads.single_threaded_blas():  # nested: a no-op
            assert threads.intraop_threads() == 1
        assert threads.parallel_map(lambda i: i + 1, [(1,), (2,)]) == [2, 3]
    assert threads.intraop_threads() == before
    if threads._pool.get_blas is not None:
        assert threads._pool.get_blas() == before
