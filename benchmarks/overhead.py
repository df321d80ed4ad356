"""Per-op overhead of lamina's autograd next to PyTorch's, in one process.

    python benchmarks/overhead.py
    python benchmarks/overhead.py --samples 61 --inner 300

Cases:
  add, 1 element, forward          c = a + b on two 1-element float32 tensors under no_grad
  add, 1 element, forward+backward c = a + b; c.backward() with both inputs requiring grad
  matmul 256x256, forward+backward c = a @ b; c.backward(g) on 256 x 256 float32 matrices

Both frameworks get 2 threads (torch.set_num_threads(2); OMP/OpenBLAS threads for NumPy set to 2 before
NumPy loads). A sample times ``--inner`` consecutive calls; lamina and PyTorch samples alternate, after warm-up;
the table shows the median time per call and the ratio lamina / PyTorch (above 1.0: lamina is slower). The
tiny add measures pure framework overhead (graph recording, dispatch, the backward engine); the matmul shows
how much of it remains when there is real work.
"""

import argparse
import os
import statistics
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import lamina  # noqa: E402


def _cases(rng):
    """name -> {framework: (setup-free callable)} with inputs built once."""
    one_a, one_b = rng.standard_normal(1).astype(np.float32), rng.standard_normal(1).astype(np.float32)
    m_a, m_b = (rng.standard_normal((256, 256)).astype(np.float32) for _ in range(2))
    m_g = rng.standard_normal((256, 256)).astype(np.float32)
    out = {}

    def make(fw):
        mod = lamina if fw == "lamina" else torch
        conv = lamina.tensor if fw == "lamina" else torch.tensor
        a, b = conv(one_a, requires_grad=True), conv(one_b, requires_grad=True)
        a0, b0 = conv(one_a), conv(one_b)
        ma, mb, mg = conv(m_a, requires_grad=True), conv(m_b, requires_grad=True), conv(m_g)

        def add_fwd():
            with mod.no_grad():
                return a0 + b0

        def add_fwd_bwd():
            a.grad = b.grad = None
            (a + b).backward()

        def matmul_fwd_bwd():
            ma.grad = mb.grad = None
            (ma @ mb).backward(mg)

        return {"add, 1 element, forward (no_grad)": add_fwd, "add, 1 element, forward+backward": add_fwd_bwd,
                "matmul 256x256, forward+backward": matmul_fwd_bwd}

    for fw in ("lamina", "torch"):
        for name, fn in make(fw).items():
            out.setdefault(name, {})[fw] = fn
    return out


def _sample(fn, inner):
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=41, help="timed samples per case and framework (median taken)")
    ap.add_argument("--inner", type=int, default=200, help="calls per sample for the 1-element cases")
    ap.add_argument("--inner-matmul", type=int, default=10, help="calls per sample for the matmul case")
    args = ap.parse_args()
    torch.set_num_threads(2)
    cases = _cases(np.random.default_rng(0))
    rows = []
    for name, fns in cases.items():
        inner = args.inner_matmul if name.startswith("matmul") else args.inner
        for fn in fns.values():  # warm-up: first-call costs, caches, allocator
            _sample(fn, inner)
        times = {"lamina": [], "torch": []}
        for i in range(args.samples):
            order = ("lamina", "torch") if i % 2 == 0 else ("torch", "lamina")
            for fw in order:
                times[fw].append(_sample(fns[fw], inner))
        med = {fw: statistics.median(v) for fw, v in times.items()}
        rows.append((name, med["lamina"] * 1e6, med["torch"] * 1e6, med["lamina"] / med["torch"]))
    w = max(len(r[0]) for r in rows)
    print(f"lamina {lamina.__version__} (NumPy {np.__version__}) vs PyTorch {torch.__version__}, 2 threads, "
          f"median of {args.samples} samples")
    print(f"{'case':<{w}}  {'lamina us':>10}  {'torch us':>10}  {'lamina/torch':>12}")
    for name, lt, tt, ratio in rows:
        print(f"{name:<{w}}  {lt:>10.2f}  {tt:>10.2f}  {ratio:>12.2f}")


if __name__ == "__main__":
    main()
