"""Grad mode: whether operations record a graph for backpropagation."""

import functools
import threading


class _State(threading.local):
    def __init__(self):
        self.enabled = True
        self.anomaly = False
        self.anomaly_check_nan = True
        self.profiler = None


state = _State()


def is_grad_enabled():
    return state.enabled


class _GradModeContext:
    """Base of no_grad / enable_grad / set_grad_enabled: a context manager that is also a decorator."""

    _mode = True

    def __new__(cls, orig_func=None):
        if callable(orig_func):  # used as a bare decorator: @lamina.no_grad
            return cls()(orig_func)
        return super().__new__(cls)

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self._mode

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):  # noqa: N801 - PyTorch's name
    """Disable graph recording inside the block (or the decorated function)."""

    _mode = False


class enable_grad(_GradModeContext):  # noqa: N801
    """Enable graph recording inside the block, e.g. within a ``no_grad`` region."""

    _mode = True


class set_grad_enabled(_GradModeContext):  # noqa: N801
    """``set_grad_enabled(False)`` as a context manager or decorator; as a plain call it sets the mode."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = state.enabled
        state.enabled = self._mode  # also works as a plain function call, as in PyTorch

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        state.enabled = self._prev  # as a decorator it must not change the mode at decoration time
        return (enable_grad if self._mode else no_grad)()(fn)
