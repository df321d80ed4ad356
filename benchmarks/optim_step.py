"""One optimiser step over 10M float32 parameters: lamina.optim next to torch.optim, in one run.

    python benchmarks/optim_step.py            # Adam and SGD(momentum=0.9), two parameter layouts
    python benchmarks/optim_step.py --repeats 31

Both frameworks get 2 threads (torch.set_num_threads(2); lamina's step engine reads OMP_NUM_THREADS, set to 2
here) and the same parameters and gradients. The timed call is ``opt.step()`` alone. Every configuration is
timed once per round, in a new random order each round, after warm-up rounds, and the table shows medians and the ratio
lamina / torch (below 1.0: lamina is faster). A short pause (``--pause``, 5 ms) precedes every timed call: an
OpenMP thread of torch keeps spinning for a while after torch returns, and on a 2-core machine whatever runs
next without a pause loses a core to it (lamina's second thread, or the next torch call). Layouts:

  layers   W6 of benchmarks/run.py: 4 x (1536 x 1536) + 2 x (1024 x 1024) + their biases, ~10.0M parameters
  small    500 tensors of 20,000 parameters (10.0M): many small tensors, where per-tensor overhead shows
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina.optim import _flat  # noqa: E402

LAYOUTS = {
    "layers": [(1536, 1536)] * 4 + [(1024, 1024)] * 2 + [(1536,)] * 4 + [(1024,)] * 2,
    "small": [(20_000,)] * 500,
}
OPTIMIZERS = {
    "Adam": ("Adam", {"lr": 1e-3}),
    "SGD momentum": ("SGD", {"lr": 1e-2, "momentum": 0.9}),
}


def build(layout, rng):
    arrays = [(rng.standard_normal(s, dtype=np.float32), rng.standard_normal(s, dtype=np.float32))
              for s in LAYOUTS[layout]]
    lp, tp = [], []
    for p, g in arrays:
        a = lamina.nn.Parameter(lamina.from_numpy(p.copy()))
        a.grad = lamina.from_numpy(g.copy())
        lp.append(a)
        t = torch.nn.Parameter(torch.from_numpy(p.copy()))
        t.grad = torch.from_numpy(g.copy())
        tp.append(t)
    return lp, tp


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--pause", type=float, default=0.005, help="seconds of rest before each timed call")
    args = ap.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    cases = []  # (row, column, step function)
    for layout in LAYOUTS:
        lp, tp = build(layout, rng)
        n = sum(p.numel() for p in lp)
        for label, (name, kw) in OPTIMIZERS.items():
            row = f"{label}, {layout} ({n / 1e6:.1f}M, {len(lp)} tensors)"
            cases.append((row, "lamina", getattr(lamina.optim, name)(lp, **kw).step))
            cases.append((row, "torch", getattr(torch.optim, name)(tp, **kw).step))
            cases.append((row, "torch foreach", getattr(torch.optim, name)(tp, foreach=True, **kw).step))
            try:
                cases.append((row, "torch fused", getattr(torch.optim, name)(tp, fused=True, **kw).step))
            except (RuntimeError, ValueError, TypeError):
                pass
    times = {(row, col): [] for row, col, _ in cases}
    order = np.random.default_rng(1)
    for r in range(args.warmup + args.repeats):
        for j in order.permutation(len(cases)):  # a fresh order each round: no case always follows the same one
            row, col, step = cases[j]
            time.sleep(args.pause)
            t0 = time.perf_counter()
            step()
            dt = time.perf_counter() - t0
            if r >= args.warmup:
                times[(row, col)].append(dt)
    cols = ["lamina", "torch", "torch foreach", "torch fused"]
    print(f"optimizer step, float32, 2 threads (lamina engine threads: {_flat._threads[0]}), "
          f"median of {args.repeats} shuffled rounds, {args.pause * 1e3:g} ms pause before each, ms")
    head = f"{'case':<44}" + "".join(f"{c:>15}" for c in cols) + "".join(f"{'/ ' + c:>17}" for c in cols[1:])
    print(head)
    print("-" * len(head))
    for row in dict.fromkeys(r for r, _, _ in cases):
        med = {c: statistics.median(times[(row, c)]) * 1e3 for c in cols if (row, c) in times}
        line = f"{row:<44}" + "".join(f"{med[c]:>15.2f}" if c in med else f"{'-':>15}" for c in cols)
        line += "".join(f"{med['lamina'] / med[c]:>17.2f}" if c in med else f"{'-':>17}" for c in cols[1:])
        print(line)
    print("ratio = lamina time / torch time (< 1: lamina faster)")


if __name__ == "__main__":
    main()
