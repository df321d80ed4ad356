"""Helpers shared by the ops: broadcasting-gradient reduction, dtype promotion, axis normalisation."""

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def unbroadcast(grad, shape):
    """Sum ``grad`` over the dimensions that broadcasting added or stretched, so it has ``shape``."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and grad.shape[i + lead] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def result_dtype(x, y):
    """PyTorch's promotion of two arrays.

    The higher category (bool < integer < float) wins; a 0-d operand does not widen a dimensioned one unless its
    category is higher; within one category and tier the wider dtype wins (float32 * int64 is float32).
    """
    dx, dy = x.dtype, y.dtype
    if dx == dy:
        return dx
    cx, cy = _CATEGORY[dx.kind], _CATEGORY[dy.kind]
    if (x.ndim == 0) != (y.ndim == 0):
        zero, dim, cz, cd = (dx, dy, cx, cy) if x.ndim == 0 else (dy, dx, cy, cx)
        return dim if cz <= cd else zero
    if cx != cy:
        return dx if cx > cy else dy
    from lamina.backend.xp import numpy_module as np

    return np.promote_types(dx, dy)


def norm_dim(dim, ndim, op):
    """Normalise a (possibly negative) dimension, with PyTorch's error for one out of range."""
    lo, hi = (-ndim, ndim - 1) if ndim > 0 else (-1, 0)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if dim < lo or dim > hi:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return dim % ndim if ndim > 0 else 0


def norm_dims(dim, ndim, op):
    """``dim`` (None, int or sequence) as a sorted tuple of non-negative axes; None means all."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        return (norm_dim(dim, ndim, op),) if ndim > 0 else ()
    axes = tuple(sorted({norm_dim(d, ndim, op) for d in dim})) if ndim > 0 else ()
    if ndim > 0 and len(axes) != len(tuple(dim)):
        raise RuntimeError(f"{op}: dim {tuple(dim)} appears multiple times in the list of dims")
    return axes


def expand_reduced(grad, shape, axes, keepdim):
    """Reinsert the reduced axes of ``grad`` (when keepdim was False) so it broadcasts against ``shape``."""
    if not keepdim and axes:
        new = list(grad.shape)
        for a in axes:
            new.insert(a, 1)
        grad = grad.reshape(new)
    return grad


class quiet:
    """Silence NumPy's divide/invalid/overflow warnings where PyTorch silently yields inf/nan."""

    __slots__ = ("_s",)

    def __init__(self, xp):
        self._s = xp.errstate(divide="ignore", invalid="ignore", over="ignore") if hasattr(xp, "errstate") else None

    def __enter__(self):
        if self._s is not None:
            self._s.__enter__()

    def __exit__(self, *exc):
        if self._s is not None:
            self._s.__exit__(*exc)
