"""lamina vs PyTorch, side by side: ms per training step, peak memory and the ratio, in one run.

    python benchmarks/run.py                 # all workloads
    python benchmarks/run.py -w W1,W4 --quick
    python benchmarks/run.py --json out.json

Each framework runs each workload in its own subprocess (2 threads, float32,
same shapes and data), one after the other and interleaved over rounds, with
warm-up steps and then the median of repeated steps.  Timings are ratios
within this run: the machine's speed moves from moment to moment, so compare
the ratio column, not absolute times across runs.

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
    "W5": "TransformerEncoderLayer 128/4/512, seq 64, batch 16",
    "W6": "Adam step, 10M parameters",
    "W7": "MLP inference, batch 1024, no_grad",
}


# ----------------------------------------------------------------------------- worker side


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
        # 10M parameters in layer-sized tensors: 4 x (1536 x 1536) + 2 x (1024 x 1024) + biases ~= 10.0M
        shapes = [(1536, 1536)] * 4 + [(1024, 1024)] * 2 + [(1536,)] * 4 + [(1024,)] * 2
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
    import numpy as np

    rng = np.random.default_rng(0)
    step = _build(fw, name, rng)
    for _ in range(warmup):
        step()
    base = _rss_mb()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"fw": fw, "workload": name, "ms": statistics.median(times), "min_ms": min(times),
                      "peak_mb": _peak_mb(), "step_mb": max(_peak_mb() - base, 0.0)}))


# ----------------------------------------------------------------------------- driver side


def _run_worker(fw, name, warmup, repeats):
    env = dict(os.environ, OMP_NUM_THREADS=THREADS, OPENBLAS_NUM_THREADS=THREADS, MKL_NUM_THREADS=THREADS)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", fw, "-w", name, "--warmup", str(warmup),
           "--repeats", str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"fw": fw, "workload": name, "error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def matmul_peak_gflops(n=2048, reps=5):
    """This machine's float32 matmul throughput right now (NumPy, 2 threads), in a subprocess."""
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-w", "--workloads", default=",".join(WORKLOADS), help="comma-separated, e.g. W1,W3")
    ap.add_argument("--quick", action="store_true", help="few repeats (a smoke run, not a measurement)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds per workload (default 3)")
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--frameworks", default="lamina,torch")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    names = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    bad = [w for w in names if w not in WORKLOADS]
    if bad:
        ap.error(f"unknown workload(s) {', '.join(bad)}; choose from {', '.join(WORKLOADS)}")
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 5)
    repeats = args.repeats if args.repeats is not None else (2 if args.quick else 30)
    if args.worker:
        worker(args.worker, names[0], warmup, repeats)
        return 0
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    fws = [f.strip() for f in args.frameworks.split(",")]
    if "torch" in fws:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("PyTorch is not installed: measuring lamina only", file=sys.stderr)
            fws = [f for f in fws if f != "torch"]
    results = {}
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
                                 "peak_mb": max(x["peak_mb"] for x in ok),
                                 "step_mb": max(x["step_mb"] for x in ok)}
    peak = matmul_peak_gflops() if "W1" in names else None
    report = {"threads": int(THREADS), "results": results, "matmul_peak_gflops": peak}
    if "W1" in names and "ms" in results["W1"].get("lamina", {}):
        report["w1_gflops"] = w1_flops() / (results["W1"]["lamina"]["ms"] * 1e-3) / 1e9
    print(format_table(report, fws))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


def format_table(report, fws):
    lines = [f"{'workload':<8} {'description':<44} " + " ".join(f"{fw + ' ms':>11}" for fw in fws)
             + (f" {'ratio':>7}" if len(fws) == 2 else "") + " " + " ".join(f"{fw + ' MB':>10}" for fw in fws)]
    for name, res in report["results"].items():
        cells, mem = [], []
        for fw in fws:
            r = res.get(fw, {})
            cells.append(f"{r['ms']:>11.2f}" if "ms" in r else f"{'error':>11}")
            mem.append(f"{r['peak_mb']:>10.0f}" if "ms" in r else f"{'-':>10}")
        ratio = ""
        if len(fws) == 2 and all("ms" in res.get(fw, {}) for fw in fws):
            ratio = f" {res[fws[0]]['ms'] / res[fws[1]]['ms']:>6.2f}x"
        elif len(fws) == 2:
            ratio = f" {'-':>7}"
        lines.append(f"{name:<8} {WORKLOADS[name]:<44} " + " ".join(cells) + ratio + " " + " ".join(mem))
        for fw in fws:
            if "error" in res.get(fw, {}):
                lines.append(f"         {fw} failed: {res[fw]['error']}")
    if report.get("matmul_peak_gflops"):
        lines.append(f"float32 matmul peak (2048x2048, {report['threads']} threads): "
                     f"{report['matmul_peak_gflops']:.1f} GFLOP/s")
    if report.get("w1_gflops"):
        lines.append(f"W1 lamina achieved {report['w1_gflops']:.1f} GFLOP/s = "
                     f"{100 * report['w1_gflops'] / report['matmul_peak_gflops']:.0f}% of peak")
    lines.append("ratio = lamina / PyTorch median ms per step (lower is better; <= 1.0 means lamina is faster)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
