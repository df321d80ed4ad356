"""Normalisation layers: forward+backward time of lamina next to PyTorch, in one process.

    python benchmarks/normalization.py
    python benchmarks/normalization.py --samples 21 --inner 5 --threads=1

Cases (float32, training mode, affine, the loss gradient given):
  BatchNorm2d 64x32x26x26          contiguous NCHW input
  BatchNorm2d 64x32x26x26 (cl)     the input is a channels-last view, as a lamina conv output is (torch gets
                                   the same memory layout via torch.channels_last)
  BatchNorm1d 256x512              a (N, C) MLP activation
  LayerNorm 16x64x128              over the last dim
  GroupNorm(8) 32x32x16x16         4 channels per group

Both frameworks get --threads threads (default 2: torch.set_num_threads; OMP/OpenBLAS threads for NumPy set
before NumPy loads). Samples alternate between the frameworks after warm-up; the table shows the best and the
median time per forward+backward and the ratio lamina / PyTorch of each (above 1.0: lamina is slower). On a
shared machine the best sample is the steadier figure: preemption only ever adds time. --clock cpu times the
process's CPU time instead of the wall clock (time.process_time: time spent waiting for a core is not counted;
with --threads=1 the steadiest comparison on a busy machine).
"""

import argparse
import os
import statistics
import sys
import time

_THREADS = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _THREADS)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402
from lamina import nn  # noqa: E402

CASES = [
    ("BatchNorm2d 64x32x26x26", lambda m: m.BatchNorm2d(32), (64, 32, 26, 26), False),
    ("BatchNorm2d 64x32x26x26 (cl)", lambda m: m.BatchNorm2d(32), (64, 32, 26, 26), True),
    ("BatchNorm1d 256x512", lambda m: m.BatchNorm1d(512), (256, 512), False),
    ("LayerNorm 16x64x128", lambda m: m.LayerNorm(128), (16, 64, 128), False),
    ("GroupNorm(8) 32x32x16x16", lambda m: m.GroupNorm(8, 32), (32, 32, 16, 16), False),
]


def _make(fw, build, shape, channels_last, rng):
    x_np = rng.standard_normal(shape).astype(np.float32)
    g_np = rng.standard_normal(shape).astype(np.float32)
    if fw == "lamina":
        layer = build(nn)
        if channels_last:
            x = lamina.from_numpy(np.ascontiguousarray(x_np.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2))
            g = lamina.from_numpy(np.ascontiguousarray(g_np.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2))
        else:
            x, g = lamina.tensor(x_np), lamina.tensor(g_np)
    else:
        layer = build(torch.nn)
        x, g = torch.tensor(x_np), torch.tensor(g_np)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
            g = g.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)

    def step():
        x.grad = None
        layer(x).backward(g)

    return step


def _sample(fn, inner, clock=time.perf_counter):
    t0 = clock()
    for _ in range(inner):
        fn()
    return (clock() - t0) / inner


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=15, help="timed samples per case and framework (median taken)")
    ap.add_argument("--inner", type=int, default=5, help="forward+backward calls per sample")
    ap.add_argument("--threads", type=int, default=2, help="threads for both (pass as --threads=N)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: elapsed time (default); cpu: the process's CPU time, steadier on a busy machine")
    ap.add_argument("--cases", default=None, help="comma-separated substrings of case names to run (default all)")
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    cases = CASES if not args.cases else [c for c in CASES if any(k in c[0] for k in args.cases.split(","))]
    for name, build, shape, cl in cases:
        fns = {fw: _make(fw, build, shape, cl, rng) for fw in ("lamina", "torch")}
        for fn in fns.values():  # warm-up
            _sample(fn, args.inner)
        times = {"lamina": [], "torch": []}
        for i in range(args.samples):
            for fw in (("lamina", "torch") if i % 2 == 0 else ("torch", "lamina")):
                times[fw].append(_sample(fns[fw], args.inner, clock))
        best = {fw: min(v) for fw, v in times.items()}
        med = {fw: statistics.median(v) for fw, v in times.items()}
        rows.append((name, best["lamina"] * 1e3, best["torch"] * 1e3, med["lamina"] * 1e3, med["torch"] * 1e3))
    w = max(len(r[0]) for r in rows)
    print(f"lamina {lamina.__version__} (NumPy {np.__version__}) vs PyTorch {torch.__version__}, {args.threads} "
          f"thread(s), forward+backward in ms ({args.clock} clock), {args.samples} samples of {args.inner} calls")
    print(f"{'case':<{w}}  {'best lamina':>11}  {'best torch':>10}  {'ratio':>6}  {'median lamina':>13}  "
          f"{'median torch':>12}  {'ratio':>6}")
    for name, bl, bt, ml, mt in rows:
        print(f"{name:<{w}}  {bl:>11.3f}  {bt:>10.3f}  {bl / bt:>6.2f}  {ml:>13.3f}  {mt:>12.3f}  {ml / mt:>6.2f}")


if __name__ == "__main__":
    main()
