"""lamina vs PyTorch, side by side: ms per training step, peak memory and the ratio, in one run.

    python benchmarks/run.py                 # all workloads
    python benchmarks/run.py -w W1,W4 --quick
    python benchmarks/run.py --json out.json

Each framework runs each workload in its own subprocess (2 threads, float32,
same shapes and data), one after the other and interleaved over rounds, with
warm-up steps and then the median of repeated steps.  Timings are ratios
within this run: the machine's speed moves from moment to moment, so compare
the ratio column, not absolute times across runs.  Memory is the peak resident
memory of the timed training steps above what the framework's import alone
takes (model, data, optimiser state, activations, gradients, workspaces).  The
table's header names the CPU, library versions and the load average: on a
machine that other processes keep busy, re-run.

Workloads:
  W1  MLP 784-512-512-10, ReLU, cross-entropy, SGD step, batch 128
  W2  the same at batch 32
  W3  LeNet-like CNN (conv 1->32 3x3, conv 32->64 3x3, max-pool 2, 9216->128->10), batch 64, 1x28x28
  W4  LSTM input 32, hidden 128, 50 steps, batch 32, linear head on the last step
  W5  TransformerEncoderLayer d_model 128, 4 heads, ff 512, seq 64, batch 16, mean-pool, linear head
  W6  one Adam step over a 10M-parameter model
  W7  inference of W1's MLP under no_grad, batch 1024
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

THREADS = "2"
WORKLOADS = {
    "W1": "MLP 784-512-512-10, SGD, batch 128",
    "W2": "MLP 784-512-512-10, SGD, batch 32",
    "W3": "LeNet-like CNN, SGD, batch 64",
    "W4": "LSTM 32->128, 50 steps, batch 32",
    "W5": "TransformerEncoderLayer 128/4/512, T 64, B 16",
    "W6": "Adam step, 10M parameters",
    "W7": "MLP inference, batch 1024, no_grad",
}


# ----------------------------------------------------------------------------- worker side


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb():
    """The process's peak resident memory (VmHWM), in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak():
    """Restart the peak-RSS count from the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _build(fw, name, rng):
    """Return a zero-argument function that runs one step of workload ``name`` in framework ``fw``."""
    import numpy as np

    if fw == "torch":
        import torch as lib
        from torch import nn, optim

        lib.set_num_threads(int(THREADS))
        F = lib.nn.functional
        tensor = lib.from_numpy
    else:
        import lamina as lib
        from lamina import nn, optim

        F = lib.nn.functional
        tensor = lib.from_numpy
    lib.manual_seed(0)

    def mlp():
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))

    def train_step(model, opt, x, y):
        def step():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return step

    if name in ("W1", "W2"):
        b = 128 if name == "W1" else 32
        model = mlp()
        x = tensor(rng.standard_normal((b, 784), dtype=np.float32))
        y = tensor(rng.integers(0, 10, b).astype(np.int64))
        return train_step(model, optim.SGD(model.parameters(), lr=0.01), x, y)
    if name == "W3":
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10))
        x = tensor(rng.standard_normal((64, 1, 28, 28), dtype=np.float32))
        y = tensor(rng.integers(0, 10, 64).astype(np.int64))
        return train_step(model, optim.SGD(model.parameters(), lr=0.01), x, y)
    if name == "W4":
        lstm, head = nn.LSTM(32, 128, batch_first=True), nn.Linear(128, 10)
        params = list(lstm.parameters()) + list(head.parameters())
        x = tensor(rng.standard_normal((32, 50, 32), dtype=np.float32))
        y = tensor(rng.integers(0, 10, 32).astype(np.int64))
        opt = optim.SGD(params, lr=0.01)

        def step():
            opt.zero_grad()
            out, _ = lstm(x)
            loss = F.cross_entropy(head(out[:, -1]), y)
            loss.backward()
            opt.step()

        return step
    if name == "W5":
        layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.1, batch_first=True)
        head = nn.Linear(128, 10)
        params = list(layer.parameters()) + list(head.parameters())
        x = tensor(rng.standard_normal((16, 64, 128), dtype=np.float32))
        y = tensor(rng.integers(0, 10, 16).astype(np.int64))
        opt = optim.SGD(params, lr=0.01)

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(head(layer(x).mean(1)), y)
            loss.backward()
            opt.step()

        return step
    if name == "W6":
        # 10M parameters in layer-sized tensors: 4 x (2000 x 1250) weights + 4 x 2000 biases = 10,008,000
        shapes = [(2000, 1250)] * 4 + [(2000,)] * 4
        params = []
        for s in shapes:
            p = nn.Parameter(tensor(rng.standard_normal(s, dtype=np.float32)))
            p.grad = tensor(rng.standard_normal(s, dtype=np.float32))
            params.append(p)
        opt = optim.Adam(params, lr=1e-3)
        return opt.step
    if name == "W7":
        model = mlp()
        x = tensor(rng.standard_normal((1024, 784), dtype=np.float32))

        def step():
            with lib.no_grad():
                return model(x)

        return step
    raise SystemExit(f"unknown workload {name}")


def worker(fw, name, warmup, repeats):
    """Time one workload in one framework; print one JSON line.

    Memory: ``base_mb`` is the resident memory once the framework is imported, before the model and data exist;
    ``step_mb`` is the peak resident memory during the timed steps above that base (model, data, optimiser state,
    activations, gradients and workspaces at their peak), the figure compared between frameworks; ``peak_mb`` is
    the whole process's peak (which includes the framework's import: PyTorch's libraries alone take ~300 MB).
    """
    import numpy as np

    if fw == "torch":
        import torch  # noqa: F401
    else:
        import lamina  # noqa: F401
    base = _rss_mb()
    rng = np.random.default_rng(0)
    step = _build(fw, name, rng)
    for _ in range(warmup):
        step()
    exact = _reset_peak()
    times, cpu = [], []
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    peak = _peak_mb()
    print(json.dumps({"fw": fw, "workload": name, "ms": statistics.median(times), "min_ms": min(times),
                      "cpu_ms": statistics.median(cpu), "peak_mb": peak, "base_mb": base,
                      "step_mb": max(peak - base, 0.0), "peak_exact": exact}))


# ----------------------------------------------------------------------------- driver side


def _run_worker(fw, name, warmup, repeats):
    env = dict(os.environ, OMP_NUM_THREADS=THREADS, OPENBLAS_NUM_THREADS=THREADS, MKL_NUM_THREADS=THREADS)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", fw, "-w", name, "--warmup", str(warmup),
           "--repeats", str(repeats), "--threads", THREADS]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"fw": fw, "workload": name, "error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def matmul_peak_gflops(n=2048, reps=5):
    """This machine's float32 matmul throughput right now (NumPy, ``THREADS`` threads), in a subprocess."""
    code = ("import numpy as np, time\n"
            f"a=np.random.rand({n},{n}).astype(np.float32); b=a.copy(); a@b\n"
            f"ts=[]\nfor _ in range({reps}):\n t=time.perf_counter(); a@b; ts.append(time.perf_counter()-t)\n"
            f"print(2*{n}**3/min(ts)/1e9)")
    env = dict(os.environ, OMP_NUM_THREADS=THREADS, OPENBLAS_NUM_THREADS=THREADS, MKL_NUM_THREADS=THREADS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return float(out.stdout.strip()) if out.returncode == 0 else float("nan")


def w1_flops(batch=128):
    fwd = 2 * batch * (784 * 512 + 512 * 512 + 512 * 10)
    # backward: weight grads for all three layers, input grads for the last two
    bwd = 2 * batch * (784 * 512 + 512 * 512 + 512 * 10) + 2 * batch * (512 * 512 + 512 * 10)
    return fwd + bwd


def environment():
    """What the numbers were measured on: CPU, threads, library versions, BLAS, how busy the machine was."""
    import platform

    import numpy as np

    env = {"python": platform.python_version(), "numpy": np.__version__, "threads": int(THREADS),
           "cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
           "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(auto)")}
    try:
        with open("/proc/cpuinfo") as f:
            env["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    for mod in ("lamina", "torch"):
        try:
            env[mod] = __import__(mod).__version__
        except ImportError:
            env[mod] = None
    try:
        from threadpoolctl import threadpool_info

        blas = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
        if blas:
            env["blas"] = f"OpenBLAS {blas[0].get('version')} ({blas[0].get('architecture')} kernels)"
    except ImportError:
        pass
    return env


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-w", "--workloads", default=",".join(WORKLOADS), help="comma-separated, e.g. W1,W3")
    ap.add_argument("--quick", action="store_true", help="few repeats, one round (a smoke run, not a measurement)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds per workload (default 3)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps per subprocess (default 5)")
    ap.add_argument("--repeats", type=int, default=None, help="timed steps per subprocess (default 30)")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--frameworks", default="lamina,torch", help="comma-separated subset of lamina,torch")
    ap.add_argument("--threads", type=int, default=2, help="threads per framework (default 2, the issue's setting)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    global THREADS
    if args.threads < 1:
        ap.error(f"--threads must be >= 1, got {args.threads}")
    THREADS = str(args.threads)
    names = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    bad = [w for w in names if w not in WORKLOADS]
    if bad or not names:
        ap.error(f"unknown workload(s) {', '.join(bad) or '(none given)'}; choose from {', '.join(WORKLOADS)}")
    fws = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    if not fws or any(f not in ("lamina", "torch") for f in fws):
        ap.error(f"--frameworks takes lamina and/or torch, got {args.frameworks!r}")
    for opt in ("rounds", "warmup", "repeats"):
        v = getattr(args, opt)
        if v is not None and v < (0 if opt == "warmup" else 1):
            ap.error(f"--{opt} must be >= {0 if opt == 'warmup' else 1}, got {v}")
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 5)
    repeats = args.repeats if args.repeats is not None else (2 if args.quick else 30)
    if args.worker:
        worker(args.worker, names[0], warmup, repeats)
        return 0
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if "torch" in fws:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("PyTorch is not installed: measuring lamina only", file=sys.stderr)
            fws = [f for f in fws if f != "torch"] or ["lamina"]
    load_before = os.getloadavg()
    results = {}
    peak = None
    for name in names:
        runs = {fw: [] for fw in fws}
        for r in range(rounds):
            order = fws if r % 2 == 0 else fws[::-1]  # interleave: neither framework always goes first
            for fw in order:
                runs[fw].append(_run_worker(fw, name, warmup, repeats))
        results[name] = {}
        for fw, rs in runs.items():
            ok = [x for x in rs if "error" not in x]
            if not ok:
                results[name][fw] = rs[0]
                continue
            results[name][fw] = {"ms": statistics.median(x["ms"] for x in ok),
                                 "round_ms": [x["ms"] for x in ok],
                                 "cpu_ms": statistics.median(x["cpu_ms"] for x in ok),
                                 "peak_mb": max(x["peak_mb"] for x in ok),
                                 "step_mb": max(x["step_mb"] for x in ok)}
        if name == "W1":  # the peak right after W1's rounds: the machine's speed drifts over a run
            peak = matmul_peak_gflops(reps=2 if args.quick else 5)
    report = {"environment": environment(), "threads": int(THREADS), "rounds": rounds, "warmup": warmup,
              "repeats": repeats, "load_average": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
              "results": results, "matmul_peak_gflops": peak}
    if "W1" in names and "ms" in results["W1"].get("lamina", {}):
        report["w1_gflops"] = w1_flops() / (results["W1"]["lamina"]["ms"] * 1e-3) / 1e9
    print(format_table(report, fws))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


def format_table(report, fws):
    """The results as a text table: ms per step, the time ratio, training-step memory and its ratio."""
    env = report.get("environment", {})
    two = len(fws) == 2
    lines = []
    if env:
        lines.append(f"{env.get('cpu')}, {report['threads']} threads of {env.get('cpus')} CPUs; Python "
                     f"{env.get('python')}, NumPy {env.get('numpy')}, lamina {env.get('lamina')}, "
                     f"PyTorch {env.get('torch')}" + (f"; {env['blas']}" if env.get("blas") else ""))
    load = report.get("load_average")
    if load:
        busy = max(load) > 1.5 * (env.get("cpus") or 1)
        lines.append(f"load average {load[0]:.1f} at start, {load[1]:.1f} at end"
                     + (" -- a BUSY machine: other processes shared the cores, times are inflated and noisy"
                        if busy else ""))
    head = (f"{'workload':<8} {'description':<44} " + " ".join(f"{fw + ' ms':>11}" for fw in fws)
            + (f" {'ratio':>7} {'cpu':>6}" if two else "") + " " + " ".join(f"{fw + ' MB':>10}" for fw in fws)
            + (f" {'mem':>6}" if two else ""))
    lines.append(head)
    for name, res in report["results"].items():
        cells, mem = [], []
        for fw in fws:
            r = res.get(fw, {})
            cells.append(f"{r['ms']:>11.2f}" if "ms" in r else f"{'error':>11}")
            mem.append(f"{r['step_mb']:>10.1f}" if "ms" in r else f"{'-':>10}")
        ratio = mratio = ""
        if two and all("ms" in res.get(fw, {}) for fw in fws):
            a, b = res[fws[0]], res[fws[1]]
            ratio = f" {a['ms'] / b['ms']:>6.2f}x"
            ratio += f" {a['cpu_ms'] / b['cpu_ms']:>5.2f}x" if a.get("cpu_ms") and b.get("cpu_ms") else f" {'-':>6}"
            mratio = f" {a['step_mb'] / b['step_mb']:>5.2f}x" if b["step_mb"] > 0 else f" {'-':>6}"
        elif two:
            ratio, mratio = f" {'-':>7} {'-':>6}", f" {'-':>6}"
        lines.append(f"{name:<8} {WORKLOADS[name]:<44} " + " ".join(cells) + ratio + " " + " ".join(mem) + mratio)
        for fw in fws:
            if "error" in res.get(fw, {}):
                lines.append(f"         {fw} failed: {res[fw]['error']}")
    if report.get("matmul_peak_gflops"):
        lines.append(f"float32 matmul peak (NumPy, 2048x2048, {report['threads']} threads): "
                     f"{report['matmul_peak_gflops']:.1f} GFLOP/s")
    if report.get("w1_gflops") and report.get("matmul_peak_gflops"):
        lines.append(f"W1 lamina achieved {report['w1_gflops']:.1f} GFLOP/s = "
                     f"{100 * report['w1_gflops'] / report['matmul_peak_gflops']:.0f}% of that peak")
    if two:
        lines.append(f"ratio = {fws[0]} / {fws[1]} median wall-clock ms per step (<= 1.0: {fws[0]} is as fast or "
                     f"faster); cpu = the same for CPU time (all threads) per step; MB = peak resident memory of "
                     f"the training steps above the framework's import footprint; mem = its ratio")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
