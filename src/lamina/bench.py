"""``lamina bench``: lamina against PyTorch, side by side, with the harness of a source checkout.

    lamina bench                       # every workload, W1-W7 (several minutes)
    lamina bench -w W3,W4 --json out.json
    lamina bench --quick -w W2         # a smoke run, not a measurement

The harness is ``benchmarks/run.py`` of lamina's source tree (it is not part of an installed wheel): this
command finds it next to the imported package, runs it with the same Python, and passes the options on.  It
needs PyTorch installed for the comparison (without it, lamina alone is timed).  lamina itself never imports
PyTorch: the harness runs each framework in its own subprocess.
"""

import os
import subprocess
import sys

__all__ = ["add_command", "find_harness"]


def find_harness():
    """The path of ``benchmarks/run.py`` in the source checkout lamina is imported from, or None."""
    import lamina

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(lamina.__file__))))
    path = os.path.join(root, "benchmarks", "run.py")
    return path if os.path.isfile(path) else None


def _run(args):
    from lamina.cli import UsageError

    path = args.harness or find_harness()
    if path is None:
        sys.stderr.write("lamina bench: no benchmark harness found: benchmarks/run.py ships with lamina's source "
                         "checkout, not with an installed package; clone the repository and run "
                         "`pip install -e .` there, or pass --harness PATH/benchmarks/run.py\n")
        return 1
    if not os.path.isfile(path):
        raise UsageError(f"--harness: no such file: {path}")
    cmd = [sys.executable, path, "-w", args.workloads, "--frameworks", args.frameworks]
    if args.quick:
        cmd.append("--quick")
    for opt in ("rounds", "warmup", "repeats", "threads", "json"):
        v = getattr(args, opt)
        if v is not None:
            cmd += [f"--{opt}", str(v)]
    return subprocess.run(cmd).returncode


def add_command(subparsers):
    """Add ``bench`` to the ``lamina`` command."""
    from lamina.cli import _int_at_least

    p = subparsers.add_parser(
        "bench", help="time lamina against PyTorch on the W1-W7 workloads (benchmarks/run.py)",
        description="Runs benchmarks/run.py of lamina's source checkout: W1-W7 in lamina and in PyTorch, each in "
                    "its own subprocess with 2 threads, interleaved; prints ms per step, the ratio and the "
                    "training-step memory.")
    p.add_argument("-w", "--workloads", default="W1,W2,W3,W4,W5,W6,W7", help="comma-separated, e.g. W1,W3")
    p.add_argument("--quick", action="store_true", help="few repeats, one round (a smoke run, not a measurement)")
    p.add_argument("--rounds", type=_int_at_least(1), default=None, help="interleaved rounds per workload (default 3)")
    p.add_argument("--warmup", type=_int_at_least(0), default=None, help="untimed steps per subprocess (default 5)")
    p.add_argument("--repeats", type=_int_at_least(1), default=None, help="timed steps per subprocess (default 30)")
    p.add_argument("--threads", type=_int_at_least(1), default=None, help="threads per framework (default 2)")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--frameworks", default="lamina,torch", help="comma-separated subset of lamina,torch")
    p.add_argument("--harness", default=None, help="path of benchmarks/run.py (default: the source checkout's)")
    p.set_defaults(func=_run)
    return p
