"""Anomaly detection: find the op that first produced a NaN or Inf, in forward or in backward.

Inside ``with lamina.autograd.detect_anomaly():`` every op's outputs are checked
after forward and every gradient after backward; the error names the op and,
for backward, shows where in your code the op was called.
"""

from lamina.autograd.grad_mode import state


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Context manager (and decorator) that turns on NaN/Inf checks in forward and backward."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = (state.anomaly, state.anomaly_check_nan)
        state.anomaly = True
        state.anomaly_check_nan = self.check_nan
        return self

    def __exit__(self, *exc):
        state.anomaly, state.anomaly_check_nan = self._prev
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with detect_anomaly(self.check_nan):
                return fn(*a, **k)

        return wrapper


class set_detect_anomaly(detect_anomaly):  # noqa: N801
    def __init__(self, mode, check_nan=True):
        super().__init__(check_nan)
        self._prev = (state.anomaly, state.anomaly_check_nan)
        state.anomaly = bool(mode)
        state.anomaly_check_nan = check_nan

    def __enter__(self):
        return self


def is_anomaly_enabled():
    return state.anomaly


def _bad(arr):
    if arr is None or not hasattr(arr, "dtype") or arr.dtype.kind != "f":
        return False
    from lamina.backend.xp import get_xp

    return not bool(get_xp(arr).isfinite(arr).all())


def check_forward(fn, out):
    if not state.anomaly_check_nan:
        return
    outs = out if isinstance(out, tuple) else (out,)
    for i, o in enumerate(outs):
        arr = getattr(o, "_data", o)
        if _bad(arr):
            raise RuntimeError(f"Function '{fn.__name__}' returned nan or inf values in its {i}th output (forward).")


def check_backward(node, grads):
    if not state.anomaly_check_nan:
        return
    for i, g in enumerate(grads):
        if _bad(g):
            where = "".join(node._stack[-6:]) if node._stack else ""
            raise RuntimeError(f"Function '{node.name()}' returned nan or inf values in its {i}th output.\n"
                               f"The forward call that created it:\n{where}")


def report_backward_error(node, err):
    import sys

    print(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
          + "".join(node._stack[-8:]), file=sys.stderr)
